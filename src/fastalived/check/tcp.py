"""TCP_CHECK, and the connection handling every TCP-based probe shares.

The plain-TCP path (TCP_CHECK, HTTP_GET) drives raw non-blocking sockets, all watched through
one epoll set per loop (:class:`SocketPoller`): ``connect()`` on loopback or a LAN usually
completes before the call returns, so the request is sent at once and only the reply needs the
event loop; a connect still in progress falls back to waiting for writability. Every connection
is closed with SO_LINGER 0 (an RST), so thousands of checks per second leave no TIME_WAIT
sockets behind to exhaust the ephemeral ports.
"""

from __future__ import annotations

import _socket
import asyncio
import errno
import os
import select
import socket
import ssl
import struct
import time
import weakref
from collections.abc import Callable
from typing import ClassVar, NamedTuple, TypeVar

from fastalived.check.probe import Done
from fastalived.check.state import CheckResult
from fastalived.config.model import CheckerCommon, TcpCheck

P = TypeVar("P", bound=asyncio.BaseProtocol)

LINGER_ZERO = struct.pack("ii", 1, 0)
_NONBLOCKING_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
_POLL_BATCH = 1024  # ready sockets handled per wake-up; more wait for the next loop iteration
_IN_PROGRESS = (0, errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY)
# How late a check's timeout may fire: the poller sweeps expired connections at most this often,
# so thousands of checks per second share a few dozen loop timers a second instead of one each.
TIMEOUT_GRANULARITY = 0.02


