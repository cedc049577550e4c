"""Batched raw-socket I/O on loopback (protocol 112 never leaves 127.0.0.1 / ::1)."""

import os
import select
import socket
import time
from collections.abc import Iterator
from types import ModuleType

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")

LOOPBACK4 = socket.inet_pton(socket.AF_INET, "127.0.0.1")
LOOPBACK6 = socket.inet_pton(socket.AF_INET6, "::1")
VIP4 = socket.inet_pton(socket.AF_INET, "203.0.113.20")
VIP6 = socket.inet_pton(socket.AF_INET6, "2001:db8::20")
SO_TIMESTAMPNS = 35


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
    # no SO_TIMESTAMPNS on this socket: arrival 0.0
    assert sorted(received) == sorted((packet, "127.0.0.1", -1, 0.0) for packet in packets)
    decoded = codec_impl.decode_advert(received[0][0], socket.AF_INET, has_ip_header=True)
    assert (decoded.vrid, decoded.src, decoded.ttl) == (200, LOOPBACK4, 255)


def test_ipv6_batch_roundtrip_reports_hop_limit(codec_impl: ModuleType, raw6: socket.socket) -> None:
    adverts = [
        codec_impl.build_advert(3, 201, priority, 100, [VIP6], src=LOOPBACK6, dst=LOOPBACK6)
        for priority in (20, 21)
    ]
    raw6.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    before = time.time()
    sent = codec_impl.send_many(raw6.fileno(), adverts, [("::1", 0, 0, 0)] * len(adverts))
    assert sent == 2
    received = collect(codec_impl, raw6, set(adverts))
    after = time.time()
    assert sorted(item[:3] for item in received) == sorted((advert, "::1", 255) for advert in adverts)
    # the kernel's receive stamp, CLOCK_REALTIME (an ordering check, not a latency bound)
    assert all(isinstance(item[3], float) and before - 1 <= item[3] <= after + 1 for item in received)
    decoded = codec_impl.decode_advert(
        received[0][0], socket.AF_INET6, has_ip_header=False, src=LOOPBACK6, dst=LOOPBACK6,
        hop_limit=received[0][2],
    )  # fmt: skip
    assert isinstance(decoded, codec_impl.Advert) and decoded.vrid == 201


def test_hop_limit_is_minus_one_without_the_cmsg(codec_impl: ModuleType, raw6: socket.socket) -> None:
    raw6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 0)
    advert = codec_impl.build_advert(3, 202, 1, 100, [VIP6], src=LOOPBACK6, dst=LOOPBACK6)
    assert codec_impl.send_many(raw6.fileno(), [advert], [("::1", 0)]) == 1
    assert collect(codec_impl, raw6, {advert}) == [(advert, "::1", -1, 0.0)]


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


def _advert4(codec: ModuleType, vrid: int, priority: int, ident: int) -> bytes:
    payload = codec.build_advert(3, vrid, priority, 1, [VIP4], src=LOOPBACK4, dst=LOOPBACK4)
    return codec.build_ipv4_header(LOOPBACK4, LOOPBACK4, len(payload), ident) + payload


def test_recv_sorted_splits_steady_repeats(codec_impl: ModuleType, raw4: socket.socket) -> None:
    """Exact repeats (but for the IP ID) of a VRID's template come back as its owner, anything
    else as a packet; a VRID whose packet did not match loses its template."""
    raw4.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    table = codec_impl.SteadyTable()
    steady = _advert4(codec_impl, 201, 150, 1)
    table.set(201, steady, "owner-201")
    sends = [
        _advert4(codec_impl, 201, 150, 2),  # a repeat: hit
        _advert4(codec_impl, 202, 150, 3),  # no template: packet
        _advert4(codec_impl, 201, 150, 4),  # hit
        _advert4(codec_impl, 201, 160, 5),  # other priority: packet, template dropped
        _advert4(codec_impl, 201, 150, 6),  # would match, but the template is gone: packet
    ]
    for packet in sends:
        raw4.sendto(packet, ("127.0.0.1", 0))
    hits: list = []
    packets: list = []
    while len(hits) + len(packets) < len(sends):
        readable, _, _ = select.select([raw4], [], [], 2.0)
        assert readable, "timed out waiting for loopback packets"
        got_hits, got_packets = codec_impl.recv_sorted(raw4.fileno(), table, 8)
        hits += got_hits
        packets += [p for p in got_packets if p[0][21] in (201, 202)]  # skip others' traffic
    assert [owner for owner, _ in hits] == ["owner-201", "owner-201"]
    assert all(stamp > 0 for _, stamp in hits) and all(p[3] > 0 for p in packets)
    assert [p[0] for p in packets] == sends[1:2] + sends[3:]
    assert all(p[1] == "127.0.0.1" for p in packets)
    assert table.get(201) is None
    table.set(7, steady, "x")
    table.clear(7)
    assert table.get(7) is None


def test_timerfd_fires_for_a_past_deadline_and_disarms(codec_impl: ModuleType) -> None:
    fd = codec_impl.timer_open()
    try:
        assert codec_impl.timer_clear(fd) == 0
        codec_impl.timer_set(fd, codec_impl.monotonic() - 1.0)
        readable, _, _ = select.select([fd], [], [], 2.0)
        assert readable and codec_impl.timer_clear(fd) == 1
        codec_impl.timer_set(fd, codec_impl.monotonic() + 3600)
        codec_impl.timer_set(fd, None)
        assert select.select([fd], [], [], 0)[0] == []
    finally:
        os.close(fd)
