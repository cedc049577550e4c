#!/usr/bin/env python3
"""End-to-end VRRP bench: fastalived and the real keepalived side by side, in network namespaces.

usage (root): python bench/e2e_vrrp.py [--runs N] [--quick] [--daemons fastalived,keepalived]

For each daemon, in one run on the same host:
* failover: node 1 (prio 150) is master, node 2 (prio 100) backup; after a random phase the
  master's whole process group gets SIGKILL. Timed from the kill to RTM_NEWADDR of the VIP in
  node 2's namespace, and from the master's last advert on the wire (kernel timestamp on the
  bridge) to that same event. Cells: v2 advert_int 1 (PASS auth), v3 0.05, v3 0.01.
* advert period: gaps between the master's adverts on the wire in steady state, p50 / p99, and
  the p99 of |gap - advert_int| (jitter), at v3 0.05 and 0.01.
* CPU: 200 instances at v3 0.01 on both nodes; CPU time of the daemon's parent plus VRRP
  process (every thread's /proc schedstat run time, nanoseconds) over a window, divided by the
  adverts counted on the switch ports; and one instance at v3 0.01, as CPU % of master and backup.

``--cpu`` runs only the two CPU rows (µs per advert received at 200 x v3 0.01; CPU % master /
backup of one instance at v3 0.01), the daemons interleaved, ``--runs`` times each, and prints
min / median / max with the fastalived / keepalived ratio of the medians: the box may be shared,
and CPU time, unlike wall-clock, does not grow with the neighbours' load. ``--cpu --json`` prints
instead one JSON object with the raw per-run values of those three rows (bench/perf_table.py).
All clocks are CLOCK_REALTIME in this one process (kernel packet timestamps, time.time()).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the testbed is not installed

from tests.support.keepalived import fastalived_unavailable  # noqa: E402
from tests.support.netns import Testbed  # noqa: E402
from tests.support.testbed import (  # noqa: E402
    Flavour,
    Node,
    VrrpDaemon,
    global_defs_config,
    vrrp_instance_config,
    wait_for,
)
from tests.support.wire import Sniffer, advert_gaps  # noqa: E402

VIP = "198.51.100.100"
MASTER_PRIO, BACKUP_PRIO = 150, 100


@dataclass(frozen=True)
class Cell:
    """One VRRP timing configuration."""

    version: int
    advert_int: float

    @property
    def label(self) -> str:
        return f"v{self.version} advert_int {self.advert_int:g} s"

    @property
    def master_down(self) -> float:
        return 3 * self.advert_int + (256 - BACKUP_PRIO) / 256 * self.advert_int


FAILOVER_CELLS = (Cell(2, 1), Cell(3, 0.05), Cell(3, 0.01))


@dataclass
class FailoverResult:
    kill_to_vip_ms: list[float] = field(default_factory=list)
    last_advert_to_vip_ms: list[float] = field(default_factory=list)
    gaps_ms: list[float] = field(default_factory=list)


@dataclass
class CpuResult:
    master_cpu_pct: float
    backup_cpu_pct: float
    adverts_per_s: float  # sent by the master
    backup_frames_per_s: float  # 0 when the backup stays quiet, as it should
    master_us_per_advert: float
    backup_us_per_advert: float
    flaps: int
    converged: bool


def _config(router_id: str, priority: int, cell: Cell, vips: list[str]) -> str:
    """One instance per VIP (VRIDs 1..n) with the cell's timing; v2 gets PASS auth."""
    auth = "fastaliv" if cell.version == 2 else None
    return global_defs_config(router_id) + "".join(
        vrrp_instance_config(
            f"VI_{vrid}", vrid, priority, [vip], version=cell.version, advert_int=cell.advert_int, auth_pass=auth
        )
        for vrid, vip in enumerate(vips, start=1)
    )


def _start_pair(bed: Testbed, flavour: Flavour, cell: Cell, vips: list[str]) -> tuple[VrrpDaemon, VrrpDaemon]:
    master = VrrpDaemon(bed.node(1), _config("node1", MASTER_PRIO, cell, vips), flavour, name="master")
    backup = VrrpDaemon(bed.node(2), _config("node2", BACKUP_PRIO, cell, vips), flavour, name="backup")
    return master.start(), backup.start()


def _master_settled(bed: Testbed) -> bool:
    return bed.node(1).has_address(VIP) and not bed.node(2).has_address(VIP)


