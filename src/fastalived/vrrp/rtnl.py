"""VIP add/remove as pre-built rtnetlink messages, sent synchronously from the role's loop.

Taking over is latency critical: keepalived adds the VIPs in the same pass that sends the first
advert. Each instance's RTM_NEWADDR / RTM_DELADDR requests are packed once when it is bound
(:func:`address_message`); on a transition the role queues them and :meth:`RtnlSender.flush`
writes the whole tick's batch with one ``send`` on a plain non-blocking NETLINK_ROUTE socket.
The kernel runs rtnetlink requests inside ``sendmsg``, so the addresses are in place when it
returns and the GARPs can follow at once. Acks (one per request, NLM_F_ACK) are read later by a
loop reader and only failures are logged; "already there" / "already gone" are not failures,
which keeps add and delete idempotent like the pyroute2 path in :mod:`.addresses`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable, Sequence

from fastalived.netlink import (
    NETLINK_CAP_ACK,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    NLMSG_ERROR_CODE,
    NLMSGHDR,
    SO_RCVBUFFORCE,
    SOL_NETLINK,
    attr,
    message,
)

log = logging.getLogger("fastalived.vrrp")

RTM_NEWADDR, RTM_DELADDR = 20, 21
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
IFA_F_NODAD = 0x02
ADD_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL  # as ``ip addr add``
DEL_FLAGS = NLM_F_REQUEST | NLM_F_ACK
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_SEQ = struct.Struct("=I")
_ADD_OK = {errno.EEXIST}
_DEL_OK = {errno.EADDRNOTAVAIL, errno.ENOENT, errno.ESRCH, errno.ENODEV}
RECV_BUFFER = 4 << 20  # room for the acks of hundreds of instances taking over in one tick
RECV_SIZE = 65536


def address_message(
    add: bool,
    index: int,
    address: bytes,
    prefixlen: int,
    *,
    peer: bytes | None = None,
    broadcast: bytes | None = None,
    scope: int = 0,
    label: str | None = None,
) -> bytes:
    """One RTM_NEWADDR (``add``) or RTM_DELADDR request with sequence number 0, as iproute2
    encodes ``ip addr add|del ADDRESS/PREFIX [peer P] [brd B] [scope S] [label L] dev DEV``.

    IPv6 addresses get IFA_F_NODAD on add, so they are usable at once (keepalived does the same).
    """
    family = socket.AF_INET6 if len(address) == 16 else socket.AF_INET
    flags = IFA_F_NODAD if add and family == socket.AF_INET6 else 0
    body = _IFADDRMSG.pack(family, prefixlen, flags, scope if add else 0, index)
    body += attr(IFA_LOCAL, address) + attr(IFA_ADDRESS, peer if peer is not None else address)
    if add and broadcast is not None:
        body += attr(IFA_BROADCAST, broadcast)
    if add and label is not None:
        body += attr(IFA_LABEL, label.encode() + b"\0")
    return message(RTM_NEWADDR if add else RTM_DELADDR, ADD_FLAGS if add else DEL_FLAGS, 0, body)


class RtnlSender:
    """A non-blocking NETLINK_ROUTE socket: queue pre-built requests, ``flush`` them in one send,
    read the acks from the loop and log the failures."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, socket.NETLINK_ROUTE)
        try:
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER)
            except PermissionError:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
            try:  # acks carry only the request's header, not the whole request
                self._sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
            except OSError:
                pass
            self._sock.bind((0, 0))
        except BaseException:
            self._sock.close()
            raise
        self._loop = loop
        if loop is not None:
            loop.add_reader(self._sock.fileno(), self.read_acks)
        self._seq = 0
        self._queued = bytearray()
        self._pending: dict[int, tuple[bool, str]] = {}  # seq -> (add, what) awaiting its ack
        self.failures = 0
        self.on_failure: Callable[[bool, str, int], None] | None = None

    def queue(self, requests: Sequence[tuple[bytes, str]]) -> None:
        """Queue pre-built requests (from :func:`address_message`) with a text for the log."""
        out = self._queued
        pending = self._pending
        for request, what in requests:
            self._seq = seq = (self._seq + 1) & 0xFFFFFFFF or 1
            start = len(out)
            out += request
            _SEQ.pack_into(out, start + 8, seq)
            pending[seq] = (request[4] == RTM_NEWADDR, what)

    def flush(self) -> None:
        """Hand everything queued to the kernel, which applies it before ``send`` returns."""
        if not self._queued:
            return
        batch, self._queued = self._queued, bytearray()
        try:
            self._sock.send(batch)
        except OSError as exc:  # the whole batch was refused (e.g. out of memory)
            log.warning("netlink address change failed: %s", exc)
            self.failures += 1
            self._pending.clear()

    def read_acks(self) -> None:
        """Read every waiting ack; log the requests the kernel refused."""
        while True:
            try:
                data = self._sock.recv(RECV_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:  # ENOBUFS: acks were lost, the requests still ran
                log.debug("netlink acks lost: %s", exc)
                self._pending.clear()
                continue
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _flags, seq, _pid = NLMSGHDR.unpack_from(data, offset)
                if length < 16:
                    break
                if kind == NLMSG_ERROR and offset + 20 <= len(data):
                    code = -NLMSG_ERROR_CODE.unpack_from(data, offset + 16)[0]
                    request = self._pending.pop(seq, None)
                    if code and request is not None:
                        add, what = request
                        if code not in (_ADD_OK if add else _DEL_OK):
                            self.failures += 1
                            log.warning("netlink %s %s failed: %s", "add" if add else "del", what, os.strerror(code))
                            if self.on_failure is not None:
                                self.on_failure(add, what, code)
                offset += (length + 3) & ~3

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._loop = None
        self._sock.close()
