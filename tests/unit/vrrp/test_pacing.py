"""The master's paced adverts (``Pacer``, both builds; ``Pacing`` with the timer heap): what is sent
at each expiry, what is written back, and when the loop takes the instance back. Loopback UDP
stands in for the raw socket: the pacer sends whatever bytes it holds."""

from __future__ import annotations

import asyncio
import os
import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from fastalived.vrrp import wire
from fastalived.vrrp.io import DeadlineScheduler
from tests.unit.vrrp.test_codec_sockets import SO_TIMESTAMPNS, _advert4, raw4  # noqa: F401 - raw4: a fixture
from tests.unit.vrrp.test_machine import master, started

PERIOD = 0.01
HEADER = bytes.fromhex("45c0001c0000000040700000c63364010a000001")  # IPv4, TTL 64, proto 112
PAYLOAD = b"\x31\x07\x96\x01\x00\x01\x02\x03"


@dataclass
class FakeMachine:
    """Answers ``advert_due`` as a steady master does; ``declines`` makes it refuse. It keeps no
    Adver_Timer, so the compiled pacer asks it at every expiry."""

    effective_priority: int = 150
    declines: bool = False
    state: str = "MASTER"
    _adver_deadline: float | None = None
    due_calls: list[float] = field(default_factory=list)
    params: Any = field(default_factory=lambda: SimpleNamespace(advert_int=PERIOD))

    def advert_due(self, now: float) -> int | None:
        if self.declines:
            return None
        self.due_calls.append(now)
        return self.effective_priority

    def adverts_only(self) -> bool:
        return not self.declines


