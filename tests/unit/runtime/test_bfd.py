"""The pure BFD session (RFC 5880 asynchronous mode) driven with a fake clock: packets in,
effects and deadlines out, two sessions wired back to back where a peer is needed."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest

from fastalived.config.model import BfdInstance
from fastalived.runtime.bfd import (
    BadPacket,
    BfdSession,
    ControlPacket,
    Diag,
    Effect,
    SendPacket,
    SessionChanged,
    State,
    decode,
)


def instance(name: str = "b1", **kw) -> BfdInstance:
    kw.setdefault("min_rx", 0.1)
    kw.setdefault("min_tx", 0.1)
    kw.setdefault("multiplier", 3)
    return BfdInstance(name, ipaddress.ip_address("198.51.100.12"), **kw)


def sent(effects: list[Effect]) -> list[ControlPacket]:
    return [e.packet for e in effects if isinstance(e, SendPacket)]


def changes(effects: list[Effect]) -> list[tuple[State, State, int]]:
    return [(e.old, e.new, e.diag) for e in effects if isinstance(e, SessionChanged)]


def peer_packet(state: State, your_disc: int, **kw) -> ControlPacket:
    kw.setdefault("diag", 0)
    kw.setdefault("detect_mult", 3)
    kw.setdefault("my_disc", 0xBEEF)
    kw.setdefault("desired_min_tx", 100_000)
    kw.setdefault("required_min_rx", 100_000)
    return ControlPacket(state, your_disc=your_disc, **kw)


class Wire:
    """Two sessions back to back with instant delivery, run on a fake clock by deadlines."""

    def __init__(self, a: BfdSession, b: BfdSession) -> None:
        self.sessions = (a, b)
        self.now = 0.0
        self.log: list[tuple[float, str, State, State, int]] = []
        self.cut = False  # packets lost in both directions
        self.sent: list[tuple[float, str, ControlPacket]] = []

    def _deliver(self, src: int, effects: list[Effect]) -> None:
        pending = [(src, effects)]
        while pending:
            index, batch = pending.pop(0)
            name = "ab"[index]
            for e in batch:
                if isinstance(e, SessionChanged):
                    self.log.append((self.now, name, e.old, e.new, e.diag))
                elif not self.cut:
                    self.sent.append((self.now, name, e.packet))
                    other = 1 - index
                    pending.append((other, self.sessions[other].receive(decode(e.packet.encode()), self.now)))

    def run(self, until: float) -> None:
        while True:
            due = [(s.deadline(), i) for i, s in enumerate(self.sessions) if s.deadline() is not None]
            when, index = min(due)
            if when > until:
                self.now = until
                return
            self.now = max(self.now, when)
            self._deliver(index, self.sessions[index].tick(self.now))


def pair(a_kw: dict | None = None, b_kw: dict | None = None) -> Wire:
    rng = random.Random(7)
    a = BfdSession(instance("a", **(a_kw or {})), 0x1111, 0.0, rng)
    b = BfdSession(instance("b", **(b_kw or {})), 0x2222, 0.0, rng)
    return Wire(a, b)


# --------------------------------------------------------------------------- codec


def test_control_packet_round_trips_and_has_rfc_layout() -> None:
    packet = ControlPacket(State.UP, 3, 5, 1, 2, 300_000, 200_000, poll=True)
    data = packet.encode()
    assert len(data) == 24
    assert data[0] == 0x23  # version 1, diag 3
    assert data[1] == 0xE0  # state Up (3 << 6) | Poll
    assert data[3] == 24
    assert decode(data) == packet


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d[:20], "short"),
        (lambda d: bytes([0x40]) + d[1:], "version"),
        (lambda d: d[:1] + bytes([d[1] | 0x04]) + d[2:], "authentication"),
        (lambda d: d[:2] + b"\x00" + d[3:], "multiplier"),
        (lambda d: d[:1] + bytes([d[1] | 0x01]) + d[2:], "multipoint"),
        (lambda d: d[:4] + b"\0\0\0\0" + d[8:], "my discriminator"),
        (lambda d: d[:3] + b"\x30" + d[4:], "length"),
    ],
)
def test_decode_discards_what_rfc5880_6_8_6_says_to(mutate, reason: str) -> None:
    data = ControlPacket(State.DOWN, 0, 3, 7, 0, 1_000_000, 100_000).encode()
    with pytest.raises(BadPacket, match=reason):
        decode(mutate(data))


def test_decode_discards_up_without_your_discriminator() -> None:
    with pytest.raises(BadPacket, match="your discriminator 0"):
        decode(ControlPacket(State.UP, 0, 3, 7, 0, 1_000_000, 100_000).encode())


# --------------------------------------------------------------------------- state machine


def test_three_way_handshake_with_hand_made_packets() -> None:
    s = BfdSession(instance(), 0x1234, 0.0, random.Random(1))
    first = sent(s.tick(0.0))
    assert [(p.state, p.your_disc, p.desired_min_tx) for p in first] == [(State.DOWN, 0, 1_000_000)]

    out = s.receive(peer_packet(State.DOWN, 0), 0.1)  # the peer is Down: we go Init
    assert changes(out) == [(State.DOWN, State.INIT, Diag.NONE)]
    assert [(p.state, p.your_disc) for p in sent(out)] == [(State.INIT, 0xBEEF)]

    out = s.receive(peer_packet(State.UP, 0x1234), 0.2)  # the peer is Up: so are we
    assert changes(out) == [(State.INIT, State.UP, Diag.NONE)]
    (up,) = sent(out)
    assert up.state == State.UP and up.poll and up.desired_min_tx == 100_000  # Poll: our interval changed
    assert s.up and s.polling

    assert sent(s.receive(peer_packet(State.UP, 0x1234, final=True), 0.25)) == []
    assert not s.polling


def test_down_to_up_directly_when_the_peer_is_in_init() -> None:
    s = BfdSession(instance(), 0x1234, 0.0)
    assert changes(s.receive(peer_packet(State.INIT, 0x1234), 0.0)) == [(State.DOWN, State.UP, Diag.NONE)]


def test_two_sessions_come_up_and_settle_at_the_fast_interval() -> None:
    wire = pair()
    wire.run(3.0)
    a, b = wire.sessions
    assert a.up and b.up and not a.polling and not b.polling
    assert [entry[3] for entry in wire.log if entry[1] == "a"] == [State.UP]  # b was in Init already
    assert a.detect_time() == pytest.approx(0.3)
    late = [t for t, name, _ in wire.sent if name == "a" and t > 2.0]
    gaps = [y - x for x, y in itertools.pairwise(late)]
    assert gaps and all(0.075 - 1e-9 <= g <= 0.1 + 1e-9 for g in gaps), gaps  # 75-100 % jitter


def test_detect_timeout_takes_the_session_down_with_diag_1() -> None:
    wire = pair()
    wire.run(2.0)
    a, _ = wire.sessions
    assert a.up
    wire.cut = True
    cut_at = wire.now
    wire.run(cut_at + 1.0)
    downs = [e for e in wire.log if e[1] == "a" and e[3] == State.DOWN]
    assert downs and downs[0][4] == Diag.DETECT_EXPIRED
    assert downs[0][0] - cut_at <= 0.3 + 1e-9  # within the detection time: 3 x 100 ms
    assert a.remote_disc == 0 and a.diag == Diag.DETECT_EXPIRED
    assert a.tx_interval() >= 1.0  # back to the slow rate while not Up

    wire.cut = False  # the path heals: the sessions find each other again
    wire.run(wire.now + 5.0)
    assert a.up and wire.sessions[1].up


def test_admin_down_from_the_peer_takes_the_session_down_with_diag_3() -> None:
    s = BfdSession(instance(), 0x1234, 0.0)
    s.receive(peer_packet(State.INIT, 0x1234), 0.0)
    assert s.up
    out = s.receive(peer_packet(State.ADMIN_DOWN, 0x1234, diag=Diag.ADMIN_DOWN), 0.1)
    assert changes(out) == [(State.UP, State.DOWN, Diag.NEIGHBOR_DOWN)]
    # While the peer stays AdminDown we stay Down (not Init).
    assert changes(s.receive(peer_packet(State.ADMIN_DOWN, 0x1234), 0.2)) == []
    assert s.state == State.DOWN


def test_peer_going_down_takes_an_up_session_down() -> None:
    s = BfdSession(instance(), 0x1234, 0.0)
    s.receive(peer_packet(State.INIT, 0x1234), 0.0)
    out = s.receive(peer_packet(State.DOWN, 0x1234, diag=Diag.DETECT_EXPIRED), 0.1)
    assert changes(out) == [(State.UP, State.DOWN, Diag.NEIGHBOR_DOWN)]


def test_poll_is_answered_with_a_final_at_once() -> None:
    s = BfdSession(instance(), 0x1234, 0.0)
    s.receive(peer_packet(State.INIT, 0x1234, final=True), 0.0)
    out = s.receive(peer_packet(State.UP, 0x1234, poll=True, required_min_rx=50_000), 0.5)
    finals = [p for p in sent(out) if p.final]
    assert len(finals) == 1 and not finals[0].poll
    assert s.remote_min_rx == pytest.approx(0.05)


def test_packets_for_another_discriminator_are_ignored() -> None:
    s = BfdSession(instance(), 0x1234, 0.0)
    assert s.receive(peer_packet(State.INIT, 0x9999), 0.0) == []
    assert s.state == State.DOWN and s.remote_disc == 0


def test_passive_session_waits_for_the_peer() -> None:
    s = BfdSession(instance(passive=True), 0x1234, 0.0)
    assert s.deadline() is None and s.tick(5.0) == []
    out = s.receive(peer_packet(State.DOWN, 0), 5.0)
    assert [p.state for p in sent(out)] == [State.INIT]
    assert s.deadline() is not None


def test_jitter_stays_within_75_to_90_percent_with_multiplier_1() -> None:
    s = BfdSession(instance(multiplier=1), 0x1234, 0.0, random.Random(3))
    times = []
    now = 0.0
    for _ in range(200):
        if sent(s.tick(now)):
            times.append(now)
        deadline = s.deadline()
        assert deadline is not None
        now = deadline
    gaps = [y - x for x, y in itertools.pairwise(times)]
    assert min(gaps) >= 0.75 - 1e-9 and max(gaps) <= 0.9 + 1e-9  # idle: 1 s x 75-90 %


def test_admin_down_tells_the_peer_and_goes_quiet() -> None:
    s = BfdSession(instance(), 0x1234, 0.0)
    s.receive(peer_packet(State.INIT, 0x1234), 0.0)
    out = s.admin_down(0.1)
    assert changes(out) == [(State.UP, State.ADMIN_DOWN, Diag.ADMIN_DOWN)]
    assert [(p.state, p.diag) for p in sent(out)] == [(State.ADMIN_DOWN, Diag.ADMIN_DOWN)]
    assert s.deadline() is None
    assert s.receive(peer_packet(State.UP, 0x1234), 0.2) == []
