"""``auth_type AH``: VRRPv2 over IPv4 inside an IPsec AH header (RFC 2402), as keepalived 2.2.7 does it.

keepalived's own variant, which is what peers expect on the wire (checked against its captures)::

    IPv4 header, protocol 51 | AH: next header 112, payload length 4, reserved 0,
    SPI = the sender's IPv4 address, sequence number, 12-byte ICV | the VRRPv2 advert

The ICV is HMAC-MD5-96 keyed with ``auth_pass`` zero-padded to 8 bytes, over the IP header (TOS,
fragment offset and checksum zeroed; the TTL too with unicast peers, not for multicast; the IP ID
stays in), the AH header with a zero ICV, and the VRRP packet (whose auth type is 2 and whose 8
auth bytes are zero). There is no key exchange and no SA: one per-instance counter serves both
directions (:class:`SeqCounter`). Pure and sans-IO: the role's sender seals, the router verifies.
"""

from __future__ import annotations

import hmac
import struct
from enum import IntEnum
from typing import NamedTuple

from fastalived.config.model import VrrpInstance
from fastalived.vrrp.machine import BACKUP, MASTER

AH_PROTO = 51
AH_LEN = 24  # next header, payload length, reserved (4) + SPI (4) + sequence (4) + ICV (12)
ICV_LEN = 12  # HMAC-MD5 truncated to 96 bits (RFC 2403)
KEY_LEN = 8  # keepalived's auth_data[8]: the password, zero-padded
_PAYLOAD_LEN = AH_LEN // 4 - 2  # RFC 2402 counts 32-bit words minus 2
_VRRP_PROTO = 112
_IPV4_HEADER_LEN = 20
_ICV_AT = 12  # the ICV's offset inside the AH header
_LAST_STEP = 0xFFFFFFFD  # keepalived counts one past this, then stops ("cycled") until master again
_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
_AH_HEADER = struct.Struct("!BBH4sI")  # everything but the ICV


class AhDrop(IntEnum):
    """Why an AH (or AH-less) packet was dropped; counted by name like ``wire.Drop``."""

    AH_MISSING = 32  # plain VRRP for an AH instance (keepalived: authtype_mismatch)
    AH_UNEXPECTED = 33  # AH for an instance without it (keepalived: authtype_mismatch)
    BAD_AH_HEADER = 34  # too short, not keepalived's 24-byte HMAC-MD5-96 layout, or truncated
    AH_NOT_VRRP = 35  # the AH protects another protocol: not ours
    BAD_AH_ICV = 36  # HMAC mismatch: another auth_pass, or altered in flight (keepalived: auth_failure)
    BAD_AH_SPI = 37  # SPI is not the source address (keepalived: auth_failure)
    AH_REPLAY = 38  # sequence number not above the last one seen or sent (keepalived: auth_failure)


class Sealed(NamedTuple):
    """A received AH packet taken apart by :func:`unwrap`."""

    packet: bytes  # the whole IPv4 packet as received, up to its total length
    inner: bytes  # the same as a plain VRRP packet (protocol 112, AH removed), for ``wire.decode_advert``
    seq: int
    spi: bytes  # 4 bytes


def uses_ah(cfg: VrrpInstance) -> bool:
    """Whether ``cfg`` sends and expects AH: keepalived allows it for VRRPv2 over IPv4 only."""
    return cfg.auth_type == "AH" and cfg.version == 2 and cfg.family == 4 and bool(cfg.auth_pass)


def key_of(auth_pass: bytes) -> bytes:
    """The HMAC key: ``auth_pass`` cut or zero-padded to 8 bytes, as keepalived stores it."""
    return auth_pass[:KEY_LEN].ljust(KEY_LEN, b"\x00")


def is_ah(data: bytes) -> bool:
    """Whether a received IPv4 packet carries AH (a cheap look before :func:`unwrap`)."""
    return len(data) >= _IPV4_HEADER_LEN and data[0] >> 4 == 4 and data[9] == AH_PROTO


def _icv(key: bytes, header: bytes, unicast: bool, rest: bytes) -> bytes:
    """HMAC-MD5-96 over ``header`` with its mutable fields zeroed (a copy), then ``rest`` (AH with
    a zero ICV, then VRRP)."""
    fixed = bytearray(header)
    fixed[1] = 0  # TOS
    fixed[6] = fixed[7] = 0  # flags + fragment offset
    fixed[10] = fixed[11] = 0  # header checksum
    if unicast:
        fixed[8] = 0  # TTL: routers on the way to a unicast peer may lower it
    return hmac.digest(key, bytes(fixed) + rest, "md5")[:ICV_LEN]


