"""VMAC with unicast peers (``use_vmac`` + ``vmac_xmit_base``) and a master's answers to a lower
priority advert (``garp_lower_prio_*``, ``lower_prio_no_advert``), seen on the wire.

Real VRRP child processes in namespaces (the ``cluster`` fixture of test_vrrp_scenarios); the
bridge sniffer shows which MAC and address each advert and GARP leaves from.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from fastalived.vrrp import wire
from tests.netns.test_vrrp_scenarios import VIP, VrrpNode, cluster, holders, instance, master_down, wait_holder
from tests.support.netns import Testbed, wait_for
from tests.support.testbed import global_defs_config, in_netns
from tests.support.wire import Sniffer

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]
__all__ = ["cluster"]  # the fixture, shared with test_vrrp_scenarios

VRID = 61
VMAC_NAME, VMAC = f"vrrp.{VRID}", f"00:00:5e:00:01:{VRID:02x}"


def unicast_vmac(priority: int, me: int, peer: int) -> str:
    extra = (
        "    use_vmac\n    vmac_xmit_base\n    unicast_ttl 64\n"
        f"    unicast_src_ip 198.51.100.{10 + me}\n    unicast_peer {{\n        198.51.100.{10 + peer}\n    }}"
    )
    return instance("VI_1", VRID, priority, [f"{VIP}/24"], extra=extra)


def ip_header(raw: bytes) -> tuple[int, str]:
    """(TTL, destination) of a captured IPv4 frame."""
    return raw[14 + 8], socket.inet_ntoa(raw[14 + 16 : 14 + 20])


def test_vmac_xmit_base_sends_unicast_adverts_from_the_base_interface(cluster) -> None:
    bed, (n1, n2) = cluster([unicast_vmac(150, 1, 2), unicast_vmac(100, 2, 1)])
    assert wait_for(lambda: bed.node(1).has_address(VIP, VMAC_NAME), 3), holders(bed)
    assert not bed.node(2).has_address(VIP, VMAC_NAME)
    with sent_by(bed, 1) as from1, sent_by(bed, 2) as from2:
        check_failover(bed, (n1, n2), from1, from2)


@contextlib.contextmanager
def sent_by(bed: Testbed, index: int) -> Iterator[Sniffer]:
    """What node ``index`` sends, captured on its switch port: unicast included, which the
    bridge forwards past the bridge device's own sniffer."""
    sniffer = Sniffer(bed.switch_netns, bed.port_name(index))
    try:
        yield sniffer
    finally:
        sniffer.close()


def check_failover(bed: Testbed, nodes: tuple[VrrpNode, VrrpNode], from1: Sniffer, from2: Sniffer) -> None:
    n1, n2 = nodes
    advert = from1.wait_for(lambda f: f.kind == "vrrp" and f.vrid == VRID, 2)
    assert advert is not None
    # From eth0 itself: its MAC, not the VMAC's; unicast to the peer with unicast_ttl.
    assert (advert.src_mac, advert.src_ip) == (bed.node(1).mac, bed.node(1).ipv4)
    assert ip_header(advert.raw) == (64, bed.node(2).ipv4)
    assert n2.states() == ["BACKUP"]
    snap = n2.snapshot()
    assert next(i for i in snap["instances"] if i["name"] == "VI_1")["drops"] == {}

    # Crash of the master: the backup takes over on its VMAC, announces with the virtual MAC and
    # advertises from its own eth0.
    killed_at = n1.kill9()
    assert wait_for(lambda: bed.node(2).has_address(VIP, VMAC_NAME), master_down(100) + 1.0)
    garp = from2.wait_for(lambda f: f.kind == "arp" and f.gratuitous and f.target == VIP, 2, since=killed_at)
    assert garp is not None and garp.src_mac == VMAC
    advert = from2.wait_for(lambda f: f.kind == "vrrp" and f.vrid == VRID, 2, since=killed_at)
    assert advert is not None and advert.src_mac == bed.node(2).mac
    assert ip_header(advert.raw) == (64, bed.node(1).ipv4)


def inject_advert(bed: Testbed, index: int, vrid: int, priority: int) -> float:
    """Send one VRRPv3 advert from node ``index``'s eth0 to the VRRP group; returns when."""
    node = bed.node(index)
    src, group = socket.inet_aton(node.ipv4), socket.inet_aton("224.0.0.18")
    payload = wire.build_advert(3, vrid, priority, 10, [socket.inet_aton(VIP)], src=src, dst=group)
    packet = wire.build_ipv4_header(src, group, len(payload), 7, 255) + payload
    with in_netns(node.netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, wire.VRRP_PROTO)
    with sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        sent_at = time.time()
        sock.sendto(packet, ("224.0.0.18", 0))
    return sent_at


