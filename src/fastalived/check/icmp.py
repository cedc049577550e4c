"""PING_CHECK: one ICMP/ICMPv6 echo request per check; the matching echo reply passes it.

The socket is an unprivileged datagram ICMP socket when ``net.ipv4.ping_group_range`` admits our
group (the kernel then picks the identifier, fills in the checksum and hands each socket only its
own replies), otherwise a raw socket (root or CAP_NET_RAW), connected to the target and filtered to
echo replies, and we match the identifier ourselves. keepalived instead widens
``ping_group_range`` to include root; fastalived leaves the sysctl alone and falls back to raw.
ICMP errors about the request (host unreachable after failed ARP ...) fail the check at once.
"""

from __future__ import annotations

import _socket
import asyncio
import errno
import itertools
import os
import socket
import struct

from fastalived.check.datagram import DatagramExchange
from fastalived.check.probe import Done
from fastalived.check.tcp import Target, target_of
from fastalived.config.model import PingCheck

_V4, _V6 = int(socket.AF_INET), int(socket.AF_INET6)
ECHO_REQUEST = {_V4: 8, _V6: 128}
ECHO_REPLY = {_V4: 0, _V6: 129}
PROTOCOL = {_V4: int(socket.IPPROTO_ICMP), _V6: int(socket.IPPROTO_ICMPV6)}
PAYLOAD = (b"keepalived check - " * 3)[:56]
_SOL_RAW, _ICMP_FILTER, _ICMP6_FILTER = 255, 1, 1
# Raw-socket filters letting only echo replies through (a set bit blocks that ICMP type; ICMPv6's
# is 256 bits, type N at bit N % 32 of word N // 32).
_V6_REPLY = ECHO_REPLY[_V6]
_RAW_FILTERS: dict[int, tuple[int, int, bytes]] = {
    _V4: (_SOL_RAW, _ICMP_FILTER, struct.pack("I", 0xFFFFFFFF & ~(1 << ECHO_REPLY[_V4]))),
    _V6: (
        socket.IPPROTO_ICMPV6,
        _ICMP6_FILTER,
        struct.pack(
            "8I",
            *(0xFFFFFFFF & ~(1 << _V6_REPLY % 32) if word == _V6_REPLY // 32 else 0xFFFFFFFF for word in range(8)),
        ),
    ),
}
_NONBLOCKING = socket.SOCK_NONBLOCK
_kind_by_family: dict[int, int] = {}  # the socket type that worked: SOCK_DGRAM, or SOCK_RAW after EACCES
_identifiers = itertools.count(os.getpid() & 0xFFFF)


def checksum(data: bytes) -> int:
    """The internet checksum (RFC 1071); raw ICMPv4 sockets leave it to us."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def icmp_socket(family: int) -> tuple[_socket.socket, bool]:
    """A non-blocking ICMP socket for ``family`` and whether it is raw."""
    kind = _kind_by_family.get(family, socket.SOCK_DGRAM)
    if kind == socket.SOCK_DGRAM:
        try:
            return _socket.socket(family, socket.SOCK_DGRAM | _NONBLOCKING, PROTOCOL[family]), False
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT):
                raise
            _kind_by_family[family] = socket.SOCK_RAW
    sock = _socket.socket(family, socket.SOCK_RAW | _NONBLOCKING, PROTOCOL[family])
    level, option, value = _RAW_FILTERS[family]
    try:
        sock.setsockopt(level, option, value)
    except OSError:
        pass  # only an optimisation: replies are matched by identifier and sequence anyway
    return sock, True


def echo_request(family: int, identifier: int, sequence: int) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST[family], 0, 0, identifier, sequence)
    if family == socket.AF_INET6:
        return header + PAYLOAD  # the kernel fills in the ICMPv6 checksum, raw or not
    return struct.pack("!BBHHH", ECHO_REQUEST[family], 0, checksum(header + PAYLOAD), identifier, sequence) + PAYLOAD


def is_our_reply(family: int, data: bytes, raw: bool, identifier: int, sequence: int) -> bool:
    """Is ``data`` the echo reply to our request? Raw IPv4 sockets deliver the IP header too."""
    if raw and family == socket.AF_INET and data:
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < 8:
        return False
    kind, _, _, reply_id, reply_seq = struct.unpack_from("!BBHHH", data)
    if kind != ECHO_REPLY[family] or reply_seq != sequence:
        return False
    return not raw or reply_id == identifier  # a datagram socket only gets its own identifier


class _Echo(DatagramExchange):
    __slots__ = ("identifier", "sequence", "raw")

    def __init__(self, loop: asyncio.AbstractEventLoop, target: Target, identifier: int, sequence: int, done: Done):
        super().__init__(loop, target, done)
        self.identifier = identifier
        self.sequence = sequence
        self.raw = False

    def new_socket(self) -> _socket.socket:
        sock, self.raw = icmp_socket(self.target.family)
        return sock

    def request(self) -> bytes:
        return echo_request(self.target.family, self.identifier, self.sequence)

    def on_datagram(self, data: bytes) -> None:
        if is_our_reply(self.target.family, data, self.raw, self.identifier, self.sequence):
            self.finish(None)  # anything else (a late reply, another ICMP type) is not ours: keep waiting


class PingProbe:
    """PING_CHECK: one echo per check, ``connect_timeout`` to answer."""

    __slots__ = ("target", "identifier", "sequence")

    def __init__(self, check: PingCheck) -> None:
        self.target = target_of(check.common)._replace(address=(str(check.common.connect_ip), 0))
        self.identifier = next(_identifiers) & 0xFFFF
        self.sequence = 0

    def start(self, done: Done) -> _Echo:
        self.sequence = (self.sequence + 1) & 0xFFFF
        echo = _Echo(asyncio.get_running_loop(), self.target, self.identifier, self.sequence, done)
        echo.open()
        return echo
