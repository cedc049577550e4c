"""Pure-Python twin of the ``fastalived._vrrp`` hot edge: VRRP wire format, checksums, frames.

The compiled module must behave byte-for-byte like this one; the test suite runs every codec test
over both. Code against :mod:`fastalived.vrrp.wire`, which picks the implementation in use.

Layout (RFC 3768 / RFC 5798)::

    0        1        2        3
    ver|type  vrid     priority count
    v2: auth_type, adver_int (s)   v3: rsvd(4) | max_adver_int (12 bits, cs)
    checksum (16)
    count addresses (4 or 16 bytes each)
    v2 only: 8 bytes of authentication data
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
import time
from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple

VRRP_PROTO = 112
MCAST4 = "224.0.0.18"
MCAST6 = "ff02::12"
VRRP_TTL = 255
UNKNOWN_HOP_LIMIT = -1  # what recv_many reports when the kernel gave no hop limit
VRRP_HEADER_LEN = 8
V2_AUTH_LEN = 8
IPV4_HEADER_LEN = 20
IPV6_HEADER_LEN = 40
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ICMPV6_PROTO = 58
BROADCAST_MAC = b"\xff" * 6
ALL_NODES6 = socket.inet_pton(socket.AF_INET6, "ff02::1")
# Large enough for any valid VRRP packet (v3/IPv6 with 255 addresses + a 60-byte IPv4 header).
RECV_BUFFER_SIZE = 4224
# Room for an IPV6_HOPLIMIT cmsg plus an IPV6_PKTINFO one should the caller enable it.
RECV_CONTROL_SIZE = 128
# Errors that mean "the socket is full / empty right now", not a failure.
_WOULD_BLOCK = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})
_IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
SO_TIMESTAMPNS = 35  # == SCM_TIMESTAMPNS: the kernel stamps each received packet (CLOCK_REALTIME)
_TIMESPEC = struct.Struct("@qq")


class Drop(IntEnum):
    """Why a received packet was discarded, in keepalived's validation order."""

    TOO_SHORT = 1
    BAD_TTL = 2
    BAD_VERSION = 3
    BAD_TYPE = 4
    BAD_VRID = 5  # another virtual router's advert: not an error, just "other vrid"
    BAD_AUTH_TYPE = 6
    BAD_AUTH_PASS = 7
    BAD_INTERVAL = 8  # v2 advert_int differs from ours
    BAD_CHECKSUM = 9
    BAD_ADDR_COUNT = 10
    NOT_A_PEER = 11
    TRUNCATED = 12  # the IP header claims more bytes than were received
    BAD_IP_HEADER = 13  # not IPv4/IPv6 carrying protocol 112, or an impossible header length


class Advert(NamedTuple):
    """A decoded advertisement that passed the instance-independent checks."""

    version: int
    type: int
    vrid: int
    priority: int
    count: int
    auth_type: int  # always 0 for v3
    interval: int  # v2: seconds, v3: centiseconds
    checksum_ok_form: str  # "v2", "pseudo" (v3 with pseudo-header) or "no-pseudo" (RFC 9568)
    addresses: tuple[bytes, ...]
    auth_data: bytes  # v2: the 8 raw bytes; v3: b""
    src: bytes  # packed source address
    ttl: int  # IPv4 TTL or IPv6 hop limit


def _as_bytes(data: bytes) -> bytes:
    """``data`` itself when already bytes, else a copy of any buffer (bytearray, memoryview)."""
    return data if type(data) is bytes else memoryview(data).tobytes()


def internet_checksum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 checksum of ``data`` (odd length padded with a zero byte) plus a partial sum.

    ``initial`` is an unfolded 16-bit word sum (e.g. of a pseudo-header), 0 <= initial < 2**32.
    A buffer that already holds a correct checksum yields 0.
    """
    if not 0 <= initial <= 0xFFFFFFFF:
        raise ValueError("initial must be a 32-bit partial sum")
    data = _as_bytes(data)
    if len(data) & 1:
        data += b"\x00"
    # 2**16 == 1 (mod 0xFFFF), so the big-endian integer is congruent to the word sum.
    return _complement_of_sum(int.from_bytes(data, "big") + initial)


def _complement_of_sum(total: int) -> int:
    """What a checksum field holds for the word sum ``total``: its folded sum, complemented.

    Folding end-around carries keeps the residue mod 0xFFFF and never turns a non-zero sum
    into 0, so the folded value is the residue, written 0xFFFF when it is 0.
    """
    if total == 0:
        return 0xFFFF
    return (total % 0xFFFF or 0xFFFF) ^ 0xFFFF


def _word_sum(data: bytes) -> int:
    """Plain sum of the big-endian 16-bit words of an even-length buffer (for pseudo-headers)."""
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def _pseudo_header_sum(src: bytes, dst: bytes, length: int) -> int:
    """Word sum of the IPv4 or IPv6 pseudo-header for a protocol-112 payload of ``length``."""
    if len(src) == 4:
        return _word_sum(src + dst) + VRRP_PROTO + length
    return _word_sum(src + dst) + (length >> 16) + (length & 0xFFFF) + VRRP_PROTO


def _address_length(addresses: Sequence[bytes], src: bytes) -> int:
    """The address family's length (4 or 16) implied by the addresses, else by ``src``."""
    if addresses:
        length = len(addresses[0])
    elif src:
        length = len(src)
    else:
        length = 4
    if length not in (4, 16):
        raise ValueError("addresses must be packed IPv4 (4 bytes) or IPv6 (16 bytes)")
    for address in addresses:
        if len(address) != length:
            raise ValueError("all addresses must belong to one family")
    return length


def build_advert(
    version: int,
    vrid: int,
    priority: int,
    interval: int,
    addresses: Sequence[bytes],
    *,
    auth_type: int = 0,
    auth_data: bytes = b"",
    src: bytes = b"",
    dst: bytes = b"",
    pseudo_header: bool = True,
) -> bytes:
    """Encode the VRRP payload (no IP header) exactly as keepalived sends it.

    v2 carries ``auth_data`` zero-padded (or cut) to 8 bytes and a checksum over VRRP alone; auth
    is ignored for v3. v3 over IPv4 checksums the IPv4 pseudo-header unless ``pseudo_header`` is
    false (keepalived's ``v3_checksum_as_v2``); v3 over IPv6 always uses the IPv6 pseudo-header.
    """
    if version not in (2, 3):
        raise ValueError("version must be 2 or 3")
    if not 0 <= vrid <= 255 or not 0 <= priority <= 255:
        raise ValueError("vrid and priority must fit in a byte")
    if not 0 <= interval <= (255 if version == 2 else 0xFFF):
        raise ValueError("interval out of range for this VRRP version")
    if len(addresses) > 255:
        raise ValueError("at most 255 addresses fit in an advert")
    address_length = _address_length(addresses, src)
    if version == 2 and address_length != 4:
        raise ValueError("VRRPv2 is IPv4 only")
    if version == 2:
        if not 0 <= auth_type <= 255:
            raise ValueError("auth_type must fit in a byte")
        header = bytes((0x21, vrid, priority, len(addresses), auth_type, interval, 0, 0))
        body = b"".join(addresses) + bytes(auth_data[:V2_AUTH_LEN]).ljust(V2_AUTH_LEN, b"\x00")
        initial = 0
    else:
        header = bytes((0x31, vrid, priority, len(addresses), interval >> 8, interval & 0xFF, 0, 0))
        body = b"".join(addresses)
        initial = 0
        if address_length == 16 or pseudo_header:
            if len(src) != address_length or len(dst) != address_length:
                raise ValueError("src and dst must be packed addresses of the advert's family")
            initial = _pseudo_header_sum(src, dst, VRRP_HEADER_LEN + len(body))
    packet = bytearray(header + body)
    packet[6:8] = internet_checksum(packet, initial).to_bytes(2, "big")
    return bytes(packet)