@pytest.mark.parametrize("quiet", [False, True], ids=["default", "lower_prio_no_advert"])
def test_a_master_hearing_a_lower_priority_answers_and_re_announces(cluster, quiet: bool) -> None:
    vrid = 62 if quiet else 63
    extra = "    garp_master_delay 0\n    garp_lower_prio_repeat 2\n    garp_lower_prio_delay 1"
    extra += "\n    lower_prio_no_advert" if quiet else ""
    bed, (n1, _) = cluster([instance("VI_1", vrid, 150, [f"{VIP}/24"], extra=extra, advert_int=1), ""], start=False)
    n1.start()  # node 2 only sends the lower priority advert
    assert wait_holder(bed, 1, 6)
    time.sleep(0.3)  # the take-over's GARP burst is over
    sniffer = bed.sniffer()
    # Just after our own advert, so the next one is ~1 s away: an advert within 0.3 s is the answer.
    assert sniffer.wait_for(lambda f: f.kind == "vrrp" and f.vrid == vrid, 2) is not None
    sent_at = inject_advert(bed, 2, vrid, 50)
    time.sleep(0.3)

    def garps(since: float, until: float) -> int:
        return sum(1 for f in sniffer.frames("arp", since) if f.gratuitous and f.target == VIP and f.timestamp < until)

    answers = [
        f
        for f in sniffer.frames("vrrp", sent_at)
        if f.vrid == vrid and f.src_ip == bed.node(1).ipv4 and f.timestamp < sent_at + 0.3
    ]
    assert bool(answers) == (not quiet), answers
    assert garps(sent_at, sent_at + 0.5) == 2  # garp_lower_prio_repeat, at once
    assert wait_for(lambda: garps(sent_at + 0.5, sent_at + 2.0) == 2, 3)  # and again garp_lower_prio_delay later
    assert holders(bed) == [1]


def test_a_reload_moves_adverts_to_a_new_multicast_group_without_an_election(cluster) -> None:
    def configs(node: int, group: str = "", own: str = "") -> str:
        extra = f"    mcast_dst_ip {own}" if own else ""
        gd = global_defs_config(f"n{node}", f"    vrrp_mcast_group4 {group}\n" if group else "")
        return gd + instance("VI_1", 64, 200 - 50 * node, [f"{VIP}/24"], extra=extra, advert_int=1)

    bed, nodes = cluster([instance("VI_1", 64, 200 - 50 * node, [f"{VIP}/24"], advert_int=1) for node in (1, 2)])
    assert wait_holder(bed, 1, 6)
    sniffer = bed.sniffer()
    for group, own in (("224.0.0.99", ""), ("224.0.0.99", "224.0.0.77")):
        for node in reversed(nodes):  # the backup first: it must not miss the master's adverts
            node.reload(configs(node.node.index, group, own))
        reloaded = time.time()
        destination = own or group
        advert = sniffer.wait_for(
            lambda f, dst=destination: f.kind == "vrrp" and f.vrid == 64 and ip_header(f.raw)[1] == dst,
            3,
            since=reloaded,
        )
        assert advert is not None and advert.src_ip == bed.node(1).ipv4
        time.sleep(4)  # longer than the backup's Master_Down_Interval
        assert holders(bed) == [1]
        assert [n.states() for n in nodes] == [["BACKUP", "MASTER"], ["BACKUP"]]


VIP6 = "2001:db8::100"
SRC1 = "2001:db8::f11"  # node 1's second address: the kernel would pick 2001:db8::11 for the peer


def test_ipv6_unicast_adverts_leave_from_unicast_src_ip(cluster) -> None:
    def unicast6(priority: int, src: str, peer: str) -> str:
        extra = f"    unicast_src_ip {src}\n    unicast_ttl 9\n    unicast_peer {{\n        {peer}\n    }}"
        return instance("VI_1", 65, priority, [f"{VIP6}/64"], extra=extra)

    bed, (n1, n2) = cluster(
        [unicast6(150, SRC1, bed_ipv6(2)), unicast6(100, bed_ipv6(2), SRC1)],
        start=False,
    )
    bed.node(1).add_address(f"{SRC1}/64")
    with sent_by(bed, 1) as from1:
        n1.start()
        n2.start()
        assert wait_holder(bed, 1, 3, VIP6), holders(bed, VIP6)
        advert = from1.wait_for(lambda f: f.kind == "vrrp" and f.vrid == 65, 2)
        assert advert is not None and advert.src_ip == SRC1
        assert advert.raw[14 + 7] == 9  # unicast_ttl: the hop limit
    time.sleep(0.5)
    assert holders(bed, VIP6) == [1] and n2.states() == ["BACKUP"]
    assert next(i for i in n2.snapshot()["instances"] if i["name"] == "VI_1")["drops"] == {}


def bed_ipv6(index: int) -> str:
    """Node ``index``'s IPv6 address (the testbed's fixed plan)."""
    return f"2001:db8::{10 + index}"
