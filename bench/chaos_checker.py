"""kill -9 of the checker child under N HTTP_GET checks: how fast do the checks resume?

    .venv/bin/python bench/chaos_checker.py [--servers 2000] [--kills 3] [--delay-loop 1]

One node in a throw-away namespace runs the full daemon (checker only: one virtual server, N real
servers on ``127.0.0.1`` answered by an asyncio HTTP server inside the node). Once every real server
is up, the checker child is SIGKILLed ``--kills`` times. Printed per kill: the respawn time (kill ->
the new child reports ready), kill -> its first check, and ready -> every real server checked
again (goal: within one delay_loop), plus the check rate before the kill and whether all real
servers are up again. This kernel has no IPVS, so "IPVS table untouched" cannot be measured here.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
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
    listeners,
)
from tests.support.netns import Testbed, wait_for

PORT_BASE = 20000


def checked_servers(daemon: FullDaemon) -> tuple[int, int]:
    """(real servers whose checker has a result, real servers up) in the running checker."""
    check = daemon.status()["roles"].get("check", {})
    servers = [rs for vs in check.get("virtual_servers", ()) for rs in vs["real_servers"]]
    checked = sum(1 for rs in servers if all(c["last_result"] is not None for c in rs["checkers"]))
    return checked, sum(1 for rs in servers if rs["up"])


def check_rate(daemon: FullDaemon, window: float = 3.0) -> float:
    before = daemon.check_runs()
    time.sleep(window)
    return (daemon.check_runs() - before) / window


def one_kill(daemon: FullDaemon, servers: int, delay_loop: float) -> dict[str, object]:
    rate = check_rate(daemon)
    old = daemon.child_pids()["check"]
    assert old is not None
    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)

    def ready() -> bool:
        child = daemon.status()["parent"]["children"].get("check", {})
        return bool(child.get("pid") not in (None, old) and child.get("ready"))

    assert wait_for(ready, 60, 0.02)
    ready_at = time.monotonic()
    assert wait_for(lambda: daemon.check_runs() > 0, 60, 0.02)
    first_check = time.monotonic()
    assert wait_for(lambda: checked_servers(daemon)[0] == servers, 120, 0.05)
    all_checked = time.monotonic()
    assert wait_for(lambda: checked_servers(daemon)[1] == servers, 60, 0.1)
    return {
        "servers": servers,
        "delay_loop s": f"{delay_loop:g}",
        "checks/s before": f"{rate:.0f}",
        "respawn ms": f"{(ready_at - killed) * 1000:.0f}",
        "kill -> 1st check ms": f"{(first_check - killed) * 1000:.0f}",
        "ready -> all checked ms": f"{(all_checked - ready_at) * 1000:.0f}",
        "within one delay_loop": "yes" if all_checked - ready_at <= delay_loop else "no",
        "all up again": "yes",
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
            assert wait_for(lambda: checked_servers(daemon)[1] == args.servers, 120, 0.2), daemon.log_text()[-2000:]
            rows = [one_kill(daemon, args.servers, args.delay_loop) for _ in range(args.kills)]
        finally:
            daemon.stop()
            kill_tree(http)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