def advert_with_priority(advert: bytes, priority: int) -> bytes:
    """Copy of a built advert with another priority, checksum patched incrementally (RFC 1624).

    Senders pre-build their adverts once and only patch this field on priority changes.
    """
    advert = _as_bytes(advert)
    if len(advert) < VRRP_HEADER_LEN:
        raise ValueError("not a VRRP advert")
    if not 0 <= priority <= 255:
        raise ValueError("priority must fit in a byte")
    old_word = (advert[2] << 8) | advert[3]
    new_word = (priority << 8) | advert[3]
    old_checksum = (advert[6] << 8) | advert[7]
    # HC' = ~(~HC + ~m + m'), RFC 1624 eqn. 3, in one's-complement arithmetic.
    checksum = _complement_of_sum((old_checksum ^ 0xFFFF) + (old_word ^ 0xFFFF) + new_word)
    return b"".join(
        (advert[:2], bytes((priority,)), advert[3:6], checksum.to_bytes(2, "big"), advert[8:])
    )


def build_ipv4_header(
    src: bytes, dst: bytes, payload_len: int, ident: int, ttl: int = 255, tos: int = 0xC0
) -> bytes:
    """IPv4 header as keepalived writes it with IP_HDRINCL: proto 112, DF clear.

    ``ident`` is taken modulo 2**16 so callers can simply count adverts from 1.
    """
    if len(src) != 4 or len(dst) != 4:
        raise ValueError("src and dst must be packed IPv4 addresses")
    if not 0 <= payload_len <= 0xFFFF - IPV4_HEADER_LEN:
        raise ValueError("payload too long for IPv4")
    if not 0 <= ttl <= 255 or not 0 <= tos <= 255:
        raise ValueError("ttl and tos must fit in a byte")
    header = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            tos,
            IPV4_HEADER_LEN + payload_len,
            ident & 0xFFFF,
            0,
            ttl,
            VRRP_PROTO,
            0,
            src,
            dst,
        )
    )
    header[10:12] = internet_checksum(header).to_bytes(2, "big")
    return bytes(header)


def ipv4_with_id(packet: bytes, ident: int) -> bytes:
    """Copy of an IPv4 packet from :func:`build_ipv4_header` + payload with another IP ID
    (mod 2**16) and the header checksum recomputed: the per-advert part of a pre-built advert."""
    if len(packet) < IPV4_HEADER_LEN or packet[0] >> 4 != 4:
        raise ValueError("not an IPv4 packet")
    header_len = (packet[0] & 0x0F) * 4
    if not IPV4_HEADER_LEN <= header_len <= len(packet):
        raise ValueError("not an IPv4 packet")
    header = bytearray(packet[:header_len])
    header[4:6] = (ident & 0xFFFF).to_bytes(2, "big")
    header[10:12] = b"\0\0"
    header[10:12] = internet_checksum(header).to_bytes(2, "big")
    return bytes(header) + bytes(packet[header_len:])


def build_ipv6_header(
    src: bytes,
    dst: bytes,
    payload_len: int,
    hop_limit: int = 255,
    tclass: int = 0xC0,
    flow: int = 0,
    next_header: int = VRRP_PROTO,
) -> bytes:
    """IPv6 header (the kernel writes it for adverts; used for NA frames and golden tests)."""
    if len(src) != 16 or len(dst) != 16:
        raise ValueError("src and dst must be packed IPv6 addresses")
    if not 0 <= payload_len <= 0xFFFF:
        raise ValueError("payload too long for IPv6")
    if not 0 <= hop_limit <= 255 or not 0 <= tclass <= 255 or not 0 <= next_header <= 255:
        raise ValueError("hop_limit, tclass and next_header must fit in a byte")
    if not 0 <= flow <= 0xFFFFF:
        raise ValueError("flow label is 20 bits")
    first_word = (6 << 28) | (tclass << 20) | flow
    return struct.pack("!IHBB16s16s", first_word, payload_len, next_header, hop_limit, src, dst)


