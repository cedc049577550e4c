"""Netlink parsers fed truncated datagrams and lying lengths: they stop or raise MalformedReply, never crash.

The kernel is trusted to send well-formed replies, but a parser that reads past its data on a
short read or a corrupt length turns one bad datagram into a dead checker child. Every reader of
netlink in fastalived walks messages with ``runtime.netlink.messages`` and decodes attributes
with ``parse_attrs``; the IPVS decoders turn anything undecodable into ``MalformedReply``.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastalived.ipvs import netlink as ipvs_netlink
from fastalived.ipvs.desired import AF_INET, DestKey, DestSpec, ServiceKey, ServiceSpec
from fastalived.ipvs.netlink import IpvsClient, decode_dest, decode_service, encode_op
from fastalived.ipvs.reconciler import Op, OpKind
from fastalived.runtime.netlink import DECODE_ERRORS, NLMSG_DONE, NLMSGHDR, MalformedReply, messages, parse_attrs

FAMILY_ID = 0x1F
SERVICE = ServiceKey(AF_INET, 6, "198.51.100.1", 80, 0)
DEST = (DestKey("203.0.113.7", 80), DestSpec(AF_INET, 3, 1, 0, 0))
SEEDS = [
    encode_op(Op(OpKind.ADD_SERVICE, SERVICE, ServiceSpec("wrr", 0, 0, 0xFFFFFFFF)), FAMILY_ID, 1),
    encode_op(Op(OpKind.ADD_DEST, SERVICE, None, *DEST), FAMILY_ID, 2),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed message truncated, with bytes overwritten (lengths included) and junk appended."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    data = data[: draw(st.integers(0, len(data)))]
    return bytes(data + draw(st.binary(max_size=24)))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), mutated()))
def test_the_message_walk_never_leaves_the_datagram(data: bytes) -> None:
    for _kind, _seq, offset, length in messages(data):
        assert length >= 16 and offset + length <= len(data)


@settings(max_examples=400)
@given(st.binary(max_size=200), st.integers(0, 64), st.integers(0, 256))
def test_attribute_parsing_stays_inside_its_window(data: bytes, start: int, end: int) -> None:
    for payload in parse_attrs(data, start, end).values():
        assert len(payload) <= max(0, min(end, len(data)) - start)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_ipvs_decoders_raise_only_decode_errors(data: bytes) -> None:
    buffer = bytearray(data)
    for decode in (decode_service, lambda d, s, e: decode_dest(AF_INET, d, s, e), ipvs_netlink._decode_daemon):
        try:
            decode(buffer, 20, len(buffer))
        except DECODE_ERRORS:
            pass


def test_a_malformed_dump_reply_surfaces_as_malformed_reply() -> None:
    """Through the real client's receive path, over a socketpair standing in for the kernel."""
    ours, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setblocking(False)  # as IpvsClient.connect leaves its netlink socket

    async def scenario() -> None:
        client = IpvsClient(ours, FAMILY_ID)
        request = asyncio.ensure_future(client.services())
        await asyncio.sleep(0)
        seq = NLMSGHDR.unpack(kernel.recv(4096)[:16])[3]
        broken = NLMSGHDR.pack(16 + 4 + 4, FAMILY_ID, 2, seq, 0) + bytes(4) + struct.pack("=HH", 4, 1)
        done = NLMSGHDR.pack(16, NLMSG_DONE, 2, seq, 0)
        kernel.send(broken + done)
        with pytest.raises(MalformedReply):
            await request

    try:
        asyncio.run(scenario())
    finally:
        ours.close()
        kernel.close()
