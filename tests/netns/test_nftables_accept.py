"""Accept mode end to end (issue 12, security): real daemons, a client, nftables in the namespaces.

Two fastalived nodes share a VIP, a third namespace is the client. A MASTER without accept mode
(``no_accept``, or ``vrrp_strict``'s default) holds the VIP but drops traffic to it: the client's
ping and TCP connect to the VIP fail while the node's own address answers, and the node's
``fastalived`` table lists the VIP in its drop set. With ``accept`` the VIP answers and no table
is made. After the daemon stops, its table is gone and the new master filters in turn.
"""

from __future__ import annotations

import json
import select
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from fastalived.check.icmp import echo_request, icmp_socket, is_our_reply
from tests.support.testbed import (
    Node,
    Testbed,
    VrrpDaemon,
    global_defs_config,
    in_netns,
    vrrp_instance_config,
    wait_for,
)

pytestmark = [
    pytest.mark.root,
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs the nft command (package nftables)"),
]

VIP = "198.51.100.150"
PORT = 8080
TABLE = "fastalived"


@pytest.fixture
def testbed() -> Iterator[Testbed]:
    with Testbed(3, prefix="nf") as bed:
        yield bed


def config(node: Node, priority: int, *, extra: str = "", strict: bool = False, vip: str = f"{VIP}/24") -> str:
    global_extra = "    vrrp_strict\n" if strict else ""
    instance = vrrp_instance_config("VI_1", 61, priority, [vip], version=3, advert_int=0.2, extra=extra)
    return global_defs_config(f"n{node.index}", global_extra) + instance


def drop_set(node: Node, family: str = "ip") -> list[str] | None:
    """The VIPs in the node's ``fastalived`` drop set; None when the table does not exist."""
    done = subprocess.run(
        ["ip", "netns", "exec", node.netns, "nft", "-j", "list", "set", family, TABLE, "vips"],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        return None
    for item in json.loads(done.stdout)["nftables"]:
        if "set" in item:
            return [str(e) for e in item["set"].get("elem", [])]
    return []


def tables(node: Node) -> str:
    return node.check_output(["nft", "list", "tables"])


def pings(client: Node, address: str, timeout: float = 1.0) -> bool:
    """One ICMP echo from ``client`` (the checker's own ICMP code; no ping binary needed)."""
    with in_netns(client.netns):
        sock, raw = icmp_socket(socket.AF_INET)
    try:
        sock.sendto(echo_request(socket.AF_INET, 0x4E46, 1), (address, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if select.select([sock], [], [], left)[0] and is_our_reply(socket.AF_INET, sock.recv(2048), raw, 0x4E46, 1):
                return True
        return False
    finally:
        sock.close()


def connects(client: Node, address: str) -> bool:
    with in_netns(client.netns):
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(1.0)
        try:
            sock.connect((address, PORT))
        except OSError:
            return False
        return True


def listener(node: Node) -> socket.socket:
    """A TCP listener on every IPv4 and IPv6 address of ``node`` (the VIP's included)."""
    with in_netns(node.netns):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", PORT))
    sock.listen(8)
    return sock


def start_pair(
    testbed: Testbed, extra: str, strict: bool = False, vip: str = f"{VIP}/24"
) -> tuple[VrrpDaemon, VrrpDaemon]:
    n1, n2 = testbed.node(1), testbed.node(2)
    master = VrrpDaemon(n1, config(n1, 200, extra=extra, strict=strict, vip=vip)).start()
    backup = VrrpDaemon(n2, config(n2, 100, extra=extra, strict=strict, vip=vip)).start()
    assert wait_for(lambda: n1.has_address(vip.split("/")[0]), 15), master.log_text()
    return master, backup


@pytest.mark.parametrize(
    ("setting", "strict"), [("    no_accept", False), ("", True)], ids=["no_accept", "vrrp_strict"]
)
def test_a_master_without_accept_mode_drops_traffic_to_its_vip(testbed: Testbed, setting: str, strict: bool) -> None:
    n1, n2, client = testbed.nodes
    master, backup = start_pair(testbed, setting, strict)
    server, server2 = listener(n1), listener(n2)
    try:
        assert wait_for(lambda: drop_set(n1) == [VIP], 10), (drop_set(n1), master.log_text())
        assert wait_for(lambda: drop_set(n2) == [], 10), backup.log_text()  # the backup's set is empty
        assert not pings(client, VIP)
        assert not connects(client, VIP)
        assert pings(client, n1.ipv4) and connects(client, n1.ipv4)  # only the VIP is filtered

        master.stop()
        assert wait_for(lambda: TABLE not in tables(n1), 10), tables(n1)
        assert wait_for(lambda: n2.has_address(VIP), 10), backup.log_text()
        assert wait_for(lambda: drop_set(n2) == [VIP], 10), (drop_set(n2), backup.log_text())
        assert not pings(client, VIP)
        backup.stop()
        assert wait_for(lambda: TABLE not in tables(n2), 10), tables(n2)
        assert "nftables: nft failed" not in master.log_text() + backup.log_text()
    finally:
        server.close()
        server2.close()
        master.close()
        backup.close()


def test_a_master_with_accept_mode_answers_on_its_vip(testbed: Testbed) -> None:
    n1, _, client = testbed.nodes
    master, backup = start_pair(testbed, "    accept")
    server = listener(n1)
    try:
        assert wait_for(lambda: pings(client, VIP), 10)
        assert connects(client, VIP)
        assert TABLE not in tables(n1)  # nothing drops: no table, as keepalived
    finally:
        server.close()
        master.close()
        backup.close()


def test_an_ipv6_master_without_accept_mode_still_answers_neighbour_discovery(testbed: Testbed) -> None:
    n1, _, client = testbed.nodes
    vip6 = "2001:db8::150"
    master, backup = start_pair(testbed, "    no_accept", vip=f"{vip6}/64")
    server = listener(n1)
    try:
        assert wait_for(lambda: drop_set(n1, "ip6") == [vip6], 10), (drop_set(n1, "ip6"), master.log_text())
        assert drop_set(n1) is None  # no IPv4 VIP, no IPv4 table
        assert not connects(client, vip6)
        assert connects(client, n1.ipv6)
        # The VIP's neighbour advert (source: the VIP) got out: the client resolved it to n1.
        assert "02:00:00:00:00:01" in client.check_output(["ip", "-6", "neigh", "show", vip6])
    finally:
        server.close()
        master.close()
        backup.close()