def build_ethernet(dst_mac: bytes, src_mac: bytes, ethertype: int, payload: bytes) -> bytes:
    """Ethernet II frame (no FCS, no padding: what a capture on the sender shows)."""
    if len(dst_mac) != 6 or len(src_mac) != 6:
        raise ValueError("MAC addresses are 6 bytes")
    if not 0 <= ethertype <= 0xFFFF:
        raise ValueError("ethertype is 16 bits")
    return bytes(dst_mac) + bytes(src_mac) + ethertype.to_bytes(2, "big") + bytes(payload)


def build_garp(mac: bytes, ip4: bytes) -> bytes:
    """keepalived's gratuitous ARP: a broadcast *request* with sender = target = the VIP.

    The target MAC is ff:ff:ff:ff:ff:ff (not zeros), as captured from keepalived 2.2.7.
    """
    if len(mac) != 6 or len(ip4) != 4:
        raise ValueError("need a 6-byte MAC and a packed IPv4 address")
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, mac, ip4, BROADCAST_MAC, ip4)
    return build_ethernet(BROADCAST_MAC, mac, ETH_P_ARP, arp)


def build_unsolicited_na(mac: bytes, ip6: bytes) -> bytes:
    """keepalived's unsolicited neighbour advertisement for a VIP, as a full Ethernet frame.

    Sourced from the VIP itself to ff02::1, hop limit 255, Override flag only, with the target
    link-layer address option.
    """
    if len(mac) != 6 or len(ip6) != 16:
        raise ValueError("need a 6-byte MAC and a packed IPv6 address")
    # type 136, code 0, checksum, flags (O), target, option 2 (target LL address) of 1x8 bytes.
    icmp = bytearray(struct.pack("!BBHI16sBB6s", 136, 0, 0, 0x20000000, ip6, 2, 1, mac))
    pseudo = _word_sum(ip6 + ALL_NODES6) + len(icmp) + ICMPV6_PROTO
    icmp[2:4] = internet_checksum(icmp, pseudo).to_bytes(2, "big")
    ip_header = build_ipv6_header(
        ip6, ALL_NODES6, len(icmp), hop_limit=255, tclass=0, next_header=ICMPV6_PROTO
    )
    return build_ethernet(b"\x33\x33\x00\x00\x00\x01", mac, ETH_P_IPV6, ip_header + icmp)


def _strip_ip_header(packet: bytes, family: int) -> tuple[bytes, bytes, bytes, int] | Drop:
    """Split a raw packet into (VRRP payload, src, dst, ttl), honouring the IP length field.

    Bytes past the IP total length (Ethernet padding) are ignored.
    """
    size = len(packet)
    if family == socket.AF_INET:
        if size < IPV4_HEADER_LEN:
            return Drop.TOO_SHORT
        header_len = (packet[0] & 0x0F) * 4
        if packet[0] >> 4 != 4 or header_len < IPV4_HEADER_LEN or packet[9] != VRRP_PROTO:
            return Drop.BAD_IP_HEADER
        if size < header_len:
            return Drop.TOO_SHORT
        total_len = (packet[2] << 8) | packet[3]
        if total_len < header_len:
            return Drop.BAD_IP_HEADER
        if total_len > size:
            return Drop.TRUNCATED
        return packet[header_len:total_len], packet[12:16], packet[16:20], packet[8]
    if size < IPV6_HEADER_LEN:
        return Drop.TOO_SHORT
    if packet[0] >> 4 != 6 or packet[6] != VRRP_PROTO:
        return Drop.BAD_IP_HEADER
    end = IPV6_HEADER_LEN + ((packet[4] << 8) | packet[5])
    if end > size:
        return Drop.TRUNCATED
    return packet[IPV6_HEADER_LEN:end], packet[8:24], packet[24:40], packet[7]


