"""End-to-end checker throughput: N HTTP_GET real servers on loopback, delay_loop 1 s.

The real servers are one haproxy process (port ranges on several 127.0.1.x addresses, answering
``200`` to every request). The checker runs :class:`fastalived.check.process.CheckRole` in a
child process on uvloop, exactly as the daemon would, and measures itself over a window after the
warm-up spread: checks/s, scheduler lag p50/p99, CPU seconds (``/proc/self/stat`` utime+stime) per
1,000 checks and RSS. keepalived 2.2.7 reference: 3989 checks/s at 32 % of a core (~12,500 checks
per CPU-second), see docs/shared reference section 5.

``--keepalived`` also runs the real keepalived (``-C``) against the same haproxy right after, so
both are measured under the same machine load. This kernel has no IPVS, so keepalived gets the
reference testbed's LD_PRELOAD shim (built from ``--ipvs-shim``); its checks/s come from haproxy's
``CumConns`` and its CPU from the checker child's ``/proc/PID/stat``.

    python bench/e2e_checkers.py            # N = 1000, 4000, 10000; 5 s warm-up, 20 s window
    python bench/e2e_checkers.py --quick    # same N, 3 s warm-up, 5 s window
    python bench/e2e_checkers.py --quick --keepalived
    python bench/e2e_checkers.py --n 2000 --profile /tmp/check.prof
    python bench/e2e_checkers.py --runs 5 --json   # issue #14 row: both whole daemons, interleaved

``--runs N`` (and ``--json``) is the daemon-against-daemon mode: N interleaved runs of the full
``fastalived -n -l -D -C`` and ``keepalived -n -l -C`` at 2,000 servers, delay_loop 1, each counted
the same way from outside: checks from haproxy's ``CumConns``, CPU over the whole process tree
(parent + checker child + any other child), RSS summed over the tree.
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# keepalived needs this reference shim to run its checker without kernel IPVS (../shared beside the clone)
DEFAULT_SHIM = str(Path(__file__).resolve().parents[2] / "shared/reference/keepalived-peer/ipvs_shim.c")
PORT_BASE = 20000  # below the ephemeral range, so checker sockets never collide with listeners
PORTS_PER_ADDRESS = 2500
KEEPALIVED_CHECKS_PER_CPU_SECOND = 3988.8 / 0.3195
ROW_AXIS = "HTTP_GET checks per CPU-second, 2,000 servers at delay_loop 1 (parent + children)"
DAEMON_SERVERS = 2000
COLUMNS = [  # (title, result key, width, format)
    ("checker", "checker", 10, ""),
    ("servers", "n", 8, ""),
    ("checks/s", "checks_per_s", 9, ".1f"),
    ("fail", "failures", 5, ""),
    ("lag p50 ms", "lag_p50_ms", 10, ".2f"),
    ("lag p99 ms", "lag_p99_ms", 10, ".2f"),
    ("lat p50 ms", "latency_p50_ms", 10, ".2f"),
    ("lat p99 ms", "latency_p99_ms", 10, ".2f"),
    ("CPU s/1k", "cpu_s_per_1000", 9, ".4f"),
    ("CPU %", "cpu_percent", 6, ".1f"),
    ("sys %", "system_percent", 5, ".0f"),
    ("checks/CPU-s", "checks_per_cpu_s", 12, ".0f"),
    ("RSS MiB", "rss_mib", 8, ".1f"),
]


def server_addresses(n: int) -> list[tuple[str, int]]:
    """N (address, port) pairs spread over 127.0.1.1, 127.0.1.2 ... to spread the 4-tuples too."""
    return [(f"127.0.1.{1 + i // PORTS_PER_ADDRESS}", PORT_BASE + i % PORTS_PER_ADDRESS) for i in range(n)]


def start_haproxy(n: int, workdir: str, nice: int = 0) -> subprocess.Popen[bytes]:
    addresses = sorted({addr for addr, _ in server_addresses(n)})
    binds = []
    for addr in addresses:
        count = sum(1 for a, _ in server_addresses(n) if a == addr)
        binds.append(f"    bind {addr}:{PORT_BASE}-{PORT_BASE + count - 1}")
    cfg = "\n".join(
        [
            "global",
            "    maxconn 4000",  # 2 fds per connection + 1 per listening port must fit in RLIMIT_NOFILE
            "    nbthread 1",
            f"    stats socket {workdir}/haproxy.sock mode 600 level admin",
            "defaults",
            "    mode http",
            "    timeout client 5s",
            "    timeout connect 5s",
            "    timeout server 5s",
            "frontend realservers",
            *binds,
            "    http-request return status 200",
            "",
        ]
    )
    path = os.path.join(workdir, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    proc = subprocess.Popen(
        ["nice", "-n", str(nice), "haproxy", "-db", "-f", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(0.5 + n / 20000)
    if proc.poll() is not None:
        raise SystemExit(f"haproxy failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return proc


def haproxy_connections(workdir: str) -> int:
    """haproxy's cumulative accepted connections (one per check), from its stats socket."""
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(os.path.join(workdir, "haproxy.sock"))
        sock.sendall(b"show info\n")
        text = b""
        while chunk := sock.recv(65536):
            text += chunk
    for line in text.decode().splitlines():
        if line.startswith("CumConns:"):
            return int(line.split(":", 1)[1])
    raise RuntimeError("haproxy did not report CumConns")


