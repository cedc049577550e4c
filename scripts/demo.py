#!/usr/bin/env python3
"""An HAProxy pair behind one VIP, failed over under real client traffic (README command 1).

Two load balancers run the real HAProxy and fastalived (or the real keepalived, same config file),
two web servers serve the pool, a client namespace sends a paced request loop to the VIP. Steps:
HAProxy killed on the master, HAProxy back (the master preempts), kill -9 of the master's VRRP
daemon, a web server dies. Ends with a table per step: what the client saw (failed requests, time
until served again) next to the VRRP / HAProxy timing that explains it. Everything runs in
throw-away network namespaces and is torn down, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the testbed is not installed

from tests.support.lb_pair import (
    DEMO_TIMINGS,
    QUICK_TIMINGS,
    ScenarioFailed,
    ScenarioResult,
    StepResult,
    run_scenario,
)
from tests.support.testbed import Flavour, fastalived_executable, unavailable_reason

FAILURE_ABBREVIATIONS = {"refused": "ref", "reset": "rst", "timeout": "t/o"}


def _failed_cell(step: StepResult) -> str:
    failures = step.failures
    if not failures:
        return "0"
    kinds = ", ".join(f"{n} {FAILURE_ABBREVIATIONS.get(kind, kind)}" for kind, n in sorted(failures.items()))
    return f"{sum(failures.values())} ({kinds})"


def _daemon_cell(step: StepResult) -> str:
    return "-" if step.daemon_delay is None else f"{step.daemon_delay:.2f} s"


def render_table(results: Sequence[ScenarioResult]) -> str:
    """One row per step, a column group per daemon, then the timing that explains each row."""
    first = results[0]
    group_headers = ["", *(r.flavour for r in results), ""]
    headers = ["step"]
    for _ in results:
        headers += ["VIP/verdict", "failed", "outage", "recovered"]
    headers.append("expected (timing)")
    rows = []
    notes = []
    for index, step in enumerate(first.steps[1:], start=1):
        row = [f"{index} {step.title}"]
        for result in results:
            other = result.steps[index]
            row += [_daemon_cell(other), _failed_cell(other), f"{other.outage:.2f} s", f"{other.recovery:.2f} s"]
        row.append(f"<= {step.expected:.2f} s [{index}]" if step.expected is not None else "")
        rows.append(row)
        notes.append(f"[{index}] {step.daemon_event or 'VIP added'}: {step.explanation}")
    widths = [max(len(str(line[col])) for line in [headers, *rows]) for col in range(len(headers))]
    group_line = [group_headers[0].ljust(widths[0])]
    for position, flavour in enumerate(group_headers[1:-1]):
        span = sum(widths[1 + 4 * position: 5 + 4 * position]) + 3 * 2
        group_line.append(flavour.center(span, "-"))
    lines = ["  ".join(group_line)]
    for line in [headers, *rows]:
        lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    lines += ["", *notes, "",
              "From the client (its own requests, paced every "
              f"{first.timings.request_interval * 1000:g} ms, timeout {first.timings.request_timeout:g} s): "
              "'failed' (ref = connection refused, rst = reset, t/o = timeout), 'outage' (first failed "
              "request -> first answer after the last one) and 'recovered' (fault -> the start of the "
              "unbroken run of answers through the expected load balancer and web servers).",
              "From the nodes: 'VIP/verdict' (fault -> the kernel's RTM_NEWADDR of the VIP on the new "
              "holder; for the web server, HAProxy's DOWN log line, polled)."]
    return "\n".join(lines)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--daemon", choices=("fastalived", "keepalived"), default="fastalived",
                        help="the VRRP daemon on both load balancers (same keepalived.conf either way)")
    parser.add_argument("--compare", action="store_true",
                        help="run the scenario with fastalived, then keepalived, and print both tables side by side")
    parser.add_argument("--quick", action="store_true",
                        help="VRRPv3 advert_int 0.1 s and faster checks (what the tests use); default VRRPv2 1 s")
    parser.add_argument("--lvs", action="store_true", help="the IPVS variant in a QEMU guest (not available yet)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep every generated config and log under this directory")
    return parser.parse_args(argv)


def _missing_tools(flavours: Sequence[Flavour]) -> str | None:
    if reason := unavailable_reason():
        return f"cannot build the namespaces: {reason}"
    needed = ["haproxy", *(["keepalived"] if "keepalived" in flavours else [])]
    if "fastalived" in flavours:
        needed.append(fastalived_executable())
    missing = [tool for tool in needed if shutil.which(tool) is None]
    return f"not installed: {', '.join(missing)} (run: bash scripts/dev.sh setup)" if missing else None


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.lvs:
        print("demo: --lvs (HAProxy replaced by IPVS in a QEMU guest) is not available yet", file=sys.stderr)
        return 2
    flavours: list[Flavour] = ["fastalived", "keepalived"] if args.compare else [args.daemon]
    if problem := _missing_tools(flavours):
        print(f"demo: {problem}", file=sys.stderr)
        return 2
    timings = QUICK_TIMINGS if args.quick else DEMO_TIMINGS
    results = []
    try:
        for flavour in flavours:
            print(f"\n######## {flavour} ########", flush=True)
            workdir = None
            if args.workdir is not None:
                workdir = args.workdir / flavour
                workdir.mkdir(parents=True, exist_ok=True)
            results.append(run_scenario(flavour, timings, lambda line: print(line, flush=True), workdir))
            print("\ntestbed torn down", flush=True)
    except ScenarioFailed as failure:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: testbed torn down", file=sys.stderr)
        return 130
    print(f"\n== summary ({timings.describe()})\n")
    print(render_table(results))
    return 0


if __name__ == "__main__":
    # SIGTERM would skip every cleanup; as SystemExit it unwinds and tears the namespaces down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    sys.exit(main())
