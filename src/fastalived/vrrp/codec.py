"""The VRRP codec: wire format, checksums, the packet checks of RFC 5798/3768 §7.1, frames.

One source for both builds: ``setup.py`` compiles this file with Cython in pure mode (the C types
are in ``codec.pxd``) and the compiled module shadows it; run as plain Python it is the fallback
(``FASTALIVED_NO_EXTENSIONS=1``, or no compiler). Code against :mod:`fastalived.vrrp.wire`.
The few lines under ``if cython.compiled`` are where C and CPython want different code for one
result; everything else runs as written in both.

Layout (RFC 3768 / RFC 5798)::

    0        1        2        3
    ver|type  vrid     priority count
    v2: auth_type, adver_int (s)   v3: rsvd(4) | max_adver_int (12 bits, cs)
    checksum (16)
    count addresses (4 or 16 bytes each)
    v2 only: 8 bytes of authentication data
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple

try:
    import cython
except ImportError:  # Cython is a build dependency; plain Python reads only ``cython.compiled``
    from types import SimpleNamespace

    cython = SimpleNamespace(compiled=False)

VRRP_PROTO = 112
MCAST4 = "224.0.0.18"
MCAST6 = "ff02::12"
VRRP_TTL = 255
UNKNOWN_HOP_LIMIT = -1  # the hop limit of an IPv6 packet that came without IPV6_HOPLIMIT
# The hot paths' copies: C constants in the compiled build (codec.pxd); the names above stay Python.
_PROTO = VRRP_PROTO
_TTL = VRRP_TTL
_NO_HOP_LIMIT = UNKNOWN_HOP_LIMIT
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_VRRP_HEADER_LEN = 8
_V2_AUTH_LEN = 8
_IPV4_HEADER_LEN = 20
_IPV6_HEADER_LEN = 40
_ETH_P_IP = 0x0800
_ETH_P_ARP = 0x0806
_ETH_P_IPV6 = 0x86DD
_ICMPV6_PROTO = 58
_BROADCAST_MAC = b"\xff" * 6
_ALL_NODES6 = socket.inet_pton(socket.AF_INET6, "ff02::1")
_ZEROS = bytes(4096)  # room for the largest advert (v3, 255 IPv6 addresses)
_IPV4_TEMPLATE = bytes((0x45, 0, 0, 0, 0, 0, 0, 0, 0, VRRP_PROTO)) + bytes(10)  # DF clear, no options


class Drop(IntEnum):
    """Why a received packet was discarded; the role counts drops by these names."""

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
    count: int  # type: ignore[assignment]  # RFC field name; shadows tuple.count
    auth_type: int  # always 0 for v3
    interval: int  # v2: seconds, v3: centiseconds
    checksum_ok_form: str  # "v2", "pseudo" (v3 with pseudo-header) or "no-pseudo" (RFC 9568)
    addresses: tuple[bytes, ...]
    auth_data: bytes  # v2: the 8 raw bytes; v3: b""
    src: bytes  # packed source address
    ttl: int  # IPv4 TTL or IPv6 hop limit


# ------------------------------------------------------------------------------------ checksums


def _as_bytes(data: bytes) -> bytes:
    """``data`` itself when already bytes, else a copy of any buffer (bytearray, memoryview)."""
    return data if type(data) is bytes else memoryview(data).tobytes()


def _word_sum(data: bytes | bytearray, start: int, end: int, total: int) -> int:
    """``total`` plus the big-endian 16-bit words of ``data[start:end]`` (odd tail zero-padded).

    As plain Python the result is only congruent to that sum modulo 0xFFFF, which is all
    :func:`_complement_of_sum` needs, and one ``int.from_bytes`` beats a loop in the interpreter.
    """
    if cython.compiled:
        raw = data
        i = start
        while i + 1 < end:
            total += (raw[i] << 8) | raw[i + 1]
            i += 2
        if (end - start) & 1:
            total += raw[end - 1] << 8
        return total
    # 2**16 == 1 (mod 0xFFFF), so the big-endian integer is congruent to the word sum.
    words = int.from_bytes(data[start:end], "big")
    return total + (words << 8 if (end - start) & 1 else words)


def _complement_of_sum(total: int) -> int:
    """What a checksum field holds for the word sum ``total``: its folded sum, complemented.

    Folding end-around carries keeps the residue mod 0xFFFF and never turns a non-zero sum
    into 0, so the folded value is the residue, written 0xFFFF when it is 0.
    """
    if cython.compiled:  # a few shifts and adds beat a 64-bit division
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        return ~total & 0xFFFF
    if total == 0:  # as plain Python, ``total`` can be a big integer: one modulo folds it all
        return 0xFFFF
    return (total % 0xFFFF or 0xFFFF) ^ 0xFFFF


def _addresses_sum(src: bytes, dst: bytes) -> int:
    """Word sum of a source and a destination address: their part of a pseudo-header."""
    return _word_sum(dst, 0, len(dst), _word_sum(src, 0, len(src), 0))


def _pseudo_header_sum(addresses_sum: int, length: int, protocol: int) -> int:
    """Word sum of the IPv4 or IPv6 pseudo-header for a ``protocol`` payload of ``length``, given
    the word sum of its source and destination addresses."""
    return addresses_sum + protocol + (length >> 16) + (length & 0xFFFF)


def _writable(data: bytes, size: int) -> bytearray:
    """A private copy of ``data[:size]`` to build a packet in; :func:`_frozen` hands it out.

    Compiled it is a fresh ``bytes`` object that nothing else has seen yet, written in place through
    a C pointer (the builders' ``out = buffer``), which saves a ``bytearray`` and the final copy; as
    plain Python it is a ``bytearray`` and ``out`` the same object. ``size`` is at least 2: CPython
    shares its empty and one-byte ``bytes`` objects.
    """
    if cython.compiled:
        raw = data
        return raw[:size]  # type: ignore[return-value]  # slicing a C pointer copies into new bytes
    return bytearray(data[:size])


def _frozen(buffer: bytearray) -> bytes:
    """The finished packet built in a :func:`_writable` buffer."""
    if cython.compiled:
        return buffer  # type: ignore[return-value]  # compiled, the buffer already is the bytes object
    return bytes(buffer)


def _put_bytes(buffer: bytearray, at: int, data: bytes) -> None:
    """Copy ``data`` into a :func:`_writable` buffer at ``at``."""
    if cython.compiled:
        out = buffer
        raw = data
        for i in range(len(data)):
            out[at + i] = raw[i]
    else:
        buffer[at : at + len(data)] = data


def _with_checksum(buffer: bytearray, at: int, start: int, end: int, initial: int) -> bytes:
    """The finished packet, with the checksum of ``buffer[start:end]`` (checksum field zero) plus
    ``initial`` stored at ``at``."""
    checksum = _complement_of_sum(_word_sum(buffer, start, end, initial))
    out = buffer
    out[at] = checksum >> 8
    out[at + 1] = checksum & 0xFF
    return _frozen(buffer)


def internet_checksum(data: bytes, initial: int = 0) -> int:
    """RFC 1071 checksum of ``data`` (odd length padded with a zero byte) plus a partial sum.

    ``initial`` is an unfolded 16-bit word sum (e.g. of a pseudo-header), 0 <= initial < 2**32.
    A buffer that already holds a correct checksum yields 0.
    """
    if not 0 <= initial <= 0xFFFFFFFF:
        raise ValueError("initial must be a 32-bit partial sum")
    buffer = _as_bytes(data)
    return _complement_of_sum(_word_sum(buffer, 0, len(buffer), initial))


# ------------------------------------------------------------------------------------ encoding


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
    return _build_advert(version, vrid, priority, interval, addresses, auth_type, auth_data, src, dst, pseudo_header)


def _build_advert(
    version: int,
    vrid: int,
    priority: int,
    interval: int,
    addresses: Sequence[bytes],
    auth_type: int,
    auth_data: bytes,
    src: bytes,
    dst: bytes,
    pseudo_header: bool,
) -> bytes:
    if version != 2 and version != 3:
        raise ValueError("version must be 2 or 3")
    if not 0 <= vrid <= 255 or not 0 <= priority <= 255:
        raise ValueError("vrid and priority must fit in a byte")
    if not 0 <= interval <= (255 if version == 2 else 0xFFF):
        raise ValueError("interval out of range for this VRRP version")
    count = len(addresses)
    if count > 255:
        raise ValueError("at most 255 addresses fit in an advert")
    address_length = _address_length(addresses, src)
    if version == 2 and address_length != 4:
        raise ValueError("VRRPv2 is IPv4 only")
    if version == 2 and not 0 <= auth_type <= 255:
        raise ValueError("auth_type must fit in a byte")
    end = _VRRP_HEADER_LEN + count * address_length
    size = end + (_V2_AUTH_LEN if version == 2 else 0)
    initial = 0
    if version == 3 and (address_length == 16 or pseudo_header):
        if len(src) != address_length or len(dst) != address_length:
            raise ValueError("src and dst must be packed addresses of the advert's family")
        initial = _pseudo_header_sum(_addresses_sum(_as_bytes(src), _as_bytes(dst)), size, _PROTO)
    buffer = _writable(_ZEROS, size)
    out = buffer
    out[0] = (version << 4) | 1  # type 1: advertisement
    out[1] = vrid
    out[2] = priority
    out[3] = count
    if version == 2:
        out[4] = auth_type
        out[5] = interval
        _put_bytes(buffer, end, _as_bytes(auth_data[:_V2_AUTH_LEN]))
    else:
        out[4] = interval >> 8
        out[5] = interval & 0xFF
    _put_bytes(buffer, _VRRP_HEADER_LEN, b"".join(addresses))
    return _with_checksum(buffer, 6, 0, size, initial)


def advert_with_priority(advert: bytes, priority: int) -> bytes:
    """Copy of a built advert with another priority, checksum patched incrementally (RFC 1624).

    Senders pre-build their adverts once and only patch this field on priority changes.
    """
    original = _as_bytes(advert)
    if len(original) < _VRRP_HEADER_LEN:
        raise ValueError("not a VRRP advert")
    if not 0 <= priority <= 255:
        raise ValueError("priority must fit in a byte")
    raw = original
    old_word = (raw[2] << 8) | raw[3]
    new_word = (priority << 8) | raw[3]
    old_checksum = (raw[6] << 8) | raw[7]
    # HC' = ~(~HC + ~m + m'), RFC 1624 eqn. 3, in one's-complement arithmetic.
    checksum = _complement_of_sum((old_checksum ^ 0xFFFF) + (old_word ^ 0xFFFF) + new_word)
    buffer = _writable(original, len(original))
    out = buffer
    out[2] = priority
    out[6] = checksum >> 8
    out[7] = checksum & 0xFF
    return _frozen(buffer)


def build_ipv4_header(src: bytes, dst: bytes, payload_len: int, ident: int, ttl: int = 255, tos: int = 0xC0) -> bytes:
    """IPv4 header as keepalived writes it with IP_HDRINCL: proto 112, DF clear.

    ``ident`` is taken modulo 2**16 so callers can simply count adverts from 1.
    """
    src_bytes, dst_bytes = _as_bytes(src), _as_bytes(dst)
    if len(src_bytes) != 4 or len(dst_bytes) != 4:
        raise ValueError("src and dst must be packed IPv4 addresses")
    if not 0 <= payload_len <= 0xFFFF - _IPV4_HEADER_LEN:
        raise ValueError("payload too long for IPv4")
    if not 0 <= ttl <= 255 or not 0 <= tos <= 255:
        raise ValueError("ttl and tos must fit in a byte")
    total_len = _IPV4_HEADER_LEN + payload_len
    ident16 = ident & 0xFFFF
    buffer = _writable(_IPV4_TEMPLATE, _IPV4_HEADER_LEN)  # version 4, header length 5, protocol 112
    out = buffer
    out[1] = tos
    out[2] = total_len >> 8
    out[3] = total_len & 0xFF
    out[4] = ident16 >> 8
    out[5] = ident16 & 0xFF
    out[8] = ttl
    _put_bytes(buffer, 12, src_bytes)
    _put_bytes(buffer, 16, dst_bytes)
    return _with_checksum(buffer, 10, 0, _IPV4_HEADER_LEN, 0)


def ipv4_with_id(packet: bytes, ident: int) -> bytes:
    """Copy of an IPv4 packet from :func:`build_ipv4_header` + payload with another IP ID
    (mod 2**16) and the header checksum recomputed: the per-advert part of a pre-built advert."""
    original = _as_bytes(packet)
    raw = original
    size = len(original)
    if size < _IPV4_HEADER_LEN or raw[0] >> 4 != 4:
        raise ValueError("not an IPv4 packet")
    header_len = (raw[0] & 0x0F) * 4
    if not _IPV4_HEADER_LEN <= header_len <= size:
        raise ValueError("not an IPv4 packet")
    ident16 = ident & 0xFFFF
    # The header's word sum without its ID (bytes 4-5) and checksum (10-11), plus the new ID.
    total = _word_sum(original, 0, 4, ident16)
    total = _word_sum(original, 6, 10, total)
    total = _word_sum(original, 12, header_len, total)
    checksum = _complement_of_sum(total)
    buffer = _writable(original, size)
    out = buffer
    out[4] = ident16 >> 8
    out[5] = ident16 & 0xFF
    out[10] = checksum >> 8
    out[11] = checksum & 0xFF
    return _frozen(buffer)


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
    arp = struct.pack("!HHBBH6s4s6s4s", 1, _ETH_P_IP, 6, 4, 1, mac, ip4, _BROADCAST_MAC, ip4)
    return build_ethernet(_BROADCAST_MAC, mac, _ETH_P_ARP, arp)


def build_unsolicited_na(mac: bytes, ip6: bytes) -> bytes:
    """keepalived's unsolicited neighbour advertisement for a VIP, as a full Ethernet frame.

    Sourced from the VIP itself to ff02::1, hop limit 255, Override flag only, with the target
    link-layer address option.
    """
    if len(mac) != 6 or len(ip6) != 16:
        raise ValueError("need a 6-byte MAC and a packed IPv6 address")
    # type 136, code 0, checksum, flags (O), target, option 2 (target LL address) of 1x8 bytes.
    icmp = struct.pack("!BBHI16sBB6s", 136, 0, 0, 0x20000000, bytes(ip6), 2, 1, bytes(mac))
    pseudo = _pseudo_header_sum(_addresses_sum(bytes(ip6), _ALL_NODES6), len(icmp), _ICMPV6_PROTO)
    buffer = _writable(icmp, len(icmp))
    ip_header = build_ipv6_header(ip6, _ALL_NODES6, len(icmp), hop_limit=255, tclass=0, next_header=_ICMPV6_PROTO)
    frame = ip_header + _with_checksum(buffer, 2, 0, len(icmp), pseudo)
    return build_ethernet(b"\x33\x33\x00\x00\x00\x01", mac, _ETH_P_IPV6, frame)


# ------------------------------------------------------------------------------------ receiving


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
    """Decode one received packet and run the §7.1 checks that need no instance config.

    In the RFCs' order: the IP header, then VRRP version, type, length, checksum and address
    count. IPv4 raw sockets deliver the IP header (``has_ip_header=True``); IPv6 ones strip it, so
    pass ``src``/``dst``/``hop_limit`` (packed addresses). A v3/IPv4 checksum without the
    pseudo-header is accepted only with ``accept_no_pseudo``. Returns a :class:`Drop` for any bad
    packet and never raises because of packet contents.
    """
    return _decode_advert(_as_bytes(packet), family, has_ip_header, src, dst, hop_limit, accept_no_pseudo)


def _decode_advert(
    data: bytes, family: int, has_ip_header: bool, src: bytes, dst: bytes, hop_limit: int, accept_no_pseudo: bool
) -> Advert | Drop:
    if family != _AF_INET and family != _AF_INET6:
        raise ValueError("family must be AF_INET or AF_INET6")
    if has_ip_header:
        return _decode_ip_packet(data, family == _AF_INET6, accept_no_pseudo)
    src_bytes, dst_bytes = _as_bytes(src), _as_bytes(dst)
    address_length = 4 if family == _AF_INET else 16
    if len(src_bytes) != address_length or len(dst_bytes) != address_length:
        raise ValueError("src and dst must be packed addresses of the given family")
    return _decode_vrrp(
        data, 0, len(data), src_bytes, _addresses_sum(src_bytes, dst_bytes), hop_limit, accept_no_pseudo
    )


def _decode_ip_packet(data: bytes, ipv6: bool, accept_no_pseudo: bool) -> Advert | Drop:
    """Check the IP header and decode the VRRP payload within the IP length (Ethernet padding
    past it is ignored)."""
    raw = data
    size = len(data)
    if ipv6:
        if size < _IPV6_HEADER_LEN:
            return Drop.TOO_SHORT
        if raw[0] >> 4 != 6 or raw[6] != _PROTO:
            return Drop.BAD_IP_HEADER
        end = _IPV6_HEADER_LEN + ((raw[4] << 8) | raw[5])
        if end > size:
            return Drop.TRUNCATED
        return _decode_vrrp(data, _IPV6_HEADER_LEN, end, raw[8:24], _word_sum(data, 8, 40, 0), raw[7], accept_no_pseudo)
    if size < _IPV4_HEADER_LEN:
        return Drop.TOO_SHORT
    header_len = (raw[0] & 0x0F) * 4
    if raw[0] >> 4 != 4 or header_len < _IPV4_HEADER_LEN or raw[9] != _PROTO:
        return Drop.BAD_IP_HEADER
    if size < header_len:
        return Drop.TOO_SHORT
    end = (raw[2] << 8) | raw[3]
    if end < header_len:
        return Drop.BAD_IP_HEADER
    if end > size:
        return Drop.TRUNCATED
    return _decode_vrrp(data, header_len, end, raw[12:16], _word_sum(data, 12, 20, 0), raw[8], accept_no_pseudo)


def _decode_vrrp(
    data: bytes, start: int, end: int, src: bytes, addresses_sum: int, ttl: int, accept_no_pseudo: bool
) -> Advert | Drop:
    """Decode the VRRP payload ``data[start:end]`` from ``src``; ``addresses_sum`` is the word sum of
    the source and destination addresses, for the v3 pseudo-header checksum."""
    raw = data
    size = end - start
    address_length = len(src)
    if size < _VRRP_HEADER_LEN:
        return Drop.TOO_SHORT
    version = raw[start] >> 4
    if (version != 2 and version != 3) or (version == 2 and address_length == 16):
        return Drop.BAD_VERSION
    if raw[start] & 0x0F != 1:
        return Drop.BAD_TYPE
    if version == 2:
        form = "v2" if _complement_of_sum(_word_sum(data, start, end, 0)) == 0 else ""
    elif _complement_of_sum(_word_sum(data, start, end, _pseudo_header_sum(addresses_sum, size, _PROTO))) == 0:
        form = "pseudo"
    elif accept_no_pseudo and address_length == 4 and _complement_of_sum(_word_sum(data, start, end, 0)) == 0:
        form = "no-pseudo"
    else:
        form = ""
    if not form:
        return Drop.BAD_CHECKSUM
    count = raw[start + 3]
    first = start + _VRRP_HEADER_LEN
    if size != _VRRP_HEADER_LEN + count * address_length + (_V2_AUTH_LEN if version == 2 else 0):
        return Drop.BAD_ADDR_COUNT
    if cython.compiled:  # straight into the tuple (codec.pxd): the list in between costs a fifth of a decode
        addresses = _sliced_tuple(raw, first, count, address_length)  # type: ignore[name-defined]  # noqa: F821
    else:
        addresses = tuple([raw[first + i * address_length : first + (i + 1) * address_length] for i in range(count)])
    if version == 2:
        auth_type, interval, auth_data = raw[start + 4], raw[start + 5], raw[end - _V2_AUTH_LEN : end]
    else:
        auth_type, interval, auth_data = 0, ((raw[start + 4] & 0x0F) << 8) | raw[start + 5], b""
    fields = (version, 1, raw[start + 1], raw[start + 2], count, auth_type, interval, form, addresses,
              auth_data, src, ttl)  # fmt: skip
    if cython.compiled:  # C API allocation (codec.pxd): the Python-level tuple.__new__ costs half a decode
        advert: Advert = _new_tuple_subclass(Advert, fields)  # type: ignore[name-defined]  # noqa: F821
        return advert
    return tuple.__new__(Advert, fields)  # skips the named tuple's argument-parsing __new__


def check_advert(
    adv: Advert, *, version: int, auth_type: int, auth_pass: bytes, multicast: bool, accept_no_pseudo: bool
) -> Drop | None:
    """The §7.1 packet checks that depend on the receiving instance's protocol settings.

    In the RFCs' order: TTL / hop limit 255 (multicast only; an unknown hop limit, -1, is not
    checked, as in keepalived), version, the checksum form (RFC 9568's v3 checksum without the
    pseudo-header only with ``accept_no_pseudo``), then for v2 the auth type and the password
    (compared zero-padded to 8 bytes, like on the wire). :func:`decode_advert` made the others;
    VRID, interval, addresses and peers are the router's (``vrrp/router.py``). Returns None when
    the advert passes.
    """
    return _check_advert(adv, version, auth_type, _as_bytes(auth_pass), multicast, accept_no_pseudo)


def _check_advert(
    adv: Advert, version: int, auth_type: int, auth_pass: bytes, multicast: bool, accept_no_pseudo: bool
) -> Drop | None:
    # Unpacking beats attribute reads in either build; compiled, the unchecked cast to tuple makes
    # it a few C loads (an Advert is a tuple; Cython's own check would demand an exact tuple).
    fields = cython.cast(tuple, adv) if cython.compiled else adv
    adv_version, _, _, _, _, adv_auth_type, _, form, _, auth_data, _, ttl = fields
    if multicast and ttl != _TTL and ttl != _NO_HOP_LIMIT:
        return Drop.BAD_TTL
    if adv_version != version:
        return Drop.BAD_VERSION
    if not accept_no_pseudo and form == "no-pseudo":
        return Drop.BAD_CHECKSUM
    if version == 2:
        if adv_auth_type != auth_type:
            return Drop.BAD_AUTH_TYPE
        if auth_type == 1 and not _password_matches(auth_data, auth_pass):
            return Drop.BAD_AUTH_PASS
    return None


def _password_matches(auth_data: bytes, password: bytes) -> bool:
    """Whether the 8 auth bytes of an advert are ``password`` cut or zero-padded to 8 bytes."""
    if cython.compiled:  # compare in place instead of building the padded password
        wire = auth_data
        wanted = password
        if len(auth_data) != _V2_AUTH_LEN:
            return False
        for i in range(_V2_AUTH_LEN):  # noqa: SIM110 - all() would build a generator here
            if wire[i] != (wanted[i] if i < len(password) else 0):
                return False
        return True
    return auth_data == password[:_V2_AUTH_LEN].ljust(_V2_AUTH_LEN, b"\x00")
