"""Helpers for the in-guest IPVS tests: ipvsadm views of the kernel table, shell and async runners."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from fastalived.ipvs.desired import (
    AF_INET6,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    SVC_F_SCHED1,
    SVC_F_SCHED2,
    SVC_F_SCHED3,
    IpvsTable,
    ServiceKey,
)
from tests.support.testbed import fastalived_executable

IN_GUEST = os.environ.get("VMRUN_GUEST") == "1"
T = TypeVar("T")


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@contextmanager
def keepalived_programming(config: Path, run_dir: Path, lines: int) -> Iterator[Path]:
    """keepalived 2.2.7's checker child on ``config`` until ``ipvsadm -Sn`` shows ``lines`` rules;
    yields its log and stops it on exit."""
    log = run_dir / "keepalived.log"
    with log.open("w") as out:
        keepalived = subprocess.Popen(
            ["keepalived", "-n", "-l", "-C", "-f", str(config), "-p", str(run_dir / "ka.pid"),
             "-c", str(run_dir / "ka-check.pid")],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while len(ipvsadm_rules()) < lines:
                assert keepalived.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            yield log
        finally:
            keepalived.send_signal(signal.SIGTERM)
            keepalived.wait(60)


def ipvsadm_rules() -> list[str]:
    """``ipvsadm -Sn`` lines, sorted: destinations are dumped in reverse insertion order."""
    return sorted(sh("ipvsadm", "-Sn").splitlines())


_PROTOCOL_OPTION = {"-t": 6, "-u": 17, "--sctp-service": 132}
_FORWARD_OPTION = {"-m": 0, "-i": 2, "-g": 3}
_SCHED_FLAG_NAMES = {
    "flag-1": SVC_F_SCHED1, "sh-fallback": SVC_F_SCHED1, "mh-fallback": SVC_F_SCHED1,
    "flag-2": SVC_F_SCHED2, "sh-port": SVC_F_SCHED2, "mh-port": SVC_F_SCHED2, "flag-3": SVC_F_SCHED3,
}  # fmt: skip


def _service_id(kind: str, where: str, ipv6: bool) -> tuple:
    if kind == "-f":
        return ("fwmark", int(where), ipv6)
    host, _, port = where.rpartition(":")
    return (_PROTOCOL_OPTION[kind], host.strip("[]"), int(port))


def ipvsadm_view() -> tuple[dict[tuple, tuple], dict[tuple, tuple]]:
    """``ipvsadm -Sn`` parsed back: services -> (scheduler, flags, timeout); dests -> (forward, weight).

    An independent reading of the kernel table (ipvsadm goes through libnl), to cross-check ours.
    """
    services: dict[tuple, tuple] = {}
    dests: dict[tuple, tuple] = {}
    for line in sh("ipvsadm", "-Sn").splitlines():
        tokens = line.split()
        ipv6 = "-6" in tokens
        service = _service_id(tokens[1], tokens[2], ipv6)
        options = dict(itertools.pairwise(tokens))  # each option -> the token after it
        if tokens[0] == "-A":
            flags = SVC_F_ONEPACKET if "-o" in tokens else 0
            if "-p" in options:
                flags |= SVC_F_PERSISTENT
            for name in options.get("-b", "").split(","):
                flags |= _SCHED_FLAG_NAMES.get(name, 0)
            services[service] = (options["-s"], flags, int(options.get("-p", 0)))
        else:
            host, _, port = options["-r"].rpartition(":")
            forward = next(code for option, code in _FORWARD_OPTION.items() if option in tokens)
            dests[(service, host.strip("[]"), int(port))] = (forward, int(options["-w"]))
    return services, dests


def expected_view(table: IpvsTable) -> tuple[dict[tuple, tuple], dict[tuple, tuple]]:
    """What :func:`ipvsadm_view` should read for ``table``."""
    services: dict[tuple, tuple] = {}
    dests: dict[tuple, tuple] = {}
    for key, entry in table.items():
        service = _expected_id(key)
        services[service] = (entry.spec.scheduler, entry.spec.flags, entry.spec.timeout)
        for dest, spec in entry.dests.items():
            dests[(service, dest.address, dest.port)] = (spec.forward, spec.weight)
    return services, dests


def _expected_id(key: ServiceKey) -> tuple:
    if key.fwmark:
        return ("fwmark", key.fwmark, key.family == AF_INET6)
    return (key.protocol, key.address, key.port)


def start_checker_daemon(conf: Path, tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``fastalived -n -l -C -f CONF`` (plus ``flags``) with its pid files in ``tmp_path`` and its
    output in ``tmp_path/daemon.log``; returns the process and the log path."""
    log_path = tmp_path / "daemon.log"
    argv = [fastalived_executable(), "-n", "-l", "-C", "-f", str(conf), *flags,
            "-p", str(tmp_path / "main.pid"), "-c", str(tmp_path / "check.pid")]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
    return proc, log_path
