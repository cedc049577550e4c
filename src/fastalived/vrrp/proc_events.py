"""VRRP's ``vrrp_track_process`` watcher (I/O shell): the kernel's process event connector.

Nothing polls: like keepalived, one NETLINK_CONNECTOR socket subscribed to CN_IDX_PROC hears every
fork, exec, rename and exit on the host; a /proc scan at start (and on reload, and after the kernel
dropped events) gives the initial counts. The counting and the delays are the sans-IO
:class:`~fastalived.vrrp.track_process.ProcessTracker`; this module reads /proc, decodes events,
keeps one timer for the tracker's next deadline, and reports status changes by name.

The kernel answers connector subscriptions only from the initial network namespace, and the
daemon often runs in another one (``ip netns exec``), so the socket is created there: setns() into
the initial namespace, create and bind, setns() back. A socket stays in the namespace it was
created in.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastalived.config.model import TrackProcess
from fastalived.vrrp import wire
from fastalived.vrrp.track_process import ProcessStatus, ProcessTracker, Seen

log = logging.getLogger("fastalived.vrrp")

NETLINK_CONNECTOR = 11
CN_IDX_PROC = CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN, PROC_CN_MCAST_IGNORE = 1, 2
PROC_EVENT_NONE, PROC_EVENT_FORK, PROC_EVENT_EXEC = 0, 0x1, 0x2
PROC_EVENT_COMM, PROC_EVENT_EXIT = 0x200, 0x80000000
NLMSG_DONE = 3
CLONE_NEWNET = 0x40000000
# Where the initial network namespace can be opened: pid 1, else kthreadd (always in it, and
# readable where pid 1 is protected).
INIT_NETNS = ("/proc/1/ns/net", "/proc/2/ns/net")
RCVBUF = 1 << 20  # a fork storm must not overflow it; an overflow costs a /proc re-read
RESCAN_AFTER = 1.0  # seconds to let a burst settle before re-reading /proc (keepalived's)
ACK_TIMEOUT = 1.0  # no PROC_EVENT_NONE by then: the kernel has no proc connector

_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
_EVENT = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_IDS = struct.Struct("=iiii")  # the event's pids (fork: parent pid/tgid, child pid/tgid)
_EVENT_DATA = _NLMSG.size + _CN_MSG.size + _EVENT.size


@dataclass(frozen=True, slots=True)
class Fork:
    parent: int
    child: int


@dataclass(frozen=True, slots=True)
class Exec:
    pid: int


@dataclass(frozen=True, slots=True)
class Comm:
    pid: int
    comm: str


@dataclass(frozen=True, slots=True)
class Exit:
    pid: int


@dataclass(frozen=True, slots=True)
class Ack:
    """PROC_EVENT_NONE: the kernel confirmed the subscription."""


ProcEvent = Fork | Exec | Comm | Exit | Ack


def subscribe_message(listen: bool) -> bytes:
    op = PROC_CN_MCAST_LISTEN if listen else PROC_CN_MCAST_IGNORE
    body = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, 4, 0) + struct.pack("=I", op)
    return _NLMSG.pack(_NLMSG.size + len(body), NLMSG_DONE, 0, 0, 0) + body


def decode(data: bytes) -> ProcEvent | None:
    """One connector message -> the event it carries for a whole process (threads, and events
    nobody tracks, are None). The kernel sends one proc_event per message."""
    if len(data) < _EVENT_DATA + _IDS.size:
        return None
    idx, val, _, ack, _, _ = _CN_MSG.unpack_from(data, _NLMSG.size)
    if (idx, val) != (CN_IDX_PROC, CN_VAL_PROC):
        return None
    what = _EVENT.unpack_from(data, _NLMSG.size + _CN_MSG.size)[0]
    if (what == PROC_EVENT_NONE) != bool(ack):
        return None
    first, second, third, fourth = _IDS.unpack_from(data, _EVENT_DATA)
    if what == PROC_EVENT_NONE:
        return Ack()
    if what == PROC_EVENT_FORK:  # parent pid/tgid, child pid/tgid; a new thread has pid != tgid
        return Fork(second, fourth) if third == fourth else None
    if first != second:  # process_pid, process_tgid: a thread's event
        return None
    if what == PROC_EVENT_EXEC:
        return Exec(second)
    if what == PROC_EVENT_EXIT:
        return Exit(second)
    if what == PROC_EVENT_COMM:
        raw = data[_EVENT_DATA + 8 : _EVENT_DATA + 24]
        return Comm(second, raw.split(b"\0", 1)[0].decode(errors="surrogateescape"))
    return None


# ---------------------------------------------------------------------------- /proc


def _read(path: str, limit: int) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_process(pid: int, tracker: ProcessTracker, from_stat: bool = False) -> Seen | None:
    """What ``tracker`` needs of one process; None if it is gone (or a zombie, read from stat)."""
    comm = cmdline = None
    if tracker.needs_cmdline:
        cmdline = _read(f"/proc/{pid}/cmdline", tracker.cmdline_limit)
        if cmdline is None:
            return None
    if tracker.needs_comm:
        if from_stat:  # one read gives the name and the state (keepalived skips zombies)
            stat = _read(f"/proc/{pid}/stat", 512)
            if stat is None or b"(" not in stat:
                return None
            name, _, rest = stat[stat.index(b"(") + 1 :].rpartition(b")")
            if rest[1:2] == b"Z":
                return None
        else:
            raw = _read(f"/proc/{pid}/comm", 64)
            if raw is None:
                return None
            name = raw.rstrip(b"\n")
        comm = name.decode(errors="surrogateescape")
    return Seen(pid, comm, cmdline)


def scan_proc(tracker: ProcessTracker) -> Iterable[Seen]:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            seen = read_process(int(entry.name), tracker, from_stat=True)
            if seen is not None:
                yield seen


# ---------------------------------------------------------------------------- the socket


class _Libc:
    def __init__(self) -> None:
        self.setns = ctypes.CDLL(None, use_errno=True).setns
        self.setns.argtypes = (ctypes.c_int, ctypes.c_int)

    def enter(self, fd: int) -> None:
        if self.setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))


def _connector_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                         NETLINK_CONNECTOR)  # fmt: skip
    try:
        sock.bind((0, CN_IDX_PROC))
    except OSError:
        sock.close()
        raise
    return sock


def _initial_netns() -> int | None:
    for path in INIT_NETNS:
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
    return None


def _same_file(first: int, second: int) -> bool:
    a, b = os.fstat(first), os.fstat(second)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def open_connector() -> socket.socket:
    """A connector socket bound to CN_IDX_PROC in the initial network namespace (this thread
    visits it for the socket() and bind() calls only); in the current one if it cannot."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    init = _initial_netns()
    try:
        if init is None or _same_file(init, own):
            return _connector_socket()
        libc = _Libc()
        try:
            libc.enter(init)
        except OSError as exc:
            log.warning("cannot enter the initial network namespace (%s): process events may not arrive", exc)
            return _connector_socket()
        try:
            return _connector_socket()
        finally:
            libc.enter(own)  # if this raises, the role must not carry on in the wrong namespace
    finally:
        os.close(own)
        if init is not None:
            os.close(init)


