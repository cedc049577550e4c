"""Active/active directors behind ECMP, in namespaces with real FRR: the scale-out testbed.

One L2 segment (the testbed's bridge). Node 1 is the router (zebra + bgpd with multipath, and the
client); nodes 2..N+1 are directors (zebra with ``ip import-table``, bgpd redistributing that
table, ``fastalived -C`` with an HTTP_GET checker against its own real server, and a small HTTP
server answering on the VIP, made local with a ``local`` route); the last node holds the real
servers. Everything is torn down by :meth:`EcmpBed.close` (the testbed's finalizer kills what is
left in the namespaces).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.frr import FrrNode, bgpd_config, frr_root, zebra_config
from tests.support.testbed import Node, Testbed, fastalived_executable, in_netns, stop_process_group, wait_for

VIP = "198.51.100.80"
TABLE = 201
STATUS_PORT = 9657
REAL_NET = "203.0.113"
ROUTER_AS = 65000


def director_config(real_server: str, *, drain: float, delay_loop: float) -> str:
    return f"""global_defs {{
    router_id director
    fastalived_status_listen 127.0.0.1 {STATUS_PORT}
    fastalived_announce_table {TABLE}
}}
virtual_server {VIP} 80 {{
    protocol TCP
    lvs_sched mh
    lvs_method DR
    delay_loop {delay_loop}
    real_server {real_server} 80 {{
        HTTP_GET {{
            url {{
                path /
                status_code 200
            }}
            connect_timeout 0.5
            retry 0
        }}
    }}
    fastalived_announce {{
        drain {drain}
    }}
}}
"""


def _http_server(node: Node, address: str, text: str, root: Path) -> subprocess.Popen:
    """``python -m http.server`` on ``address``:80 answering ``text`` for ``/``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(text)
    return node.run(
        [sys.executable, "-m", "http.server", "--bind", address, "--directory", str(root), "80"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Director:
    node: Node
    real_server: str
    frr: FrrNode
    run_dir: Path
    daemon: subprocess.Popen | None = None
    vip_server: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        run = self.run_dir
        return [
            fastalived_executable(),
            "-C",
            "-n",
            "-l",
            "-D",
            "-f",
            str(run / "keepalived.conf"),
            "-p",
            str(run / "main.pid"),
            "-c",
            str(run / "check.pid"),
            "-r",
            str(run / "vrrp.pid"),
        ]

    def start(self) -> float:
        """Start fastalived; returns the time just before."""
        log = (self.run_dir / "daemon.log").open("ab")
        started = time.time()
        self.daemon = self.node.run(
            self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        return started

    def check_pid(self) -> int | None:
        try:
            return int((self.run_dir / "check.pid").read_text())
        except (OSError, ValueError):
            return None

    def status(self) -> dict[str, Any]:
        with in_netns(self.node.netns):
            with urllib.request.urlopen(f"http://127.0.0.1:{STATUS_PORT}/status", timeout=2) as answer:
                status: dict[str, Any] = json.load(answer)
        return status

    def log_text(self) -> str:
        return (self.run_dir / "daemon.log").read_text(errors="replace")


@dataclass
class EcmpBed:
    """Router + ``directors`` directors + real servers; call :meth:`close` (or use ``with``)."""

    directors: int = 2
    drain: float = 1.0
    delay_loop: float = 0.2
    bfd: bool = False
    testbed: Testbed = field(init=False)
    root: Path = field(init=False)
    router_frr: FrrNode = field(init=False)
    fleet: list[Director] = field(default_factory=list, init=False)
    real_servers: dict[str, subprocess.Popen] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.testbed = Testbed(self.directors + 2, prefix="fso")
        self.root = frr_root()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    @property
    def router(self) -> Node:
        return self.testbed.node(1)

    @property
    def real_node(self) -> Node:
        return self.testbed.node(self.directors + 2)

    def _build(self) -> None:
        subprocess.run(
            ["ip", "netns", "exec", self.router.netns, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1"],
            check=True,
        )
        for i in range(self.directors):
            self.real_node.add_address(f"{REAL_NET}.{21 + i}/24")
            self.start_real_server(i)
        self.router_frr = FrrNode(self.router.netns, self.root)
        self.router_frr.start("zebra", zebra_config("router"))
        if self.bfd:
            self.router_frr.start("bfdd", _bfd_config())
        neighbors = {self.testbed.node(2 + i).ipv4: ROUTER_AS + 1 + i for i in range(self.directors)}
        self._wait_zserv(self.router_frr)
        self.router_frr.start("bgpd", bgpd_config(ROUTER_AS, self.router.ipv4, neighbors, multipath=8, bfd=self.bfd))
        for i in range(self.directors):
            node = self.testbed.node(2 + i)
            node.add_address(f"{REAL_NET}.{12 + i}/24")
            subprocess.run(
                ["ip", "-n", node.netns, "route", "add", "local", f"{VIP}/32", "dev", "lo", "table", "local"],
                check=True,
            )
            run_dir = self.root / f"director{i + 1}"
            run_dir.mkdir()
            real = f"{REAL_NET}.{21 + i}"
            (run_dir / "keepalived.conf").write_text(
                director_config(real, drain=self.drain, delay_loop=self.delay_loop)
            )
            director = Director(node, real, FrrNode(node.netns, self.root), run_dir)
            director.frr.start("zebra", zebra_config(f"director{i + 1}", TABLE))
            if self.bfd:
                director.frr.start("bfdd", _bfd_config())
            self._wait_zserv(director.frr)
            director.frr.start(
                "bgpd",
                bgpd_config(
                    ROUTER_AS + 1 + i, node.ipv4, {self.router.ipv4: ROUTER_AS}, redistribute_table=TABLE, bfd=self.bfd
                ),
            )
            director.vip_server = _http_server(node, VIP, f"director{i + 1}", run_dir / "www")
            self.fleet.append(director)

    @staticmethod
    def _wait_zserv(frr: FrrNode) -> None:
        if not wait_for(lambda: (frr.directory / "zserv.api").exists(), 5):
            raise RuntimeError(f"zebra in {frr.netns} did not start")

    def start_real_server(self, index: int) -> None:
        address = f"{REAL_NET}.{21 + index}"
        self.real_servers[address] = _http_server(self.real_node, address, "ok", self.root / f"real{index + 1}")

    def stop_real_server(self, index: int) -> None:
        proc = self.real_servers.pop(f"{REAL_NET}.{21 + index}")
        proc.kill()
        proc.wait(5)

    def next_hops(self) -> set[str]:
        """The router's kernel FIB next hops for the VIP."""
        out = subprocess.run(
            ["ip", "-n", self.router.netns, "-j", "route", "show", f"{VIP}/32"], capture_output=True, text=True
        ).stdout
        hops: set[str] = set()
        for route in json.loads(out or "[]"):
            if "gateway" in route:
                hops.add(route["gateway"])
            hops.update(hop["gateway"] for hop in route.get("nexthops", ()) if "gateway" in hop)
        return hops

    def director_addresses(self, *indexes: int) -> set[str]:
        return {self.fleet[i].node.ipv4 for i in indexes}

    def wait_next_hops(self, expected: set[str], timeout: float) -> float | None:
        """Poll the router's FIB until it holds exactly ``expected``; the time it did, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.next_hops() == expected:
                return time.time()
            time.sleep(0.002)
        return None

    def get(self, timeout: float = 1.0) -> str | None:
        """One HTTP request from the router (the client) to the VIP on a new connection; None on failure."""
        with in_netns(self.router.netns):
            try:
                connection = http.client.HTTPConnection(VIP, 80, timeout=timeout)
                connection.request("GET", "/")
                body = connection.getresponse().read().decode()
                connection.close()
                return body
            except OSError:
                return None

    def close(self) -> None:
        for director in self.fleet:
            if director.daemon is not None:
                stop_process_group(director.daemon, 5)
            director.frr.stop()
            if director.vip_server is not None:
                director.vip_server.kill()
                director.vip_server.wait(5)
        if hasattr(self, "router_frr"):
            self.router_frr.stop()
        for proc in self.real_servers.values():
            proc.kill()
            proc.wait(5)
        self.testbed.destroy()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> EcmpBed:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _bfd_config() -> str:
    return "bfd\n profile fast\n  detect-multiplier 3\n  receive-interval 100\n  transmit-interval 100\n"


def kill_check_child(director: Director) -> int:
    pid = director.check_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid
