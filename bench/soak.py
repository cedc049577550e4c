"""Soak: two nodes, priorities flapping every 0.5 s, N checks, a reload every 10 s, for a long time.

    .venv/bin/python bench/soak.py [--minutes 30] [--servers 2000] [--flap 0.5] [--reload-every 10]

Two nodes in throw-away namespaces each run the full daemon: one VRRPv3 instance (advert_int 0.1,
node 1 prio 100, node 2 prio 130) whose ``vrrp_script`` (``test -e FLAG``, weight 60, checked every
0.1 s) the bench toggles on node 1 every ``--flap`` seconds, so mastership moves at every flip; and
one virtual server with ``--servers`` TCP_CHECK real servers on the node's loopback. Every
``--reload-every`` seconds both daemons get SIGHUP (the config file rewritten with a new comment).
The VIP is sampled on both nodes every 2 ms.

Printed at the end: samples with the VIP on both nodes or on neither *outside* the windows where a
move is expected (a flip plus ``--settle`` seconds), RSS and open fds of every process at start
and end, reloads by outcome, and notify lines lost: each daemon's notify script appends one line
per state change, compared with the "Entering ... STATE" lines of its log.
"""

from __future__ import annotations

import argparse
import bisect
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support is not installed

from bench.chaos_vrrp import print_table
from tests.support.full_daemon import (
    FullDaemon,
    VipPresence,
    checked_virtual_server,
    daemon_config,
    kill_tree,
    listeners,
    on_none,
    on_several,
)
from tests.support.host import fd_count, rss_kib
from tests.support.netns import Testbed, wait_for
from tests.support.testbed import vrrp_instance_config

VIP = "198.51.100.180"
STATES = ("MASTER", "BACKUP", "FAULT")
PORT_BASE = 21000


def node_config(name: str, priority: int, workdir: Path, servers: int, generation: int) -> str:
    flag, notify = workdir / "flag", workdir / "notify.sh"
    script = f'vrrp_script flap {{\n    script "/usr/bin/test -e {flag}"\n    interval 0.1\n    weight 60\n}}\n'
    track = f"    track_script {{\n        flap\n    }}\n    notify {notify}\n"
    instance = vrrp_instance_config("VI_1", 70, priority, [f"{VIP}/24"], version=3, advert_int=0.1, extra=track)
    vs = checked_virtual_server(VIP, range(PORT_BASE, PORT_BASE + servers))
    return f"# generation {generation}\n" + daemon_config(name, script + instance, vs)


def prepare(workdir: Path) -> None:
    workdir.mkdir(mode=0o755, parents=True, exist_ok=True)
    notify = workdir / "notify.sh"
    notify.write_text(f'#!/bin/sh\necho "$1 $2 $3" >> {workdir}/notify.log\n')
    notify.chmod(0o755)


def notify_lines(path: Path) -> int:
    """Lines the notify script wrote for a MASTER/BACKUP/FAULT change ("INSTANCE VI_1 MASTER")."""
    lines = path.read_text().splitlines() if path.exists() else []
    return sum(1 for line in lines if line.split()[2:3] and line.split()[2] in STATES)


def snapshot(daemons: list[FullDaemon]) -> dict[str, tuple[int, int]]:
    """(RSS KiB, open fds) of every process of every daemon, keyed node/process (-1: it just died)."""
    found = {}
    for daemon in daemons:
        for name, pid in daemon.process_pids().items():
            try:
                found[f"n{daemon.node.index}/{name}"] = (rss_kib(pid), fd_count(pid))
            except FileNotFoundError:
                found[f"n{daemon.node.index}/{name}"] = (-1, -1)
    return found


def unexpected(presence: VipPresence, flips: list[float], settle: float, wanted: Callable[[int], bool]) -> int:
    """Samples matching ``wanted`` that are not within ``settle`` seconds after a flip."""
    count = 0
    for when, mask in zip(presence.times, presence.holders, strict=True):
        if not wanted(mask):
            continue
        latest = bisect.bisect_right(flips, when) - 1
        count += latest < 0 or when - flips[latest] > settle
    return count