def _restart_master(bed: Testbed, master: VrrpDaemon, cell: Cell) -> None:
    """Bring the killed master back and wait until it holds the VIP alone again."""
    master.stop()
    bed.node(1).delete_address(f"{VIP}/24")  # a SIGKILLed daemon leaves its VIP behind
    master.start()
    if not wait_for(lambda: _master_settled(bed), 4 * cell.master_down + 10):
        raise RuntimeError(f"master did not regain the VIP:\n{master.log_text()[-2000:]}")


def _kill_trial(bed: Testbed, sniffer: Sniffer, master: VrrpDaemon, cell: Cell) -> tuple[float, float | None]:
    """One kill -9; returns (kill -> VIP, master's last advert -> VIP) in ms."""
    with bed.node(2).watch_addresses() as watcher:
        time.sleep(max(0.3, 2.5 * cell.advert_int) + random.uniform(0, cell.advert_int))
        watcher.drain()
        killed_at = master.kill_group()
        taken = watcher.wait_added(VIP, cell.master_down + 10)
    if taken is None:
        raise RuntimeError("backup never took the VIP after the kill")
    before_kill = [f for f in sniffer.adverts(src_ip=bed.node(1).ipv4) if f.timestamp < killed_at]
    last_advert = before_kill[-1].timestamp if before_kill else None
    return (
        (taken.received_at - killed_at) * 1000,
        None if last_advert is None else (taken.received_at - last_advert) * 1000,
    )


def failover_series(
    flavour: Flavour, cell: Cell, runs: int, gap_window: float, progress: Callable[[str], None]
) -> FailoverResult:
    result = FailoverResult()
    with Testbed(2) as bed:
        sniffer = bed.sniffer()
        master, backup = _start_pair(bed, flavour, cell, [f"{VIP}/24"])
        try:
            if not wait_for(lambda: _master_settled(bed), 4 * cell.master_down + 10):
                raise RuntimeError(f"initial election failed:\n{master.log_text()[-2000:]}")
            if cell.version == 3:
                steady_from = time.time()
                time.sleep(gap_window)
                frames = sniffer.adverts(src_ip=bed.node(1).ipv4, since=steady_from)
                result.gaps_ms = [gap * 1000 for gap in advert_gaps(frames)]
            for run in range(runs):
                kill_ms, last_ms = _kill_trial(bed, sniffer, master, cell)
                result.kill_to_vip_ms.append(kill_ms)
                if last_ms is not None:
                    result.last_advert_to_vip_ms.append(last_ms)
                progress(
                    f"{flavour} {cell.label} run {run + 1}/{runs}: kill->VIP {kill_ms:.1f} ms, "
                    f"last advert->VIP {last_ms if last_ms is None else round(last_ms, 1)} ms"
                )
                sniffer.clear()
                if run + 1 < runs:
                    _restart_master(bed, master, cell)
        finally:
            master.close()
            backup.close()
    return result


def _cpu_ns(pid: int | None) -> int:
    """CPU time of every live thread of ``pid`` (schedstat: nanoseconds, where /proc/PID/stat's
    utime + stime count 10 ms ticks, too coarse for one instance's 1 %)."""
    if pid is None:
        return 0
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _daemon_cpu(daemon: VrrpDaemon) -> float:
    """Seconds of CPU of the parent plus the VRRP process (one process when the daemon does not fork)."""
    assert daemon.proc is not None
    pids = {daemon.proc.pid, daemon.vrrp_pid()}
    return sum(_cpu_ns(pid) for pid in pids) / 1e9


