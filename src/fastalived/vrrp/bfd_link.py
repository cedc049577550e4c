"""VRRP's ``track_bfd`` sessions (I/O shell) around the pure :class:`fastalived.runtime.bfd.BfdSession`.

keepalived runs BFD in a child of its own; here the sessions live on the VRRP child's loop. Each
session sends from its own UDP socket bound to ``source_ip`` and a random port in 49152-65535
with TTL ``ttl`` (RFC 5881 §4); one socket per address family receives on port 3784 and reads
each packet's TTL (``IP_RECVTTL``/``IPV6_RECVHOPLIMIT``) for the single-hop check (a TTL below
``ttl - max_hops`` is dropped; ``max_hops 255`` turns the check off). Up/down changes go to the
router by name (:meth:`VrrpRouter.tracked_changed`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import ipaddress
import logging
import random
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastalived.config.model import BfdInstance
from fastalived.runtime.bfd import (
    BFD_PORT,
    SOURCE_PORTS,
    STATE_NAMES,
    BadPacket,
    BfdSession,
    Effect,
    SendPacket,
    SessionChanged,
    State,
    decode,
    diag_name,
)

log = logging.getLogger("fastalived.vrrp")

_IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # bind source_ip before it is configured
_IPV6_FREEBIND = 78
_IP_RECVTTL = 12  # linux/in.h; not in Python's socket module
_RECV_BATCH = 64  # packets read per wakeup before the loop gets a turn
_ANCILLARY = socket.CMSG_SPACE(4) * 2


@dataclass
class _Peer:
    session: BfdSession
    sock: socket.socket
    timer: asyncio.TimerHandle | None = None
    send_error: int = 0  # errno of the last failed send, logged once until a send succeeds


class BfdLink:
    """The BFD sessions VRRP instances track, keyed by ``bfd_instance`` name."""

    def __init__(self, on_state: Callable[[str, bool], None], rng: random.Random | None = None) -> None:
        self._on_state = on_state
        self._rng = rng or random.Random()
        self._peers: dict[str, _Peer] = {}
        self._receivers: dict[int, socket.socket] = {}  # address family -> socket on port 3784
        self._loop: asyncio.AbstractEventLoop | None = None

    def update(self, instances: Iterable[BfdInstance], tracked: set[str]) -> None:
        """Run exactly the sessions of ``instances`` that VRRP tracks (start or reload); a session
        whose settings changed restarts (the peer sees AdminDown, then a new handshake)."""
        self._loop = self._loop or asyncio.get_running_loop()
        wanted = {b.name: b for b in instances if b.vrrp and b.name in tracked}
        now = time.monotonic()
        for name in list(self._peers):
            session, new = self._peers[name].session, wanted.get(name)
            if new is None or _session_settings(new) != _session_settings(session.config):
                self._remove(name, now, report=True)
            else:
                session.config = new  # a new weight is the router's business, not the session's
        for name, config in wanted.items():
            if name not in self._peers:
                self._add(config, now)
        families = {_family(p.session.config) for p in self._peers.values()}
        for family in [f for f in self._receivers if f not in families]:
            self._close_receiver(family)
        for family in families - set(self._receivers):
            self._open_receiver(family)

    def close(self) -> None:
        """Stopping: tell every peer we are AdminDown, then close everything (no reports)."""
        now = time.monotonic()
        for name in list(self._peers):
            self._remove(name, now, report=False)
        for family in list(self._receivers):
            self._close_receiver(family)

    # ------------------------------------------------------------------ sessions

    def _add(self, config: BfdInstance, now: float) -> None:
        try:
            sock = self._open_sender(config)
        except OSError as exc:
            log.error("BFD_Instance(%s) cannot open its socket (%s); session not started", config.name, exc)
            return
        used = {p.session.discriminator for p in self._peers.values()}
        discriminator = 0
        while discriminator == 0 or discriminator in used:
            discriminator = self._rng.getrandbits(32)
        peer = _Peer(BfdSession(config, discriminator, now, self._rng), sock)
        self._peers[config.name] = peer
        log.info("BFD_Instance(%s) started to %s from port %d", config.name, config.neighbor_ip,
                 sock.getsockname()[1])  # fmt: skip
        self._fire(peer)

    def _remove(self, name: str, now: float, report: bool) -> None:
        peer = self._peers.pop(name)
        was_up = peer.session.up
        self._carry(peer, peer.session.admin_down(now), report=False)
        if peer.timer is not None:
            peer.timer.cancel()
        peer.sock.close()
        if report and was_up:
            self._on_state(name, False)

    def _fire(self, peer: _Peer) -> None:
        peer.timer = None
        self._carry(peer, peer.session.tick(time.monotonic()))
        self._arm(peer)

    def _arm(self, peer: _Peer) -> None:
        if peer.timer is not None:
            peer.timer.cancel()
            peer.timer = None
        deadline = peer.session.deadline()
        if deadline is not None and self._loop is not None:
            peer.timer = self._loop.call_later(max(0.0, deadline - time.monotonic()), self._fire, peer)

    def _carry(self, peer: _Peer, effects: list[Effect], report: bool = True) -> None:
        config = peer.session.config
        for effect in effects:
            if isinstance(effect, SendPacket):
                self._send(peer, effect)
            elif isinstance(effect, SessionChanged):
                _log_change(config.name, effect)
                if report and (effect.old == State.UP) != (effect.new == State.UP):
                    self._on_state(config.name, effect.new == State.UP)

    def _send(self, peer: _Peer, effect: SendPacket) -> None:
        config = peer.session.config
        try:
            peer.sock.sendto(effect.packet.encode(), (str(config.neighbor_ip), BFD_PORT))
        except OSError as exc:
            if exc.errno != peer.send_error:
                log.warning("BFD_Instance(%s) send to %s failed: %s", config.name, config.neighbor_ip, exc)
                peer.send_error = exc.errno or -1
            return
        peer.send_error = 0

    # ------------------------------------------------------------------ sockets

    def _open_sender(self, config: BfdInstance) -> socket.socket:
        family = _family(config)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, config.ttl)
                sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, config.ttl)
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_FREEBIND, 1)
            source = str(config.source_ip) if config.source_ip else ("0.0.0.0" if family == socket.AF_INET else "::")
            for _ in range(100):  # RFC 5881 §4: a source port in 49152-65535, random
                try:
                    sock.bind((source, self._rng.randint(*SOURCE_PORTS)))
                    return sock
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
            raise OSError(errno.EADDRINUSE, "no free BFD source port")
        except BaseException:
            sock.close()
            raise

    def _open_receiver(self, family: int) -> None:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
                sock.bind(("0.0.0.0", BFD_PORT))
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
                sock.bind(("::", BFD_PORT))
        except OSError as exc:
            sock.close()
            log.error("cannot listen for BFD on port %d (%s): sessions will not come up", BFD_PORT, exc)
            return
        self._receivers[family] = sock
        assert self._loop is not None
        self._loop.add_reader(sock.fileno(), self._readable, sock)

    def _close_receiver(self, family: int) -> None:
        sock = self._receivers.pop(family)
        if self._loop is not None:
            self._loop.remove_reader(sock.fileno())
        sock.close()

    def _readable(self, sock: socket.socket) -> None:
        for _ in range(_RECV_BATCH):
            try:
                data, ancillary, _flags, address = sock.recvmsg(512, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("BFD receive failed: %s", exc)
                return
            ttl = None
            for level, kind, value in ancillary:
                if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TTL), (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT)):
                    ttl = struct.unpack("=i", value[:4])[0] if len(value) >= 4 else value[0]
            self._received(data, ipaddress.ip_address(address[0].partition("%")[0]), ttl)

    def _received(self, data: bytes, source: ipaddress.IPv4Address | ipaddress.IPv6Address, ttl: int | None) -> None:
        try:
            packet = decode(data)
        except BadPacket as exc:
            log.debug("BFD packet from %s discarded: %s", source, exc)
            return
        if packet.your_disc:
            peer = next((p for p in self._peers.values() if p.session.discriminator == packet.your_disc), None)
        else:
            peer = next((p for p in self._peers.values() if p.session.config.neighbor_ip == source), None)
        if peer is None or peer.session.config.neighbor_ip != source:
            log.debug("BFD packet from %s discarded: no session (your discriminator %#x)", source, packet.your_disc)
            return
        config = peer.session.config
        if config.max_hops != 255 and ttl is not None and config.max_hops + ttl < config.ttl:
            log.debug(
                "BFD_Instance(%s) packet TTL %d < %d - discarding", config.name, ttl, config.ttl - config.max_hops
            )
            return
        self._carry(peer, peer.session.receive(packet, time.monotonic()))
        self._arm(peer)


def _session_settings(config: BfdInstance) -> BfdInstance:
    """What the session itself runs on: everything but the tracking defaults."""
    return dataclasses.replace(config, weight=0, weight_reverse=False, vrrp=True, checker=True)


def _family(config: BfdInstance) -> int:
    return socket.AF_INET if config.neighbor_ip.version == 4 else socket.AF_INET6


def _log_change(name: str, change: SessionChanged) -> None:
    """keepalived's wording; a session going down also says why, on both ends."""
    why = ""
    if change.new in (State.DOWN, State.ADMIN_DOWN):
        why = f" (Local diagnostic - {diag_name(change.diag)}, Remote diagnostic - {diag_name(change.remote_diag)})"
    level = logging.WARNING if change.old == State.UP else logging.INFO
    log.log(level, "BFD_Instance(%s) Entering %s state%s", name, STATE_NAMES[change.new], why)
