"""A SIGKILLed checker child leaves the kernel's IPVS table alone while it is replaced (issue #12).

The real ``fastalived -C`` with ``lvs_flush`` and 20 real servers (some down: nothing listens; some
``alpha``; some ``inhibit_on_failure``). The check child is SIGKILLed and ``/proc/net/ip_vs`` (the
table ``ipvsadm -Ln`` prints, cheap enough to read every 20 ms under TCG) is watched through the
respawn and a few check rounds of the successor: not one byte changes (no flush, no destination
removed, re-added, reordered or reweighted; a service added by hand survives). Then a dead server
comes up and is added, so the checks did resume.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.support.testbed import stop_process_group, wait_for

from .helpers import IN_GUEST, sh, start_checker_daemon
from .test_daemon_guest import OUTCOME_TIMEOUT, START_TIMEOUT, destinations

pytestmark = [pytest.mark.vm, pytest.mark.skipif(not IN_GUEST, reason="needs the IPVS guest: tests/vm/vmrun")]

DELAY_LOOP = 3  # seconds; 20 TCP checks per loop are nothing even under TCG
SERVERS = 20
POLL = 0.02
STRAY = "198.51.100.9:80"  # a service fastalived does not own, added after the first start


def config(ports: dict[str, int]) -> str:
    blocks = []
    for number, (address, port) in enumerate(ports.items()):
        extra = ("alpha" if number % 3 == 0 else "") + ("\n        inhibit_on_failure" if number % 4 == 1 else "")
        blocks.append(f"""
    real_server {address} 8080 {{
        weight {1 + number % 3}
        {extra}
        TCP_CHECK {{
            connect_port {port}
            connect_timeout 2
            retry 1
            delay_before_retry 1
        }}
    }}""")
    return f"""
global_defs {{
    router_id guest-respawn
    lvs_flush
}}
virtual_server 198.51.100.1 80 {{
    delay_loop {DELAY_LOOP}
    lb_algo rr
    lb_kind NAT
    protocol TCP
{"".join(blocks)}
}}
"""


def kernel_table() -> str:
    """``/proc/net/ip_vs`` without the connection counters (checks never go through the service)."""
    with open("/proc/net/ip_vs") as table:
        return "\n".join(" ".join(line.split()[:4]) for line in table.read().splitlines())


def closed_port(address: str) -> int:
    """A port nothing listens on (connects are refused) that a listener can take later."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def test_a_killed_checker_is_replaced_without_touching_the_ipvs_table(tmp_path: Path) -> None:
    addresses = [f"127.0.0.{n}" for n in range(2, 2 + SERVERS)]
    down = set(addresses[1::4] + addresses[2::5])  # nothing listening: some inhibited, some removed
    listeners = {a: socket.create_server((a, 0)) for a in addresses if a not in down}
    ports = {a: (listeners[a].getsockname()[1] if a in listeners else closed_port(a)) for a in addresses}
    conf = tmp_path / "keepalived.conf"
    conf.write_text(config(ports))
    sh("ipvsadm", "-A", "-t", "198.51.100.8:80")  # lvs_flush: the first start empties the table
    proc, log_path = start_checker_daemon(conf, tmp_path, "--run-dir", str(tmp_path / "run"))

    def logs() -> str:
        return log_path.read_text(errors="replace")[-6000:]

    try:
        inhibited = {a for i, a in enumerate(addresses) if a in down and i % 4 == 1}
        steady = {a: 1 + i % 3 for i, a in enumerate(addresses) if a not in down} | dict.fromkeys(inhibited, 0)
        assert wait_for(lambda: destinations() == steady, START_TIMEOUT, 0.2), (destinations(), logs())
        assert "198.51.100.8:80" not in sh("ipvsadm", "-Ln"), logs()
        sh("ipvsadm", "-A", "-t", STRAY)
        # the promotion path: wait for the pre-imported standby (its imports take a while under TCG)
        assert wait_for(lambda: "Healthcheck standby child process" in logs(), START_TIMEOUT, 0.2), logs()
        time.sleep(2 * DELAY_LOOP)
        before = kernel_table()
        victim = int((tmp_path / "check.pid").read_text())

        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        samples, changes = 0, []
        resumed_at: float | None = None
        while resumed_at is None or time.monotonic() < resumed_at + 2 * DELAY_LOOP:
            assert time.monotonic() < killed + START_TIMEOUT, ("no successor resumed", changes[:2], logs())
            table = kernel_table()
            samples += 1
            if table != before:
                changes.append((round(time.monotonic() - killed, 3), table))
            if resumed_at is None and "Resuming from the IPVS table" in logs():
                resumed_at = time.monotonic()
            time.sleep(POLL)
        print(f"respawn: resumed after {resumed_at - killed:.2f} s; {samples} samples, {len(changes)} changed")
        assert changes == [], (changes[:3], before, logs())
        assert STRAY in sh("ipvsadm", "-Ln")
        assert logs().count("Flushed the IPVS table") == 1, logs()
        successor = int((tmp_path / "check.pid").read_text())
        assert successor != victim and proc.poll() is None, logs()

        comer = next(a for i, a in enumerate(addresses) if a in down and a not in inhibited)
        listeners[comer] = socket.create_server((comer, ports[comer]))
        opened = time.monotonic()
        grown = {**steady, comer: 1 + addresses.index(comer) % 3}
        assert wait_for(lambda: destinations() == grown, OUTCOME_TIMEOUT, POLL), (destinations(), logs())
        print(f"a server up after the respawn was added {time.monotonic() - opened:.2f} s later")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(OUTCOME_TIMEOUT) == 0, logs()
    finally:
        stop_process_group(proc)  # after a failure above: nothing of the daemon's group outlives the test
        for sock in listeners.values():
            sock.close()
