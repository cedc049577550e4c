#!/usr/bin/env python3
"""Start and SIGHUP reload to real servers in the kernel: fastalived vs keepalived 2.2.7 (``-C``).

Runs itself inside the vmrun guest (the host kernel has no IPVS):

    .venv/bin/python bench/e2e_start_reload.py                 # 5 runs each, interleaved (~12 min)
    .venv/bin/python bench/e2e_start_reload.py --runs 2 --json # the issue-14 JSON on stdout
    .venv/bin/python bench/e2e_start_reload.py --profile       # plus a timeline of one fastalived start

One Testbed node in the guest; an HTTP server inside it answers on ``127.0.0.1`` ports
20000-20009, every virtual server's 10 real servers (a listener per real server takes a minute to
start under TCG). Both daemons run the same file (``-n -l -D -G -C``, pid files and ``TMPDIR`` in a
temp dir): 200 virtual servers x 10 real servers with HTTP_GET checks, delay_loop 60, so the first
checks are spread over a minute (at TCG speed 2,000 checks every few seconds saturate both vCPUs,
time out and take real servers out again: that is the checker row's business, not this one's):

* **start**: exec of the daemon -> the node's IPVS table (``/proc/PID/net/ip_vs`` of a process in
  the node, read every 10 ms) holds all 2,000 destinations.
* **reload**: started with the first 100 virtual servers (1,000 destinations), all of them in the
  kernel and 2 s of settling, the file is rewritten to all 200 and the parent gets SIGHUP -> 2,000
  destinations in the kernel.

Each daemon is stopped with SIGTERM after each measurement (its group SIGKILLed if it lingers) and
the table must be empty (``ipvsadm -C`` in the node otherwise) before the next one. Guest timings
are TCG-emulated: compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support is not installed

from tests.support.full_daemon import kill_tree, listeners  # noqa: E402
from tests.support.testbed import Node, Testbed, fastalived_executable, stop_process_group, wait_for  # noqa: E402

KEEPALIVED = "/usr/sbin/keepalived"
DAEMONS = ("fastalived", "keepalived")
SERVICES, REALS = 200, 10
PORT_BASE = 20000
POLL = 0.01
TIMEOUT = 120.0  # for one measurement; fastalived took ~14 s under TCG on a quiet host
STOP_RESERVE = 90.0  # of the vmrun timeout: stopping a daemon, the report, the guest's shutdown
MIN_LEFT = 30.0  # no new measurement with less time than this left
AXES = {
    "start": "start -> 2,000 real servers in the kernel (guest, -C)",
    "reload": "SIGHUP adding 1,000 real servers -> in the kernel (guest)",
}
CHECK = (
    "        HTTP_GET {\n            url {\n                path /\n                status_code 200\n"
    "            }\n            connect_timeout 5\n        }\n"
)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def config(services: int) -> str:
    """``services`` virtual servers 198.51.100.(1+s):80, each with 10 real servers on 127.0.0.1."""
    parts = ["global_defs {\n    router_id bench_start_reload\n}\n"]
    for s in range(services):
        reals = "".join(
            f"    real_server 127.0.0.1 {PORT_BASE + r} {{\n        weight 1\n{CHECK}    }}\n" for r in range(REALS)
        )
        parts.append(
            f"virtual_server 198.51.100.{1 + s} 80 {{\n    delay_loop 60\n    lb_algo rr\n    lb_kind NAT\n"
            f"    protocol TCP\n{reals}}}\n"
        )
    return "".join(parts)


class Table:
    """The node's IPVS table, read through ``/proc/PID/net`` of a process that lives in the node."""

    def __init__(self, node: Node, anchor_pid: int, deadline: float) -> None:
        self.node = node
        self.path = Path(f"/proc/{anchor_pid}/net/ip_vs")
        self.deadline = deadline  # time.monotonic() by which the bench must be done with the guest

    def destinations(self) -> int:
        text = self.path.read_text()
        return max(0, text.count("\n  -> ") - 1)  # minus the column header line

    def wait(self, count: int, since: float, timeout: float = TIMEOUT) -> tuple[float, float | None]:
        """Seconds from ``since`` (time.time()) until ``count`` destinations, and until the first one."""
        first = None
        deadline = min(time.monotonic() + timeout, self.deadline)
        while time.monotonic() < deadline:
            seen = self.destinations()
            now = time.time()
            if seen and first is None:
                first = now - since
            if seen >= count:
                return now - since, first
            time.sleep(POLL)
        raise TimeoutError(f"{self.destinations()} of {count} destinations after {time.time() - since:.0f} s")

    def clear(self) -> None:
        if self.destinations():
            self.node.check_output(["ipvsadm", "-C"])


