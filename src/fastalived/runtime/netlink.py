"""Netlink framing shared by the IPVS client, the VRRP rtnetlink fast path and the tests.

Only what every netlink protocol has in common: the ``nlmsghdr``, ``nlattr`` packing and
parsing, the one walk over the messages of a datagram (:func:`messages`), the error type and the
flag constants (``include/uapi/linux/netlink.h``). Protocol specific encoders live with their
users (:mod:`fastalived.ipvs.netlink`, :mod:`fastalived.vrrp.rtnl`). Parsers never trust a
length: a truncated or lying header ends the walk instead of reading past the data.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterator

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
SOL_NETLINK = 270
SO_RCVBUFFORCE = 33  # asm-generic/socket.h; not exported by Python
NETLINK_CAP_ACK = 10

NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, seq, pid
NLATTR = struct.Struct("=HH")  # length, type
NLMSG_ERROR_CODE = struct.Struct("=i")  # the negative errno right after the error's nlmsghdr


class NetlinkError(OSError):
    """A request the kernel refused; ``errno`` is the kernel's error code."""

    def __init__(self, code: int) -> None:
        super().__init__(code, os.strerror(code))


class MalformedReply(NetlinkError):
    """A reply we could not decode (a missing attribute, a short payload): EPROTO, never a crash."""

    def __init__(self, what: str) -> None:
        super().__init__(errno.EPROTO)
        self.what = what

    def __str__(self) -> str:
        return f"malformed netlink reply: {self.what}"


DECODE_ERRORS = (KeyError, IndexError, ValueError, struct.error)  # what a decoder raises on lying input


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    length = 4 + len(payload)
    return NLATTR.pack(length, kind) + payload + bytes(-length % 4)


def message(msg_type: int, flags: int, seq: int, payload: bytes) -> bytes:
    """A whole netlink message: ``nlmsghdr`` (pid 0) plus ``payload``."""
    return NLMSGHDR.pack(16 + len(payload), msg_type, flags, seq, 0) + payload


def parse_attrs(data: bytes | bytearray, start: int = 0, end: int | None = None) -> dict[int, bytes]:
    """Attribute type (flags stripped) -> payload, for the attributes in ``data[start:end]``."""
    end = len(data) if end is None else min(end, len(data))
    attrs: dict[int, bytes] = {}
    unpack = NLATTR.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4 or start + length > end:
            break
        attrs[kind & 0x3FFF] = bytes(data[start + 4 : start + length])
        start += (length + 3) & ~3
    return attrs


def messages(data: bytes | bytearray, size: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """``(type, seq, offset, length)`` of each message in the first ``size`` bytes of a datagram.

    One datagram carries many dump replies or acks; every reader walks them here, so a short or
    lying ``nlmsg_len`` is handled once: the walk stops rather than read beyond the data.
    """
    end = len(data) if size is None else size
    offset = 0
    unpack = NLMSGHDR.unpack_from
    while offset + 16 <= end:
        length, kind, _flags, seq, _pid = unpack(data, offset)
        if length < 16 or offset + length > end:
            return
        yield kind, seq, offset, length
        offset += (length + 3) & ~3


def error_code(data: bytes | bytearray, offset: int, length: int) -> int:
    """The errno of the ``NLMSG_ERROR`` message at ``offset`` (0 is an ack); EPROTO if it is cut short."""
    if length < 20:
        return errno.EPROTO
    code: int = -NLMSG_ERROR_CODE.unpack_from(data, offset + 16)[0]
    return code