def decode_advert(
    packet: bytes,
    family: int,
    *,
    has_ip_header: bool,
    src: bytes = b"",
    dst: bytes = b"",
    hop_limit: int = 255,
    accept_no_pseudo: bool = False,
) -> Advert | Drop:
    """Decode one received packet and run the checks that need no instance config.

    IPv4 raw sockets deliver the IP header (``has_ip_header=True``); IPv6 ones strip it, so pass
    ``src``/``dst``/``hop_limit`` (packed addresses). A v3/IPv4 checksum without the pseudo-header
    is accepted only with ``accept_no_pseudo``. Returns a :class:`Drop` for any bad packet and
    never raises because of packet contents.
    """
    if family not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError("family must be AF_INET or AF_INET6")
    address_length = 4 if family == socket.AF_INET else 16
    packet = _as_bytes(packet)
    if has_ip_header:
        stripped = _strip_ip_header(packet, family)
        if isinstance(stripped, Drop):
            return stripped
        payload, src, dst, ttl = stripped
    else:
        if len(src) != address_length or len(dst) != address_length:
            raise ValueError("src and dst must be packed addresses of the given family")
        payload, src, dst, ttl = packet, _as_bytes(src), _as_bytes(dst), hop_limit
    size = len(payload)
    if size < VRRP_HEADER_LEN:
        return Drop.TOO_SHORT
    version = payload[0] >> 4
    if version not in (2, 3) or (version == 2 and address_length == 16):
        return Drop.BAD_VERSION
    if payload[0] & 0x0F != 1:
        return Drop.BAD_TYPE
    if version == 2:
        form = "v2" if internet_checksum(payload) == 0 else ""
    elif internet_checksum(payload, _pseudo_header_sum(src, dst, size)) == 0:
        form = "pseudo"
    elif accept_no_pseudo and address_length == 4 and internet_checksum(payload) == 0:
        form = "no-pseudo"
    else:
        form = ""
    if not form:
        return Drop.BAD_CHECKSUM
    count = payload[3]
    auth_len = V2_AUTH_LEN if version == 2 else 0
    if size != VRRP_HEADER_LEN + count * address_length + auth_len:
        return Drop.BAD_ADDR_COUNT
    end = VRRP_HEADER_LEN + count * address_length
    addresses = tuple(
        payload[offset : offset + address_length]
        for offset in range(VRRP_HEADER_LEN, end, address_length)
    )
    if version == 2:
        auth_type, interval, auth_data = payload[4], payload[5], payload[end:]
    else:
        auth_type, interval, auth_data = 0, ((payload[4] & 0x0F) << 8) | payload[5], b""
    return Advert(
        version, 1, payload[1], payload[2], count, auth_type, interval, form, addresses,
        auth_data, src, ttl,
    )  # fmt: skip


def validate_for_instance(
    adv: Advert,
    *,
    version: int,
    vrid: int,
    auth_type: int,
    auth_pass: bytes,
    interval: int,
    multicast: bool,
    peers: frozenset[bytes] | None,
    expected_addr_count: int | None = None,
) -> Drop | None:
    """The checks that need the receiving instance's config, in keepalived's order.

    A TTL of -1 (no IPV6_HOPLIMIT control message) is not checked, as in keepalived.
    ``auth_pass`` is compared zero-padded to 8 bytes like the password on the wire.
    ``expected_addr_count`` is None when ``vrrp_skip_check_adv_addr`` is on. Returns None if the
    advert is for this instance and acceptable.
    """
    if multicast and adv.ttl not in (VRRP_TTL, UNKNOWN_HOP_LIMIT):
        return Drop.BAD_TTL
    if adv.version != version:
        return Drop.BAD_VERSION
    if adv.vrid != vrid:
        return Drop.BAD_VRID
    if version == 2:
        if adv.auth_type != auth_type:
            return Drop.BAD_AUTH_TYPE
        if auth_type == 1 and adv.auth_data != bytes(auth_pass[:V2_AUTH_LEN]).ljust(8, b"\x00"):
            return Drop.BAD_AUTH_PASS
        if adv.interval != interval:
            return Drop.BAD_INTERVAL
    if expected_addr_count is not None and adv.count != expected_addr_count:
        return Drop.BAD_ADDR_COUNT
    if peers and adv.src not in peers:
        return Drop.NOT_A_PEER
    return None