class Daemon:
    """One ``-C`` daemon in the node with its pid files, ``TMPDIR`` and log in ``directory``."""

    def __init__(self, flavour: str, node: Node, directory: Path) -> None:
        self.flavour = flavour
        self.node = node
        self.dir = directory / flavour
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        self.conf = self.dir / "keepalived.conf"
        self.log = self.dir / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        program = fastalived_executable() if self.flavour == "fastalived" else KEEPALIVED
        pid_files = [arg for flag in ("p", "c", "r") for arg in (f"-{flag}", str(self.dir / f"{flag}.pid"))]
        return [program, "-n", "-l", "-D", "-G", "-C", "-f", str(self.conf), *pid_files]

    def start(self, services: int, **env: str) -> float:
        """Write the config and exec the daemon; returns time.time() just before the exec."""
        self.conf.write_text(config(services))
        for flag in ("p", "c", "r"):
            (self.dir / f"{flag}.pid").unlink(missing_ok=True)
        with self.log.open("wb") as log:
            started = time.time()
            self.proc = self.node.run(
                self.argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "TMPDIR": str(self.dir / "tmp"), **env},
            )
        return started

    def reload(self, services: int) -> float:
        """Rewrite the config and SIGHUP the parent; returns time.time() just before the signal."""
        assert self.proc is not None and self.proc.poll() is None, self.log_tail()
        self.conf.write_text(config(services))
        started = time.time()
        self.proc.send_signal(signal.SIGHUP)
        return started

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, timeout=30)
            self.proc = None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def measure(daemon: Daemon, table: Table, kind: str) -> tuple[float, float | None] | None:
    """One start or reload measurement (None: timed out); the daemon is stopped and the table empty afterwards."""
    table.clear()
    try:
        started = daemon.start(SERVICES if kind == "start" else SERVICES // 2)
        if kind == "reload":
            table.wait(REALS * SERVICES // 2, started)
            time.sleep(2)  # let the first checks settle
            started = daemon.reload(SERVICES)
        return table.wait(REALS * SERVICES, started)
    except TimeoutError as exc:
        progress(f"  {daemon.flavour} {kind}: {exc}; the log's last lines:\n{daemon.log_tail()}")
        return None
    finally:
        daemon.stop()
        if not wait_for(lambda: table.destinations() == 0, 30, 0.05):
            progress(f"  {daemon.flavour} left {table.destinations()} destinations: ipvsadm -C")
            table.clear()


# ------------------------------------------------------------------------------------ profile
_STAMP = re.compile(r"^\w{3} (\w{3} +\d+ \d\d:\d\d:\d\d\.\d{3}) (\d{4}): (\S+?)\[(\d+)\]: (.*)$")
_IMPORT = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
_SPAWN = re.compile(r"Healthcheck (standby )?child process, pid=")


def log_lines(log: Path) -> list[tuple[float, str]]:
    """(time.time(), "ident: message") of each timestamped fastalived console line."""
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        if match := _STAMP.match(raw):
            stamp, year, ident, _, message = match.groups()
            when = datetime.strptime(f"{stamp} {year}", "%b %d %H:%M:%S.%f %Y").timestamp()
            lines.append((when, f"{ident}: {message}"))
    return lines


def import_times(log: Path) -> dict[str, list[tuple[float, str]]]:
    """``-X importtime`` top-level imports (seconds, module) of the parent and of the first checker child.

    The parent's lines come before its first spawn line, the first child's before the next spawn.
    """
    times: dict[str, list[tuple[float, str]]] = {"parent": [], "first child": []}
    spawns = 0
    for raw in log.read_text(errors="replace").splitlines():
        if _SPAWN.search(raw):
            spawns += 1
        elif spawns < 2 and (match := _IMPORT.match(raw)) and not match.group(3):
            times["first child" if spawns else "parent"].append((int(match.group(2)) / 1e6, match.group(4)))
    return times


def collapse(events: list[tuple[float, str]], window: int = 3) -> list[tuple[float, str]]:
    """A line like one of the last ``window`` shown (same first words) is folded into it as a count."""
    shown: list[tuple[float, str]] = []
    folded: dict[int, tuple[int, float]] = {}  # index in shown -> (lines folded in, offset of the last)
    for offset, text in events:
        key = " ".join(text.split()[:4])
        recent = [i for i in range(max(0, len(shown) - window), len(shown)) if " ".join(shown[i][1].split()[:4]) == key]
        if recent and not text.startswith("**"):
            count, _ = folded.get(recent[0], (0, 0.0))
            folded[recent[0]] = (count + 1, offset)
        else:
            shown.append((offset, text))
    for index, (count, last) in folded.items():
        offset, text = shown[index]
        shown[index] = (offset, f"{text}  (+{count} like it until {last:.3f})")
    return shown


def print_timeline(
    title: str, daemon: Daemon, since: float, milestones: list[tuple[float | None, str]], out: TextIO
) -> None:
    """The daemon's log lines from ``since`` (time.time()) up to its stop, with the table's milestones."""
    events = [(when - since, text[:120]) for when, text in log_lines(daemon.log) if when >= since - 0.001]
    stop = next((offset for offset, text in events if text.endswith(": Stopping")), float("inf"))
    events = [event for event in events if event[0] < stop]
    events += [(offset, text) for offset, text in milestones if offset is not None]
    print(title, file=out)
    for offset, text in collapse(sorted(events)):
        print(f"  {offset:8.3f}  {text}", file=out)


def profile(daemon: Daemon, table: Table, out: TextIO) -> None:
    """One fastalived start with ``-X importtime`` and one reload: log lines relative to the exec
    (to the SIGHUP), the table's milestones, the import times."""
    table.clear()
    started = daemon.start(SERVICES, PYTHONPROFILEIMPORTTIME="1")
    complete: float | None
    first: float | None
    try:
        complete, first = table.wait(REALS * SERVICES, started)
    except TimeoutError as exc:
        complete, first = None, None
        progress(f"profile: {exc}")
    finally:
        daemon.stop()
        wait_for(lambda: table.destinations() == 0, 30, 0.05)
    milestones = [(first, "** first destination in the kernel"), (complete, "** all 2,000 in the kernel")]
    title = "fastalived start timeline (s after the exec; ms-resolution log lines up to the stop; -X importtime on):"
    print_timeline(title, daemon, started, milestones, out)
    for process, imports in import_times(daemon.log).items():
        total = sum(seconds for seconds, _ in imports)
        top = ", ".join(f"{name} {seconds:.2f}" for seconds, name in sorted(imports, reverse=True)[:6])
        print(f"  imports of the {process}: {total:.2f} s, {len(imports)} top-level modules; largest: {top}", file=out)
    table.clear()
    try:
        table.wait(REALS * SERVICES // 2, daemon.start(SERVICES // 2))
        time.sleep(2)
        signalled = daemon.reload(SERVICES)
        complete, _ = table.wait(REALS * SERVICES, signalled)
    except TimeoutError as exc:
        complete, signalled = None, time.time()
        progress(f"profile: {exc}")
    finally:
        daemon.stop()
        wait_for(lambda: table.destinations() == 0, 30, 0.05)
    title = "fastalived reload timeline (s after the SIGHUP):"
    print_timeline(title, daemon, signalled, [(complete, "** all 2,000 in the kernel")], out)


# ------------------------------------------------------------------------------------ report
Results = dict[str, dict[str, list[float]]]


def print_table(results: Results, firsts: Results, failed: Results) -> None:
    header = f"{'measurement':<58} {'daemon':<11} {'n':>2} {'min s':>7} {'median s':>9} {'max s':>7} {'1st dest s':>10}"
    print(header)
    print("-" * len(header))
    for kind, axis in AXES.items():
        for flavour in DAEMONS:
            values, first = results[kind][flavour], firsts[kind][flavour]
            cells = [
                f"{f(values):>{w}.3f}" if values else f"{'-':>{w}}"
                for f, w in ((min, 7), (statistics.median, 9), (max, 7))
            ]
            first_cell = f"{statistics.median(first):>10.3f}" if first else f"{'-':>10}"
            timeouts = f"  ({len(failed[kind][flavour])} timed out)" if failed[kind][flavour] else ""
            print(f"{axis:<58} {flavour:<11} {len(values):>2} {' '.join(cells)} {first_cell}{timeouts}")
        fast, keep = results[kind]["fastalived"], results[kind]["keepalived"]
        if fast and keep:
            print(f"{'':<58} {'ratio':<11} {'':>2} {'':>7} {statistics.median(fast) / statistics.median(keep):>8.2f}x")
    print("ratio = fastalived median / keepalived median (goal <= 1.00x); 1st dest = median seconds to the first")
    print("destination in the kernel; the guest runs under TCG, so compare ratios, not seconds")


def in_guest(budget: float, results: Path, runs: int, with_profile: bool) -> None:
    """The measurements, each appended to ``results`` (a host directory shared read-write) as it ends."""
    deadline = time.monotonic() + budget - STOP_RESERVE
    for module in ("ip_vs", "ip_vs_rr"):
        subprocess.run(["modprobe", module], check=False)
    # .pyc files older than their sources (a tree being edited) would be compiled by the first start alone
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "fastalived")], check=False)
    with tempfile.TemporaryDirectory(prefix="fastalived-sr-") as scratch, Testbed(1, prefix="sr") as bed:
        node = bed.node(1)
        http = listeners(node, range(PORT_BASE, PORT_BASE + REALS), http=True)
        try:
            table = Table(node, http.pid, deadline)
            daemons = {flavour: Daemon(flavour, node, Path(scratch)) for flavour in DAEMONS}
            if with_profile:  # first: where a start's time goes is wanted even when later runs time out
                profile(daemons["fastalived"], table, sys.stderr)
            for run in range(runs):
                order = DAEMONS if run % 2 == 0 else DAEMONS[::-1]  # interleaved, alternating who goes first
                for kind in AXES:
                    for flavour in order:
                        label = f"run {run + 1}/{runs} {kind:<6} {flavour:<10}"
                        if time.monotonic() > deadline - MIN_LEFT:
                            progress(f"{label} skipped: the guest's time is up")
                            continue
                        outcome = measure(daemons[flavour], table, kind)
                        record: dict[str, object] = {"kind": kind, "daemon": flavour, "seconds": None, "first": None}
                        if outcome is not None:
                            record["seconds"] = outcome[0]
                            record["first"] = outcome[1] if kind == "start" else None  # a reload starts at 1,000
                        with results.open("a") as out:
                            out.write(json.dumps(record) + "\n")
                        progress(f"{label} " + ("timed out" if outcome is None else f"{outcome[0]:7.3f} s"))
        finally:
            kill_tree(http)


