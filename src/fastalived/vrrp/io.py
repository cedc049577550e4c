"""VRRP raw sockets and the timer heap, on the role's event loop.

One raw IP-protocol-112 socket per (interface, family) carries every instance on that interface:
the kernel hands each raw socket every VRRP packet anyway, so one socket per instance would only
multiply receive work. Reads are batched with ``recv_many`` from a loop reader; every packet carries
its kernel arrival time (SO_TIMESTAMPNS), so a read may come late without moving any deadline: after
a wakeup that found packets, the reader rests for READ_PAUSE and the rest of the burst is read in
one go (a backup's due Master_Down_Timer drains every socket first). All instance timers
share one heap and a single timerfd (the loop's own timers round to milliseconds, which would
make a backup take over up to 2 ms late) armed for the earliest deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import heapq
import ipaddress
import itertools
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from fastalived.runtime.netlink import SO_RCVBUFFORCE
from fastalived.vrrp import ah, wire
from fastalived.vrrp.machine import vrrp_interval_field
from fastalived.vrrp.pacing import Pacing, Watches

log = logging.getLogger("fastalived.vrrp")

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
IP_MULTICAST_ALL = 49
IPV6_MULTICAST_ALL = 29
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
IPV6_FREEBIND = 78
IPV6_CHECKSUM = 7
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_TCLASS = getattr(socket, "IPV6_TCLASS", 67)
VRRP_TOS = 0xC0
VRRP_TTL = 255
RECEIVE_BUFFER = 4 << 20  # room for one aligned burst of adverts from hundreds of instances
MAX_BATCH = 64  # packets per read (one recvmmsg call's worth)
READ_BATCHES = 4  # full batches read in one go before yielding to other callbacks
TIMER_SLACK = 0.0002  # deadlines this close count as due in the same wakeup (the timerfd is exact)
# After a read that found packets, the socket is read again this much later instead of on its next
# packet (and so on until a read finds nothing): a burst of adverts trickles in a few at a time,
# and each wakeup costs more than the packets it reads. Arrival times come from the kernel and a
# due Master_Down_Timer drains the sockets first, so this moves no deadline; it delays, by at most
# this, only what an advert triggers at once (a master hearing a higher priority; a priority-0
# release when the backup's skew time is shorter). min(1 ms, advert_int / 10) for every advert_int
# VRRP allows (>= 10 ms).
READ_PAUSE = 0.001

SockAddr = tuple[str, int] | tuple[str, int, int, int]  # sendto() address: IPv4, or IPv6 with scope
Packet = tuple[bytes, str, int, float]  # (data, source, hop limit or -1, arrival or 0.0), as recv_many returns


def open_vrrp_socket(
    family: int, ifname: str, ifindex: int, group: str, exclusive: bool = False, protocol: int = wire.VRRP_PROTO
) -> socket.socket:
    """A non-blocking raw VRRP socket bound to ``ifname`` and joined to the multicast group;
    ``exclusive`` (an instance's own mcast_dst_ip) also binds it to the group, so it receives
    that group's adverts only, as keepalived's sockets do, and no unicast. ``protocol`` is 51 for
    ``auth_type AH`` instances (IPv4 only), whose adverts travel inside AH.

    IPv4 uses IP_HDRINCL (we write keepalived's header: TOS 0xc0, TTL 255, our own IP ID).
    IPv6 lets the kernel fill in the checksum (IPV6_CHECKSUM), so it is right for whichever
    source address the kernel picks, and reports each packet's hop limit.
    """
    sock = socket.socket(family, socket.SOCK_RAW, protocol)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, ifname.encode())
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # arrival time per packet
        try:  # past net.core.rmem_max when privileged: a burst from hundreds of masters must fit
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        if family == socket.AF_INET:
            mreqn = struct.pack("4s4si", socket.inet_aton(group), b"\0" * 4, ifindex)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            if exclusive:
                sock.bind((group, 0))
        else:
            mreq6 = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 6)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_TCLASS, VRRP_TOS)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq6)
            try:  # Linux >= 4.20: only the groups this socket joined (mcast_dst_ip)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
            except OSError:
                pass
            if exclusive:
                sock.bind((group, 0, 0, ifindex))
    except BaseException:
        sock.close()
        raise
    return sock


class VrrpSocket:
    """A shared raw socket for one (interface, family) plus its send queue and drop counters."""

    def __init__(
        self,
        family: int,
        ifname: str,
        ifindex: int,
        group: str,
        exclusive: bool = False,
        protocol: int = wire.VRRP_PROTO,
    ) -> None:
        self.family = family
        self.protocol = protocol
        self.key = (ifname, family, group, protocol)  # its SocketPool key
        self.ifname = ifname
        self.ifindex = ifindex
        self.group = group
        self.group_packed = socket.inet_pton(family, group)
        self.sock = open_vrrp_socket(family, ifname, ifindex, group, exclusive, protocol)
        self.fd = self.sock.fileno()
        self.users = 0
        self.send_errors = 0
        # IPv4: exact repeats of a steady master's advert skip the Python decode (see recv_sorted);
        # never under AH, whose every advert is new (sequence number) and must be verified
        self.steady = wire.SteadyTable() if family == socket.AF_INET and protocol == wire.VRRP_PROTO else None
        self._out_packets: list[bytes] = []
        self._out_dests: list[SockAddr] = []
        self.resume: asyncio.TimerHandle | None = None  # pending read while the reader rests

    def destination(self, address: str) -> SockAddr:
        """sendto() address for a peer or the group; link-local IPv6 needs the interface index."""
        if self.family == socket.AF_INET:
            return (address, 0)
        scope = self.ifindex if ipaddress.IPv6Address(address).is_link_local or address == self.group else 0
        return (address, 0, 0, scope)

    def queue(self, packet: bytes, dest: SockAddr) -> None:
        self._out_packets.append(packet)
        self._out_dests.append(dest)

    def flush(self) -> int:
        """Send everything queued this tick in one ``send_many``; returns packets sent."""
        if not self._out_packets:
            return 0
        packets, dests = self._out_packets, self._out_dests
        self._out_packets, self._out_dests = [], []
        sent = 0
        while sent < len(packets):
            try:
                done = wire.send_many(self.fd, packets[sent:], dests[sent:], self.family)
            except OSError as exc:
                self.send_errors += 1
                log.debug("VRRP send on %s failed: %s", self.ifname, exc)
                sent += 1  # skip the packet the kernel refused, keep the rest
                continue
            if done == 0:  # socket buffer full: drop the rest of this tick, next advert will follow
                self.send_errors += len(packets) - sent
                break
            sent += done
        return sent

    def receive(self) -> tuple[list[tuple[object, float]], list[Packet], int]:
        """Up to MAX_BATCH waiting packets: (owner, arrival) of steady repeats, the rest, and how
        many repeats a ``wire.Watch`` took in C (see ``vrrp/pacing.py``)."""
        try:
            if self.steady is not None:
                hits, packets = wire.recv_sorted(self.fd, self.steady, MAX_BATCH)
                return hits, packets, self.steady.handled
            return [], wire.recv_many(self.fd, MAX_BATCH), 0
        except OSError as exc:
            log.debug("VRRP receive on %s failed: %s", self.ifname, exc)
            return [], [], 0

    def close(self) -> None:
        self.sock.close()


def make_send_only(vsock: VrrpSocket, source: str, hops: int) -> None:
    """An IPv6 socket for one instance's adverts: from ``source`` (unicast_src_ip/mcast_src_ip,
    which the kernel would not pick by itself; keepalived sets it per packet) with hop limit
    ``hops`` (unicast_ttl). It reads nothing: a filter drops all it would receive, the shared
    socket of the interface does the receiving."""
    sock = vsock.sock
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _DROP_ALL.program)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    vsock.steady = None
    if not source:
        return
    with contextlib.suppress(OSError):  # Linux >= 4.15; the address may still be tentative (DAD)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
    try:
        sock.bind((source, 0, 0, vsock.ifindex if ipaddress.IPv6Address(source).is_link_local else 0))
    except OSError as exc:
        log.warning("cannot send VRRP from %s on %s (%s); the kernel picks the source", source, vsock.ifname, exc)


class _DropAll:
    """A classic BPF program of one instruction, ``ret #0``, kept alive for setsockopt."""

    def __init__(self) -> None:
        self._code = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0))
        self.program = struct.pack("HL", 1, ctypes.addressof(self._code))


