"""``-t`` on a large config: fastalived against keepalived 2.2.7, same file, same run.

Generates bench/test_bench_config.py's files (default: 1,000 virtual servers x 10 HTTP_GET real
servers, ~126,000 lines) and runs ``fastalived -t -f FILE`` and ``keepalived -t -f FILE``
alternately, N times each, so both see the same machine load. Each run's wall time and CPU time
(user + system of the child, from ``wait4``) are reported as min / median / max, with the
fastalived / keepalived ratio of the medians. On a shared, loaded machine the CPU time is the
figure to compare; the wall time mostly measures the other tenants.

``--instructions`` also counts each program's executed instructions once under valgrind's
callgrind (``PYTHONHASHSEED=0``): slow (about a minute per program for the default file) but
the same on an idle and on a busy machine, so it is the number to compare before/after changes.

fastalived runs as installed (the console script next to this Python), with bytecode caching
allowed even if the environment disables it, since a packaged install has its ``.pyc`` files: the
first, unmeasured, run writes them.

    python bench/e2e_config.py                   # 1000 x 10, 7 runs each
    python bench/e2e_config.py --runs 15 --virtual-servers 100
    python bench/e2e_config.py --vrrp 500        # 500 vrrp_instances instead
    python bench/e2e_config.py --instructions    # plus callgrind instruction counts
    python bench/e2e_config.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_bench_config import lvs_config, vrrp_config

AXIS = "parse 1,000 virtual servers x 10 HTTP_GET real servers, -t wall time"


def fastalived_command() -> list[str]:
    exe = shutil.which("fastalived", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "fastalived"]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """One run: (wall s, CPU s of the child, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def count_instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions one run executes, from callgrind's summary (its own log, not the program's stderr)."""
    with tempfile.NamedTemporaryFile(prefix="fastalived-bench-callgrind-", suffix=".log") as log:
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", f"--log-file={log.name}", *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**env, "PYTHONHASHSEED": "0"},
            check=False,
        )
        for line in Path(log.name).read_text().splitlines():
            if "I   refs:" in line or "I refs:" in line:
                return int(line.rsplit(":", 1)[1].replace(",", ""))
    raise SystemExit(f"no instruction count from valgrind for {' '.join(argv)}")


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def measure(
    config: Path, runs: int, keepalived: str | None, pythonpath: str | None = None, instructions: bool = False
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, list[float]]]]:
    """Summaries per daemon and kind (cpu, wall, instructions), and the raw per-run samples."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if pythonpath:  # another fastalived tree (e.g. a ``git archive`` of the last commit), for before/after
        env["PYTHONPATH"] = pythonpath
    daemons = {"fastalived": [*fastalived_command(), "-t", "-f", str(config)]}
    if keepalived:
        daemons["keepalived"] = [keepalived, "-t", "-f", str(config)]
    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in daemons}
    for name, argv in daemons.items():  # warm-up: page cache, .pyc files; also checks the file is clean
        _, _, code = run_once(argv, env)
        if code != 0:
            raise SystemExit(f"{name} -t failed on {config} (exit {code}): {' '.join(argv)}")
    for _ in range(runs):
        for name, argv in daemons.items():
            wall, cpu, _ = run_once(argv, env)
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)
    results = {name: {kind: summary(values) for kind, values in s.items()} for name, s in samples.items()}
    if instructions:
        for name, argv in daemons.items():
            count = float(count_instructions(argv, env))
            results[name]["instructions"] = {"min": count, "median": count, "max": count}
    return results, samples


def contract_rows(samples: dict[str, dict[str, list[float]]]) -> dict[str, list[dict[str, object]]]:
    """The issue's row in bench/perf_table.py's JSON shape: raw wall times per run, both daemons."""
    row: dict[str, object] = {"axis": AXIS, "unit": "s", "higher_is_better": False}
    row.update({name: kinds["wall"] for name, kinds in samples.items()})
    return {"rows": [row]}


def render(results: dict[str, dict[str, dict[str, float]]], label: str, runs: int) -> str:
    lines = [f"-t on {label}, {runs} runs each, interleaved; seconds min / median / max"]
    lines.append(f"{'daemon':<11} {'CPU (user+sys)':<24} {'wall':<24}")
    for name, result in results.items():
        cells = ["{min:.3f} / {median:.3f} / {max:.3f}".format(**result[kind]) for kind in ("cpu", "wall")]
        lines.append(f"{name:<11} {cells[0]:<24} {cells[1]:<24}")
    if "keepalived" in results:
        fa, ka = results["fastalived"], results["keepalived"]
        cpu = fa["cpu"]["median"] / ka["cpu"]["median"]
        wall = fa["wall"]["median"] / ka["wall"]["median"]
        lines.append(f"fastalived / keepalived (medians): CPU {cpu:.2f}x, wall {wall:.2f}x")
    for name, result in results.items():
        if "instructions" in result:
            lines.append(f"{name}: {result['instructions']['median'] / 1e9:.3f} G instructions (callgrind)")
    if all("instructions" in result for result in results.values()) and "keepalived" in results:
        ratio = results["fastalived"]["instructions"]["median"] / results["keepalived"]["instructions"]["median"]
        lines.append(f"fastalived / keepalived instructions: {ratio:.2f}x")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--virtual-servers", type=int, default=1000)
    ap.add_argument("--real-servers", type=int, default=10)
    ap.add_argument("--vrrp", type=int, metavar="N", help="N vrrp_instances instead of virtual servers")
    ap.add_argument("--keepalived", default=shutil.which("keepalived"), help="keepalived binary (default: PATH)")
    ap.add_argument("--no-keepalived", dest="keepalived", action="store_const", const=None)
    ap.add_argument("--pythonpath", metavar="DIR", help="run the fastalived package found in DIR instead")
    ap.add_argument("--instructions", action="store_true", help="also count instructions under valgrind (slow)")
    ap.add_argument("--json", action="store_true", help="print the raw wall times per run as JSON (perf_table.py)")
    args = ap.parse_args()
    if args.vrrp:
        text, label = vrrp_config(args.vrrp), f"{args.vrrp} vrrp_instances"
    else:
        text = lvs_config(args.virtual_servers, args.real_servers)
        label = f"{args.virtual_servers} virtual servers x {args.real_servers} HTTP_GET real servers"
    with tempfile.TemporaryDirectory(prefix="fastalived-bench-config-") as tmp:
        config = Path(tmp) / "keepalived.conf"
        config.write_text(text)
        label += f" ({text.count(chr(10))} lines)"
        results, samples = measure(config, args.runs, args.keepalived, args.pythonpath, args.instructions)
    print(json.dumps(contract_rows(samples)) if args.json else render(results, label, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
