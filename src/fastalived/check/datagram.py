"""UDP_CHECK, and the connected-datagram exchange PING_CHECK shares with it.

A check is one datagram out and (maybe) one back, on a connected non-blocking socket watched by
the loop's :class:`~fastalived.check.tcp.SocketPoller`, like the raw TCP checks: no task per check.
``IP_RECVERR`` is set so every ICMP error about our datagram (port, host or network unreachable,
including the kernel's own when ARP fails) reaches the socket as an error on the next read;
connected sockets without it only hear about port unreachable.

UDP_CHECK follows keepalived: an ICMP error fails the check; silence until ``connect_timeout``
passes, unless ``require_reply``; then a reply must arrive, its length within
``min_reply_length..max_reply_length`` and its first bytes equal to ``require_reply``'s hex string
(X nibbles ignored).
"""

from __future__ import annotations

import _socket
import asyncio
import socket

from fastalived.check.probe import Done
from fastalived.check.tcp import RawConnection, Target, failure_text, prepare, target_of
from fastalived.config.model import UdpCheck

_IP_RECVERR = 11  # linux/in.h; the socket module does not export it before Python 3.12
_IPV6_RECVERR = 25  # linux/in6.h
RECV_SIZE = 65536
FILLER = (b"keepalived check - " * 2)[:32]  # keepalived's payload when none is configured


class DatagramExchange(RawConnection):
    """Send one request on a connected datagram (or raw) socket, then wait for the answer.

    Subclasses say which socket to make, what to send, and how to read what comes back.
    """

    __slots__ = ()

    def new_socket(self) -> _socket.socket:
        raise NotImplementedError

    def request(self) -> bytes:
        raise NotImplementedError

    def open(self) -> None:
        target = self.target
        try:
            sock = self.new_socket()
        except OSError as exc:
            self.finish(failure_text(exc))
            return
        self.sock, self.fd = sock, sock.fileno()
        try:
            if target.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)
            prepare(sock, target)
            sock.connect(target.address)
            sock.send(self.request())
        except OSError as exc:
            self.finish(failure_text(exc))
            return
        self.want_read()

    def on_readable(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:  # an ICMP error about our datagram (IP_RECVERR)
            self.finish(failure_text(exc))
            return
        self.on_datagram(data)

    def on_datagram(self, data: bytes) -> None:
        """A datagram arrived: :meth:`finish` with the verdict, or return to keep waiting."""
        raise NotImplementedError


def reply_failure(check: UdpCheck, reply: bytes) -> str | None:
    """Why ``reply`` does not satisfy ``require_reply`` (None: it does)."""
    if not check.min_reply_length <= len(reply) <= check.max_reply_length:
        return f"reply length {len(reply)} outside {check.min_reply_length}..{check.max_reply_length}"
    expected, ignored = check.reply_data, check.reply_mask
    for index in range(min(len(reply), len(expected))):
        if (reply[index] ^ expected[index]) & ~(ignored[index] if ignored else 0) & 0xFF:
            return f"reply data mismatch at byte {index}"
    return None


class _UdpExchange(DatagramExchange):
    __slots__ = ("check",)

    def __init__(self, loop: asyncio.AbstractEventLoop, target: Target, check: UdpCheck, done: Done) -> None:
        super().__init__(loop, target, done)
        self.check = check

    def new_socket(self) -> _socket.socket:
        return _socket.socket(self.target.family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)

    def request(self) -> bytes:
        return self.check.payload if self.check.payload is not None else FILLER

    def on_datagram(self, data: bytes) -> None:
        self.finish(reply_failure(self.check, data) if self.check.require_reply else None)

    def timed_out(self) -> None:
        """No answer and no ICMP error: keepalived counts that as up unless a reply is required."""
        self.finish("no reply" if self.check.require_reply else None)


class UdpProbe:
    """UDP_CHECK on the raw-socket path."""

    __slots__ = ("check", "target")

    def __init__(self, check: UdpCheck) -> None:
        self.check = check
        self.target = target_of(check.common)

    def start(self, done: Done) -> _UdpExchange:
        exchange = _UdpExchange(asyncio.get_running_loop(), self.target, self.check, done)
        exchange.open()
        return exchange
