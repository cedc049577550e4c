"""The namespace testbed and sniffer that every interop test stands on."""

from __future__ import annotations

import ipaddress
import os
import socket
import time

import pytest

from tests.support.netns import Testbed
from tests.support.testbed import in_netns

pytestmark = [pytest.mark.interop, pytest.mark.root]


def _send_gratuitous_arp(bed: Testbed, index: int, address: str) -> None:
    node = bed.node(index)
    mac = bytes.fromhex(node.mac.replace(":", ""))
    ip = socket.inet_aton(address)
    frame = (b"\xff" * 6 + mac + b"\x08\x06" + bytes.fromhex("0001080006040001")
             + mac + ip + b"\xff" * 6 + ip)
    with in_netns(node.netns):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    with sock:
        sock.bind(("eth0", 0))
        sock.send(frame)


def test_two_testbeds_are_independent_and_fully_removed(testbed) -> None:
    first, second = testbed(2), testbed(3)
    assert first.tag != second.tag and first.tag.startswith("fb") and len(first.tag) == 8
    names = [first.switch_netns, *(n.netns for n in first.nodes)]
    assert all(os.path.exists(f"/run/netns/{name}") for name in names)
    assert second.node(3).addresses() == [
        ipaddress.ip_interface("198.51.100.13/24"), ipaddress.ip_interface("2001:db8::13/64"),
        ipaddress.ip_interface("fe80::ff:fe00:3/64")]
    assert second.node(3).mac == "02:00:00:00:00:03"
    first.destroy()
    first.destroy()  # idempotent
    assert not any(os.path.exists(f"/run/netns/{name}") for name in names)


def test_link_down_and_address_events(testbed) -> None:
    bed = testbed(1)
    node = bed.node(1)
    with node.watch_addresses() as watcher:
        node.check_output(["ip", "addr", "add", "198.51.100.100/24", "dev", "eth0"])
        event = watcher.wait_added("198.51.100.100", 2.0)
    assert event is not None and event.interface == ipaddress.ip_interface("198.51.100.100/24")
    assert node.has_address("198.51.100.100")
    bed.set_link(1, False)
    assert "state DOWN" in node.check_output(["ip", "link", "show", "eth0"])
    bed.set_link(1, True)
    assert ",UP" in node.check_output(["ip", "link", "show", "eth0"])


def test_sniffer_sees_frames_from_every_node_with_kernel_timestamps(testbed) -> None:
    bed = testbed(2)
    sniffer = bed.sniffer()
    _send_gratuitous_arp(bed, 2, "198.51.100.100")
    frame = sniffer.wait_for(lambda f: f.kind == "arp" and f.gratuitous, 2.0)
    assert frame is not None
    assert (frame.src_mac, frame.src_ip, frame.target) == ("02:00:00:00:00:02", "198.51.100.100",
                                                           "198.51.100.100")
    assert abs(frame.timestamp - time.time()) < 2.0
