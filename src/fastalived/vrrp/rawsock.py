"""Pure-Python stand-in for ``fastalived._vrrp``: batched raw-socket I/O, timerfd, clock, steady adverts.

The compiled module does this with recvmmsg/sendmmsg and reads the control messages in C; this one
loops over ``recvmsg``/``sendto`` so the daemon still runs where the extension is not built or
``FASTALIVED_NO_EXTENSIONS=1``. Both return the same values; code against :mod:`fastalived.vrrp.wire`.
:class:`SteadyTable` is shared: the compiled ``recv_sorted`` reads its two lists directly.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import struct
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from fastalived.vrrp.codec import UNKNOWN_HOP_LIMIT

if TYPE_CHECKING:
    import ctypes

# Large enough for any valid VRRP packet (v3/IPv6 with 255 addresses + a 60-byte IPv4 header).
RECV_BUFFER_SIZE = 4224
# Room for an IPV6_HOPLIMIT cmsg plus an IPV6_PKTINFO one should the caller enable it.
RECV_CONTROL_SIZE = 128
SO_TIMESTAMPNS = 35  # == SCM_TIMESTAMPNS: the kernel stamps each received packet (CLOCK_REALTIME)
# Errors that mean "the socket is full / empty right now", not a failure.
_WOULD_BLOCK = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})
_IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
_TIMESPEC = struct.Struct("@qq")
_TFD_NONBLOCK_CLOEXEC = os.O_NONBLOCK | os.O_CLOEXEC  # == TFD_NONBLOCK | TFD_CLOEXEC on Linux
_TFD_TIMER_ABSTIME = 1
_CLOCK_MONOTONIC = 1

Received = tuple[bytes, str, int, float]  # (data, source address, hop limit, arrival)


def monotonic() -> float:
    """Seconds on CLOCK_MONOTONIC, the clock every core takes ``now`` from."""
    return time.monotonic()


def _borrowed_socket(fd: int) -> socket.socket:
    """A socket object over ``fd`` that the caller must ``detach()`` so the fd stays open."""
    return socket.socket(fileno=fd)


def send_many(fd: int, packets: Sequence[bytes], dests: Sequence[tuple[object, ...]], family: int = 0) -> int:
    """Send ``packets[i]`` to ``dests[i]`` on a raw socket; return how many the kernel took.

    Stops at the first failure. A full socket buffer (EAGAIN/ENOBUFS) is not an error; any
    other error is raised only when nothing was sent, so the caller retries the rest and sees it.
    ``family`` only spares the compiled build a getsockopt.
    """
    if len(packets) != len(dests):
        raise ValueError("one destination per packet")
    sock = _borrowed_socket(fd)
    sent = 0
    try:
        for packet, dest in zip(packets, dests, strict=True):
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


def recv_many(fd: int, max_packets: int = 64) -> list[Received]:
    """Read up to ``max_packets`` waiting packets without blocking.

    Returns ``(data, source address without zone, hop limit, arrival)`` per packet; the hop limit
    comes from IPV6_HOPLIMIT (the caller sets IPV6_RECVHOPLIMIT) and is -1 for IPv4, whose TTL is
    in the delivered IP header; the arrival is the kernel's receive time (CLOCK_REALTIME seconds,
    with SO_TIMESTAMPNS on the socket), else 0.0. Errors other than "nothing waiting" are raised
    only if nothing was read.
    """
    sock = _borrowed_socket(fd)
    received: list[Received] = []
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
            source = address[0].partition("%")[0]
            received.append((data, source, _hop_limit(ancillary), _arrival(ancillary)))
    finally:
        sock.detach()
    return received


# ------------------------------------------------------------------------------------ timerfd


@functools.cache
def _libc() -> ctypes.CDLL:
    """libc through ctypes, loaded on first use: only the pure path needs it, and not at start."""
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _raise_errno() -> None:
    import ctypes

    error = ctypes.get_errno()
    raise OSError(error, os.strerror(error))


def timer_open() -> int:
    """A non-blocking CLOCK_MONOTONIC timerfd: the loop's one protocol timer, exact to the
    microsecond (the loop's own timers round to milliseconds)."""
    fd: int = _libc().timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK_CLOEXEC)
    if fd < 0:
        _raise_errno()
    return fd


def timer_set(fd: int, deadline: float | None) -> None:
    """Arm the timerfd for the absolute monotonic ``deadline`` (None disarms it); a deadline
    in the past fires at once."""
    if deadline is None:
        seconds = nanoseconds = 0
    else:
        total = max(1, round(deadline * 1e9))  # 0 would disarm
        seconds, nanoseconds = divmod(total, 1_000_000_000)
    import ctypes

    spec = (ctypes.c_long * 4)(0, 0, seconds, nanoseconds)  # struct itimerspec: interval, value
    flags = _TFD_TIMER_ABSTIME if deadline is not None else 0
    if _libc().timerfd_settime(fd, flags, spec, None) < 0:
        _raise_errno()


