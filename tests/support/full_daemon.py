"""The whole ``fastalived`` daemon (parent + VRRP and checker children) in a node, for robustness
tests and the chaos/soak benches.

Each daemon runs in the mount namespace ``ip netns exec`` gives it (a slave of the host's, so
nothing mounted there reaches the host) with its own small tmpfs on ``/run``: its run directory,
dumps and ``TMPDIR`` live there, so a test can fill it or make it read-only without touching the
host. The test reads those files through ``/proc/PID/root``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path

from .testbed import Node, fastalived_executable, in_netns, stop_process_group, wait_for

STATUS_PORT = 9651
RUN_TMPFS_SIZE = "2m"
# Mounted by the daemon's wrapper shell inside its own mount namespace, then exec'd away.
_PRIVATE_RUN = f"mount -t tmpfs -o size={RUN_TMPFS_SIZE},mode=0755 fastalived-test /run && mkdir /run/tmp"
_READ_ONLY = " && mount -o remount,ro /run"
_EXEC = ' && exec "$@"'


class FullDaemon:
    """``fastalived -n -l -D`` in ``node`` with pid files and log in ``directory``."""

    def __init__(
        self, node: Node, directory: Path, config: str, *flags: str, pid_files: bool = True, read_only_run: bool = False
    ) -> None:
        self.node = node
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "keepalived.conf"
        self.config_path.write_text(config)
        self.log_path = self.dir / "daemon.log"
        self.flags = flags
        self.pid_files = pid_files  # False: keepalived's defaults, i.e. inside the private /run
        self.read_only_run = read_only_run
        self.proc: subprocess.Popen[bytes] | None = None

    def pid_file(self, role: str) -> Path:
        return self.dir / f"{role}.pid"

    def argv(self) -> list[str]:
        argv = [fastalived_executable(), "-n", "-l", "-D", "-f", str(self.config_path), *self.flags]
        if self.pid_files:
            for flag, role in (("-p", "parent"), ("-r", "vrrp"), ("-c", "check")):
                argv += [flag, str(self.pid_file(role))]
        return argv

    def start(self, wait: bool = True) -> FullDaemon:
        """Start in a new session; with ``wait``, until the status endpoint answers."""
        with self.log_path.open("ab") as log:
            self.proc = self.node.run(
                ["sh", "-c", _PRIVATE_RUN + (_READ_ONLY if self.read_only_run else "") + _EXEC, "sh", *self.argv()],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "TMPDIR": "/run/tmp"},
            )
        if wait:
            assert wait_for(lambda: self.status_or_none() or self.proc.poll() is not None, 30), self.log_text()
            assert self.proc.poll() is None, self.log_text()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def child_pid(self, role: str) -> int | None:
        try:
            return int(self.pid_file(role).read_text())
        except (OSError, ValueError):
            return None

    def child_pids(self) -> dict[str, int | None]:
        """Child pids as the parent reports them (independent of the pid files)."""
        children = self.status()["parent"]["children"]
        return {role: child["pid"] for role, child in children.items()}

    def run_path(self, relative: str) -> Path:
        """A path in the daemon's private ``/run``, seen from outside its mount namespace."""
        return Path(f"/proc/{self.pid}/root/run") / relative

    def in_mounts(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the daemon's mount namespace (to fill or remount its ``/run``)."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-m", *argv], capture_output=True, text=True)

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text: str, count: int = 1, timeout: float = 20) -> None:
        assert wait_for(lambda: self.log_text().count(text) >= count, timeout), (text, self.log_text()[-3000:])

    def status(self) -> dict:
        with (
            in_netns(self.node.netns),
            urllib.request.urlopen(f"http://127.0.0.1:{STATUS_PORT}/status", timeout=5) as response,
        ):
            return json.loads(response.read())

    def status_or_none(self) -> dict | None:
        try:
            return self.status()
        except OSError:
            return None

    def instance_states(self) -> dict[str, str]:
        vrrp = self.status()["roles"].get("vrrp", {})
        return {i["name"]: i["state"] for i in vrrp.get("instances", ())}

    def transitions(self, since: float = 0.0) -> list[list]:
        """The VRRP role's transition log from wall time ``since``: ``[time, instance, old, new]``."""
        vrrp = self.status()["roles"].get("vrrp", {})
        return [t for t in vrrp.get("transitions", ()) if t[0] >= since]

    def process_pids(self) -> dict[str, int]:
        """The parent and every running child."""
        return {"parent": self.pid, **{role: pid for role, pid in self.child_pids().items() if pid}}

    def real_servers_up(self) -> dict[str, bool]:
        """``address:port`` -> up, from the checker's snapshot ({} while it is not running)."""
        check = self.status()["roles"].get("check", {})
        return {
            f"{rs['address']}:{rs['port']}": rs["up"]
            for vs in check.get("virtual_servers", ())
            for rs in vs["real_servers"]
        }

    def check_runs(self) -> int:
        runs = self.status()["roles"].get("check", {}).get("runs", {})
        return int(runs.get("success", 0)) + int(runs.get("failure", 0))

    def namespace_pids(self) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.node.netns], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM and wait (then SIGKILL the group); the exit status."""
        if self.proc is None:
            return None
        return stop_process_group(self.proc, timeout)


def daemon_config(router_id: str, instances: str, virtual_servers: str = "") -> str:
    """global_defs with the status endpoint on :data:`STATUS_PORT`, then the given sections."""
    return (
        f"global_defs {{\n    router_id {router_id}\n    script_user root\n    enable_script_security\n"
        f"    fastalived_status_listen 127.0.0.1 {STATUS_PORT}\n}}\n{instances}{virtual_servers}"
    )


HTTP_CHECK = (
    "        HTTP_GET {\n            url {\n                path /\n                status_code 200\n"
    "            }\n            connect_timeout 2\n        }\n"
)
TCP_CHECK = "        TCP_CHECK {\n            connect_timeout 1\n        }\n"


def checked_virtual_server(vip: str, ports: range, delay_loop: float = 1, check: str = TCP_CHECK) -> str:
    """One virtual server whose real servers are ``127.0.0.1:port``, each with ``check``."""
    reals = "".join(f"    real_server 127.0.0.1 {port} {{\n{check}    }}\n" for port in ports)
    return f"virtual_server {vip} 80 {{\n    protocol TCP\n    delay_loop {delay_loop:g}\n    lb_kind NAT\n{reals}}}\n"


_LISTENER = """
import asyncio, json, resource, selectors, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per port, plus connections
FIRST, STOP, HTTP = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "http"
seen = {}