def monotonic() -> float:
    """Seconds on CLOCK_MONOTONIC, the clock every core takes ``now`` from."""
    return time.monotonic()


def _borrowed_socket(fd: int) -> socket.socket:
    """A socket object over ``fd`` that the caller must ``detach()`` so the fd stays open."""
    return socket.socket(fileno=fd)


def send_many(fd: int, packets: Sequence[bytes], dests: Sequence[tuple]) -> int:
    """Send ``packets[i]`` to ``dests[i]`` on a raw socket; return how many the kernel took.

    Stops at the first failure. A full socket buffer (EAGAIN/ENOBUFS) is not an error; any
    other error is raised only when nothing was sent, so the caller retries the rest and sees it.
    """
    if len(packets) != len(dests):
        raise ValueError("one destination per packet")
    sock = _borrowed_socket(fd)
    sent = 0
    try:
        for packet, dest in zip(packets, dests):
            try:
                sock.sendto(packet, dest)
            except OSError as exc:
                if sent or exc.errno in _WOULD_BLOCK:
                    break
                raise
            sent += 1
    finally:
        sock.detach()
    return sent


def _hop_limit(ancillary: list[tuple[int, int, bytes]]) -> int:
    """The IPV6_HOPLIMIT control message's value, or -1 when the kernel sent none."""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IPV6 and kind == _IPV6_HOPLIMIT and len(data) >= 4:
            return int.from_bytes(data[:4], sys.byteorder)
    return UNKNOWN_HOP_LIMIT


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The SCM_TIMESTAMPNS control message's CLOCK_REALTIME seconds, or 0.0 when the kernel sent
    none (SO_TIMESTAMPNS not enabled on the socket)."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return float(sec) + float(nsec) / 1e9
    return 0.0


def recv_many(fd: int, max_packets: int = 64) -> list[tuple[bytes, str, int, float]]:
    """Read up to ``max_packets`` waiting packets without blocking.

    Returns ``(data, source address without zone, hop limit, arrival)`` per packet; the hop limit
    comes from IPV6_HOPLIMIT (the caller sets IPV6_RECVHOPLIMIT) and is -1 for IPv4, whose TTL is
    in the delivered IP header; the arrival is the kernel's receive time (CLOCK_REALTIME seconds,
    with SO_TIMESTAMPNS on the socket), else 0.0. Errors other than "nothing waiting" are raised
    only if nothing was read.
    """
    sock = _borrowed_socket(fd)
    received: list[tuple[bytes, str, int, float]] = []
    try:
        while len(received) < max_packets:
            try:
                data, ancillary, _flags, address = sock.recvmsg(
                    RECV_BUFFER_SIZE, RECV_CONTROL_SIZE, socket.MSG_DONTWAIT
                )
            except OSError as exc:
                if received or exc.errno in _WOULD_BLOCK:
                    break
                raise
            received.append((data, address[0].partition("%")[0], _hop_limit(ancillary), _arrival(ancillary)))
    finally:
        sock.detach()
    return received


# ------------------------------------------------------------------------------------ timerfd

_TFD_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000  # TFD_NONBLOCK | TFD_CLOEXEC (== O_NONBLOCK | O_CLOEXEC)
_TFD_TIMER_ABSTIME = 1
_CLOCK_MONOTONIC = 1
_libc = None


def _timerfd_libc():  # type: ignore[no-untyped-def]
    global _libc
    if _libc is None:
        import ctypes
        import ctypes.util

        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def timer_open() -> int:
    """A non-blocking CLOCK_MONOTONIC timerfd: the loop's one protocol timer, exact to the
    microsecond (the loop's own timers round to milliseconds)."""
    import ctypes

    fd = _timerfd_libc().timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK_CLOEXEC)
    if fd < 0:
        error = ctypes.get_errno()
        raise OSError(error, os_strerror(error))
    return fd


