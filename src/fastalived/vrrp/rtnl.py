"""VIP add/remove as rtnetlink messages: the one encoder, the loop's fast path, the slow path.

Taking over is latency critical: keepalived adds the VIPs in the same pass that sends the first
advert. Each instance's RTM_NEWADDR / RTM_DELADDR requests are packed once when it is bound
(:func:`address_requests`); on a transition the role queues them and :meth:`RtnlSender.flush`
writes the whole tick's batch with one ``send`` on a plain non-blocking NETLINK_ROUTE socket.
The kernel runs rtnetlink requests inside ``sendmsg``, so the addresses are in place when it
returns and the GARPs can follow at once. Acks (one per request, NLM_F_ACK) are read later by a
loop reader and only failures are logged; "already there" / "already gone" are not failures,
which keeps add and delete idempotent. The slow path (start-up clean-up, reloads, the fallback
when no request could be pre-built) sends the same messages through :class:`RtnlRequester`, a
blocking socket on the netlink helper thread that waits for the acks.

Policy routing rules (``virtual_rules``, ``static_rules``) are encoded here too
(:func:`rule_message`) and go through the slow path's :class:`RtnlRequester`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable, Sequence

from fastalived.config.model import IPAddressSpec, RuleSpec
from fastalived.runtime.netlink import (
    NETLINK_CAP_ACK,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    SO_RCVBUFFORCE,
    SOL_NETLINK,
    attr,
    error_code,
    message,
    messages,
)

log = logging.getLogger("fastalived.vrrp")

RTM_NEWADDR, RTM_DELADDR = 20, 21
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
IFA_F_NODAD = 0x02
ADD_FLAGS = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL  # as ``ip addr add``
DEL_FLAGS = NLM_F_REQUEST | NLM_F_ACK
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_SEQ = struct.Struct("=I")
# "Already there" / "already gone" answers that make add/delete idempotent.
ADD_OK = frozenset({errno.EEXIST})
DEL_OK = frozenset({errno.EADDRNOTAVAIL, errno.ENOENT, errno.ESRCH, errno.ENODEV})
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
RECV_BUFFER = 4 << 20  # room for the acks of hundreds of instances taking over in one tick
RECV_SIZE = 65536
ACK_TIMEOUT = 5.0  # seconds the slow path waits for the kernel's acks


def keyword_number(value: str | None, names: dict[str, int]) -> int | None:
    """A keyword (``link``, ``static``...) or a plain number, as ``ip`` accepts them."""
    if value is None:
        return None
    return names[value] if value in names else int(value, 0)


def is_harmless(add: bool, code: int) -> bool:
    """Whether an rtnetlink answer means done: success, or already there / already gone."""
    return code == 0 or code in (ADD_OK if add else DEL_OK)


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


def address_requests(spec: IPAddressSpec, index: int) -> tuple[bytes, bytes]:
    """The ``ip addr add`` and ``ip addr del`` requests for a configured address on interface
    ``index``; ValueError / KeyError for a scope ``ip`` would not take either."""
    address = spec.address.ip.packed
    prefixlen = spec.address.network.prefixlen
    peer = spec.peer.ip.packed if spec.peer is not None else None
    add = address_message(
        True, index, address, prefixlen, peer=peer, broadcast=spec.brd.packed if spec.brd is not None else None,
        scope=keyword_number(spec.scope, SCOPES) or 0, label=spec.label,
    )  # fmt: skip
    return add, address_message(False, index, address, prefixlen, peer=peer)


RTM_NEWRULE, RTM_DELRULE = 32, 33
_FIB_RULE_HDR = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, res1, res2, action, flags
FIB_RULE_INVERT = 0x2
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_GOTO, FRA_PRIORITY, FRA_FWMARK = 1, 2, 3, 4, 6, 10
FRA_SUPPRESS_PREFIXLEN, FRA_TABLE, FRA_FWMASK, FRA_OIFNAME, FRA_L3MDEV = 14, 15, 16, 17, 19
FRA_UID_RANGE, FRA_PROTOCOL, FRA_IP_PROTO, FRA_SPORT_RANGE, FRA_DPORT_RANGE = 20, 21, 22, 23, 24
RULE_ACTIONS = {"table": 1, "goto": 2, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}  # FR_ACT_*
_U32, _U32_PAIR, _U16_PAIR = struct.Struct("=I"), struct.Struct("=II"), struct.Struct("=HH")


def rule_message(add: bool, rule: RuleSpec) -> bytes:
    """The RTM_NEWRULE (``add``) or RTM_DELRULE request for a configured rule, as keepalived and
    ``ip rule add|del`` encode it: a table below 256 in the header, a larger one as FRA_TABLE;
    interfaces by name, so the rule may name an interface that does not exist yet."""
    family = socket.AF_INET6 if rule.family == 6 else socket.AF_INET
    table = rule.table if rule.action == "table" and not rule.l3mdev and rule.table is not None else 0
    header_table = table if table < 256 else 0
    src_len = rule.src.prefixlen if rule.src is not None else 0
    dst_len = rule.dst.prefixlen if rule.dst is not None else 0
    flags = FIB_RULE_INVERT if rule.invert else 0
    body = _FIB_RULE_HDR.pack(family, dst_len, src_len, rule.tos, header_table, 0, 0, RULE_ACTIONS[rule.action], flags)
    u32 = _U32.pack
    if header_table != table:
        body += attr(FRA_TABLE, u32(table))
    if rule.src is not None:
        body += attr(FRA_SRC, rule.src.network_address.packed)
    if rule.dst is not None:
        body += attr(FRA_DST, rule.dst.network_address.packed)
    body += attr(FRA_PRIORITY, u32(rule.priority))
    if rule.fwmark is not None:
        body += attr(FRA_FWMARK, u32(rule.fwmark))
    if rule.fwmask is not None:
        body += attr(FRA_FWMASK, u32(rule.fwmask))
    if rule.suppress_prefixlength is not None:
        body += attr(FRA_SUPPRESS_PREFIXLEN, u32(rule.suppress_prefixlength))
    if rule.iif is not None:
        body += attr(FRA_IIFNAME, rule.iif.encode() + b"\0")
    if rule.oif is not None:
        body += attr(FRA_OIFNAME, rule.oif.encode() + b"\0")
    if rule.uidrange is not None:
        body += attr(FRA_UID_RANGE, _U32_PAIR.pack(*rule.uidrange))
    if rule.l3mdev:
        body += attr(FRA_L3MDEV, b"\x01")
    if rule.protocol is not None:
        body += attr(FRA_PROTOCOL, bytes((rule.protocol,)))
    if rule.ipproto is not None:
        body += attr(FRA_IP_PROTO, bytes((rule.ipproto,)))
    if rule.sport is not None:
        body += attr(FRA_SPORT_RANGE, _U16_PAIR.pack(*rule.sport))
    if rule.dport is not None:
        body += attr(FRA_DPORT_RANGE, _U16_PAIR.pack(*rule.dport))
    if rule.action == "goto" and rule.goto is not None:
        body += attr(FRA_GOTO, u32(rule.goto))
    return message(RTM_NEWRULE if add else RTM_DELRULE, ADD_FLAGS if add else DEL_FLAGS, 0, body)


def describe_rule(rule: RuleSpec) -> str:
    """A rule as ``ip rule`` would write it, for the log."""
    words = ["inet6"] if rule.family == 6 else []
    words += ["not"] if rule.invert else []
    words += [f"from {rule.src}"] if rule.src is not None else []
    words += [f"to {rule.dst}"] if rule.dst is not None else []
    words += [f"iif {rule.iif}"] if rule.iif is not None else []
    words += [f"oif {rule.oif}"] if rule.oif is not None else []
    words += [f"fwmark {rule.fwmark:#x}"] if rule.fwmark is not None else []
    action = "l3mdev" if rule.l3mdev else f"lookup {rule.table}" if rule.action == "table" else rule.action
    words += [f"pref {rule.priority}", f"goto {rule.goto}" if rule.action == "goto" else action]
    return " ".join(words)


def _route_socket(blocking: bool) -> socket.socket:
    """A bound NETLINK_ROUTE socket with a large receive buffer whose acks omit the request."""
    flags = 0 if blocking else socket.SOCK_NONBLOCK
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | flags, socket.NETLINK_ROUTE)
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        try:  # acks carry only the request's header, not the whole request
            sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        except OSError:
            pass
        sock.bind((0, 0))
    except BaseException:
        sock.close()
        raise
    return sock


class _Sequencer:
    """Stamps each request with the next sequence number (never 0) as it is appended to a batch."""

    def __init__(self) -> None:
        self._seq = 0

    def append(self, batch: bytearray, request: bytes) -> int:
        self._seq = seq = (self._seq + 1) & 0xFFFFFFFF or 1
        start = len(batch)
        batch += request
        _SEQ.pack_into(batch, start + 8, seq)
        return seq


class RtnlSender:
    """A non-blocking NETLINK_ROUTE socket: queue pre-built requests, ``flush`` them in one send,
    read the acks from the loop and log the failures."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._sock = _route_socket(blocking=False)
        self._loop = loop
        if loop is not None:
            loop.add_reader(self._sock.fileno(), self.read_acks)
        self._sequencer = _Sequencer()
        self._queued = bytearray()
        self._pending: dict[int, tuple[bool, str]] = {}  # seq -> (add, what) awaiting its ack
        self.failures = 0
        self.on_failure: Callable[[bool, str, int], None] | None = None

    def queue(self, requests: Sequence[tuple[bytes, str]]) -> None:
        """Queue pre-built requests (from :func:`address_message`) with a text for the log."""
        for request, what in requests:
            seq = self._sequencer.append(self._queued, request)
            self._pending[seq] = (request[4] == RTM_NEWADDR, what)

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
            for kind, seq, offset, length in messages(data):
                if kind != NLMSG_ERROR:
                    continue
                code = error_code(data, offset, length)
                request = self._pending.pop(seq, None)
                if request is None or is_harmless(request[0], code):
                    continue
                add, what = request
                self.failures += 1
                log.warning("netlink %s %s failed: %s", "add" if add else "del", what, os.strerror(code))
                if self.on_failure is not None:
                    self.on_failure(add, what, code)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._loop = None
        self._sock.close()


class RtnlRequester:
    """A blocking NETLINK_ROUTE socket for the slow path: send a batch, wait for every ack."""

    def __init__(self) -> None:
        self._sock = _route_socket(blocking=True)
        self._sock.settimeout(ACK_TIMEOUT)
        self._sequencer = _Sequencer()

    def run(self, requests: Sequence[bytes]) -> list[int]:
        """Each request's errno (0: done), in order; OSError when the kernel does not answer."""
        batch = bytearray()
        seqs = [self._sequencer.append(batch, request) for request in requests]
        if not seqs:
            return []
        self._sock.send(batch)
        codes: dict[int, int] = {}
        wanted = set(seqs)
        while not wanted.issubset(codes):
            data = self._sock.recv(RECV_SIZE)
            for kind, seq, offset, length in messages(data):
                if kind == NLMSG_ERROR and seq in wanted:
                    codes[seq] = error_code(data, offset, length)
        return [codes[seq] for seq in seqs]

    def close(self) -> None:
        self._sock.close()
