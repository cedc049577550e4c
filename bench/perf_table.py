#!/usr/bin/env python3
"""Issue #14's table in one run: every axis for fastalived and keepalived 2.2.7, side by side.

Runs each end-to-end bench with ``--json`` (one subprocess each, so a failing bench costs its rows
only), collects the raw per-run values and prints min / median / max per daemon, the ratio of the
medians and whether the goal holds. Root is needed (namespaces, the QEMU guest for IPVS).

    .venv/bin/python bench/perf_table.py                 # every axis, 5 runs each (~25 min)
    .venv/bin/python bench/perf_table.py --only config,vrrp --runs 3
    .venv/bin/python bench/perf_table.py --save /tmp/perf.json
    .venv/bin/python bench/perf_table.py --load /tmp/perf.json   # print a saved run again

| bench | axes |
|---|---|
| ``e2e_config.py`` | ``-t`` wall time on 1,000 virtual servers x 10 HTTP_GET real servers |
| ``e2e_start_reload.py`` | start -> 2,000 real servers in the kernel; SIGHUP adding 1,000 (in the guest, ``-C``) |
| ``e2e_checkers.py`` | HTTP_GET checks per CPU-second, 2,000 servers, delay_loop 1, whole process tree |
| ``e2e_vrrp.py --cpu`` | CPU per advert received (200 x v3 @ 0.01 s); one instance at 10 ms, CPU % |
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Goal:
    """fastalived / keepalived ratio of the medians that the issue asks for (``at_least`` for throughput)."""

    ratio: float
    at_least: bool = False

    def met(self, ratio: float) -> bool:
        return ratio >= self.ratio if self.at_least else ratio <= self.ratio

    def __str__(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.ratio:g}x"


# axis prefix (as the benches name it) -> goal; order = the table
GOALS: dict[str, Goal] = {
    "parse 1,000 virtual servers": Goal(1.0),
    "start -> 2,000 real servers": Goal(1.0),
    "SIGHUP adding 1,000 real servers": Goal(1.0),
    "HTTP_GET checks per CPU-second": Goal(1.5, at_least=True),
    "VRRP CPU per advert received": Goal(0.5),
    "one instance at 10 ms, CPU % master": Goal(1.0),
    "one instance at 10 ms, CPU % backup": Goal(1.0),
}

# name -> the bench's command line (``--runs N --json`` is appended)
BENCHES: dict[str, list[str]] = {
    "config": ["e2e_config.py"],
    "ipvs": ["e2e_start_reload.py"],
    "checks": ["e2e_checkers.py"],
    "vrrp": ["e2e_vrrp.py", "--cpu"],
}


def run_bench(name: str, runs: int) -> list[dict[str, object]]:
    """One bench's rows; a failure is reported and costs only its own rows."""
    script, *extra = BENCHES[name]
    argv = [sys.executable, str(BENCH / script), *extra, "--runs", str(runs), "--json"]
    print(f"== {name}: {' '.join(argv[1:])}", file=sys.stderr, flush=True)
    started = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)  # progress stays on stderr
    print(f"== {name}: exit {proc.returncode} after {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    for line in reversed(proc.stdout.splitlines()):  # the JSON object is the last line printed
        if line.startswith("{"):
            return list(json.loads(line)["rows"])
    return [{"axis": f"{name}: bench failed (exit {proc.returncode})", "unit": "", "fastalived": [], "keepalived": []}]


def spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    digits = 3 if max(values) < 10 else 1 if max(values) < 1000 else 0
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / {max(values):.{digits}f}"


def goal_for(axis: str) -> Goal | None:
    return next((goal for prefix, goal in GOALS.items() if axis.startswith(prefix)), None)


def render(rows: list[dict[str, object]]) -> str:
    """A markdown table: min / median / max per daemon, ratio of medians, goal, met."""
    header = ["axis", "unit", "runs", "fastalived min / med / max", "keepalived min / med / max"]
    header += ["ratio", "goal", "met"]
    table = [header]
    for row in sorted(rows, key=lambda r: list(GOALS).index(p) if (p := _prefix(str(r["axis"]))) else len(GOALS)):
        fast = [float(v) for v in row.get("fastalived", [])]  # type: ignore[attr-defined]
        keep = [float(v) for v in row.get("keepalived", [])]  # type: ignore[attr-defined]
        goal = goal_for(str(row["axis"]))
        ratio = statistics.median(fast) / statistics.median(keep) if fast and keep and statistics.median(keep) else None
        table.append(
            [
                str(row["axis"]),
                str(row.get("unit", "")),
                f"{len(fast)} / {len(keep)}",
                spread(fast),
                spread(keep),
                "n/a" if ratio is None else f"{ratio:.2f}x",
                str(goal) if goal else "",
                "n/a" if ratio is None or goal is None else ("yes" if goal.met(ratio) else "no"),
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    out = []
    for number, line in enumerate(table):
        out.append("| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |")
        if number == 0:
            out.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(out)


def _prefix(axis: str) -> str | None:
    return next((prefix for prefix in GOALS if axis.startswith(prefix)), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per daemon and axis (default 5)")
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {','.join(BENCHES)}")
    parser.add_argument("--save", type=Path, help="also write the raw rows as JSON here")
    parser.add_argument("--load", type=Path, nargs="+", help="print saved rows instead of running (merged)")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    if args.load:
        for path in args.load:
            rows += json.loads(path.read_text())["rows"]
    else:
        # bytecode for every module first, as a packaged install has it: the guest sees the tree
        # read-only and would otherwise compile each module at TCG speed on every start
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(BENCH.parent / "src")], check=True)
        for name in args.only.split(","):
            rows += run_bench(name, args.runs)
            if args.save:  # after every bench: a later failure keeps what was measured
                args.save.write_text(json.dumps({"rows": rows}, indent=1))
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
