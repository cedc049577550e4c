"""kill -9 of the VRRP child on the master, repeatedly, while both nodes are sampled for the VIP.

    .venv/bin/python bench/chaos_vrrp.py [--kills 50] [--per-daemon 5] [--gap 0] [--advert-ints 0.1 1]
                                         [--period 0.002]

Two nodes in throw-away namespaces run the full daemon (``tests/support/chaos.py``): node 1 prio
150 (VRRPv3), node 2 prio 100 (``-P``). Each kill waits until node 1 is master with a ready standby
VRRP child, node 2 backup and the VIP on node 1 only (for 3 advert intervals, or ``--gap``), SIGKILLs
node 1's VRRP child and waits until that state is back. A thread samples which nodes hold the VIP
every ``--period`` seconds throughout. Printed per interval: transitions logged by the peer (goal
0), samples with the VIP on no node (goal 0) / on both, with the longest such run, how many
successors were a promoted standby and how many adopted MASTER, kill -> the parent promoting (or
starting) the successor, kill -> the successor in MASTER again (both from node 1's log) and kill ->
node 1's first advert after the kill (kernel receive time on the bridge).

The parent backs off after more than 5 deaths of a child in 60 s (the next standby, or a cold
start, waits 1, 2, 4 ... s); that is the crash-loop guard, not what this measures, so each daemon
pair takes ``--per-daemon`` kills (default 5) and the next kills get a fresh pair.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support is not installed

from tests.support.chaos import VIP, Kill, VrrpPair
from tests.support.full_daemon import VipPresence, on_none, on_several
from tests.support.netns import Testbed


def batch(
    advert_int: float, kills: int, gap: float, period: float, workdir: Path
) -> tuple[list[Kill], VipPresence, list[float]]:
    """``kills`` kills on one fresh daemon pair, with the VIP sampled from the first to the last;
    also kill -> node 1's first advert after it, per kill."""
    with Testbed(2, prefix="cv") as bed:
        pair = VrrpPair(bed, workdir, advert_int)
        sniffer = bed.sniffer()
        try:
            pair.start()
            pair.wait_steady(3 * advert_int)
            with VipPresence([bed.node(1), bed.node(2)], VIP, period) as presence:
                done = [pair.kill_master_child(max(3 * advert_int, gap)) for _ in range(kills)]
                pair.wait_steady(3 * advert_int)
        finally:
            pair.stop()
        adverts = [f.timestamp for f in sniffer.adverts(bed.node(1).ipv4)]
    return done, presence, [next(t for t in adverts if t >= k.at) - k.at for k in done]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f}"


def one_interval(advert_int: float, kills: int, per_daemon: int, gap: float, period: float, workdir: Path) -> dict:
    done: list[Kill] = []
    first_adverts: list[float] = []
    samples, none, both, none_runs, both_runs, spans = 0, 0, 0, [0.0], [0.0], 0.0
    while len(done) < kills:
        batch_kills, presence, advert_delays = batch(advert_int, min(per_daemon, kills - len(done)), gap, period,
                                      workdir / f"{advert_int:g}-{len(done)}")  # fmt: skip
        done += batch_kills
        first_adverts += advert_delays
        samples += len(presence.times)
        spans += presence.times[-1] - presence.times[0]
        none += presence.count(on_none)
        both += presence.count(on_several)
        none_runs += presence.runs(on_none)
        both_runs += presence.runs(on_several)
    return {
        "advert_int": f"{advert_int:g}",
        "kills": len(done),
        "peer transitions": sum(k.peer_transitions for k in done),
        "samples (mean period)": f"{samples} ({spans / max(samples - 1, 1) * 1000:.1f} ms)",
        "VIP on none": f"{none} ({max(none_runs) * 1000:.0f} ms)",
        "VIP on both": f"{both} ({max(both_runs) * 1000:.0f} ms)",
        "promoted/adopted": f"{sum(k.promoted for k in done)}/{sum(k.adopted for k in done)}",
        "respawn ms med/max": ms([k.respawn for k in done]),
        "master again ms med/max": ms([k.master for k in done]),
        "first advert ms med/max": ms(first_adverts),
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
    parser.add_argument("--kills", type=int, default=50, help="kills per advert interval")
    parser.add_argument("--per-daemon", type=int, default=5, help="kills per daemon pair (the respawn back-off)")
    parser.add_argument("--advert-ints", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--gap", type=float, default=0.0, help="seconds of steady state between kills")
    parser.add_argument("--period", type=float, default=0.002, help="VIP sampling period, s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastalived-chaos-") as scratch:
        rows = [
            one_interval(a, args.kills, args.per_daemon, args.gap, args.period, Path(scratch)) for a in args.advert_ints
        ]
    print("(in the 'VIP on' columns: samples, then the longest run)")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