def _checksum(header: bytes) -> int:
    total: int = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_packet(
    src: bytes,
    dst: bytes,
    vrrp: bytes,
    ident: int,
    seq: int,
    key: bytes,
    *,
    unicast: bool = False,
    ttl: int = 255,
    tos: int = 0xC0,
) -> bytes:
    """The whole IPv4 packet for one advert (IP_HDRINCL): header, AH, ``vrrp`` (built with auth
    type 2 and no password), byte for byte what keepalived sends for the same IP ID and
    sequence number. ``ident`` must not be 0: the kernel would replace it after the ICV."""
    if len(src) != 4 or len(dst) != 4:
        raise ValueError("src and dst must be packed IPv4 addresses")
    if not 0 < ident <= 0xFFFF or not 0 <= seq <= 0xFFFFFFFF:
        raise ValueError("ident must be 1..65535 and seq 32 bits")
    total = _IPV4_HEADER_LEN + AH_LEN + len(vrrp)
    header = _IPV4_HEADER.pack(0x45, tos, total, ident, 0, ttl, AH_PROTO, 0, src, dst)
    ah = _AH_HEADER.pack(_VRRP_PROTO, _PAYLOAD_LEN, 0, src, seq)  # SPI: keepalived's is our address
    icv = _icv(key, header, unicast, ah + bytes(ICV_LEN) + vrrp)
    header = header[:10] + _checksum(header).to_bytes(2, "big") + header[12:]  # the kernel's value anyway
    return header + ah + icv + vrrp


def unwrap(data: bytes) -> Sealed | AhDrop:
    """Split a received IPv4 AH packet (see :func:`is_ah`): its sequence number, SPI and the
    plain VRRP packet inside. Never raises on packet contents."""
    if not is_ah(data):
        return AhDrop.BAD_AH_HEADER
    header_len = (data[0] & 0x0F) * 4
    total = int.from_bytes(data[2:4], "big")
    start = header_len + AH_LEN
    if header_len < _IPV4_HEADER_LEN or total > len(data) or total < start:
        return AhDrop.BAD_AH_HEADER
    if data[header_len + 1] != _PAYLOAD_LEN:
        return AhDrop.BAD_AH_HEADER
    if data[header_len] != _VRRP_PROTO:
        return AhDrop.AH_NOT_VRRP
    packet = bytes(data[:total])
    inner_len = total - AH_LEN
    ip_header = (packet[:2] + inner_len.to_bytes(2, "big") + packet[4:9] + bytes((_VRRP_PROTO,))
                 + packet[10:header_len])  # fmt: skip
    seq = int.from_bytes(packet[header_len + 8 : header_len + 12], "big")
    return Sealed(packet, ip_header + packet[start:], seq, packet[header_len + 4 : header_len + 8])


def authenticate(sealed: Sealed, key: bytes, unicast: bool, counter: SeqCounter) -> AhDrop | None:
    """keepalived's receive check: the ICV, then the SPI against the source address, then the
    sequence number against ``counter`` (which takes it when it passes). None: authentic."""
    packet = sealed.packet
    header_len = (packet[0] & 0x0F) * 4
    at = header_len + _ICV_AT
    expected = _icv(key, packet[:header_len], unicast, packet[header_len:at] + bytes(ICV_LEN) + packet[at + ICV_LEN :])
    if not hmac.compare_digest(expected, packet[at : at + ICV_LEN]):
        return AhDrop.BAD_AH_ICV
    if sealed.spi != packet[12:16]:
        return AhDrop.BAD_AH_SPI
    if not counter.accept(sealed.seq):
        return AhDrop.AH_REPLAY
    return None


class SeqCounter:
    """keepalived's ``ipsecah_counter``: one per instance, for what it sends and what it accepts.

    Sending takes the next number; receiving accepts only numbers above the current one and
    moves up to them, so a backup that takes over continues above its old master. A master
    hearing a lower-priority router jumps past that router's number (:meth:`sync`), so two
    masters after a partition converge. At 2**32 - 2 it stops ("cycled") until it next becomes
    master, when it restarts from 0.
    """

    __slots__ = ("cycled", "seq")

    def __init__(self) -> None:
        self.seq = 0
        self.cycled = False

    def next_sent(self) -> int:
        """The sequence number of the next advert (the first is 1)."""
        if self.seq > _LAST_STEP:
            self.cycled = True
        else:
            self.seq += 1
        return self.seq

    def accept(self, seq: int) -> bool:
        """A received, authentic number: taken when above the current one, else a replay."""
        if seq <= self.seq:
            return False
        self.seq = seq
        return True

    def sync(self, seq: int) -> None:
        """A master heard ``seq`` from a lower-priority router: continue above it."""
        self.seq = (seq + 1) & 0xFFFFFFFF
        self.cycled = False

    def heard(self, seq: int, state: int, theirs: tuple[int, bytes], ours: tuple[int, bytes]) -> None:
        """An accepted advert, numbered ``seq``, heard in ``state``; ``theirs`` and ``ours`` are
        (priority, source address), compared as keepalived's master does. A master hearing a
        lower-priority router (a split brain healing) continues above its number."""
        if state == BACKUP:
            self.cycled = False
        elif state == MASTER and theirs[0]:
            if theirs < ours:
                self.sync(seq)
            elif theirs > ours:
                self.cycled = False

    def entering_master(self) -> None:
        """Becoming master restarts a cycled counter (keepalived resets the anti-replay)."""
        if self.cycled:
            self.cycled = False
            self.seq = 0


class Sealer:
    """One instance's sending side: the key, the shared counter, the unicast rule for the TTL."""

    __slots__ = ("counter", "key", "unicast")

    def __init__(self, auth_pass: bytes, counter: SeqCounter, unicast: bool) -> None:
        self.key = key_of(auth_pass)
        self.counter = counter
        self.unicast = unicast

    def seal(self, src: bytes, dst: bytes, vrrp: bytes, ident: int, seq: int, ttl: int = 255) -> bytes:
        return build_packet(src, dst, vrrp, ident, seq, self.key, unicast=self.unicast, ttl=ttl)