def failure_text(exc: BaseException) -> str:
    """A short reason for logs and ``/status``: ``connection refused``, ``timeout`` ..."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno and not isinstance(exc, ssl.SSLError):
        return errno_text(exc.errno)  # uvloop's sock_connect says "Connect call failed (...)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def errno_text(code: int) -> str:
    return os.strerror(code).lower()


def local_address(common: CheckerCommon) -> tuple[str, int] | None:
    """``bindto``/``bind_port`` as a bind() address, or None when neither is set."""
    if common.bindto is None and common.bind_port is None:
        return None
    return (str(common.bindto) if common.bindto is not None else "", common.bind_port or 0)


class Target(NamedTuple):
    """Where and how a raw check connects, worked out once per checker instead of per check."""

    family: int
    address: tuple[str, int]
    local: tuple[str, int] | None
    bind_if: bytes | None
    timeout: float
    mark: int  # fwmark (SO_MARK) on the check's packets; 0 = none
    prepared: bool = False  # any of the three above set: the socket needs :func:`prepare`


def target_of(common: CheckerCommon) -> Target:
    local = local_address(common)
    bind_if = common.bind_if.encode() if common.bind_if else None
    mark = common.fwmark or 0
    return Target(
        socket.AF_INET6 if common.connect_ip.version == 6 else socket.AF_INET,
        (str(common.connect_ip), common.connect_port),
        local,
        bind_if,
        common.connect_timeout,
        mark,
        bool(mark or bind_if is not None or local is not None),
    )


def prepare(sock: _socket.socket, target: Target) -> None:
    """What every checker socket gets before it connects: ``fwmark``, ``bind_if``, ``bindto``/``bind_port``."""
    if target.mark:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, target.mark)
    if target.bind_if is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, target.bind_if)
    if target.local is not None:
        sock.bind(target.local)


def checker_socket(common: CheckerCommon, kind: int) -> tuple[socket.socket, Target]:
    """A prepared non-blocking socket for the transport-based checks (SSL_GET, SMTP, DNS)."""
    target = target_of(common)
    sock = socket.socket(target.family, kind | socket.SOCK_NONBLOCK)
    try:
        prepare(sock, target)
    except OSError:
        sock.close()
        raise
    return sock, target


class SocketPoller:
    """One epoll set for every raw checker socket of a loop; the loop itself watches only its fd.

    Per check this costs one ``epoll_ctl`` (the kernel drops a socket from the set when it is
    closed) and no per-socket watcher objects, and one wake-up reports every ready socket at once:
    about a quarter less CPU per check than a uvloop reader per socket.

    Timeouts live here too: per ``connect_timeout`` value, the connections waiting in the order
    they armed (so their deadlines only grow: an insertion-ordered dict, O(1) to drop one when it
    finishes) and one loop timer for the earliest of them, instead of a ``call_later`` and a
    ``cancel`` per check.
    """

    _by_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SocketPoller]] = weakref.WeakKeyDictionary()
    _last: ClassVar[SocketPoller | None] = None  # the one asked for last: a daemon has one loop

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._epoll = select.epoll()
        self._owners: dict[int, RawConnection] = {}
        self._loop = loop
        self._waiting: dict[float, dict[RawConnection, None]] = {}  # timeout -> connections, oldest first
        self._sweep_timer: asyncio.TimerHandle | None = None
        self._sweep_due = float("inf")
        loop.add_reader(self._epoll.fileno(), self._dispatch)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> SocketPoller:
        last = cls._last
        if last is not None and last._loop is loop:  # once per check: skip the weak dictionary
            return last
        poller = cls._by_loop.get(loop)
        if poller is None:
            poller = cls._by_loop[loop] = cls(loop)
        cls._last = poller
        return poller

    def watch(self, connection: RawConnection, events: int) -> None:
        """Start (or change) watching ``connection``'s socket for ``events``."""
        if connection.fd in self._owners:
            self._epoll.modify(connection.fd, events)
        else:
            self._epoll.register(connection.fd, events)
            self._owners[connection.fd] = connection

    def release(self, connection: RawConnection) -> None:
        """Stop watching and timing ``connection``; call before closing its socket (closing it
        removes it from the epoll set)."""
        self._owners.pop(connection.fd, None)
        if connection.deadline != 0.0:
            connection.deadline = 0.0
            waiting = self._waiting.get(connection.target.timeout)
            if waiting is not None:
                waiting.pop(connection, None)

    def _dispatch(self) -> None:
        owners = self._owners
        for fd, _ in self._epoll.poll(0, _POLL_BATCH):
            owner = owners.get(fd)
            if owner is not None:  # None: finished earlier in this batch
                owner.on_ready()

    def expire_at(self, connection: RawConnection, timeout: float) -> float:
        """Time ``connection`` out ``timeout`` seconds from now unless it is :meth:`release`d first."""
        deadline = time.monotonic() + timeout
        waiting = self._waiting.get(timeout)
        if waiting is None:
            waiting = self._waiting[timeout] = {}
        waiting[connection] = None
        if deadline < self._sweep_due:
            self._arm_sweep(deadline)
        return deadline

    def _arm_sweep(self, due: float) -> None:
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
        self._sweep_due = due
        self._sweep_timer = self._loop.call_later(max(0.0, due - time.monotonic()), self._sweep)

    def _sweep(self) -> None:
        """Time out every connection whose deadline passed; re-arm for the earliest one left."""
        self._sweep_timer, self._sweep_due = None, float("inf")
        now = time.monotonic()
        expired: list[RawConnection] = []
        earliest = float("inf")
        for waiting in self._waiting.values():
            for connection in waiting:
                if connection.deadline > now:
                    earliest = min(earliest, connection.deadline)
                    break
                expired.append(connection)
        for connection in expired:
            if connection.deadline != 0.0:  # an earlier timeout in this sweep may have closed it
                connection.timed_out()
        due = max(earliest, now + TIMEOUT_GRANULARITY)
        if due < self._sweep_due:  # a callback above may have armed a sweep for a new, earlier one
            self._arm_sweep(due)


