"""Long fuzz run of the config front end over mutations of the shared real-world configs.

    .venv/bin/python bench/fuzz_config.py --cases 100000 [--seed N] [--timeout 30] [--save DIR]

Each case applies 1-4 mutations (``tests/support/config_fuzz.py``) to a config from
``../shared/configs`` and loads it with ``load_config`` from a scratch directory. A failure is an
exception, a case slower than ``--timeout`` seconds, or a diagnostic without a usable
``file:line:col``; each is printed with its seed and mutators and its files saved under ``--save``.
Prints progress, then cases/s, the slowest case and totals per mutator. Exit code 1 on any failure.
"""

from __future__ import annotations

import argparse
import collections
import random
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support is not installed

from tests.support.config_fuzz import MUTATORS, Files, check_case, corpus, mutate


class CaseTimeout(Exception):
    """Raised in the main thread by SIGALRM when one case runs past ``--timeout``."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise CaseTimeout


def _save(directory: Path, case: int, files: Files) -> Path:
    target = directory / f"case-{case}"
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / name).write_bytes(data)
    return target


def run(cases: int, seed: int, timeout: float, save: Path) -> int:
    seeds = corpus()
    if not seeds:
        print("no seed configs found under ../shared/configs", file=sys.stderr)
        return 2
    signal.signal(signal.SIGALRM, _on_alarm)
    per_mutator: collections.Counter[str] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    slowest = (0.0, -1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fastalived-fuzz-") as scratch:
        directory = Path(scratch)
        for case in range(cases):
            rng = random.Random(seed * 1_000_003 + case)
            files, applied = mutate(rng, seeds)
            per_mutator.update(applied)
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                problems = check_case(directory, files)
            except CaseTimeout:
                problems = [f"slower than {timeout} s"]
            except Exception:
                problems = ["exception: " + traceback.format_exc(limit=-3)]
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            elapsed = time.perf_counter() - t0
            slowest = max(slowest, (elapsed, case))
            if problems:
                failures[problems[0].split(":")[0]] += 1
                where = _save(save, case, files)
                print(f"FAIL case {case} (seed {seed}, {'+'.join(applied)}) saved in {where}: {problems[0]}")
            if (case + 1) % 10_000 == 0:
                rate = (case + 1) / (time.perf_counter() - started)
                print(f"{case + 1} cases, {rate:.0f} cases/s, {sum(failures.values())} failures", flush=True)
    total = time.perf_counter() - started
    print(f"\ncases: {cases}   seconds: {total:.1f}   cases/s: {cases / total:.0f}   seed: {seed}")
    print(f"slowest case: {slowest[1]} ({slowest[0] * 1000:.0f} ms)   seed configs: {len(seeds)}")
    print(f"failures: {sum(failures.values())} {dict(failures) or ''}")
    print("mutations applied:", ", ".join(f"{m.__name__} {per_mutator[m.__name__]}" for m in MUTATORS))
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds one case may take (a 10^6-line expansion: ~20 s here)"
    )
    parser.add_argument("--save", type=Path, default=Path(tempfile.gettempdir()) / "fastalived-fuzz-failures")
    args = parser.parse_args()
    return run(args.cases, args.seed, args.timeout, args.save)


if __name__ == "__main__":
    sys.exit(main())
