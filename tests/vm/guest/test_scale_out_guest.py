"""ECMP-safe IPVS, inside the vmrun guest: two directors programmed from the same ``mh`` virtual
server hold identical tables, and send the same flow to the same real server.

Each director is a namespace with its own IPVS table (programmed by ``IpvsDirector`` from the one
config) and its own client namespace wired to it, both clients with the same address: a router
moving a flow from one director to the other is a flow with the same addresses and ports arriving
at the other director. Real servers are unreachable (a dummy route only): the connection entry
IPVS creates for the SYN already names its choice.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from fastalived.ipvs.desired import build_desired
from tests.support.testbed import in_netns

from .helpers import IN_GUEST, run, sh
from .test_ipvs_guest import sync_once

pytestmark = [pytest.mark.vm, pytest.mark.skipif(not IN_GUEST, reason="needs the IPVS guest: tests/vm/vmrun")]

VIP = "198.51.100.80"
CLIENT = "198.51.100.50"
REAL_SERVERS = [f"203.0.113.{n}" for n in range(1, 6)]
REAL_SERVER = "    real_server {} 80 {{\n        weight 1\n    }}\n"
MH_SERVICE = (
    f"virtual_server {VIP} 80 {{\n    lvs_sched mh\n    mh-port\n    lvs_method NAT\n    protocol TCP\n"
    + "".join(REAL_SERVER.format(rs) for rs in REAL_SERVERS)
    + "}\n"
)
FLOWS = range(40000, 40030)  # client source ports


@pytest.fixture
def directors() -> Iterator[list[str]]:
    """Namespaces ecd1/ecd2 (directors), each with a client namespace ecc1/ecc2 in front of it."""
    created: list[str] = []
    try:
        for n in (1, 2):
            director, client = f"ecd{n}", f"ecc{n}"
            for name in (director, client):
                sh("ip", "netns", "add", name)
                created.append(name)
                sh("ip", "-n", name, "link", "set", "lo", "up")
            sh("ip", "link", "add", "front", "netns", director, "type", "veth", "peer", "name", "eth0", "netns", client)
            sh("ip", "-n", director, "addr", "add", "198.51.100.1/24", "dev", "front")
            sh("ip", "-n", director, "link", "set", "front", "up")
            sh("ip", "-n", director, "addr", "add", f"{VIP}/32", "dev", "lo")
            sh("ip", "-n", director, "link", "add", "reals", "type", "dummy")
            sh("ip", "-n", director, "addr", "add", "203.0.113.254/24", "dev", "reals")
            sh("ip", "-n", director, "link", "set", "reals", "up")
            sh("ip", "-n", client, "addr", "add", f"{CLIENT}/24", "dev", "eth0")
            sh("ip", "-n", client, "link", "set", "eth0", "up")
        yield ["ecd1", "ecd2"]
    finally:
        for name in reversed(created):
            sh("ip", "netns", "del", name, check=False)


def _send_syns(client: str) -> None:
    """One SYN per flow, from fixed source ports; nobody answers and nobody needs to."""
    with in_netns(client):
        for port in FLOWS:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((CLIENT, port))
            sock.setblocking(False)
            sock.connect_ex((VIP, 80))
            sock.close()


def _choices(director: str) -> dict[int, str]:
    """Client source port -> the real server IPVS picked, from the connection table."""
    table = sh("ip", "netns", "exec", director, "ipvsadm", "-Lnc")
    found = re.findall(rf"{re.escape(CLIENT)}:(\d+)\s+{re.escape(VIP)}:80\s+([\d.]+):80", table)
    return {int(port): real for port, real in found}


def test_same_mh_service_same_table_same_choice(directors: list[str], config_file) -> None:
    _, config = config_file(MH_SERVICE)
    sh("modprobe", "ip_vs_mh")
    for director in directors:
        with in_netns(director):
            report = run(sync_once(build_desired(config, {}, {})))
            assert report.ok, report.failed
    first, second = (sh("ip", "netns", "exec", d, "ipvsadm", "-Sn") for d in directors)
    assert first == second and "-s mh -b mh-port" in first, (first, second)
    for client in ("ecc1", "ecc2"):
        _send_syns(client)
    chosen = [_choices(director) for director in directors]
    assert set(chosen[0]) == set(FLOWS), chosen[0]
    assert chosen[0] == chosen[1]
    assert len(set(chosen[0].values())) > 1  # the flows spread over the real servers
