"""kill -9 of the checker child under N HTTP_GET checks: how fast do the checks resume?

    .venv/bin/python bench/chaos_checker.py [--servers 2000] [--kills 3] [--delay-loop 1]

One node in a throw-away namespace runs the full daemon (checker only: one virtual server, N real
servers on ``127.0.0.1`` answered by an asyncio HTTP server inside the node). Once every real server
is up, the checker child is SIGKILLed ``--kills`` times. Printed per kill: the respawn time (kill ->
the new child's pid file), kill -> its first check, and first check -> every real server checked
again (goal: within one delay_loop), all timed by the HTTP server itself, plus the check rate
before the kill and whether all real servers are up again. Where the kernel has IPVS (the vmrun
guest: ``tests/vm/vmrun -t 900 -- .venv/bin/python bench/chaos_checker.py --servers 200``) the node's
``/proc/PID/net/ip_vs`` is read every 20 ms from the kill until every server was checked again:
"table changes" counts the samples that differ from the one before (goal: 0, no flush, no flap);
"n/a" without IPVS.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support is not installed

from bench.chaos_vrrp import print_table
from tests.support.full_daemon import (
    HTTP_CHECK,
    FullDaemon,
    checked_virtual_server,
    daemon_config,
    kill_tree,
    last_connections,
    listeners,
)
from tests.support.netns import Node, Testbed, wait_for

PORT_BASE = 20000


def servers_up(daemon: FullDaemon) -> int:
    status = daemon.status_or_none()
    check = status["roles"].get("check", {}) if status else {}
    return sum(1 for vs in check.get("virtual_servers", ()) for rs in vs["real_servers"] if rs["up"])


def checked_since(node: Node, ports: range, since: float) -> list[float]:
    """When each port was first connected to after ``since`` (only the ports that were)."""
    return [when for when in last_connections(node, ports).values() if when > since]


class TableWatch:
    """Reads the node's IPVS table (through the daemon's ``/proc/PID/net``) every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self._path = Path(f"/proc/{pid}/net/ip_vs")
        self._stop = threading.Event()
        self.samples = self.changes = self.entries = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        if self._path.exists():
            self._thread.start()

    def _read(self) -> list[list[str]]:  # without the connection counters
        return [line.split()[:4] for line in self._path.read_text().splitlines()]

    def _run(self) -> None:
        last = self._read()
        self.entries = sum(1 for line in last if line[:1] in (["->"], ["TCP"], ["UDP"], ["FWM"])) - 1  # header
        while not self._stop.wait(0.02):
            table = self._read()
            self.samples += 1
            self.changes += table != last
            last = table

    def result(self) -> str:
        if not self._thread.is_alive():
            return "n/a"
        self._stop.set()
        self._thread.join()
        if not self.entries:
            return "n/a (empty table)"
        return f"{self.changes} of {self.samples} samples ({self.entries} entries)"


def one_kill(daemon: FullDaemon, ports: range, delay_loop: float) -> dict[str, object]:
    node = daemon.node
    runs, window_start = daemon.check_runs(), time.monotonic()
    time.sleep(3 * delay_loop)
    rate = (daemon.check_runs() - runs) / (time.monotonic() - window_start)
    old = daemon.child_pid("check")
    assert old is not None
    watch = TableWatch(daemon.pid)
    killed = time.time()
    os.kill(old, signal.SIGKILL)
    assert wait_for(lambda: daemon.child_pid("check") not in (None, old), 60, 0.005)
    respawned = time.time()
    # the last connection to each port, read once every port has had one since the kill
    assert wait_for(lambda: len(checked_since(node, ports, killed)) == len(ports), 120, 0.1)
    table_changes = watch.result()
    resumed = sorted(last_connections(node, ports).values())
    first = min(t for t in resumed if t > killed)
    spread = resumed[-1] - first  # first check after the respawn -> every real server checked
    assert wait_for(lambda: servers_up(daemon) == len(ports), 60, 0.2)
    return {
        "servers": len(ports),
        "delay_loop s": f"{delay_loop:g}",
        "checks/s before": f"{rate:.0f}",
        "respawn ms": f"{(respawned - killed) * 1000:.0f}",
        "kill -> 1st check ms": f"{(first - killed) * 1000:.0f}",
        "1st -> all checked ms": f"{spread * 1000:.0f}",
        "within one delay_loop": "yes" if spread <= delay_loop else "no",
        "all up again": "yes",
        "IPVS table changes": table_changes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--delay-loop", type=float, default=1.0)
    args = parser.parse_args()
    ports = range(PORT_BASE, PORT_BASE + args.servers)
    vs = checked_virtual_server("198.51.100.170", ports, args.delay_loop, HTTP_CHECK)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fastalived-chaos-") as scratch, Testbed(1, prefix="cc") as bed:
        http = listeners(bed.node(1), ports, http=True)
        daemon = FullDaemon(bed.node(1), Path(scratch), daemon_config("checker", "", vs))
        try:
            daemon.start()
            assert wait_for(lambda: servers_up(daemon) == args.servers, 120, 0.2), daemon.log_text()[-2000:]
            rows = [one_kill(daemon, ports, args.delay_loop) for _ in range(args.kills)]
        finally:
            daemon.stop()
            kill_tree(http)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
