"""kill -9 of the master's VRRP child between two full daemons, measured from the outside.

Shared by ``bench/chaos_vrrp.py`` (many kills, a table) and ``tests/netns/test_vrrp_adoption.py``
(a few kills, assertions). Node 1 (priority 150) is master, node 2 (priority 100, ``-P``) backup,
both VRRPv3 with one VIP. A kill waits for the steady state (roles, the VIP on node 1 only, node
1's standby VRRP child ready), SIGKILLs node 1's VRRP child and times, from node 1's log, the
parent promoting or starting a successor and that successor entering MASTER again.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from .full_daemon import FullDaemon, daemon_config
from .testbed import Testbed, vrrp_instance_config, wait_for

VIP = "198.51.100.160"
LOG_LINE = re.compile(r"^(\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.\d{3} \d{4}): (\S+)\[(\d+)\]: (.*)$", re.M)


def node_config(name: str, priority: int, advert_int: float) -> str:
    instance = vrrp_instance_config("VI_1", 60, priority, [f"{VIP}/24"], version=3, advert_int=advert_int)
    return daemon_config(name, instance)


def log_events(text: str) -> list[tuple[float, int, str]]:
    """(wall time, pid, message) of every line of a daemon's console log."""
    return [
        (datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S.%f %Y").timestamp(), int(pid), message)
        for stamp, _, pid, message in LOG_LINE.findall(text)
    ]


@dataclass(frozen=True)
class Kill:
    """One kill -9 of node 1's VRRP child; times in seconds from the kill."""

    at: float  # the kill, wall clock (``time.time()``, the sniffer's clock)
    promoted: bool  # a standby took over (else a cold start)
    adopted: bool  # the successor carried on as MASTER (AdoptMaster) rather than re-electing
    respawn: float  # until the parent promoted or started the successor
    master: float  # until the successor entered MASTER
    peer_transitions: int


class VrrpPair:
    """The two full daemons in ``bed`` (nodes 1 and 2), logs and configs under ``directory``."""

    def __init__(self, bed: Testbed, directory: Path, advert_int: float) -> None:
        self.bed = bed
        self.advert_int = advert_int
        self.master = FullDaemon(bed.node(1), directory / "n1", node_config("n1", 150, advert_int))
        self.backup = FullDaemon(bed.node(2), directory / "n2", node_config("n2", 100, advert_int), "-P")

    def start(self) -> None:
        self.master.start()
        self.backup.start()

    def stop(self) -> None:
        self.backup.stop()
        self.master.stop()

    def steady(self) -> bool:
        try:
            roles = (self.master.instance_states(), self.backup.instance_states())
            child = self.master.status()["parent"]["children"].get("vrrp", {})
        except OSError:
            return False
        holds = (self.master.node.has_address(VIP), self.backup.node.has_address(VIP))
        standby = child.get("standby") is not None
        return roles == ({"VI_1": "MASTER"}, {"VI_1": "BACKUP"}) and holds == (True, False) and standby

    def wait_steady(self, hold: float, timeout: float = 90) -> None:
        """Until the steady state has held for ``hold`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wait_for(self.steady, deadline - time.monotonic(), 0.05):
                time.sleep(hold)
                if self.steady():
                    return
        raise AssertionError(f"no steady state:\n{self.master.log_text()[-3000:]}\n{self.backup.log_text()[-2000:]}")

    def kill_master_child(self, hold: float) -> Kill:
        """Wait for ``hold`` s of steady state, SIGKILL node 1's VRRP child, wait for the steady state."""
        self.wait_steady(hold)
        old = self.master.child_pids()["vrrp"]
        assert old is not None
        killed = time.time()
        os.kill(old, signal.SIGKILL)
        assert wait_for(lambda: self._successor(killed, old) is not None, 60, 0.01), self.master.log_text()[-3000:]
        self.wait_steady(0)
        respawned, pid, promoted = self._successor(killed, old)  # type: ignore[misc]
        mastered = [
            (at, message)
            for at, who, message in log_events(self.master.log_text())
            if who == pid and "(VI_1) Entering MASTER STATE" in message
        ]
        return Kill(
            at=killed,
            promoted=promoted,
            adopted="adopted" in mastered[0][1],
            respawn=respawned - killed,
            master=mastered[0][0] - killed,
            peer_transitions=len(self.backup.transitions(killed)),
        )

    def _successor(self, killed: float, old: int) -> tuple[float, int, bool] | None:
        """(when, pid, promoted) of the parent's "Starting VRRP child process" after the kill."""
        for at, _, message in log_events(self.master.log_text()):
            found = re.match(r"Starting VRRP child process, pid=(\d+)( \(standby\))?", message)
            if found and at >= killed - 0.002 and int(found[1]) != old:  # log times have 1 ms resolution
                return at, int(found[1]), bool(found[2])
        return None
