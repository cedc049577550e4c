#!/usr/bin/env python3
"""End-to-end IPVS programming speed: fastalived's director vs ``ipvsadm --restore``.

Runs itself inside the vmrun guest (the host kernel has no IPVS):

    .venv/bin/python bench/e2e_ipvs.py            # boots the guest, prints the table
    .venv/bin/python bench/e2e_ipvs.py --quick    # smaller tables
    .venv/bin/python bench/e2e_ipvs.py --repeat 3 # best of 3 runs per step (default 2)

For each shape (1 virtual server x 10,000 real servers, 1,000 x 10) it times, from an empty table:
programming everything, a 1 % weight change planned against the director's cached table (what a
health-check burst does), a reconcile with nothing to change (kernel dump + plan), and the weight
change reverted with a dump first; then the same table and the same weight changes through one
``ipvsadm --restore`` process each, and ``ipvsadm -Sn`` (a dump) against the no-change reconcile.
Guest timings are TCG-emulated: compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fastalived.ipvs.desired import AF_INET, DesiredTable, DestKey, DestSpec, ServiceEntry, ServiceKey, ServiceSpec  # noqa: E402
from fastalived.ipvs.director import IpvsDirector  # noqa: E402

SPEC = ServiceSpec("wlc", 0, 0, 0xFFFFFFFF)
VIP_BASE = int(ipaddress.IPv4Address("198.51.100.0"))
RS_BASE = int(ipaddress.IPv4Address("10.0.0.0"))  # enough room for 10,000 distinct real servers


def make_table(services: int, dests: int, reweighted: int = 0) -> DesiredTable:
    """``services`` x ``dests``; every 100th destination gets weight 2 when ``reweighted``."""
    table = {}
    for s in range(services):
        key = ServiceKey(AF_INET, 6, str(ipaddress.IPv4Address(VIP_BASE + 1 + s % 250)), 80 + s // 250, 0)
        entry = ServiceEntry(SPEC)
        for d in range(dests):
            weight = 2 if reweighted and d % 100 == 0 else 1
            entry.dests[DestKey(str(ipaddress.IPv4Address(RS_BASE + d)), 8080)] = DestSpec(AF_INET, 0, weight)
        table[key] = entry
    return DesiredTable(table)


def restore_rules(table: DesiredTable, only_changed_from: DesiredTable | None = None) -> str:
    lines = []
    for key, entry in table.services.items():
        service = f"-t {key.address}:{key.port}"
        if only_changed_from is None:
            lines.append(f"-A {service} -s {entry.spec.scheduler}")
        before = None if only_changed_from is None else only_changed_from.services[key].dests
        for dest, spec in entry.dests.items():
            if before is None:
                lines.append(f"-a {service} -r {dest.address}:{dest.port} -m -w {spec.weight}")
            elif before[dest] != spec:
                lines.append(f"-e {service} -r {dest.address}:{dest.port} -m -w {spec.weight}")
    return "\n".join(lines) + "\n"


def ipvsadm(*args: str, stdin: str | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(["ipvsadm", *args], input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


async def fastalived_steps(table: DesiredTable, changed: DesiredTable) -> dict[str, tuple[int, float]]:
    """step -> (ops, seconds) for the director, starting from an empty kernel table."""
    director = await IpvsDirector.open()
    assert director is not None, "no IPVS in this kernel"
    results = {}
    steps = (
        ("program all", table, True),
        ("1 % weight change", changed, False),  # the checker's path: plan against the cached table
        ("nothing to change", changed, True),  # full kernel dump + plan
        ("1 % back, dump 1st", table, True),
    )
    for step, desired, refresh in steps:
        report = await director.sync(desired, refresh=refresh)
        assert report.ok, report.failed[:3]
        results[step] = (report.total, report.seconds)
    await director.close(remove=False)
    return results


def bench_shape(services: int, dests: int) -> list[tuple[str, str, int, float, float | None]]:
    table, changed = make_table(services, dests), make_table(services, dests, reweighted=1)
    ipvsadm("-C")
    ours = asyncio.run(fastalived_steps(table, changed))
    ipvsadm("-C")
    theirs = {"program all": ipvsadm("--restore", stdin=restore_rules(table))}
    theirs["nothing to change"] = ipvsadm("-Sn")  # ipvsadm cannot reconcile: this is its dump alone
    theirs["1 % weight change"] = ipvsadm("--restore", stdin=restore_rules(changed, only_changed_from=table))
    theirs["1 % back, dump 1st"] = ipvsadm("--restore", stdin=restore_rules(table, only_changed_from=changed))
    ipvsadm("-C")
    shape = f"{services:,} VS x {dests:,} RS"
    return [(shape, step, ops, seconds, theirs.get(step)) for step, (ops, seconds) in ours.items()]


def best_of(rows: tuple[tuple[str, str, int, float, float | None], ...]) -> tuple[str, str, int, float, float | None]:
    shape, step, ops, _, _ = rows[0]
    theirs = [row[4] for row in rows if row[4] is not None]
    return shape, step, ops, min(row[3] for row in rows), min(theirs) if theirs else None


def print_table(rows: list[tuple[str, str, int, float, float | None]]) -> None:
    header = f"{'shape':<22} {'step':<19} {'ops':>7} {'fastalived s':>13} {'ops/s':>9} {'ipvsadm s':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for shape, step, ops, seconds, ipvsadm_seconds in rows:
        rate = f"{ops / seconds:,.0f}" if ops else "-"
        theirs = "-" if ipvsadm_seconds is None else f"{ipvsadm_seconds:.3f}"
        ratio = "-" if ipvsadm_seconds is None else f"{seconds / ipvsadm_seconds:.2f}x"
        print(f"{shape:<22} {step:<19} {ops:>7,} {seconds:>13.3f} {rate:>9} {theirs:>10} {ratio:>6}")
    print("ratio = fastalived time / ipvsadm time (goal <= 1.00x); ipvsadm runs --restore, except for")
    print("'nothing to change' where it only dumps (ipvsadm -Sn); the guest runs under TCG")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 x 1,000 and 100 x 10 instead")
    parser.add_argument("--repeat", type=int, default=2, help="runs per shape; the best time of each step is shown")
    args = parser.parse_args()
    if os.environ.get("VMRUN_GUEST") != "1" and not Path("/proc/net/ip_vs").exists():
        vmrun = [str(ROOT / "tests/vm/vmrun"), "-t", "1200", "--", sys.executable, str(Path(__file__).resolve())]
        return subprocess.run(vmrun + sys.argv[1:], cwd=ROOT).returncode
    subprocess.run(["modprobe", "ip_vs"], check=False)
    shapes = [(1, 1_000), (100, 10)] if args.quick else [(1, 10_000), (1_000, 10)]
    rows = []
    for services, dests in shapes:
        runs = [bench_shape(services, dests) for _ in range(args.repeat)]
        rows.extend(best_of(same_step) for same_step in zip(*runs, strict=True))  # a shared 2-core host is noisy
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