def cpu_seconds(pid: str = "self") -> tuple[float, float]:
    """(user, system) CPU seconds of a process from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def rss_mib(pid: str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def process_tree(root: int) -> list[int]:
    """``root`` and every live descendant, from /proc (children of a daemon come and go)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += frontier
    return tree


def tree_cpu_seconds(root: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``root``'s tree, reaped children (cutime/cstime) included."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited between the listing and the read
        user += int(fields[11]) + (int(fields[13]) if pid == root else 0)
        system += int(fields[12]) + (int(fields[14]) if pid == root else 0)
    return user / tick, system / tick


def tree_rss_mib(root: int) -> float:
    total = 0.0
    for pid in process_tree(root):
        try:
            total += rss_mib(str(pid))
        except OSError:
            continue
    return total


def worker(n: int, warmup: float, window: float, profile: str | None) -> dict:
    """Runs in the checker child: build N checkers, warm up, measure one window."""
    import asyncio

    import uvloop

    from fastalived.check.process import CheckRole, NoIpvs
    from fastalived.check.scheduler import DurationStats
    from fastalived.config.model import CheckerCommon, Config, HttpCheck, RealServer, UrlSpec, VirtualServer

    servers = []
    for addr, port in server_addresses(n):
        ip = ipaddress.ip_address(addr)
        common = CheckerCommon(ip, port, connect_timeout=3.0, delay_loop=1.0, warmup=1.0, retry=1)
        servers.append(RealServer(ip, port, checkers=(HttpCheck("HTTP_GET", common, (UrlSpec("/"),)),)))
    config = Config(
        virtual_servers=(
            VirtualServer(address=ipaddress.ip_address("192.0.2.100"), port=80, real_servers=tuple(servers)),
        )
    )

    async def run() -> dict:
        role = CheckRole(ipvs=NoIpvs())
        await role.start(config)
        await asyncio.sleep(warmup)
        role.lag = DurationStats(window=65536)
        role.latency = DurationStats(window=65536)
        runs0, cpu0, t0 = sum(role.runs.values()), cpu_seconds(), time.monotonic()
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        await asyncio.sleep(window)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        runs1, cpu1, t1 = sum(role.runs.values()), cpu_seconds(), time.monotonic()
        user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        checks = max(1, runs1 - runs0)
        result = {
            "checker": "fastalived",
            "n": n,
            "checks_per_s": (runs1 - runs0) / (t1 - t0),
            "failures": role.runs["failure"],
            "lag_p50_ms": role.lag.quantile(0.5) * 1000,
            "lag_p99_ms": role.lag.quantile(0.99) * 1000,
            "latency_p50_ms": role.latency.quantile(0.5) * 1000,
            "latency_p99_ms": role.latency.quantile(0.99) * 1000,
            "cpu_s_per_1000": (user + system) / checks * 1000,
            "system_share": system / max(1e-9, user + system),
            "cpu_percent": (user + system) / (t1 - t0) * 100,
            "rss_mib": rss_mib(),
        }
        await role.stop()
        return result

    return uvloop.run(run())


def keepalived_conf(n: int) -> str:
    servers = "".join(
        f"    real_server {addr} {port} {{\n        HTTP_GET {{\n            url {{\n                path /\n"
        f"            }}\n            connect_timeout 3\n            retry 1\n        }}\n    }}\n"
        for addr, port in server_addresses(n)
    )
    return (
        "global_defs {\n    router_id bench\n}\n"
        "virtual_server 192.0.2.100 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n"
        f"    protocol TCP\n{servers}}}\n"
    )


def run_keepalived(n: int, workdir: str, shim_source: str, warmup: float, window: float, nice: int) -> dict:
    """The real keepalived checker against the same haproxy, measured from outside."""
    shim = build_shim(workdir, shim_source)
    conf = os.path.join(workdir, "keepalived.conf")
    with open(conf, "w") as f:
        f.write(keepalived_conf(n))
    pids = {name: os.path.join(workdir, f"{name}.pid") for name in ("main", "vrrp", "check", "bfd")}
    cmd = ["nice", "-n", str(nice), "keepalived", "-n", "-l", "-C", "-f", conf, "-p", pids["main"], "-r", pids["vrrp"]]
    cmd += ["-c", pids["check"], "-b", pids["bfd"]]
    env = dict(os.environ, LD_PRELOAD=shim, IPVS_SHIM_QUIET="1", TMPDIR=workdir)
    with open(os.path.join(workdir, "keepalived.log"), "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(pids["check"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(pids["check"]) as f:
            pid = f.read().strip()
        wait_checking(workdir, proc, n)  # keepalived spreads its first checks over several seconds
        time.sleep(warmup)
        conns0, cpu0, t0 = haproxy_connections(workdir), cpu_seconds(pid), time.monotonic()
        time.sleep(window)
        conns1, cpu1, t1 = haproxy_connections(workdir), cpu_seconds(pid), time.monotonic()
        user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        checks = max(1, conns1 - conns0)
        return {
            "checker": "keepalived",
            "n": n,
            "checks_per_s": checks / (t1 - t0),
            "failures": None,  # not measured from outside: see keepalived.log
            "lag_p50_ms": None,
            "lag_p99_ms": None,
            "latency_p50_ms": None,
            "latency_p99_ms": None,
            "cpu_s_per_1000": (user + system) / checks * 1000,
            "system_share": system / max(1e-9, user + system),
            "cpu_percent": (user + system) / (t1 - t0) * 100,
            "rss_mib": rss_mib(pid),
        }
    finally:
        proc.terminate()
        proc.wait(10)


def build_shim(workdir: str, shim_source: str) -> str:
    shim = os.path.join(workdir, "ipvs_shim.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", shim, shim_source, "-ldl"], check=True)
    return shim


def daemon_command(
    checker: str, workdir: str, conf: str, source: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of one whole daemon, health checker only, in the foreground.

    ``source``: a ``src`` directory of another fastalived tree to run instead (a before/after pair).
    """
    pid = functools.partial(os.path.join, workdir)
    env = dict(os.environ, TMPDIR=workdir)
    if source is not None:
        env["PYTHONPATH"] = source
    if checker == "keepalived":
        cmd = ["keepalived", "-n", "-l", "-C", "-f", conf, "-p", pid("main.pid"), "-r", pid("vrrp.pid")]
        cmd += ["-c", pid("check.pid"), "-b", pid("bfd.pid")]
        env.update(LD_PRELOAD=os.path.join(workdir, "ipvs_shim.so"), IPVS_SHIM_QUIET="1")
        return cmd, env
    cmd = [str(Path(sys.executable).with_name("fastalived")), "-n", "-l", "-D", "-C", "-f", conf]
    cmd += ["-p", pid("main.pid"), "-r", pid("vrrp.pid"), "-c", pid("check.pid"), "--run-dir", pid("run")]
    return cmd, env


def wait_checking(workdir: str, proc: subprocess.Popen[bytes], n: int, timeout: float = 40.0) -> None:
    """Until haproxy sees the daemon check at its full rate (keepalived spreads its start over seconds)."""
    deadline = time.monotonic() + timeout
    last = haproxy_connections(workdir)
    while True:
        time.sleep(1.0)
        now = haproxy_connections(workdir)
        if now - last >= 0.9 * n:  # delay_loop 1: n checks a second once every checker runs
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"daemon did not reach its check rate; see {workdir}/daemon.log")
        last = now


def run_daemon(
    checker: str, n: int, shim_source: str, warmup: float, window: float, nice: int, source: str | None = None
) -> dict:
    """One whole daemon against a fresh haproxy: checks and tree CPU over one window."""
    with tempfile.TemporaryDirectory() as workdir:
        haproxy = start_haproxy(n, workdir, nice)
        try:
            if checker == "keepalived":
                build_shim(workdir, shim_source)
            conf = os.path.join(workdir, "keepalived.conf")
            with open(conf, "w") as f:
                f.write(keepalived_conf(n))
            cmd, env = daemon_command(checker, workdir, conf, source)
            with open(os.path.join(workdir, "daemon.log"), "wb") as log:
                proc = subprocess.Popen(
                    ["nice", "-n", str(nice), *cmd],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            try:
                wait_checking(workdir, proc, n)
                time.sleep(warmup)
                conns0, cpu0, t0 = haproxy_connections(workdir), tree_cpu_seconds(proc.pid), time.monotonic()
                time.sleep(window)
                conns1, cpu1, t1 = haproxy_connections(workdir), tree_cpu_seconds(proc.pid), time.monotonic()
                if proc.poll() is not None:
                    raise RuntimeError(f"{checker} exited during the window")
                checks, user, system = max(1, conns1 - conns0), cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
                cpu = user + system
                return {
                    "checker": checker,
                    "checks_per_s": checks / (t1 - t0),
                    "checks_per_cpu_s": checks / cpu if cpu > 0 else float("inf"),
                    "cpu_percent": cpu / (t1 - t0) * 100,
                    "system_percent": system / cpu * 100 if cpu > 0 else 0.0,
                    "rss_mib": tree_rss_mib(proc.pid),
                    "processes": len(process_tree(proc.pid)),
                }
            finally:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            haproxy.terminate()
            haproxy.wait()


def compare_daemons(
    runs: int, shim_source: str, warmup: float, window: float, nice: int, baseline: str | None = None
) -> dict:
    """``runs`` interleaved runs of both whole daemons; the order alternates so neither always goes first.

    ``baseline`` (a fastalived ``src`` directory) adds a third series, on stderr only.
    """
    values: dict[str, list[float]] = {"fastalived": [], "keepalived": []}
    if baseline is not None:
        values["baseline"] = []
    for index in range(runs):
        order = list(values) if index % 2 == 0 else list(reversed(values))
        for name in order:
            checker, source = ("fastalived", baseline) if name == "baseline" else (name, None)
            row = run_daemon(checker, DAEMON_SERVERS, shim_source, warmup, window, nice, source)
            values[name].append(round(row["checks_per_cpu_s"], 1))
            print(
                f"run {index + 1}/{runs} {name:>10}: {row['checks_per_s']:7.1f} checks/s "
                f"{row['checks_per_cpu_s']:8.0f} checks/CPU-s  CPU {row['cpu_percent']:5.1f} % "
                f"({row['system_percent']:.0f} % system)  "
                f"RSS {row['rss_mib']:6.1f} MiB ({row['processes']} processes, "
                f"{row['rss_mib'] / DAEMON_SERVERS * 1000:.1f} MiB per 1,000 servers)",
                file=sys.stderr,
            )
    for checker, series in values.items():
        ordered = sorted(series)
        print(f"{checker:>10}: min {ordered[0]:.0f}  median {statistics.median(ordered):.0f}  max {ordered[-1]:.0f}",
              file=sys.stderr)  # fmt: skip
    row = {"axis": ROW_AXIS, "unit": "checks/CPU-s", "higher_is_better": True}
    row.update(fastalived=values["fastalived"], keepalived=values["keepalived"])
    return {"rows": [row]}


def _cell(value: object, width: int, fmt: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s warm-up and a 5 s window")
    parser.add_argument("--n", type=int, action="append", help="real server count (repeatable)")
    parser.add_argument("--profile", help="write a cProfile of the window to this file")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the checker and haproxy (root may go below 0 on a box busy with other work)",
    )
    parser.add_argument("--keepalived", action="store_true", help="also measure keepalived -C on the same servers")
    parser.add_argument("--ipvs-shim", default=DEFAULT_SHIM, help="source of the LD_PRELOAD IPVS shim for keepalived")
    parser.add_argument("--runs", type=int, help="interleaved whole-daemon runs of both (default 5 with --json)")
    parser.add_argument("--json", action="store_true", help="print the issue #14 row as one JSON object")
    parser.add_argument("--baseline-src", help="with --runs: also run the fastalived of this src directory")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--window", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.warmup, args.window, args.profile)))
        return 0
    if shutil.which("haproxy") is None:
        print("haproxy is needed for the real servers", file=sys.stderr)
        return 2
    if args.runs or args.json:
        warmup, window = (args.warmup or 2.0), (args.window or 10.0)
        result = compare_daemons(args.runs or 5, args.ipvs_shim, warmup, window, args.nice, args.baseline_src)
        if args.json:
            print(json.dumps(result))
        return 0
    warmup, window = (3.0, 5.0) if args.quick else (5.0, 20.0)
    rows = []
    # keepalived closes gracefully and leaves TIME_WAIT sockets behind for 60 s: run it last so
    # its leftovers never slow the fastalived rows down.
    runs = [("fastalived", n) for n in args.n or [1000, 4000, 10000]]
    runs += [("keepalived", n) for _, n in runs] if args.keepalived else []
    for checker, n in runs:
        with tempfile.TemporaryDirectory() as workdir:
            haproxy = start_haproxy(n, workdir, args.nice)
            try:
                if checker == "keepalived":
                    rows.append(run_keepalived(n, workdir, args.ipvs_shim, warmup, window, args.nice))
                    continue
                cmd = ["nice", "-n", str(args.nice), sys.executable, __file__, "--worker", str(n)]
                cmd += ["--warmup", str(warmup), "--window", str(window)]
                if args.profile:
                    cmd += ["--profile", args.profile]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                rows.append(json.loads(out.strip().splitlines()[-1]))
            finally:
                haproxy.terminate()
                haproxy.wait()
    for row in rows:
        row["checks_per_cpu_s"] = 1000 / row["cpu_s_per_1000"] if row["cpu_s_per_1000"] else float("inf")
        row["system_percent"] = row["system_share"] * 100
    print(" ".join(f"{title:>{width}}" for title, _, width, _ in COLUMNS))
    for row in rows:
        print(" ".join(_cell(row[key], width, fmt) for _, key, width, fmt in COLUMNS))
    print(f"keepalived 2.2.7: ~{KEEPALIVED_CHECKS_PER_CPU_SECOND:.0f} checks per CPU-second (4000 servers, 32 % CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
