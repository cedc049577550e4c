"""Run the real keepalived (and fastalived, the same way) as VRRP nodes inside testbed namespaces.

The process runner itself is ``tests.support.testbed.VrrpDaemon`` (the demo uses it too); this module
adds the test-side pieces: a registry that stops every daemon a test started, a check that the
fastalived VRRP daemon can run yet, and the log assertion that no side saw a bad packet.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .testbed import (
    Flavour,
    Node,
    VrrpDaemon,
    fastalived_executable,
    global_defs_config,
    vrrp_instance_config,
)

__all__ = [
    "DaemonSet",
    "VrrpDaemon",
    "assert_no_bad_packets",
    "bad_packet_lines",
    "fastalived_unavailable",
    "global_defs_config",
    "vrrp_instance_config",
]

# What `fastalived -P` needs besides the CLI: the supervisor and the VRRP child's process entry.
_FASTALIVED_VRRP_MODULES = ("fastalived.daemon.supervisor", "fastalived.vrrp.process")

# keepalived 2.2.7's receive-side complaints (vrrp.c); fastalived's -D drop lines ("dropped advert
# from X: BAD_TTL"), except another router's VRID, which is not an error; plus generic words.
_BAD_PACKET = re.compile(
    r"malformed|checksum|vrrp packet too|invalid TTL|TTL/HL \d+ not in range|wrong version"
    r"|received a \d+ auth|invalid passwd|interval mismatch|Invalid packet|unexpected ip number count"
    r"|ip_tot_len mismatch|expected \d+ VIPs but received|not present in MASTER advert"
    r"|invalid (vrrp )?(packet|advert)|dropped (VRRP packet|advert) from \S+: (?!BAD_VRID\b)"
    r"|IPSEC-AH : invalid|IPSEC AH : invalid|already processed. Packet dropped|AH header but auth type",
    re.IGNORECASE,
)


def bad_packet_lines(log: str) -> list[str]:
    """Log lines in which a daemon complains about a packet it received."""
    return [line for line in log.splitlines() if _BAD_PACKET.search(line)]


def assert_no_bad_packets(*daemons: VrrpDaemon) -> None:
    """Fail listing every malformed / invalid packet line any of ``daemons`` logged."""
    complaints = [f"{d.name}: {line}" for d in daemons for line in bad_packet_lines(d.log_text())]
    assert not complaints, "bad packets logged:\n" + "\n".join(complaints)


@functools.cache
def fastalived_unavailable() -> str | None:
    """Why fastalived cannot run as a VRRP node yet (None when it can), for skip reasons."""
    for module in _FASTALIVED_VRRP_MODULES:
        if importlib.util.find_spec(module) is None:
            return f"{module} not written yet"
    executable = fastalived_executable()
    if shutil.which(executable) is None:
        return f"{executable} not installed"
    probe = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return f"fastalived --version failed: {last}"
    return None


def keepalived_unavailable() -> str | None:
    return None if shutil.which("keepalived") else "keepalived not installed"


class DaemonSet:
    """Every VRRP daemon one test started, with run directories (configs, logs) under ``base``;
    all stopped when the test ends."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.daemons: list[VrrpDaemon] = []

    def start(self, flavour: Flavour, node: Node, config: str, **kw: object) -> VrrpDaemon:
        reason = fastalived_unavailable() if flavour == "fastalived" else keepalived_unavailable()
        if reason:
            pytest.skip(reason)
        run_dir = self.base / f"{len(self.daemons)}-{flavour}-n{node.index}"
        daemon = VrrpDaemon(node, config, flavour, run_dir=run_dir, **kw)  # type: ignore[arg-type]
        self.daemons.append(daemon)
        return daemon.start()

    def close(self) -> None:
        for daemon in self.daemons:
            daemon.close()