_DROP_ALL = _DropAll()


PacketHandler = Callable[[VrrpSocket, list[Packet], list[tuple[Any, float]]], None]  # steady: (owner, arrival)


class SocketPool:
    """Reference-counted :class:`VrrpSocket` per (interface, family, group), read by loop readers.

    The global group's socket also carries unicast; an instance's own ``mcast_dst_ip`` gets an
    ``exclusive`` socket bound to that group."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_packets: PacketHandler) -> None:
        self._loop = loop
        self._on_packets = on_packets
        self._sockets: dict[tuple[str, int, str, int], VrrpSocket] = {}

    def __iter__(self) -> Iterator[VrrpSocket]:
        return iter(self._sockets.values())

    def acquire(
        self,
        ifname: str,
        ifindex: int,
        family: int,
        group: str,
        exclusive: bool = False,
        protocol: int = wire.VRRP_PROTO,
        sender: tuple[str, int] | None = None,
    ) -> VrrpSocket:
        """The socket for these settings, opened on first use. ``sender`` (IPv6 source, hop
        limit) asks for a send-only socket bound to that source (see :func:`make_send_only`)."""
        key = (ifname, family, group, protocol)
        if sender is not None:
            key = (ifname, family, f"{group} from {sender[0]} hops {sender[1]}", protocol)
        vsock = self._sockets.get(key)
        if vsock is not None and vsock.ifindex != ifindex:  # interface was re-created
            self._close(vsock)
            vsock = None
        if vsock is None:
            vsock = VrrpSocket(family, ifname, ifindex, group, exclusive, protocol)
            vsock.key = key
            if sender is not None:
                make_send_only(vsock, *sender)
            else:
                self._loop.add_reader(vsock.fd, self._reader(vsock))
            self._sockets[key] = vsock
        vsock.users += 1
        return vsock

    def release(self, vsock: VrrpSocket) -> None:
        vsock.users -= 1
        if vsock.users <= 0 and self._sockets.get(vsock.key) is vsock:
            self._close(vsock)

    def close(self) -> None:
        for vsock in list(self._sockets.values()):
            self._close(vsock)

    def _close(self, vsock: VrrpSocket) -> None:
        vsock.flush()  # e.g. the priority-0 advert of the last instance leaving this socket
        self._sockets.pop(vsock.key, None)
        self._loop.remove_reader(vsock.fd)
        if vsock.resume is not None:
            vsock.resume.cancel()
            vsock.resume = None
        vsock.close()

    def drain_all(self) -> None:
        for vsock in list(self._sockets.values()):
            self.drain(vsock)

    def drain(self, vsock: VrrpSocket) -> None:
        """Hand over whatever is waiting on ``vsock`` now, without waiting for the loop's poll."""
        while True:
            hits, packets, handled = vsock.receive()
            if hits or packets:
                self._on_packets(vsock, packets, hits)
            if len(hits) + len(packets) + handled < MAX_BATCH:
                break

    def _read(self, vsock: VrrpSocket) -> int:
        """Up to READ_BATCHES batches, as long as they come full; returns packets read."""
        total = 0
        for _ in range(READ_BATCHES):
            hits, packets, handled = vsock.receive()
            if hits or packets:
                self._on_packets(vsock, packets, hits)
            count = len(hits) + len(packets) + handled
            total += count
            if count < MAX_BATCH:
                break
        return total

    def _reader(self, vsock: VrrpSocket) -> Callable[[], None]:
        """The loop reader: with a steady table, ``wire.SteadyReader`` reads in C and calls the
        role only for what is not a watched repeat (``vrrp/pacing.py``)."""
        if vsock.steady is not None:
            reader: Callable[[], None] = wire.SteadyReader(
                vsock.fd, vsock.steady, partial(self._steady_read, vsock), partial(self._readable, vsock)
            )
            return reader
        return partial(self._readable, vsock)

    def _steady_read(
        self, vsock: VrrpSocket, hits: list[tuple[object, float]], packets: list[Packet], count: int
    ) -> None:
        """The rest of a ``SteadyReader`` wakeup: as :meth:`_readable` after its first batch."""
        if hits or packets:
            self._on_packets(vsock, packets, hits)
        if count >= MAX_BATCH:
            count += self._read(vsock)
        if count > 1:
            self._rest(vsock)

    def _readable(self, vsock: VrrpSocket) -> None:
        if self._read(vsock) > 1:
            self._rest(vsock)

    def _rest(self, vsock: VrrpSocket) -> None:
        """More than one packet at once: a burst, more of it likely on its way: rest, then read it
        in one go. A lone packet (one master, or a quiet LAN) is just read: resting would cost a
        second wakeup and the reader's removal and return, for nothing to batch."""
        self._loop.remove_reader(vsock.fd)
        vsock.resume = self._loop.call_later(READ_PAUSE, self._resume, vsock)

    def _resume(self, vsock: VrrpSocket) -> None:
        vsock.resume = None
        if self._sockets.get(vsock.key) is not vsock:
            return
        if self._read(vsock):  # still arriving: rest again
            vsock.resume = self._loop.call_later(READ_PAUSE, self._resume, vsock)
        else:  # quiet: back to reading on the next packet
            self._loop.add_reader(vsock.fd, self._reader(vsock))