def listen(port):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


async def serve(reader, writer):
    seen[writer.get_extra_info("sockname")[1]] = time.time()
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(b"HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
        await writer.drain()
    except Exception:
        pass
    writer.close()


async def report(reader, writer):
    writer.write(json.dumps(seen).encode())
    await writer.drain()
    writer.close()


async def serve_http():
    for port in range(FIRST, STOP):
        await asyncio.start_server(serve, sock=listen(port))
    await asyncio.start_server(report, sock=listen(STOP))
    print("ready", flush=True)
    await asyncio.Event().wait()


def serve_tcp():  # accept and close in a plain loop: several times cheaper than asyncio streams
    selector = selectors.DefaultSelector()
    for port in range(FIRST, STOP + 1):
        selector.register(listen(port), selectors.EVENT_READ, port)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            try:
                conn = key.fileobj.accept()[0]
            except OSError:
                continue
            if key.data == STOP:
                conn.setblocking(True)
                conn.sendall(json.dumps(seen).encode())
            else:
                seen[key.data] = time.time()
            conn.close()


asyncio.run(serve_http()) if HTTP else serve_tcp()
"""


def listeners(node: Node, ports: range, http: bool = False) -> subprocess.Popen[bytes]:
    """A process in ``node`` accepting on ``127.0.0.1`` at every port in ``ports``; with ``http``,
    each connection gets ``200 OK`` once its request head has arrived, else it is closed at once.

    It notes when each port last had a connection; :func:`last_connections` reads that from the
    control port ``ports.stop``.
    """
    argv = ["python3", "-c", _LISTENER, str(ports.start), str(ports.stop), "http" if http else "tcp"]
    proc = node.run(argv, stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    return proc


def last_connections(node: Node, ports: range) -> dict[int, float]:
    """Port -> ``time.time()`` of its latest connection, from a :func:`listeners` process."""
    with in_netns(node.netns):
        sock = socket.create_connection(("127.0.0.1", ports.stop), timeout=10)
    with sock:
        data = b"".join(iter(lambda: sock.recv(1 << 16), b""))
    return {int(port): when for port, when in json.loads(data).items()}


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class VipPresence:
    """Samples which nodes hold ``vip`` every ``period`` seconds in a thread.

    Row ``i`` is ``times[i]`` (``time.time()``) and ``holders[i]``, a bit mask (bit ``n`` = node
    ``n`` of ``nodes``). Kept in arrays: a 30-minute run at 2 ms is ~900,000 rows.
    """

    def __init__(self, nodes: Sequence[Node], vip: str, period: float = 0.002) -> None:
        self.nodes = list(nodes)
        self.vip = vip
        self.period = period
        self.times = array("d")
        self.holders = array("B")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            mask = sum(1 << i for i, node in enumerate(self.nodes) if node.has_address(self.vip, ifname=None))
            self.times.append(time.time())
            self.holders.append(mask)
            due = max(due + self.period, time.monotonic())
            time.sleep(max(0.0, due - time.monotonic()))

    def __enter__(self) -> VipPresence:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def mean_period(self) -> float:
        """The sampling period achieved (a loaded machine stretches it)."""
        return (self.times[-1] - self.times[0]) / (len(self.times) - 1) if len(self.times) > 1 else 0.0

    def runs(self, wanted: Callable[[int], bool], start: float = 0.0, end: float = float("inf")) -> list[float]:
        """Durations (s) of each run of consecutive samples in [start, end) whose mask is ``wanted``."""
        runs: list[float] = []
        began: float | None = None
        last = 0.0
        for when, mask in zip(self.times, self.holders, strict=True):
            if not start <= when < end:
                continue
            if wanted(mask):
                began = when if began is None else began
                last = when
            elif began is not None:
                runs.append(last - began + self.period)
                began = None
        if began is not None:
            runs.append(last - began + self.period)
        return runs

    def count(self, wanted: Callable[[int], bool], start: float = 0.0, end: float = float("inf")) -> int:
        rows = zip(self.times, self.holders, strict=True)
        return sum(1 for when, mask in rows if start <= when < end and wanted(mask))


def on_none(mask: int) -> bool:
    return mask == 0


def on_several(mask: int) -> bool:
    return mask & (mask - 1) != 0