def run(minutes: float, servers: int, flap: float, reload_every: float, settle: float, workdir: Path) -> None:
    with Testbed(2, prefix="sk") as bed:
        dirs = [workdir / "n1", workdir / "n2"]
        for directory in dirs:
            prepare(directory)
        http = [listeners(node, range(PORT_BASE, PORT_BASE + servers)) for node in bed.nodes]
        daemons = [
            FullDaemon(bed.node(i + 1), dirs[i], node_config(f"n{i + 1}", prio, dirs[i], servers, 0))
            for i, prio in enumerate((100, 130))
        ]
        try:
            for daemon in daemons:
                daemon.start()
            assert wait_for(lambda: all(all(d.real_servers_up().values()) for d in daemons), 120, 0.5)
            assert wait_for(lambda: daemons[1].instance_states() == {"VI_1": "MASTER"}, 30, 0.1)
            time.sleep(2)
            before = snapshot(daemons)
            flips: list[float] = []
            flag = dirs[0] / "flag"
            end = time.monotonic() + minutes * 60
            next_reload = time.monotonic() + reload_every
            generation = 0
            with VipPresence(list(bed.nodes), VIP) as presence:
                while time.monotonic() < end:
                    if flag.exists():
                        flag.unlink()
                    else:
                        flag.touch()
                    flips.append(time.time())
                    if time.monotonic() >= next_reload:
                        generation += 1
                        for i, daemon in enumerate(daemons):
                            daemon.config_path.write_text(
                                node_config(f"n{i + 1}", (100, 130)[i], dirs[i], servers, generation)
                            )
                            daemon.signal(signal.SIGHUP)
                        next_reload += reload_every
                    time.sleep(flap)
                flag.unlink(missing_ok=True)
                time.sleep(settle + 2)
            after = snapshot(daemons)
            reloads = [d.status()["parent"]["reloads"] for d in daemons]
        finally:
            for daemon in daemons:
                daemon.stop()
            for process in http:
                kill_tree(process)
    logged = [sum(d.log_text().count(f"Entering {state} STATE") for state in STATES) for d in daemons]
    notified = [notify_lines(d / "notify.log") for d in dirs]
    print(
        f"{minutes:g} min, {servers} checks per node, {len(flips)} flips, {generation} reloads per node, "
        f"{len(presence.times)} VIP samples ({presence.mean_period() * 1000:.1f} ms apart)"
    )
    print(
        f"VIP on both outside the {settle:g} s after a flip: {unexpected(presence, flips, settle, on_several)}   "
        f"on neither: {unexpected(presence, flips, settle, on_none)}   "
        f"(anywhere: both {presence.count(on_several)}, neither {presence.count(on_none)})"
    )
    print(f"reloads: n1 {reloads[0]}  n2 {reloads[1]}")
    print(f"children respawned: {[d.log_text().count('Respawning') for d in daemons]}")
    lost = [a - b for a, b in zip(logged, notified, strict=True)]
    print(f"state changes logged {logged}, notify lines written {notified}, lost {lost}")
    rows = [
        {"process": key, "RSS KiB start": rss0, "RSS KiB end": rss1, "fds start": fds0, "fds end": fds1}
        for key, (rss0, fds0) in before.items()
        for rss1, fds1 in [after.get(key, (-1, -1))]  # -1: the process was replaced (respawned)
    ]
    print_table(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--servers", type=int, default=2000, help="TCP_CHECK real servers per node")
    parser.add_argument("--flap", type=float, default=0.5, help="seconds between priority flips")
    parser.add_argument("--reload-every", type=float, default=10)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after a flip a VIP move may take")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fastalived-soak-"))
    run(args.minutes, args.servers, args.flap, args.reload_every, args.settle, workdir)
    print(f"configs, daemon logs and notify lines: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