class DeadlineScheduler:
    """One heap of per-instance deadlines (monotonic seconds) behind a single timerfd, read by a
    loop reader (a ``call_later`` handle when no timerfd can be had).

    ``set`` records a key's next deadline (None = nothing pending) lazily: a deadline that only
    moves later (a backup hearing its master) costs a dict store, its heap entry is moved when it
    surfaces; stale entries are skipped then. ``arm`` (re)schedules the loop timer for the earliest one;
    when it fires, ``on_due(now, keys)`` gets every key whose deadline has come.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_due: Callable[[float, list[str]], None],
        drain: Callable[[], object] = lambda: None,
    ) -> None:
        self._loop = loop
        self._on_due = on_due
        self._deadlines: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._queued: dict[str, float] = {}  # key -> its earliest live heap entry
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None
        self._tfd: int | None = None
        self.pacing = Pacing(loop, self._take_back)  # steady masters' Adver_Timers, served in C
        self.watching = Watches(loop, self._take_back, drain)  # steady backups' Master_Down_Timers, likewise
        try:
            self._tfd = wire.timer_open()
        except OSError as exc:
            log.debug("no timerfd (%s); using the loop's millisecond timers", exc)
        else:
            loop.add_reader(self._tfd, self._on_timerfd)

    def set(self, key: str, deadline: float | None) -> None:
        if self.pacing.pacers and key in self.pacing.pacers:  # a change: the loop serves it again
            self.pacing.release(key)
        if self.watching.watches and key in self.watching.watches:
            self.watching.release(key)
        if deadline is None:
            self._deadlines.pop(key, None)
            return
        self._deadlines[key] = deadline
        queued = self._queued.get(key)
        if queued is None or deadline < queued:
            self._queued[key] = deadline
            heapq.heappush(self._heap, (deadline, next(self._seq), key))

    def pace(self, key: str, binding: Any, machine: Any, priority: int, deadline: float) -> bool:
        """Serve ``key``'s Adver_Timer from ``deadline`` on with a pacer, if it qualifies (``Pacing.engage``)."""
        return self._tfd is not None and self.pacing.engage(key, binding, machine, priority, deadline)

    def watch(self, key: str, inst: Any, binding: Any) -> Any:
        """The owner of ``key``'s new steady template: a ``wire.Watch`` serving its deadline, or ``binding``."""
        deadline = self._deadlines.get(key)
        if self._tfd is None or deadline is None:
            return binding
        watch = self.watching.engage(key, inst, binding, deadline)
        if watch is None:
            return binding
        del self._deadlines[key]  # its heap entry is now stale and dropped when it surfaces
        return watch

    def unpace_all(self) -> None:
        """Every paced key back into the heap, at the deadline its pacer was serving."""
        for key, deadline in self.pacing.release_all():
            self.set(key, deadline)

    def _take_back(self, key: str, deadline: float) -> None:
        self.set(key, deadline)
        self.arm()

    def take_early(self, horizon: float, accept: Callable[[str, float], bool]) -> list[tuple[str, float]]:
        """Remove and return the (key, deadline) pairs due by ``horizon`` that ``accept`` allows
        to run early, so the caller can serve them in the wakeup that is happening anyway."""
        taken: list[tuple[str, float]] = []
        kept: list[tuple[float, int, str]] = []
        while (earliest := self._earliest()) is not None and earliest <= horizon:
            entry = heapq.heappop(self._heap)
            if accept(entry[2], entry[0]):
                del self._deadlines[entry[2]]
                self._queued.pop(entry[2], None)
                taken.append((entry[2], entry[0]))
            else:
                kept.append(entry)
                self._queued.pop(entry[2], None)
        for entry in kept:
            self._push(entry[2], entry[0])
        return taken

    def _push(self, key: str, deadline: float) -> None:
        queued = self._queued.get(key)
        if queued is None or deadline < queued:
            self._queued[key] = deadline
        heapq.heappush(self._heap, (deadline, next(self._seq), key))

    def arm(self) -> None:
        """Arm for the heap's top entry as it is: when that entry went stale (its key was pushed
        back), the wakeup it causes moves it, and every other stale entry due by then, at once,
        which is cheaper than re-sorting the heap on every advert."""
        earliest = self._heap[0][0] if self._heap else None
        if earliest == self._armed_for:
            return
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed_for = earliest
        if self._tfd is not None:
            wire.timer_set(self._tfd, earliest)
        elif earliest is not None:
            self._handle = self._loop.call_later(max(0.0, earliest - wire.monotonic()), self._fire)

    def close(self) -> None:
        self.pacing.release_all()
        self.watching.close()
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        if self._tfd is not None:
            self._loop.remove_reader(self._tfd)
            os.close(self._tfd)
            self._tfd = None
        self._armed_for = None
        self._deadlines.clear()
        self._heap.clear()
        self._queued.clear()

    def _earliest(self) -> float | None:
        """The earliest live deadline; stale entries on top are dropped or moved to where their
        key's deadline now is."""
        heap = self._heap
        deadlines = self._deadlines
        queued = self._queued
        while heap:
            deadline, _, key = heap[0]
            current = deadlines.get(key)
            if current == deadline:
                return deadline
            heapq.heappop(heap)
            if queued.get(key) == deadline:  # the key's live entry: follow its deadline
                del queued[key]
                if current is not None:
                    self._push(key, current)
        return None

    def _on_timerfd(self) -> None:
        if self._tfd is not None and wire.timer_clear(self._tfd):
            self._fire()

    def _fire(self) -> None:
        self._handle = None
        self._armed_for = None
        now = wire.monotonic()
        due: list[str] = []
        while (earliest := self._earliest()) is not None and earliest <= now + TIMER_SLACK:
            key = heapq.heappop(self._heap)[2]
            del self._deadlines[key]
            self._queued.pop(key, None)
            due.append(key)
        if due:
            self._on_due(now, due)
        self.arm()