def _port_rx_packets(bed: Testbed, index: int) -> int:
    """Frames node ``index`` sent, as counted by its switch port (no sniffer CPU involved)."""
    out = subprocess.run(
        ["ip", "-n", bed.switch_netns, "-s", "-j", "link", "show", bed.port_name(index)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(json.loads(out)[0]["stats64"]["rx"]["packets"])


def _count_vips(node: Node, vips: set[str]) -> int:
    return sum(1 for a in node.addresses() if str(a.ip) in vips)


def _transitions(daemon: VrrpDaemon) -> int:
    return sum(1 for line in daemon.log_text().splitlines() if "Entering" in line and "STATE" in line)


def cpu_run(flavour: Flavour, instances: int, cell: Cell, window: float) -> CpuResult:
    vips = [f"198.51.100.{19 + i}" for i in range(1, instances + 1)]  # .20.. clear of the nodes
    wanted = set(vips)
    with Testbed(2) as bed:
        master, backup = _start_pair(bed, flavour, cell, [f"{vip}/24" for vip in vips])
        try:
            converged = bool(
                wait_for(
                    lambda: _count_vips(bed.node(1), wanted) == instances and _count_vips(bed.node(2), wanted) == 0,
                    30,
                    interval=0.2,
                )
            )
            time.sleep(3)
            flaps_before = _transitions(master) + _transitions(backup)
            cpu = (_daemon_cpu(master), _daemon_cpu(backup))
            sent_before = (_port_rx_packets(bed, 1), _port_rx_packets(bed, 2))
            started = time.monotonic()
            time.sleep(window)
            elapsed = time.monotonic() - started
            sent = _port_rx_packets(bed, 1) - sent_before[0]
            backup_sent = _port_rx_packets(bed, 2) - sent_before[1]
            master_s = _daemon_cpu(master) - cpu[0]
            backup_s = _daemon_cpu(backup) - cpu[1]
            flaps = _transitions(master) + _transitions(backup) - flaps_before
        finally:
            master.close()
            backup.close()
    per_advert = 1e6 / max(sent, 1)
    return CpuResult(
        master_s / elapsed * 100,
        backup_s / elapsed * 100,
        sent / elapsed,
        backup_sent / elapsed,
        master_s * per_advert,
        backup_s * per_advert,
        flaps,
        converged,
    )


CPU_CELL = Cell(3, 0.01)
# issue #14's rows (bench/perf_table.py's axes) per sample key: (axis, unit)
CPU_AXES = {
    "received": ("VRRP CPU per advert received, 200 x v3 @ 0.01 s", "us"),
    "master": ("one instance at 10 ms, CPU % master", "%"),
    "backup": ("one instance at 10 ms, CPU % backup", "%"),
}


def cpu_samples(
    flavours: list[Flavour], runs: int, windows: tuple[float, float], progress: Callable[[str], None]
) -> dict[tuple[str, str], list[float]]:
    """The issue's two CPU rows, each daemon ``runs`` times, interleaved (the order alternates):
    raw values per (flavour, key of CPU_AXES)."""
    cell = CPU_CELL
    samples: dict[tuple[str, str], list[float]] = {}
    for run in range(runs):
        for flavour in flavours if run % 2 == 0 else flavours[::-1]:
            many = cpu_run(flavour, 200, cell, windows[0])
            one = cpu_run(flavour, 1, cell, windows[1])
            for key, value in (
                ("received", many.backup_us_per_advert),
                ("master", one.master_cpu_pct),
                ("backup", one.backup_cpu_pct),
            ):
                samples.setdefault((flavour, key), []).append(value)
            progress(
                f"{flavour} run {run + 1}/{runs}: {many.backup_us_per_advert:.2f} us per advert received "
                f"(200 x {cell.label}, {many.flaps} flaps); one instance CPU % master "
                f"{one.master_cpu_pct:.2f} / backup {one.backup_cpu_pct:.2f}"
            )
    return samples


def cpu_json(samples: dict[tuple[str, str], list[float]]) -> dict[str, object]:
    """The bench JSON contract of issue #14: one row per CPU axis, raw per-run values."""
    return {
        "rows": [
            {
                "axis": axis,
                "unit": unit,
                "higher_is_better": False,
                **{flavour: samples.get((flavour, key), []) for flavour in ("fastalived", "keepalived")},
            }
            for key, (axis, unit) in CPU_AXES.items()
        ]
    }


def cpu_table(flavours: list[Flavour], samples: dict[tuple[str, str], list[float]]) -> list[tuple[str, dict[str, str]]]:
    """min / median / max per daemon and the ratio of the medians, one table row per CPU axis."""
    cell = CPU_CELL

    def cells(key: str, digits: int) -> dict[str, str]:
        out = {}
        for flavour in flavours:
            values = samples[flavour, key]
            out[flavour] = (
                f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / {max(values):.{digits}f}"
            )
        if len(flavours) == 2:
            fast, keep = (statistics.median(samples[f, key]) for f in flavours)
            out["ratio"] = f"{fast / keep:.2f}x" if keep else "n/a"
        return out

    return [
        (f"200 x {cell.label}: CPU us per advert received (backup), min / med / max", cells("received", 2)),
        (f"1 x {cell.label}: CPU % master, min / med / max", cells("master", 2)),
        (f"1 x {cell.label}: CPU % backup, min / med / max", cells("backup", 2)),
    ]


# ------------------------------------------------------------------------------------ report
def _spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{statistics.median(values):.1f} / {min(values):.1f} / {max(values):.1f} (n={len(values)})"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _gap_summary(gaps_ms: list[float], advert_int: float) -> str:
    if not gaps_ms:
        return "n/a"
    jitter = [abs(gap - advert_int * 1000) for gap in gaps_ms]
    return (
        f"{_percentile(gaps_ms, 0.5):.3f} / {_percentile(gaps_ms, 0.99):.3f}; "
        f"jitter p99 {_percentile(jitter, 0.99):.3f} (n={len(gaps_ms)})"
    )


def _print_table(rows: list[tuple[str, dict[str, str]]], flavours: list[str]) -> None:
    header = ["measurement", *flavours]
    table = [header, *([label, *(cells.get(f, "n/a") for f in flavours)] for label, cells in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for number, row in enumerate(table):
        print("| " + " | ".join(text.ljust(width) for text, width in zip(row, widths)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="kills per failover cell (default 10); --cpu: runs (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="3 runs per cell, shorter windows, 50 instances for CPU (smoke test)"
    )
    parser.add_argument(
        "--daemons", default="fastalived,keepalived", help="comma-separated subset of fastalived,keepalived"
    )
    parser.add_argument("--cpu", action="store_true", help="only the CPU rows, --runs times per daemon, interleaved")
    parser.add_argument(
        "--json",
        action="store_true",
        help="with --cpu: print one JSON object of raw per-run values (bench/perf_table.py)",
    )
    args = parser.parse_args(argv)
    # SIGTERM would skip every cleanup; as SystemExit it unwinds and tears the namespaces down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    runs = 3 if args.quick else args.runs or 10
    gap_window, cpu_window, instances = (1.0, 4.0, 50) if args.quick else (3.0, 10.0, 200)
    cpu_cell = CPU_CELL

    flavours: list[Flavour] = [f for f in ("fastalived", "keepalived") if f in args.daemons.split(",")]
    skipped: dict[str, str] = {}
    if "fastalived" in flavours and (reason := fastalived_unavailable()):
        skipped["fastalived"] = reason
    active = [f for f in flavours if f not in skipped]

    def progress(line: str) -> None:
        print(f"  .. {line}", file=sys.stderr, flush=True)

    if args.cpu:
        runs = args.runs or 3
        samples = cpu_samples(active, runs, (4.0, 8.0) if args.quick else (8.0, 15.0), progress)
        if args.json:
            print(json.dumps(cpu_json(samples)))
            return 0
        print(f"\nVRRP CPU (schedstat of parent + VRRP process), {runs} interleaved runs per daemon")
        _print_table(cpu_table(active, samples), [*flavours, "ratio"] if len(active) == 2 else flavours)
        return 0
    rows: list[tuple[str, dict[str, str]]] = []
    failovers = {
        (f, cell): failover_series(f, cell, runs, gap_window, progress) for cell in FAILOVER_CELLS for f in active
    }
    for cell in FAILOVER_CELLS:
        rows.append(
            (
                f"failover {cell.label}: kill -> VIP, ms med/min/max",
                {f: _spread(failovers[f, cell].kill_to_vip_ms) for f in active},
            )
        )
        rows.append(
            (
                f"failover {cell.label}: last advert -> VIP, ms (RFC {cell.master_down * 1000:.1f})",
                {f: _spread(failovers[f, cell].last_advert_to_vip_ms) for f in active},
            )
        )
    for cell in FAILOVER_CELLS:
        if cell.version == 3:
            rows.append(
                (
                    f"advert gap {cell.label}: p50 / p99 ms",
                    {f: _gap_summary(failovers[f, cell].gaps_ms, cell.advert_int) for f in active},
                )
            )
    cpu = {f: cpu_run(f, instances, cpu_cell, cpu_window) for f in active}
    for f, result in cpu.items():
        progress(f"{f} cpu: {result}")
    prefix = f"{instances} x {cpu_cell.label}"
    rows += [
        (
            f"{prefix}: frames/s on the wire from master / backup",
            {f: f"{r.adverts_per_s:.0f} / {r.backup_frames_per_s:.0f}" for f, r in cpu.items()},
        ),
        (
            f"{prefix}: CPU % master / backup",
            {f: f"{r.master_cpu_pct:.1f} / {r.backup_cpu_pct:.1f}" for f, r in cpu.items()},
        ),
        (
            f"{prefix}: CPU us per advert sent / received",
            {f: f"{r.master_us_per_advert:.1f} / {r.backup_us_per_advert:.1f}" for f, r in cpu.items()},
        ),
        (
            f"{prefix}: state transitions in window (converged)",
            {f: f"{r.flaps} ({'yes' if r.converged else 'NO'})" for f, r in cpu.items()},
        ),
    ]
    print(f"\nend-to-end VRRP, {runs} kill -9 runs per failover cell, CPU window {cpu_window:g} s")
    _print_table(rows, flavours)
    for flavour, reason in skipped.items():
        print(f"{flavour}: not run ({reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