def timer_clear(fd: int) -> int:
    """Consume the expiry count (0 when the timer has not fired)."""
    try:
        return int.from_bytes(os.read(fd, 8), sys.byteorder)
    except BlockingIOError:
        return 0


# ------------------------------------------------------------------------------------ steady adverts

# Bytes of a received IPv4 VRRP packet that may change between two otherwise identical adverts
# from one master: TOS, IP ID and the header checksum (the kernel has verified it).
_STEADY_VARIABLE = (1, 4, 5, 10, 11)


class SteadyTable:
    """Per VRID of one IPv4 socket: the last fully validated packet whose repeat only restarts
    its instance's Master_Down_Timer, and that instance (the role decides both, see
    ``VrrpMachine.rearms_only``). ``recv_sorted`` (either build) matches received packets against it."""

    def __init__(self) -> None:
        self.templates: list[bytes | None] = [None] * 256
        self.owners: list[object] = [None] * 256
        self.handled = 0  # repeats the last ``recv_sorted`` gave to their :class:`Watch`

    def set(self, vrid: int, packet: bytes, owner: object) -> None:
        self.templates[vrid] = bytes(packet)
        self.owners[vrid] = owner

    def clear(self, vrid: int) -> None:
        self.templates[vrid] = None
        self.owners[vrid] = None

    def get(self, vrid: int) -> bytes | None:
        return self.templates[vrid]


class SteadyReader:
    """The stand-in for the compiled ``SteadyReader`` (see there)."""

    def __init__(
        self,
        fd: int,
        table: SteadyTable,
        on_read: Callable[[list[tuple[object, float]], list[Received], int], object],
        on_error: Callable[[], object],
    ) -> None:
        self._fd, self._table, self._on_read, self._on_error = fd, table, on_read, on_error

    def __call__(self) -> None:
        try:
            hits, packets = recv_sorted(self._fd, self._table, 64)
        except OSError:
            self._on_error()
            return
        count = len(hits) + len(packets) + self._table.handled
        if hits or packets or count > 1:
            self._on_read(hits, packets, count)


def steady_match(template: bytes, data: bytes) -> bool:
    """Whether ``data`` repeats ``template`` in everything but TOS, IP ID and header checksum."""
    if len(template) != len(data) or len(data) < 20:
        return False
    pairs = enumerate(zip(template, data, strict=True))
    return all(a == b for i, (a, b) in pairs if i not in _STEADY_VARIABLE)


def _steady_vrid(data: bytes) -> int | None:
    """The VRID byte of a received IPv4 packet, or None when it is too short to have one."""
    if len(data) < 20:
        return None
    header_len = (data[0] & 0x0F) * 4
    return data[header_len + 1] if len(data) >= header_len + 2 else None


def recv_sorted(
    fd: int, table: SteadyTable, max_packets: int = 64
) -> tuple[list[tuple[object, float]], list[Received]]:
    """:func:`recv_many` on an IPv4 raw socket, split: ``(owner, arrival)`` for packets that repeat
    their VRID's template (one entry per packet, in order) and every other packet, as ``recv_many``
    returns it. A VRID whose packet did not match loses its template, so nothing after it in
    the batch is taken out of order. Repeats whose owner is a :class:`Watch` go to it (counted
    in ``table.handled``; those it declines come back with its binding as owner)."""
    hits: list[tuple[object, float]] = []
    packets: list[Received] = []
    handled = 0
    sets: set[WatchSet] = set()  # of the watches that took a repeat
    received = recv_many(fd, max_packets)
    now = monotonic()
    offset = now - time.time()
    for item in received:
        data = item[0]
        vrid = _steady_vrid(data)
        if vrid is not None:
            template = table.templates[vrid]
            if template is not None and steady_match(template, data):
                owner, stamp = table.owners[vrid], item[3]
                if isinstance(owner, Watch):
                    at = stamp + offset
                    if owner.hear(now if at > now or not stamp else at):
                        handled += 1
                        if owner.wset is not None:
                            sets.add(owner.wset)
                        continue
                    owner = owner.binding
                hits.append((owner, stamp))
                continue
            table.clear(vrid)
        packets.append(item)
    for wset in sets:
        wset.refresh(now)
    table.handled = handled
    return hits, packets


# ------------------------------------------------------------------------------------ C-served timers