class AdvertSender:
    """Builds one instance's adverts once per destination and patches only the priority.

    IPv4 adverts get keepalived's own IP header with an IP ID counting up from 1.
    """

    def __init__(
        self,
        vsock: VrrpSocket,
        *,
        version: int,
        vrid: int,
        advert_int: float,
        addresses: Sequence[bytes],
        src: bytes,
        destinations: Sequence[str],
        auth_type: int = 0,
        auth_data: bytes = b"",
        pseudo_header: bool = True,
        ttl: int = VRRP_TTL,
        sealer: ah.Sealer | None = None,
    ) -> None:
        self.vsock = vsock
        self.src = src
        self.sealer = sealer  # auth_type AH: every advert gets the next sequence number and its ICV
        self.ttl = ttl  # IPv4 only: IPv6 adverts take the socket's hop limit
        self.ip_id = 0
        self._targets: list[tuple[bytes, SockAddr, bytes]] = []  # (dst packed, sendto address, advert)
        for dst in destinations:
            packed = ipaddress.ip_address(dst).packed
            advert = wire.build_advert(
                version, vrid, 0, vrrp_interval_field(version, advert_int), addresses,
                auth_type=auth_type, auth_data=auth_data, src=src, dst=packed, pseudo_header=pseudo_header,
            )  # fmt: skip
            self._targets.append((packed, vsock.destination(dst), advert))
        self._by_priority: dict[int, list[bytes]] = {}

    def queue(self, priority: int) -> int:
        """Queue this advert at ``priority`` to every destination; returns the packet count."""
        payloads = self._by_priority.get(priority)
        if payloads is None:
            if len(self._by_priority) > 4:  # priorities come and go with tracking: keep it small
                self._by_priority.clear()
            payloads = [wire.advert_with_priority(advert, priority) for _, _, advert in self._targets]
            if self.vsock.family == socket.AF_INET and self.sealer is None:  # whole packets: only the IP ID changes
                payloads = [
                    wire.build_ipv4_header(self.src, dst, len(payload), 0, self.ttl, VRRP_TOS) + payload
                    for (dst, _, _), payload in zip(self._targets, payloads, strict=True)
                ]
            self._by_priority[priority] = payloads
        vsock = self.vsock
        if self.sealer is not None:
            self._queue_sealed(self.sealer, payloads)
        elif vsock.family == socket.AF_INET:
            for (_, dest, _), packet in zip(self._targets, payloads, strict=True):
                self.ip_id += 1
                vsock.queue(wire.ipv4_with_id(packet, self.ip_id), dest)
        else:
            for (_, dest, _), payload in zip(self._targets, payloads, strict=True):
                vsock.queue(payload, dest)
        return len(self._targets)

    def paced_packets(self, priority: int) -> list[tuple[bytes, SockAddr]] | None:
        """This advert at ``priority`` per destination, as :meth:`queue` last built it (the IPv4
        ID left to the pacer), for a ``wire.Pacer``; None under AH, whose every advert differs."""
        payloads = self._by_priority.get(priority)
        if self.sealer is not None or payloads is None:
            return None
        return [(packet, dest) for (_, dest, _), packet in zip(self._targets, payloads, strict=True)]

    def _queue_sealed(self, sealer: ah.Sealer, payloads: list[bytes]) -> None:
        """AH: the whole packet per advert, one sequence number shared by every destination."""
        seq = sealer.counter.next_sent()
        for (dst, dest, _), payload in zip(self._targets, payloads, strict=True):
            self.ip_id += 1
            if not self.ip_id & 0xFFFF:  # the kernel would replace an ID of 0, which the ICV covers
                self.ip_id += 1
            self.vsock.queue(sealer.seal(self.src, dst, payload, self.ip_id & 0xFFFF, seq, self.ttl), dest)