def report(results: Path, as_json: bool) -> bool:
    """The table or the JSON object from the guest's records; False when there were none."""
    records = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    seconds: Results = {kind: {d: [] for d in DAEMONS} for kind in AXES}
    firsts: Results = {kind: {d: [] for d in DAEMONS} for kind in AXES}
    failed: Results = {kind: {d: [] for d in DAEMONS} for kind in AXES}
    for record in records:
        kind, daemon = record["kind"], record["daemon"]
        if record["seconds"] is None:
            failed[kind][daemon].append(TIMEOUT)
            continue
        seconds[kind][daemon].append(record["seconds"])
        if record["first"] is not None:
            firsts[kind][daemon].append(record["first"])
    if as_json:
        rows = [
            {"axis": axis, "unit": "s", "higher_is_better": False, **{d: seconds[kind][d] for d in DAEMONS}}
            for kind, axis in AXES.items()
        ]
        print(json.dumps({"rows": rows}))
    else:
        print_table(seconds, firsts, failed)
    return bool(records)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="measurements per daemon and kind (default 5)")
    parser.add_argument("--json", action="store_true", help="print the issue-14 JSON object on stdout")
    parser.add_argument("--profile", action="store_true", help="print a timeline of one fastalived start (stderr)")
    parser.add_argument("--timeout", type=int, help="guest seconds (default 120 + 120 per run, + 60 with --profile)")
    parser.add_argument("--in-guest", type=float, help=argparse.SUPPRESS)  # the guest's time budget in seconds
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)  # where the guest appends its records
    args = parser.parse_args()
    if args.in_guest:
        in_guest(args.in_guest, args.results, args.runs, args.profile)
        return 0
    timeout = args.timeout or 120 + 120 * args.runs + (60 if args.profile else 0)
    with tempfile.TemporaryDirectory(prefix="fastalived-sr-results-") as shared:
        results = Path(shared) / "results.jsonl"
        guest = [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]]
        guest += ["--in-guest", str(timeout - 40), "--results", str(results)]  # the guest boots in ~25 s
        vmrun = [str(ROOT / "tests/vm/vmrun"), "-t", str(timeout), "-w", shared, "--", *guest]
        returncode = subprocess.run(vmrun, cwd=ROOT, stdout=sys.stderr).returncode
        if returncode:
            progress(f"vmrun exited with {returncode}; reporting what the guest recorded")
        return 0 if report(results, args.json) else returncode or 1


if __name__ == "__main__":
    raise SystemExit(main())