class Watch:
    """A steady backup's Master_Down_Timer outside the loop: the stand-in for the compiled
    ``Watch`` (see there)."""

    def __init__(self, machine: Any, inst: Any, binding: Any, deadline: float, on_expire: Callable[[], object]) -> None:
        self.binding, self.on_expire = binding, on_expire
        self._machine, self._inst = machine, inst
        self.wset: WatchSet | None = None  # the set serving it, once added
        self.deadline = deadline
        self.active = True

    def hear(self, at: float) -> bool:
        """One exact repeat at ``at``: True when applied, False when the role must take it."""
        if not self.active or self.deadline <= at:
            return False
        result = self._machine.steady_advert(at)
        if result is None:
            return False
        self.deadline = result
        self._inst.adverts_received += 1
        return True


class WatchSet:
    """Every :class:`Watch` behind one timerfd: the stand-in for the compiled ``WatchSet``."""

    def __init__(self) -> None:
        self.fd = timer_open()
        self._watches: list[Watch] = []
        self._armed: float | None = None

    def __len__(self) -> int:
        return len(self._watches)

    def _arm(self, deadline: float | None) -> None:
        timer_set(self.fd, deadline)
        self._armed = deadline

    def add(self, watch: Watch) -> None:
        self._watches.append(watch)
        watch.wset = self
        if self._armed is None or watch.deadline < self._armed:
            self._arm(watch.deadline)

    def refresh(self, now: float) -> None:
        """After repeats moved deadlines: as the compiled ``WatchSet.refresh`` (see there)."""
        earliest = min((w.deadline for w in self._watches), default=None)
        armed = self._armed
        if earliest is not None and armed is not None and earliest > armed and armed - now < (earliest - now) / 2:
            self._arm(earliest)

    def remove(self, watch: Watch) -> None:
        watch.active = False
        if watch in self._watches:
            self._watches.remove(watch)

    def tick(self) -> None:
        if self.fd < 0 or not timer_clear(self.fd):
            return
        now = monotonic() + 0.0002  # io.TIMER_SLACK
        for watch in [w for w in self._watches if w.deadline <= now]:
            if watch.active:
                watch.on_expire()
        self._arm(min((w.deadline for w in self._watches), default=None))

    def close(self) -> None:
        for watch in self._watches:
            watch.active = False
        self._watches = []
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _with_ip_id(packet: bytearray, ident: int) -> None:
    """Write IP ID ``ident`` (mod 2**16) and the header checksum into an IPv4 packet in place."""
    header_len = (packet[0] & 0x0F) * 4
    packet[4:6] = (ident & 0xFFFF).to_bytes(2, "big")
    packet[10:12] = b"\0\0"
    total = sum(int.from_bytes(packet[i : i + 2], "big") for i in range(0, header_len, 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    packet[10:12] = (~total & 0xFFFF).to_bytes(2, "big")


class Pacer:
    """A steady master's adverts on their own timerfd: the stand-in for the compiled ``Pacer``
    (see there), with a one-shot timer re-armed per advert instead of a periodic one."""

    def __init__(
        self,
        sock: int,
        family: int,
        packets: Sequence[bytes],
        dests: Sequence[tuple[object, ...]],
        ipv4: bool,
        ip_id: int,
        period: float,
        first: float,
        machine: Any,
        binding: Any,
        sender: Any,
        priority: int,
        on_stale: Callable[[], object],
    ) -> None:
        self.fd = -1
        if len(packets) != len(dests) or not 0 < len(packets) <= 64:
            raise ValueError("one destination per packet, 1 to 64 of them")
        if ipv4 and any(len(p) < 20 or len(p) < (p[0] & 0x0F) * 4 for p in packets):
            raise ValueError("not an IPv4 packet")
        self._sock, self._family, self._dests = sock, family, list(dests)
        self._packets = [bytearray(p) for p in packets]
        self._ipv4, self.ip_id, self._period, self.next = ipv4, ip_id, period, first
        self._machine, self._binding, self._sender, self._priority = machine, binding, sender, priority
        self._on_stale = on_stale
        self.send_errors = 0
        self.fd = timer_open()
        timer_set(self.fd, first)

    def tick(self) -> None:
        if self.fd < 0 or not timer_clear(self.fd):
            return
        now = max(monotonic(), self.next)
        machine = self._machine
        if self._binding.sender is not self._sender or machine.effective_priority != self._priority:
            self._on_stale()
            return
        if machine.advert_due(now) is None:
            self._on_stale()
            return
        following = self.next + self._period
        self.next = following if following > now else now + self._period
        timer_set(self.fd, self.next)
        if self._ipv4:
            for packet in self._packets:
                self.ip_id += 1
                _with_ip_id(packet, self.ip_id)
        count = len(self._packets)
        try:
            sent = send_many(self._sock, [bytes(p) for p in self._packets], self._dests, self._family)
        except OSError:
            sent = 0
        self.send_errors += count - sent
        self._binding.adverts_sent += count
        self._sender.ip_id = self.ip_id

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
