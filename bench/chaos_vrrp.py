"""kill -9 of the VRRP child on the master, repeatedly, while both nodes are sampled for the VIP.

    .venv/bin/python bench/chaos_vrrp.py [--kills 10] [--gap 0] [--advert-ints 0.1 1] [--period 0.002]

Two nodes in throw-away namespaces run the full daemon (``tests/support/full_daemon.py``): node 1
prio 150 (VRRPv3), node 2 prio 100 (``-P``). For each advert interval, each kill waits until node 1
is master, node 2 backup and the VIP on node 1 only (for 3 advert intervals), SIGKILLs node 1's
VRRP child and waits until that state is back. A thread samples which nodes hold the VIP every
``--period`` seconds throughout. Printed per interval: transitions logged by the peer (goal 0),
samples with the VIP on no node / on both (with the longest such run), the respawn time (kill ->
the new child reports ready to the parent) and kill -> node 1 master again.

More than 5 deaths in 60 s make the parent back off (1, 2, 4 ... s before a respawn); ``--gap 12``
spaces the kills so that every respawn is immediate.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support is not installed

from tests.support.full_daemon import FullDaemon, VipPresence, daemon_config, on_none, on_several
from tests.support.netns import Testbed, wait_for
from tests.support.testbed import vrrp_instance_config

VIP = "198.51.100.160"


def node_config(name: str, priority: int, advert_int: float) -> str:
    instance = vrrp_instance_config("VI_1", 60, priority, [f"{VIP}/24"], version=3, advert_int=advert_int)
    return daemon_config(name, instance)


def steady(master: FullDaemon, backup: FullDaemon) -> bool:
    try:
        roles = (master.instance_states(), backup.instance_states())
    except OSError:
        return False
    holds = (master.node.has_address(VIP), backup.node.has_address(VIP))
    return roles == ({"VI_1": "MASTER"}, {"VI_1": "BACKUP"}) and holds == (True, False)


def wait_steady(master: FullDaemon, backup: FullDaemon, hold: float, timeout: float = 60) -> None:
    """Until the steady state has held for ``hold`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wait_for(lambda: steady(master, backup), deadline - time.monotonic(), 0.02):
            time.sleep(hold)
            if steady(master, backup):
                return
    raise RuntimeError(f"no steady state:\n{master.log_text()[-2000:]}\n{backup.log_text()[-2000:]}")


def child_ready(daemon: FullDaemon, old_pid: int) -> bool:
    try:
        child = daemon.status()["parent"]["children"].get("vrrp", {})
    except OSError:
        return False
    return bool(child.get("pid") not in (None, old_pid) and child.get("ready"))


def one_interval(advert_int: float, kills: int, gap: float, period: float, workdir: Path) -> dict[str, object]:
    with Testbed(2, prefix="cv") as bed:
        master = FullDaemon(bed.node(1), workdir / f"n1-{advert_int:g}", node_config("n1", 150, advert_int))
        backup = FullDaemon(bed.node(2), workdir / f"n2-{advert_int:g}", node_config("n2", 100, advert_int), "-P")
        try:
            master.start()
            backup.start()
            wait_steady(master, backup, 3 * advert_int)
            respawn, back, peer_transitions = [], [], 0
            with VipPresence([bed.node(1), bed.node(2)], VIP, period) as presence:
                first_kill = time.time()
                for _ in range(kills):
                    wait_steady(master, backup, max(3 * advert_int, gap))
                    old = master.child_pids()["vrrp"]
                    assert old is not None
                    killed = time.time()
                    os.kill(old, signal.SIGKILL)
                    assert wait_for(lambda old=old: child_ready(master, old), 30, 0.005)
                    respawn.append(time.time() - killed)
                    assert wait_for(lambda: steady(master, backup), 60, 0.005)
                    back.append(time.time() - killed)
                    peer_transitions += len(backup.transitions(killed))
                wait_steady(master, backup, 3 * advert_int)
        finally:
            backup.stop()
            master.stop()
    none_runs = presence.runs(on_none, first_kill)
    both_runs = presence.runs(on_several, first_kill)
    return {
        "advert_int": advert_int,
        "kills": kills,
        "peer transitions": peer_transitions,
        "samples (mean period)": f"{len(presence.times)} ({presence.mean_period() * 1000:.1f} ms)",
        "VIP on none": f"{presence.count(on_none, first_kill)} ({max(none_runs, default=0) * 1000:.0f} ms)",
        "VIP on both": f"{presence.count(on_several, first_kill)} ({max(both_runs, default=0) * 1000:.0f} ms)",
        "respawn ms med/max": f"{statistics.median(respawn) * 1000:.0f} / {max(respawn) * 1000:.0f}",
        "master again ms med/max": f"{statistics.median(back) * 1000:.0f} / {max(back) * 1000:.0f}",
    }


def print_table(rows: list[dict[str, object]]) -> None:
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10, help="kills per advert interval")
    parser.add_argument("--advert-ints", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--gap", type=float, default=0.0, help="seconds of steady state between kills")
    parser.add_argument("--period", type=float, default=0.002, help="VIP sampling period, s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastalived-chaos-") as scratch:
        rows = [one_interval(a, args.kills, args.gap, args.period, Path(scratch)) for a in args.advert_ints]
    print("(in the 'VIP on' columns: samples, then the longest run)")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