class RawConnection:
    """One checker connection on a raw socket; subclasses say what to do once connected.

    Lifecycle: :meth:`open` -> ``on_connected`` -> (``on_readable`` ...) -> :meth:`finish` once.
    ``connect_timeout`` bounds the whole exchange. Nothing here blocks: every socket is
    non-blocking and every wait goes through the loop's :class:`SocketPoller`.
    """

    __slots__ = ("poller", "target", "sock", "fd", "deadline", "done", "started", "waiting_for_write")

    def __init__(self, loop: asyncio.AbstractEventLoop, target: Target, done: Done) -> None:
        self.poller = SocketPoller.of(loop)
        self.target = target
        self.done: Done | None = done
        self.sock: _socket.socket | None = None
        self.fd = -1
        self.deadline = 0.0  # when the poller times this connection out; 0.0 = no timeout armed
        self.started = time.monotonic()
        self.waiting_for_write = False

    def open(self) -> None:
        target = self.target
        try:
            # the C socket type, created non-blocking: no Python __init__, no extra fcntl per check
            sock = _socket.socket(target.family, _NONBLOCKING_STREAM)
        except OSError as exc:
            self.finish(failure_text(exc))
            return
        self.sock, self.fd = sock, sock.fileno()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
            if target.prepared:
                prepare(sock, target)
            code = sock.connect_ex(target.address)
        except OSError as exc:
            self.finish(failure_text(exc))
            return
        if code not in _IN_PROGRESS:
            self.finish(errno_text(code))
            return
        self.on_connecting()

    def on_connecting(self) -> None:
        """Connect was issued; by default wait until the socket is writable (connected or failed)."""
        self.want_write()

    # Only a connection that has to wait needs a timeout: a refused or instant connect never arms one.
    # It starts at the first wait, microseconds after the connect call, and bounds the rest of the
    # exchange on this connection (each url of an HTTP check gets its own).

    def want_write(self) -> None:
        if self.deadline == 0.0:
            self.deadline = self.poller.expire_at(self, self.target.timeout)
        self.waiting_for_write = True
        self.poller.watch(self, select.EPOLLOUT)

    def want_read(self) -> None:
        if self.deadline == 0.0:
            self.deadline = self.poller.expire_at(self, self.target.timeout)
        self.waiting_for_write = False
        self.poller.watch(self, select.EPOLLIN)

    def on_ready(self) -> None:
        if self.waiting_for_write:
            self._writable()
        else:
            self.on_readable()

    def _writable(self) -> None:
        assert self.sock is not None
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.finish(errno_text(code))
            return
        try:
            self.sock.getpeername()
        except OSError:  # not connected yet (a spurious wake-up): keep waiting
            return
        self.on_connected()

    def on_connected(self) -> None:
        raise NotImplementedError

    def on_readable(self) -> None:
        raise NotImplementedError

    def timed_out(self) -> None:
        """The poller's sweep: ``connect_timeout`` passed before the exchange ended."""
        self.finish("timeout")

    def close(self) -> None:
        """Release the socket and timeout without reporting (cancellation, or before reporting)."""
        if self.sock is not None:
            self.poller.release(self)
            self.sock.close()
            self.sock = None

    def cancel(self) -> None:
        self.done = None
        self.close()

    def finish(self, failure: str | None) -> None:
        """Close and report once: ``failure`` None means the check passed."""
        self.close()
        done, self.done = self.done, None
        if done is not None:
            done(CheckResult(failure is None, failure or "", time.monotonic() - self.started))


class _TcpConnect(RawConnection):
    __slots__ = ()

    def on_connecting(self) -> None:
        assert self.sock is not None
        try:
            self.sock.getpeername()  # already connected (the usual case on loopback / a LAN)
        except OSError:
            self.want_write()
        else:
            self.finish(None)

    def on_connected(self) -> None:
        self.finish(None)


class TcpProbe:
    """TCP_CHECK: passes when the connection is established within ``connect_timeout``."""

    __slots__ = ("target",)

    def __init__(self, check: TcpCheck) -> None:
        self.target = target_of(check.common)

    def start(self, done: Done) -> RawConnection:
        connection = _TcpConnect(asyncio.get_running_loop(), self.target, done)
        connection.open()
        return connection


async def connect(
    common: CheckerCommon,
    protocol_factory: Callable[[], P],
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> tuple[asyncio.Transport, P]:
    """A transport-based checker connection (SSL_GET, SMTP); the caller bounds the time."""
    loop = asyncio.get_running_loop()
    sock, target = checker_socket(common, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
        await loop.sock_connect(sock, target.address)
        return await loop.create_connection(
            protocol_factory,
            sock=sock,
            ssl=ssl_context,
            server_hostname=server_hostname if ssl_context is not None else None,
        )
    except BaseException:
        sock.close()
        raise
