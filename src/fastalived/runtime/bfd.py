"""BFD sessions, pure: RFC 5880 asynchronous mode for single-hop sessions (RFC 5881).

One :class:`BfdSession` per ``bfd_instance``. It is fed received Control packets
(:meth:`BfdSession.receive`) and timer expiries (:meth:`BfdSession.tick`) with a clock reading,
and answers with typed effects (:class:`SendPacket`, :class:`SessionChanged`) and its next
deadline; the I/O adapter owns the UDP sockets (port 3784, TTL 255, source port 49152-65535).
Shared by VRRP's ``track_bfd`` and, later, the checker's ``BFD_CHECK``, so it lives in the floor.

Implemented: the three-way handshake, the detection timer (Down with diag 1), AdminDown from
the peer (Down with diag 3), the Poll/Final sequence (we answer every Poll with a Final and
start a Poll when our timers change on going Up), 75-100 % jitter (75-90 % with multiplier 1)
and at least 1 s between packets while not Up (``idle_tx``). Not implemented: authentication
(packets with the A bit are discarded), demand mode, echo.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from enum import IntEnum

from fastalived.config.model import BfdInstance

BFD_PORT = 3784  # RFC 5881 single-hop Control packets
SOURCE_PORTS = (49152, 65535)  # RFC 5881 §4: the source port range
SLOW_TX = 1.0  # RFC 5880 §6.8.3: at least 1 s between packets while not Up


class State(IntEnum):
    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3


class Diag(IntEnum):
    """RFC 5880 §4.1 diagnostic codes (the ones we set, and what a peer may send us)."""

    NONE = 0
    DETECT_EXPIRED = 1
    ECHO_FAILED = 2
    NEIGHBOR_DOWN = 3
    FORWARDING_RESET = 4
    PATH_DOWN = 5
    CONCAT_PATH_DOWN = 6
    ADMIN_DOWN = 7
    REVERSE_CONCAT_PATH_DOWN = 8


STATE_NAMES = {State.ADMIN_DOWN: "AdminDown", State.DOWN: "Down", State.INIT: "Init", State.UP: "Up"}


DIAG_NAMES = (  # RFC 5880 §4.1's wording, as keepalived logs it
    "No Diagnostic",
    "Control Detection Time Expired",
    "Echo Function Failed",
    "Neighbor Signaled Session Down",
    "Forwarding Plane Reset",
    "Path Down",
    "Concatenated Path Down",
    "Administratively Down",
    "Reverse Concatenated Path Down",
)


def diag_name(diag: int) -> str:
    return DIAG_NAMES[diag] if 0 <= diag < len(DIAG_NAMES) else "Unknown"


class BadPacket(ValueError):
    """A packet RFC 5880 §6.8.6 says to discard before any session looks at it."""


_HEADER = struct.Struct("!BBBBIIIII")  # vers|diag, state|flags, mult, length, discrs, intervals
_POLL, _FINAL, _CPI, _AUTH, _DEMAND, _MULTIPOINT = 0x20, 0x10, 0x08, 0x04, 0x02, 0x01


@dataclass(frozen=True, slots=True)
class ControlPacket:
    """A BFD Control packet without authentication; intervals in microseconds, as on the wire."""

    state: State
    diag: int
    detect_mult: int
    my_disc: int
    your_disc: int
    desired_min_tx: int
    required_min_rx: int
    required_min_echo_rx: int = 0
    poll: bool = False
    final: bool = False
    demand: bool = False

    def encode(self) -> bytes:
        flags = (self.state << 6) | (_POLL if self.poll else 0) | (_FINAL if self.final else 0)
        flags |= _DEMAND if self.demand else 0
        return _HEADER.pack(
            (1 << 5) | (self.diag & 0x1F),
            flags,
            self.detect_mult,
            _HEADER.size,
            self.my_disc,
            self.your_disc,
            self.desired_min_tx,
            self.required_min_rx,
            self.required_min_echo_rx,
        )


def decode(data: bytes) -> ControlPacket:
    """The packet in ``data``, after RFC 5880 §6.8.6's session-independent checks."""
    if len(data) < _HEADER.size:
        raise BadPacket(f"short packet ({len(data)} bytes)")
    vers_diag, flags, mult, length, my_disc, your_disc, tx, rx, echo = _HEADER.unpack_from(data)
    if vers_diag >> 5 != 1:
        raise BadPacket(f"version {vers_diag >> 5}")
    if flags & _AUTH:
        raise BadPacket("authentication bit set (authentication is not in use)")
    if not _HEADER.size <= length <= len(data):
        raise BadPacket(f"length field {length} (packet {len(data)} bytes)")
    if mult == 0:
        raise BadPacket("detect multiplier 0")
    if flags & _MULTIPOINT:
        raise BadPacket("multipoint bit set")
    if my_disc == 0:
        raise BadPacket("my discriminator 0")
    state = State(flags >> 6)
    if your_disc == 0 and state not in (State.DOWN, State.ADMIN_DOWN):
        raise BadPacket(f"your discriminator 0 in state {STATE_NAMES[state]}")
    return ControlPacket(
        state,
        vers_diag & 0x1F,
        mult,
        my_disc,
        your_disc,
        tx,
        rx,
        echo,
        poll=bool(flags & _POLL),
        final=bool(flags & _FINAL),
        demand=bool(flags & _DEMAND),
    )


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class SendPacket:
    packet: ControlPacket


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """The local state moved; ``diag`` says why (Down), ``remote_diag`` is the peer's last."""

    old: State
    new: State
    diag: int
    remote_diag: int