@pytest.fixture
def udp() -> Iterator[tuple[socket.socket, socket.socket]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield rx, tx
    rx.close()
    tx.close()


def _pacer(
    impl: ModuleType, tx: socket.socket, rx: socket.socket, machine: FakeMachine, stale: list[int], binding: Any = None
) -> tuple[Any, Any]:
    """A pacer sending to ``rx``; with ``binding`` given, its sender is not the pacer's (rebuilt)."""
    sender = SimpleNamespace(ip_id=7)
    binding = binding or SimpleNamespace(sender=sender, adverts_sent=0)
    pacer = impl.Pacer(
        tx.fileno(), socket.AF_INET, [HEADER + PAYLOAD], [rx.getsockname()], True, sender.ip_id, PERIOD,
        wire.monotonic() + PERIOD, machine, binding, sender, machine.effective_priority, lambda: stale.append(1),
    )  # fmt: skip
    return pacer, binding


def _tick_until(pacer: Any, expiries: int, timeout: float = 5.0) -> None:
    """Run the pacer as the loop would, for ``expiries`` timer expiries."""
    seen = 0
    while seen < expiries:
        ready, _, _ = select.select([pacer.fd], [], [], timeout)
        assert ready, "the pacer's timer never expired"
        pacer.tick()
        seen += 1


def _received(rx: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(rx.recv(2048))
        except BlockingIOError:
            return out


def test_each_expiry_sends_the_next_ip_id_and_writes_back(codec_impl: ModuleType, udp) -> None:
    rx, tx = udp
    machine, stale = FakeMachine(), []
    pacer, binding = _pacer(codec_impl, tx, rx, machine, stale)
    first = pacer.next
    try:
        _tick_until(pacer, 3)
    finally:
        pacer.close()
    packets = _received(rx)
    assert [int.from_bytes(p[4:6], "big") for p in packets] == [8, 9, 10]
    for packet in packets:
        assert codec_impl.internet_checksum(packet[:20]) == 0  # header checksum redone per ID
        assert packet[20:] == PAYLOAD and packet[:4] == HEADER[:4]
    assert binding.adverts_sent == 3 and binding.sender.ip_id == pacer.ip_id == 10 and not stale
    assert machine.due_calls[0] >= first  # never asked before its deadline
    assert pacer.next == pytest.approx(first + 3 * PERIOD, abs=PERIOD)


def test_changed_sender_or_priority_or_declining_machine_hands_back(codec_impl: ModuleType, udp) -> None:
    rx, tx = udp
    for change in ("sender", "priority", "declines"):
        machine, stale = FakeMachine(), []
        dropped = SimpleNamespace(sender=None, adverts_sent=0) if change == "sender" else None
        pacer, _ = _pacer(codec_impl, tx, rx, machine, stale, dropped)  # sender: the role dropped it
        try:
            if change == "priority":
                machine.effective_priority = 100
            else:
                machine.declines = True
            _tick_until(pacer, 1)
        finally:
            pacer.close()
        assert stale == [1], change
        assert not machine.due_calls and _received(rx) == [], change


def test_a_real_master_is_left_where_advert_due_would(codec_impl: ModuleType, udp) -> None:
    """The compiled pacer re-arms an unchanged machine's Adver_Timer itself: after each expiry
    the machine is due exactly when the pacer is, and it asks the machine again once it changed."""
    rx, tx = udp
    machine, stale = master(wire.monotonic(), version=3, advert_int=PERIOD, garp_master_delay=0), []
    sender = SimpleNamespace(ip_id=0)
    binding = SimpleNamespace(sender=sender, adverts_sent=0)
    assert machine.adverts_only()
    pacer = codec_impl.Pacer(
        tx.fileno(), socket.AF_INET, [HEADER + PAYLOAD], [rx.getsockname()], True, 0, PERIOD,
        machine.next_deadline, machine, binding, sender, machine.effective_priority, lambda: stale.append(1),
    )  # fmt: skip
    try:
        for _ in range(4):
            _tick_until(pacer, 1)
            assert machine.next_deadline == pacer.next and machine.adverts_only()
        machine.set_priority(pacer.next, 50)  # a change the pacer must not serve
        _tick_until(pacer, 1)
    finally:
        pacer.close()
    assert binding.adverts_sent == 4 == len(_received(rx)) and stale == [1]


@pytest.fixture
def scheduler() -> Iterator[DeadlineScheduler]:
    loop = asyncio.new_event_loop()
    sched = DeadlineScheduler(loop, lambda now, keys: None)
    yield sched
    sched.close()
    loop.close()


def _engage(sched: DeadlineScheduler, rx: socket.socket, tx: socket.socket, machine: FakeMachine) -> float:
    targets = [(HEADER + PAYLOAD, rx.getsockname())]
    vsock = SimpleNamespace(fd=tx.fileno(), family=socket.AF_INET, send_errors=0)
    sender = SimpleNamespace(ip_id=0, vsock=vsock, paced_packets=lambda priority: targets)
    binding = SimpleNamespace(sender=sender, adverts_sent=0)
    deadline = wire.monotonic() + 60
    assert sched.pace("VI_1", binding, machine, 150, deadline)
    return deadline


def test_a_new_deadline_takes_a_paced_key_back(scheduler: DeadlineScheduler, udp) -> None:
    rx, tx = udp
    _engage(scheduler, rx, tx, FakeMachine())
    assert "VI_1" in scheduler.pacing.pacers and scheduler._earliest() is None
    scheduler.set("VI_1", 123.0)  # the router armed the instance: the machine changed
    assert not scheduler.pacing.pacers and scheduler._earliest() == 123.0


def test_unpace_all_puts_keys_back_at_their_deadline(scheduler: DeadlineScheduler, udp) -> None:
    rx, tx = udp
    deadline = _engage(scheduler, rx, tx, FakeMachine())
    scheduler.unpace_all()
    assert not scheduler.pacing.pacers and scheduler._earliest() == deadline


def test_a_machine_with_other_timers_is_not_paced(scheduler: DeadlineScheduler, udp) -> None:
    rx, tx = udp
    with pytest.raises(AssertionError):
        _engage(scheduler, rx, tx, FakeMachine(declines=True))
    assert not scheduler.pacing.pacers


# ------------------------------------------------------------------------------------ watches


@dataclass
class FakeBackup:
    """Answers ``steady_advert`` as a backup hearing its master does, with the fields the
    compiled ``Watch`` reads to repeat it; ``declines``: it is due."""

    master_down_interval: float = 0.036
    declines: bool = False
    heard_at: list[float] = field(default_factory=list)
    state: str = "BACKUP"
    effective_priority: int = 100
    master_adver_int: float = 0.01
    _master_down_deadline: float | None = None

    def steady_advert(self, now: float) -> float | None:
        if self.declines:
            return None
        self.heard_at.append(now)
        self._master_down_deadline = now + self.master_down_interval
        return self._master_down_deadline


def _receive_all(codec: ModuleType, sock: socket.socket, table: Any, count: int) -> tuple[list, int]:
    """recv_sorted until ``count`` VRID-201 packets were hits or handled (others' traffic skipped)."""
    hits: list = []
    handled = 0
    while len(hits) + handled < count:
        readable, _, _ = select.select([sock], [], [], 2.0)
        assert readable, "timed out waiting for loopback packets"
        got_hits, _ = codec.recv_sorted(sock.fileno(), table, 8)
        hits += got_hits
        handled += table.handled
    return hits, handled


@pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")
def test_watched_repeats_restart_the_down_timer_in_the_edge(
    codec_impl: ModuleType,
    raw4: socket.socket,  # noqa: F811 - the fixture imported above
) -> None:
    raw4.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    machine, inst, binding, expired = FakeBackup(), SimpleNamespace(adverts_received=0), object(), []
    watch = codec_impl.Watch(machine, inst, binding, wire.monotonic() + 60, lambda: expired.append(1))
    table = codec_impl.SteadyTable()
    table.set(201, _advert4(codec_impl, 201, 150, 1), watch)
    try:
        before = wire.monotonic()
        for ident in (2, 3):
            raw4.sendto(_advert4(codec_impl, 201, 150, ident), ("127.0.0.1", 0))
        hits, handled = _receive_all(codec_impl, raw4, table, 2)
        assert (hits, handled) == ([], 2)  # the role saw nothing
        assert inst.adverts_received == 2 and machine.heard_at  # the compiled one repeats the first itself
        assert before - 0.5 < machine.heard_at[0] <= wire.monotonic()  # kernel arrival, on the monotonic clock
        assert watch.deadline == machine._master_down_deadline >= machine.heard_at[0] + machine.master_down_interval
        machine.declines, machine.state = True, "MASTER"  # it changed: the role's own path takes the repeat
        raw4.sendto(_advert4(codec_impl, 201, 150, 4), ("127.0.0.1", 0))
        hits, handled = _receive_all(codec_impl, raw4, table, 1)
        assert [owner for owner, _ in hits] == [binding] and handled == 0 and not expired
    finally:
        table.clear(201)


def test_watched_repeats_leave_the_machine_where_steady_advert_would(codec_impl: ModuleType) -> None:
    """The compiled watch repeats ``steady_advert`` itself while nothing it reads changed: the
    same deadlines to the bit as the machine's own method, which it calls again once the
    priority moves (set_priority keeps a lowered priority's deadline)."""
    watched, reference = started(version=3, advert_int=0.01), started(version=3, advert_int=0.01)
    inst = SimpleNamespace(adverts_received=0)
    watch = codec_impl.Watch(watched, inst, object(), watched.next_deadline, lambda: None)
    for step in range(1, 13):
        at = 0.0101 * step
        if step == 6:
            watched.set_priority(at, 50)
            reference.set_priority(at, 50)
        assert watch.hear(at) and reference.steady_advert(at) == watch.deadline
        assert watched.next_deadline == watch.deadline
    assert inst.adverts_received == 12 and watched.master_down_interval != started(version=3).master_down_interval


def test_a_refreshed_watch_set_does_not_wake_before_the_moved_deadline(codec_impl: ModuleType) -> None:
    """Repeats move the deadline on; once the armed expiry is in the first half of what is left,
    ``refresh`` (which recv_sorted calls after a batch) re-arms for the new one, so a steady
    backup has no wakeups but its adverts'."""
    machine, inst = FakeBackup(master_down_interval=6.0), SimpleNamespace(adverts_received=0)
    watches = codec_impl.WatchSet()
    now = wire.monotonic()
    watch = codec_impl.Watch(machine, inst, object(), now + 0.5, lambda: None)
    try:
        watches.add(watch)
        assert watch.hear(now + 0.4)  # the deadline is now + 6.4
        watches.refresh(now + 0.4)  # 0.1 s left before the armed expiry, 6 s before the deadline
        assert select.select([watches.fd], [], [], 0.8)[0] == []  # the old expiry passed quietly
    finally:
        watches.close()


def test_watch_set_expires_due_watches_and_rearms_for_moved_ones(codec_impl: ModuleType) -> None:
    """One timer for every watch: early expiries re-arm for the new earliest deadline, due
    watches expire, released ones are never heard again."""
    machine, inst, expired = FakeBackup(master_down_interval=60), SimpleNamespace(adverts_received=0), []
    watches = codec_impl.WatchSet()
    now = wire.monotonic()
    moved = codec_impl.Watch(machine, inst, object(), now + 0.01, lambda: expired.append("moved"))
    due = codec_impl.Watch(machine, inst, object(), now + 0.02, lambda: (expired.append("due"), watches.remove(due)))
    try:
        watches.add(moved)
        watches.add(due)
        assert moved.hear(wire.monotonic())  # a repeat: its deadline moves a minute on
        assert select.select([watches.fd], [], [], 2.0)[0]  # armed for its old deadline still
        watches.tick()
        assert expired == [] and inst.adverts_received == 1  # nothing due yet: re-armed
        assert select.select([watches.fd], [], [], 2.0)[0]
        watches.tick()
        assert expired == ["due"]  # its deadline came: the role took it back
        assert len(watches) == 1 and select.select([watches.fd], [], [], 0.1)[0] == []
        watches.remove(moved)
        assert not moved.hear(wire.monotonic())  # released: repeats go back to the role
    finally:
        watches.close()


def test_an_expiring_watch_reads_the_sockets_before_handing_back() -> None:
    """A repeat waiting in a socket (read late) keeps the watch; without one the heap takes over."""
    loop = asyncio.new_event_loop()
    late_repeat: list[Any] = []  # the watch, and when the kernel received the repeat: before the deadline
    sched = DeadlineScheduler(loop, lambda now, keys: None, lambda: [w.hear(at) for w, at in late_repeat])
    machine = FakeBackup(master_down_interval=60)
    machine.down_timer_only = lambda: True  # type: ignore[attr-defined]
    inst = SimpleNamespace(machine=machine, adverts_received=0)
    try:
        for repeat_waiting in (True, False):
            deadline = wire.monotonic() + 0.01
            sched.set("VI_1", deadline)
            watch = sched.watch("VI_1", inst, object())
            assert isinstance(watch, wire.Watch) and sched._earliest() is None
            late_repeat[:] = [(watch, deadline - 0.001)] if repeat_waiting else []
            watches = sched.watching._set
            assert select.select([watches.fd], [], [], 2.0)[0]
            watches.tick()
            if repeat_waiting:
                assert "VI_1" in sched.watching.watches and inst.adverts_received == 1
                sched.set("VI_1", None)  # the router moved on: released
                assert not sched.watching.watches
            else:
                assert not sched.watching.watches and sched._earliest() == deadline
                sched.set("VI_1", None)
    finally:
        sched.close()
        loop.close()