class ProcessTracking:
    """One connector socket and one :class:`ProcessTracker` for the processes VRRP tracks;
    ``on_status(name, up)`` runs on the loop when a tracked process gains or loses quorum."""

    def __init__(self, on_status: Callable[[str, bool], None]) -> None:
        self._on_status = on_status
        self._tracker = ProcessTracker(())
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._rescan: asyncio.TimerHandle | None = None
        self._acked = False

    def update(self, tracks: Iterable[TrackProcess]) -> None:
        """Track exactly ``tracks`` (start or reload): subscribe if needed, then scan /proc."""
        self._tracker = ProcessTracker(tracks)
        if not self._tracker.names:
            self.close()
            return
        self._loop = asyncio.get_running_loop()
        if self._sock is None:
            try:
                self._subscribe()
            except OSError as exc:
                log.error("process event connector unavailable (%s): track_process will not work", exc)
        self._scan()

    def close(self) -> None:
        for handle in (self._timer, self._rescan):
            if handle is not None:
                handle.cancel()
        self._timer = self._rescan = None
        if self._sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
            try:
                self._sock.send(subscribe_message(False))
            except OSError:
                pass
            self._sock.close()
            self._sock = None

    def _subscribe(self) -> None:
        assert self._loop is not None
        sock = open_connector()
        for option in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, RCVBUF)
                break
            except OSError:
                continue
        try:
            sock.send(subscribe_message(True))
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._acked = False
        self._loop.add_reader(sock.fileno(), self._readable)
        self._loop.call_later(ACK_TIMEOUT, self._check_ack)

    def _check_ack(self) -> None:
        if self._sock is not None and not self._acked:
            log.warning("WARNING - the kernel does not support proc events - track_process will not work")

    def _scan(self) -> None:
        self._rescan = None
        self._report(self._tracker.scan(scan_proc(self._tracker), wire.monotonic()))

    def _readable(self) -> None:
        sock = self._sock
        while sock is not None and sock is self._sock:
            try:
                data, (sender, _) = sock.recvfrom(256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self._lost_events()
                else:
                    log.warning("process monitor netlink recv error: %s", exc)
                return
            if sender != 0:
                continue  # only the kernel speaks here
            event = decode(data)
            if event is not None:
                self._handle(event)

    def _handle(self, event: ProcEvent) -> None:
        now = wire.monotonic()
        tracker = self._tracker
        if isinstance(event, Ack):
            self._acked = True
            return
        if isinstance(event, Fork):
            self._report(tracker.fork(event.parent, event.child, now))
        elif isinstance(event, Exit):
            self._report(tracker.exit(event.pid, now))
        elif isinstance(event, Comm):
            if tracker.needs_comm:
                self._report(tracker.comm(event.pid, event.comm, now))
        else:
            seen = read_process(event.pid, tracker)
            if seen is not None:
                self._report(tracker.exec(seen, now))

    def _lost_events(self) -> None:
        """The kernel dropped events (ENOBUFS): grow the buffer, re-read /proc once it settles."""
        log.warning("process events were lost; re-reading /proc in %gs", RESCAN_AFTER)
        if self._sock is not None:
            size = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), size * 2)
            except OSError:
                pass
        if self._rescan is None and self._loop is not None:
            self._rescan = self._loop.call_later(RESCAN_AFTER, self._scan)

    def _expire(self) -> None:
        self._timer = None
        self._report(self._tracker.expire(wire.monotonic()))

    def _report(self, changes: list[ProcessStatus]) -> None:
        for change in changes:
            log.info("Quorum %s for tracked process %s", "gained" if change.up else "lost", change.name)
            self._on_status(change.name, change.up)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._tracker.next_deadline()
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_later(max(0.0, deadline - wire.monotonic()), self._expire)