Effect = SendPacket | SessionChanged


def _usec(seconds: float) -> int:
    return max(0, min(0xFFFFFFFF, round(seconds * 1_000_000)))


class BfdSession:
    """One BFD session's state variables (RFC 5880 §6.8.1) and timers; times in seconds."""

    def __init__(self, config: BfdInstance, discriminator: int, now: float, rng: random.Random | None = None) -> None:
        if not 0 < discriminator <= 0xFFFFFFFF:
            raise ValueError("the local discriminator must be a non-zero 32-bit value")
        self.config = config
        self.discriminator = discriminator
        self.state = State.DOWN
        self.diag = Diag.NONE
        self.remote_state = State.DOWN
        self.remote_disc = 0
        self.remote_diag = 0
        self.remote_min_rx = 1e-6  # §6.8.1: RemoteMinRxInterval starts at 1 microsecond
        self.remote_min_tx = 0.0  # the peer's DesiredMinTxInterval, from its last packet
        self.remote_mult = 0
        self.polling = False  # our Poll Sequence is in progress
        self._rng = rng or random.Random()
        self._detect_at: float | None = None
        self._next_tx: float | None = None if config.passive else now
        self._interval = self.tx_interval()  # the interval the pending _next_tx was drawn from

    # ------------------------------------------------------------------ timers

    @property
    def up(self) -> bool:
        return self.state == State.UP

    def desired_min_tx(self) -> float:
        """What we advertise: ``min_tx`` while Up, ``idle_tx`` (at least 1 s) otherwise."""
        return self.config.min_tx if self.state == State.UP else max(self.config.idle_tx, SLOW_TX)

    def tx_interval(self) -> float:
        """§6.8.7: the larger of our desired interval and the peer's required one."""
        return max(self.desired_min_tx(), self.remote_min_rx)

    def detect_time(self) -> float:
        """§6.8.4, asynchronous mode: the peer's multiplier times the agreed receive interval."""
        return self.remote_mult * max(self.config.min_rx, self.remote_min_tx)

    def deadline(self) -> float | None:
        """When :meth:`tick` has something to do next; None when nothing is pending."""
        times = [t for t in (self._next_tx, self._detect_at) if t is not None]
        return min(times) if times else None

    def _jittered(self) -> float:
        """§6.8.7: each interval reduced by 0-25 % (10-25 % with a multiplier of 1)."""
        top = 0.9 if self.config.multiplier == 1 else 1.0
        return self.tx_interval() * self._rng.uniform(0.75, top)

    def _may_send(self) -> bool:
        """§6.8.7: nothing while the peer asks for no packets, nor passively before it spoke."""
        return self.remote_min_rx > 0 and not (self.config.passive and self.remote_disc == 0)

    def _packet(self, final: bool = False) -> ControlPacket:
        return ControlPacket(
            self.state,
            self.diag,
            self.config.multiplier,
            self.discriminator,
            self.remote_disc,
            _usec(self.desired_min_tx()),
            _usec(self.config.min_rx),
            poll=self.polling and not final,
            final=final,
        )

    # ------------------------------------------------------------------ events

    def tick(self, now: float) -> list[Effect]:
        """Timers due at ``now``: the detection timer, then the periodic transmission."""
        out: list[Effect] = []
        if self._detect_at is not None and now >= self._detect_at:
            self._detect_at = None
            self.remote_disc = 0  # §6.8.1: reset when the detection time expires
            self.remote_state = State.DOWN
            if self.state in (State.INIT, State.UP):
                self._move(State.DOWN, Diag.DETECT_EXPIRED, now, out)
        if self._next_tx is not None and now >= self._next_tx:
            self._send(now, out)
        return out

    def receive(self, packet: ControlPacket, now: float) -> list[Effect]:
        """§6.8.6 for a packet already through :func:`decode` and addressed to this session."""
        if packet.your_disc and packet.your_disc != self.discriminator:
            return []
        if self.state == State.ADMIN_DOWN:
            return []
        self.remote_disc = packet.my_disc
        self.remote_state = packet.state
        self.remote_diag = packet.diag
        self.remote_min_rx = packet.required_min_rx / 1e6
        self.remote_min_tx = packet.desired_min_tx / 1e6
        self.remote_mult = packet.detect_mult
        if packet.final:
            self.polling = False
        self._detect_at = now + self.detect_time()
        out: list[Effect] = []
        if packet.state == State.ADMIN_DOWN:
            if self.state != State.DOWN:
                self._move(State.DOWN, Diag.NEIGHBOR_DOWN, now, out)
        elif self.state == State.DOWN:
            if packet.state == State.DOWN:
                self._move(State.INIT, Diag.NONE, now, out)
            elif packet.state == State.INIT:
                self._move(State.UP, Diag.NONE, now, out)
        elif self.state == State.INIT:
            if packet.state in (State.INIT, State.UP):
                self._move(State.UP, Diag.NONE, now, out)
        elif packet.state == State.DOWN:
            self._move(State.DOWN, Diag.NEIGHBOR_DOWN, now, out)
        if packet.poll:
            out.append(SendPacket(self._packet(final=True)))  # §6.8.6: a Final, at once
        if self._next_tx is None and self._may_send():
            self._next_tx = now  # passive: the peer spoke, start talking
        elif self._next_tx is not None and self.tx_interval() < self._interval:
            self._interval = self.tx_interval()  # the interval shrank: do not wait out the old one
            self._next_tx = min(self._next_tx, now + self._jittered())
        return out

    def admin_down(self, now: float) -> list[Effect]:
        """Take the session administratively down (we stop tracking it): tell the peer once."""
        out: list[Effect] = []
        if self.state != State.ADMIN_DOWN:
            self._move(State.ADMIN_DOWN, Diag.ADMIN_DOWN, now, out)
        self._next_tx = None
        self._detect_at = None
        return out

    def _move(self, new: State, diag: Diag, now: float, out: list[Effect]) -> None:
        """Enter ``new``, say so, and send a packet right away rather than at the next period."""
        old, self.state, self.diag = self.state, new, diag
        # Going Up lowers our interval from idle_tx to min_tx: announce it with a Poll (§6.8.3).
        self.polling = new == State.UP and self.config.min_tx != max(self.config.idle_tx, SLOW_TX)
        out.append(SessionChanged(old, new, diag, self.remote_diag))
        if new == State.ADMIN_DOWN:
            out.append(SendPacket(self._packet()))
        else:
            self._send(now, out)

    def _send(self, now: float, out: list[Effect]) -> None:
        """A periodic packet (if we may send one now), and the time of the next one."""
        if self._may_send():
            out.append(SendPacket(self._packet()))
        if self.config.passive and self.remote_disc == 0:
            self._next_tx = None  # silent until the peer speaks again
        else:
            self._interval = self.tx_interval()
            self._next_tx = now + self._jittered()
