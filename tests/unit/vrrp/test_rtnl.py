"""The pre-built rtnetlink VIP requests decode as iproute2 / pyroute2 would send them."""

from __future__ import annotations

import errno
import ipaddress
import socket

from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

from fastalived.config.model import IPAddressSpec
from fastalived.runtime.netlink import NLMSGHDR, attr, parse_attrs
from fastalived.vrrp.rtnl import (
    ADD_FLAGS,
    DEL_FLAGS,
    IFA_F_NODAD,
    RTM_DELADDR,
    RTM_NEWADDR,
    SCOPES,
    RtnlSender,
    address_message,
    address_requests,
    is_harmless,
    keyword_number,
)


def _decode(data: bytes) -> ifaddrmsg:
    msg = ifaddrmsg(data)
    msg.decode()
    return msg


def test_ipv4_add_decodes_like_ip_addr_add() -> None:
    data = address_message(True, 7, socket.inet_aton("198.51.100.10"), 24,
                           broadcast=socket.inet_aton("198.51.100.255"), scope=253, label="eth0:vip")
    length, kind, flags, seq, pid = NLMSGHDR.unpack_from(data)
    assert (length, kind, flags, seq, pid) == (len(data), RTM_NEWADDR, ADD_FLAGS, 0, 0)
    msg = _decode(data)
    assert (msg["family"], msg["prefixlen"], msg["scope"], msg["index"]) == (socket.AF_INET, 24, 253, 7)
    assert msg.get_attr("IFA_LOCAL") == msg.get_attr("IFA_ADDRESS") == "198.51.100.10"
    assert msg.get_attr("IFA_BROADCAST") == "198.51.100.255"
    assert msg.get_attr("IFA_LABEL") == "eth0:vip"


def test_ipv6_add_is_nodad_and_delete_is_bare() -> None:
    packed = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    add = _decode(address_message(True, 3, packed, 64))
    assert add["family"] == socket.AF_INET6 and add["flags"] & IFA_F_NODAD
    assert add.get_attr("IFA_ADDRESS") == "2001:db8::1"
    data = address_message(False, 3, packed, 64, peer=None)
    assert NLMSGHDR.unpack_from(data)[1:3] == (RTM_DELADDR, DEL_FLAGS)
    assert _decode(data)["flags"] == 0


def test_peer_goes_to_ifa_address() -> None:
    msg = _decode(address_message(True, 2, socket.inet_aton("192.0.2.1"), 32, peer=socket.inet_aton("192.0.2.2")))
    assert msg.get_attr("IFA_LOCAL") == "192.0.2.1"
    assert msg.get_attr("IFA_ADDRESS") == "192.0.2.2"


def test_attr_padding_and_parse_roundtrip() -> None:
    blob = attr(3, b"abc\0") + attr(1, b"\x01\x02\x03\x04\x05")
    assert len(blob) % 4 == 0
    assert parse_attrs(blob) == {3: b"abc\0", 1: b"\x01\x02\x03\x04\x05"}


def test_sender_numbers_each_request() -> None:
    sender = RtnlSender(None)
    try:
        request = address_message(False, 1, socket.inet_aton("192.0.2.9"), 32)
        sender.queue([(request, "a"), (request, "b")])
        queued = bytes(sender._queued)
        first = NLMSGHDR.unpack_from(queued, 0)
        second = NLMSGHDR.unpack_from(queued, len(request))
        assert first[3] != second[3] and first[3] and second[3]
        assert queued[16:len(request)] == request[16:]
    finally:
        sender.close()


def test_address_requests_encode_a_configured_vip_both_ways() -> None:
    spec = IPAddressSpec(
        address=ipaddress.ip_interface("198.51.100.10/24"), dev="eth0", scope="link", label="eth0:vip",
        brd=ipaddress.ip_address("198.51.100.255"),
    )  # fmt: skip
    add, remove = address_requests(spec, 7)
    assert add == address_message(True, 7, socket.inet_aton("198.51.100.10"), 24,
                                  broadcast=socket.inet_aton("198.51.100.255"), scope=253, label="eth0:vip")
    assert remove == address_message(False, 7, socket.inet_aton("198.51.100.10"), 24)
    numeric = address_requests(IPAddressSpec(address=ipaddress.ip_interface("192.0.2.1/32"), scope="0x10"), 1)
    assert _decode(numeric[0])["scope"] == 16


def test_harmless_answers_keep_add_and_delete_idempotent() -> None:
    assert is_harmless(True, 0) and is_harmless(True, errno.EEXIST) and not is_harmless(True, errno.ENODEV)
    assert is_harmless(False, errno.EADDRNOTAVAIL) and not is_harmless(False, errno.EPERM)
    assert keyword_number("host", SCOPES) == 254 and keyword_number(None, SCOPES) is None
