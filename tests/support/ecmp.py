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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.frr import FrrNode, contrib_frr_config, frr_root, frr_unavailable
from tests.support.testbed import (
    Node,
    Testbed,
    fastalived_executable,
    in_netns,
    stop_process_group,
    unavailable_reason,
    wait_for,
)

VIP = "198.51.100.80"
TABLE = 201
STATUS_PORT = 9657
REAL_NET = "203.0.113"
ROUTER_AS = 65000
FAILED = "failed: "  # what EcmpBed.get answers for a request that failed


def director_config(real_server: str, *, drain: float, delay_loop: float, announce: bool = True) -> str:
    """One HTTP virtual server on the VIP with one real server; announced unless ``announce`` is off."""
    block = f"    fastalived_announce {{\n        drain {drain}\n    }}\n" if announce else ""
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
{block}}}
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
        url = f"http://127.0.0.1:{STATUS_PORT}/status"
        with in_netns(self.node.netns), urllib.request.urlopen(url, timeout=2) as answer:
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
        self._start_frr(self.router_frr, contrib_frr_config("router.conf", {}))
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
            own = {"director1": f"director{i + 1}", "198.51.100.12": node.ipv4, "65001": str(ROUTER_AS + 1 + i)}
            self._start_frr(director.frr, contrib_frr_config("director.conf", own))
            director.vip_server = _http_server(node, VIP, f"director{i + 1}", run_dir / "www")
            self.fleet.append(director)

    def _start_frr(self, frr: FrrNode, config: str) -> None:
        """zebra, then bfdd (with ``bfd``) and bgpd, then the integrated config loaded into them."""
        frr.start("zebra")
        if not wait_for(lambda: (frr.directory / "zserv.api").exists(), 5):
            raise RuntimeError(f"zebra in {frr.netns} did not start")
        daemons = ["bfdd", "bgpd"] if self.bfd else ["bgpd"]
        for daemon in daemons:
            frr.start(daemon)
        if not wait_for(lambda: all((frr.directory / f"{d}.vty").exists() for d in daemons), 5):
            raise RuntimeError(f"FRR in {frr.netns} did not start")
        frr.apply(config)

    def crash(self, index: int) -> float:
        """A director dies at once (power loss): its link goes silent, then everything in it is killed.

        Returns the time just before the link went down.
        """
        director = self.fleet[index]
        started = time.time()
        subprocess.run(["ip", "-n", director.node.netns, "link", "set", "eth0", "down"], check=True)
        if director.daemon is not None:
            os.killpg(director.daemon.pid, signal.SIGKILL)
            director.daemon.wait(5)
        director.frr.kill()
        return started

    def reconfigure(self, index: int, *, announce: bool) -> None:
        """Rewrite director ``index``'s config (announcing or not) and SIGHUP its fastalived."""
        director = self.fleet[index]
        config = director_config(director.real_server, drain=self.drain, delay_loop=self.delay_loop, announce=announce)
        (director.run_dir / "keepalived.conf").write_text(config)
        assert director.daemon is not None
        director.daemon.send_signal(signal.SIGHUP)

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

    def get(self, timeout: float = 1.0) -> str:
        """One HTTP request from the router (the client) to the VIP on a new connection: the body
        (the director's name), or ``failed: <error>``."""
        with in_netns(self.router.netns):
            try:
                connection = http.client.HTTPConnection(VIP, 80, timeout=timeout)
                connection.request("GET", "/")
                body = connection.getresponse().read().decode()
                connection.close()
                return body
            except (OSError, http.client.HTTPException) as exc:
                return f"{FAILED}{type(exc).__name__}"

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


def kill_check_child(director: Director) -> int:
    pid = director.check_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_bgp_established(frr: FrrNode, peers: int, timeout: float) -> bool:
    """Until ``frr``'s bgpd has ``peers`` sessions Established."""

    def established() -> bool:
        try:
            summary = json.loads(frr.vtysh("show ip bgp summary json") or "{}")
        except json.JSONDecodeError:
            return False
        sessions = summary.get("ipv4Unicast", {}).get("peers", {})
        return [peer.get("state") for peer in sessions.values()].count("Established") == peers

    return bool(wait_for(established, timeout, interval=0.1))


def running_bed(**options: Any) -> Iterator[EcmpBed]:
    """A pytest fixture body: the testbed for the test's duration, skipped without root or FRR."""
    import pytest  # lazily: the bench imports this module too

    if reason := unavailable_reason() or frr_unavailable():
        pytest.skip(reason)
    with EcmpBed(**options) as testbed:
        yield testbed
