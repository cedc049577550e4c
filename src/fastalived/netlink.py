"""Generic netlink framing shared by the IPVS client and the VRRP rtnetlink fast path.

Only what every netlink protocol has in common: the ``nlmsghdr``, ``nlattr`` packing and
parsing, the error type and the flag constants (``include/uapi/linux/netlink.h``). Protocol
specific encoders live with their users (:mod:`fastalived.ipvs.netlink`,
:mod:`fastalived.vrrp.rtnl`).
"""

from __future__ import annotations

import os
import struct

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


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    length = 4 + len(payload)
    return NLATTR.pack(length, kind) + payload + bytes(-length % 4)


def message(msg_type: int, flags: int, seq: int, payload: bytes) -> bytes:
    """A whole netlink message: ``nlmsghdr`` (pid 0) plus ``payload``."""
    return NLMSGHDR.pack(16 + len(payload), msg_type, flags, seq, 0) + payload


def parse_attrs(data: bytes | bytearray, start: int = 0, end: int | None = None) -> dict[int, bytes]:
    """Attribute type (flags stripped) -> payload, for the attributes in ``data[start:end]``."""
    end = len(data) if end is None else end
    attrs: dict[int, bytes] = {}
    unpack = NLATTR.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4:
            break
        attrs[kind & 0x3FFF] = data[start + 4 : start + length]
        start += (length + 3) & ~3
    return attrs
