"""The hand-rolled IPVS encoder checked against pyroute2's IPVS message classes, and round trips."""

import pytest
from pyroute2.netlink.generic.ipvs import ipvsmsg

from fastalived.ipvs import netlink
from fastalived.ipvs.desired import (
    AF_INET,
    AF_INET6,
    SVC_F_PERSISTENT,
    SVC_F_SCHED2,
    DestKey,
    DestSpec,
    ServiceKey,
    ServiceSpec,
)
from fastalived.ipvs.netlink import _attr, decode_dest, decode_service, encode_op
from fastalived.ipvs.reconciler import Op, OpKind

FAMILY_ID = 0x1F
TCP4 = ServiceKey(AF_INET, 6, "198.51.100.1", 80, 0)
UDP6 = ServiceKey(AF_INET6, 17, "2001:db8::1", 53, 0)
FWMARK = ServiceKey(AF_INET, 0, "", 0, 7)


def decoded(op: Op, seq: int = 42) -> ipvsmsg:
    data = encode_op(op, FAMILY_ID, seq)
    msg = ipvsmsg(data)
    msg.decode()
    header = msg["header"]
    assert (header["length"], header["type"], header["sequence_number"]) == (len(data), FAMILY_ID, seq)
    return msg


@pytest.mark.parametrize("key", [TCP4, UDP6, FWMARK])
def test_service_messages_decode_in_pyroute2(key):
    spec = ServiceSpec("sh", SVC_F_PERSISTENT | SVC_F_SCHED2, 300, 64 if key.family == AF_INET6 else 0xFFFFFF00)
    svc = decoded(Op(OpKind.ADD_SERVICE, key, spec)).get_attr("IPVS_CMD_ATTR_SERVICE")
    assert svc.get_attr("IPVS_SVC_ATTR_AF") == key.family
    assert svc.get_attr("IPVS_SVC_ATTR_SCHED_NAME") == "sh"
    assert svc.get_attr("IPVS_SVC_ATTR_TIMEOUT") == 300
    if key.fwmark:
        assert svc.get_attr("IPVS_SVC_ATTR_FWMARK") == 7
    else:
        assert svc.get_attr("IPVS_SVC_ATTR_PORT") == key.port
        assert svc.get_attr("IPVS_SVC_ATTR_PROTOCOL") == key.protocol


def test_destination_message_decodes_in_pyroute2():
    op = Op(OpKind.SET_DEST, TCP4, None, DestKey("203.0.113.7", 8080), DestSpec(AF_INET, 2, 5, 100, 10))
    dest = decoded(op).get_attr("IPVS_CMD_ATTR_DEST")
    assert dest.get_attr("IPVS_DEST_ATTR_PORT") == 8080
    assert dest.get_attr("IPVS_DEST_ATTR_FWD_METHOD") == 2
    assert dest.get_attr("IPVS_DEST_ATTR_WEIGHT") == 5
    assert (dest.get_attr("IPVS_DEST_ATTR_U_THRESH"), dest.get_attr("IPVS_DEST_ATTR_L_THRESH")) == (100, 10)


@pytest.mark.parametrize("key", [TCP4, UDP6, FWMARK])
def test_service_round_trip(key):
    spec = ServiceSpec("wrr", 0, 0, 128 if key.family == AF_INET6 else 0xFFFFFFFF)
    data = bytearray(encode_op(Op(OpKind.ADD_SERVICE, key, spec), FAMILY_ID, 1))  # like the receive buffer
    assert decode_service(data, 20, len(data)) == (key, spec)


@pytest.mark.parametrize("address,family", [("203.0.113.7", AF_INET), ("2001:db8::7", AF_INET6)])
def test_destination_round_trip(address, family):
    dest, spec = DestKey(address, 443), DestSpec(family, 3, 9, 1, 2)
    data = bytearray(encode_op(Op(OpKind.ADD_DEST, TCP4, None, dest, spec), FAMILY_ID, 1))
    assert decode_dest(AF_INET, data, 20, len(data)) == (dest, spec)


def kernel_dest_reply(
    address: bytes, family: int, *, kernel_order: bool = True, tunnel: tuple[int, int, int] = (0, 0, 0)
) -> bytes:
    """A GET_DEST dump reply laid out the way ip_vs_genl_fill_dest() writes it (stats included)."""
    tun_type, tun_port, tun_flags = tunnel
    attrs = [
        _attr(1, address), _attr(2, (8080).to_bytes(2, "big")), _attr(3, u32(2)), _attr(4, u32(7)),
        _attr(13, bytes([tun_type])), _attr(14, tun_port.to_bytes(2, "big")),
        _attr(15, tun_flags.to_bytes(2, "little")), _attr(5, u32(50)), _attr(6, u32(5)),
        _attr(7, u32(1)), _attr(8, u32(2)), _attr(9, u32(3)), _attr(11, family.to_bytes(2, "little")),
        _attr(10, _attr(1, u32(0)) * 4), _attr(12, _attr(1, bytes(8)) * 4),
    ]  # fmt: skip
    if not kernel_order:
        attrs.reverse()
    return bytes(20) + _attr(2, b"".join(attrs))


def u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


@pytest.mark.parametrize("kernel_order", [True, False])
def test_kernel_dump_layout_decodes_on_fast_and_slow_paths(kernel_order):
    data = bytearray(kernel_dest_reply(bytes([203, 0, 113, 9]) + bytes(12), AF_INET, kernel_order=kernel_order))
    fast = netlink._DEST_DUMP_TYPES(netlink._DEST_DUMP.unpack_from(data, 20)) == netlink._KERNEL_DEST_ORDER
    assert fast is kernel_order
    assert decode_dest(AF_INET, data, 20, len(data)) == (DestKey("203.0.113.9", 8080), DestSpec(AF_INET, 2, 7, 50, 5))


def test_ipv6_destination_from_the_kernel_layout():
    address = bytes.fromhex("20010db8000000000000000000000007")
    data = bytearray(kernel_dest_reply(address, AF_INET6))
    assert decode_dest(AF_INET6, data, 20, len(data))[0] == DestKey("2001:db8::7", 8080)


def test_persistence_engine_is_sent_and_read_back():
    spec = ServiceSpec("rr", SVC_F_PERSISTENT, 360, 0xFFFFFFFF, "sip")
    op = Op(OpKind.ADD_SERVICE, TCP4, spec)
    assert decoded(op).get_attr("IPVS_CMD_ATTR_SERVICE").get_attr("IPVS_SVC_ATTR_PE_NAME") == "sip"
    data = bytearray(encode_op(op, FAMILY_ID, 1))
    assert decode_service(data, 20, len(data)) == (TCP4, spec)


@pytest.mark.parametrize("kernel_order", [True, False])
def test_tunnel_attributes_on_fast_and_slow_paths(kernel_order):
    gue = (1, 6080, 1)  # gue, port 6080, csum
    data = bytearray(kernel_dest_reply(bytes([203, 0, 113, 9]) + bytes(12), AF_INET, kernel_order=kernel_order,
                                       tunnel=gue))  # fmt: skip
    assert decode_dest(AF_INET, data, 20, len(data))[1] == DestSpec(AF_INET, 2, 7, 50, 5, *gue)


def test_tunnel_destination_round_trip():
    dest, spec = DestKey("203.0.113.7", 80), DestSpec(AF_INET, 2, 1, 0, 0, 2, 0, 1)  # gre, csum
    data = bytearray(encode_op(Op(OpKind.ADD_DEST, TCP4, None, dest, spec), FAMILY_ID, 1))
    assert decode_dest(AF_INET, data, 20, len(data)) == (dest, spec)