def timer_set(fd: int, deadline: float | None) -> None:
    """Arm the timerfd for the absolute monotonic ``deadline`` (None disarms it); a deadline
    in the past fires at once."""
    import ctypes

    if deadline is None:
        seconds = nanoseconds = 0
    else:
        total = max(1, round(deadline * 1e9))  # 0 would disarm
        seconds, nanoseconds = divmod(total, 1_000_000_000)
    spec = (ctypes.c_long * 4)(0, 0, seconds, nanoseconds)  # struct itimerspec: interval, value
    if _timerfd_libc().timerfd_settime(fd, _TFD_TIMER_ABSTIME if deadline is not None else 0, spec, None) < 0:
        error = ctypes.get_errno()
        raise OSError(error, os_strerror(error))


def timer_clear(fd: int) -> int:
    """Consume the expiry count (0 when the timer has not fired)."""
    import os

    try:
        return int.from_bytes(os.read(fd, 8), sys.byteorder)
    except BlockingIOError:
        return 0


def os_strerror(error: int) -> str:
    import os

    return os.strerror(error)


# ------------------------------------------------------------------------------------ steady adverts

# Bytes of a received IPv4 VRRP packet that may change between two otherwise identical adverts
# from one master: TOS, IP ID and the header checksum (the kernel has verified it).
_STEADY_VARIABLE = (1, 4, 5, 10, 11)


class SteadyTable:
    """Per VRID of one IPv4 socket: the last fully validated packet whose repeat only restarts
    its instance's Master_Down_Timer, and that instance (the role decides both, see
    ``VrrpMachine.rearms_only``). :func:`recv_sorted` matches received packets against it."""

    def __init__(self) -> None:
        self.templates: list[bytes | None] = [None] * 256
        self.owners: list[object] = [None] * 256

    def set(self, vrid: int, packet: bytes, owner: object) -> None:
        self.templates[vrid] = bytes(packet)
        self.owners[vrid] = owner

    def clear(self, vrid: int) -> None:
        self.templates[vrid] = None
        self.owners[vrid] = None

    def get(self, vrid: int) -> bytes | None:
        return self.templates[vrid]


def steady_match(template: bytes, data: bytes) -> bool:
    """Whether ``data`` repeats ``template`` in everything but TOS, IP ID and header checksum."""
    if len(template) != len(data) or len(data) < 20:
        return False
    return all(a == b for i, (a, b) in enumerate(zip(template, data, strict=True)) if i not in _STEADY_VARIABLE)


def _steady_vrid(data: bytes) -> int | None:
    """The VRID byte of a received IPv4 packet, or None when it is too short to have one."""
    if len(data) < 20:
        return None
    header_len = (data[0] & 0x0F) * 4
    return data[header_len + 1] if len(data) >= header_len + 2 else None


def recv_sorted(
    fd: int, table: SteadyTable, max_packets: int = 64
) -> tuple[list[tuple[object, float]], list[tuple[bytes, str, int, float]]]:
    """:func:`recv_many` on an IPv4 raw socket, split: ``(owner, arrival)`` for packets that repeat
    their VRID's template (one entry per packet, in order) and every other packet, as ``recv_many``
    returns it. A VRID whose packet did not match loses its template, so nothing after it in
    the batch is taken out of order."""
    hits: list = []
    packets: list[tuple[bytes, str, int, float]] = []
    for item in recv_many(fd, max_packets):
        data = item[0]
        vrid = _steady_vrid(data)
        if vrid is not None:
            template = table.templates[vrid]
            if template is not None and steady_match(template, data):
                hits.append((table.owners[vrid], item[3]))
                continue
            table.clear(vrid)
        packets.append(item)
    return hits, packets
