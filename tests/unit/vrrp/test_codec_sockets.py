"""Batched raw-socket I/O on loopback (protocol 112 never leaves 127.0.0.1 / ::1)."""

import os
import select
import socket
from collections.abc import Iterator
from types import ModuleType

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")

LOOPBACK4 = socket.inet_pton(socket.AF_INET, "127.0.0.1")
LOOPBACK6 = socket.inet_pton(socket.AF_INET6, "::1")
VIP4 = socket.inet_pton(socket.AF_INET, "203.0.113.20")
VIP6 = socket.inet_pton(socket.AF_INET6, "2001:db8::20")


@pytest.fixture
def raw4() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture
def raw6() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    sock.setblocking(False)
    yield sock
    sock.close()


def collect(codec: ModuleType, sock: socket.socket, wanted: set[bytes]) -> list[tuple]:
    """Receive until every payload in ``wanted`` arrived (others' test traffic is skipped)."""
    found: list[tuple] = []
    while len(found) < len(wanted):
        readable, _, _ = select.select([sock], [], [], 2.0)
        assert readable, "timed out waiting for loopback packets"
        found += [item for item in codec.recv_many(sock.fileno(), 8) if item[0] in wanted or
                  item[0][20:] in wanted]  # fmt: skip
    return found


def test_ipv4_batch_roundtrip(codec_impl: ModuleType, raw4: socket.socket) -> None:
    adverts = [
        codec_impl.build_advert(2, 200, priority, 1, [VIP4], auth_type=1, auth_data=b"loopback")
        for priority in (10, 11, 12)
    ]
    packets = [
        codec_impl.build_ipv4_header(LOOPBACK4, LOOPBACK4, len(advert), ident) + advert
        for ident, advert in enumerate(adverts, start=1)
    ]
    sent = codec_impl.send_many(raw4.fileno(), packets, [("127.0.0.1", 0)] * len(packets))
    assert sent == 3
    received = collect(codec_impl, raw4, set(adverts))
    assert sorted(received) == sorted((packet, "127.0.0.1", -1) for packet in packets)
    decoded = codec_impl.decode_advert(received[0][0], socket.AF_INET, has_ip_header=True)
    assert (decoded.vrid, decoded.src, decoded.ttl) == (200, LOOPBACK4, 255)


def test_ipv6_batch_roundtrip_reports_hop_limit(codec_impl: ModuleType, raw6: socket.socket) -> None:
    adverts = [
        codec_impl.build_advert(3, 201, priority, 100, [VIP6], src=LOOPBACK6, dst=LOOPBACK6)
        for priority in (20, 21)
    ]
    sent = codec_impl.send_many(raw6.fileno(), adverts, [("::1", 0, 0, 0)] * len(adverts))
    assert sent == 2
    received = collect(codec_impl, raw6, set(adverts))
    assert sorted(received) == sorted((advert, "::1", 255) for advert in adverts)
    decoded = codec_impl.decode_advert(
        received[0][0], socket.AF_INET6, has_ip_header=False, src=LOOPBACK6, dst=LOOPBACK6,
        hop_limit=received[0][2],
    )  # fmt: skip
    assert isinstance(decoded, codec_impl.Advert) and decoded.vrid == 201


def test_hop_limit_is_minus_one_without_the_cmsg(codec_impl: ModuleType, raw6: socket.socket) -> None:
    raw6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 0)
    advert = codec_impl.build_advert(3, 202, 1, 100, [VIP6], src=LOOPBACK6, dst=LOOPBACK6)
    assert codec_impl.send_many(raw6.fileno(), [advert], [("::1", 0)]) == 1
    assert collect(codec_impl, raw6, {advert}) == [(advert, "::1", -1)]


def test_nothing_waiting_returns_empty(codec_impl: ModuleType) -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with left, right:
        assert codec_impl.recv_many(left.fileno()) == []
        assert codec_impl.recv_many(left.fileno(), 0) == []


def test_more_packets_than_one_batch(codec_impl: ModuleType, raw6: socket.socket) -> None:
    adverts = [
        codec_impl.build_advert(3, 203, priority, 100, [VIP6], src=LOOPBACK6, dst=LOOPBACK6)
        for priority in range(70)
    ]
    assert codec_impl.send_many(raw6.fileno(), adverts, [("::1", 0)] * 70) == 70
    assert sorted(item[0] for item in collect(codec_impl, raw6, set(adverts))) == sorted(adverts)


def test_errors(codec_impl: ModuleType, raw4: socket.socket) -> None:
    with pytest.raises(ValueError):
        codec_impl.send_many(raw4.fileno(), [b"x"], [])
    assert codec_impl.send_many(raw4.fileno(), [], []) == 0
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = closed.fileno()
    closed.close()
    with pytest.raises(OSError):
        codec_impl.send_many(fd, [b"x"], [("127.0.0.1", 0)])
    with pytest.raises(OSError):
        codec_impl.recv_many(fd)
