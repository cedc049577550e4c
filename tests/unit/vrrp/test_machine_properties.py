"""Random event sequences and a simulated LAN of machines: invariants that must always hold."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from fastalived.vrrp.actions import Action, AddVips, Notify, RemoveVips, SendAdvert
from fastalived.vrrp.machine import BACKUP, FAULT, INIT, MASTER, STOP, MachineParams, VrrpMachine

ME = ipaddress.IPv4Address("192.0.2.10").packed
PEERS = [ipaddress.IPv4Address(a).packed for a in ("192.0.2.5", "192.0.2.10", "192.0.2.20")]

params_strategy = st.builds(
    MachineParams,
    name=st.just("VI_1"),
    vrid=st.just(51),
    version=st.sampled_from([2, 3]),
    priority=st.integers(1, 255),
    advert_int=st.sampled_from([0.01, 0.5, 1.0, 3.0]),
    primary_ip=st.just(ME),
    nopreempt=st.booleans(),
    preempt_delay=st.sampled_from([0.0, 0.5, 5.0]),
    initial_state=st.sampled_from([BACKUP, MASTER]),
    garp_master_delay=st.sampled_from([0.0, 5.0]),
    garp_master_refresh=st.sampled_from([0.0, 0.7, 60.0]),
)

delay = st.floats(0.0, 8.0, allow_nan=False)
events = st.one_of(
    st.tuples(st.just("start"), delay),
    st.tuples(st.just("timer"), delay),
    st.tuples(st.just("timer_at_deadline"), st.just(0.0)),
    st.tuples(
        st.just("advert"), delay, st.sampled_from(PEERS), st.integers(0, 255), st.sampled_from([0.01, 0.5, 1.0, 2.0])
    ),
    st.tuples(st.just("priority"), delay, st.integers(-50, 300)),
    st.tuples(st.just("fault"), delay, st.booleans()),
    st.tuples(st.just("sync"), delay, st.sampled_from([INIT, BACKUP, MASTER, FAULT, STOP])),
    st.tuples(st.just("stop"), delay),
    st.tuples(st.just("reconfigure"), delay, params_strategy),
)


def apply(machine: VrrpMachine, now: float, event: tuple) -> list[Action]:
    kind = event[0]
    if kind == "start":
        return machine.start(now)
    if kind in ("timer", "timer_at_deadline"):
        return machine.on_timer(now)
    if kind == "advert":
        return machine.on_advert(now, event[2], event[3], event[4])
    if kind == "priority":
        return machine.set_priority(now, event[2])
    if kind == "fault":
        return machine.set_fault(now, event[2])
    if kind == "sync":
        return machine.sync_to(now, event[2])
    if kind == "stop":
        return machine.stop(now)
    return machine.reconfigure(now, event[2])


@settings(max_examples=200, deadline=None)
@given(params_strategy, st.lists(events, max_size=60))
def test_random_events_keep_invariants(params: MachineParams, sequence: list[tuple]) -> None:
    machine = VrrpMachine(params)
    now = 1000.0
    vips_present = False
    for event in sequence:
        if event[0] == "timer_at_deadline" and machine.next_deadline is not None:
            now = max(now, machine.next_deadline)
        now += event[1]
        state_before = machine.state
        notified = []
        for action in apply(machine, now, event):
            if isinstance(action, AddVips):
                assert not vips_present
                vips_present = True
            elif isinstance(action, RemoveVips):
                assert vips_present
                vips_present = False
            elif isinstance(action, Notify):
                notified.append(action.state)
            elif isinstance(action, SendAdvert):
                assert 0 <= action.priority <= 255
        assert machine.state in (INIT, BACKUP, MASTER, FAULT, STOP)
        if notified:
            assert notified[-1] == machine.state
        elif machine.state != STOP:
            assert machine.state == state_before  # every transition but a silent stop is notified
        assert vips_present == (machine.state == MASTER)
        assert machine.next_deadline is None or machine.next_deadline >= now
        assert (machine.state in (BACKUP, MASTER)) == (machine.next_deadline is not None)
        assert 1 <= machine.effective_priority <= 255


# --------------------------------------------------------------------------- a simulated LAN


class Lan:
    """Machines sharing one segment: adverts reach every other running machine instantly."""

    def __init__(self, *priorities: int, **overrides: object) -> None:
        self.machines = [
            VrrpMachine(
                MachineParams(
                    name="VI_1",
                    vrid=51,
                    version=3,
                    priority=prio,
                    advert_int=1.0,
                    primary_ip=bytes([192, 0, 2, 1 + index]),
                    **overrides,  # type: ignore[arg-type]
                )
            )
            for index, prio in enumerate(priorities)
        ]
        self.now = 0.0

    def deliver(self, sender: VrrpMachine, actions: list[Action]) -> None:
        for action in actions:
            if not isinstance(action, SendAdvert):
                continue
            for peer in self.machines:
                if peer is not sender:
                    self.deliver(peer, peer.on_advert(self.now, sender.params.primary_ip, action.priority, 1.0))

    def run_until(self, end: float) -> None:
        while True:
            deadlines = [(m.next_deadline, i) for i, m in enumerate(self.machines) if m.next_deadline is not None]
            if not deadlines or min(deadlines)[0] > end:
                break
            self.now, index = min(deadlines)
            machine = self.machines[index]
            self.deliver(machine, machine.on_timer(self.now))
        self.now = end

    def call(self, index: int, method: str, *args: object) -> None:
        machine = self.machines[index]
        self.deliver(machine, getattr(machine, method)(self.now, *args))

    def masters(self) -> list[int]:
        return [i for i, m in enumerate(self.machines) if m.state == MASTER]


def test_highest_priority_wins_and_failover_follows() -> None:
    lan = Lan(100, 150, 200)
    for i in range(3):
        lan.call(i, "start")
    lan.run_until(10.0)
    assert lan.masters() == [2]
    lan.call(2, "stop")  # priority 0 release: 150 takes over after its skew time only
    release_at = lan.now
    lan.run_until(release_at + 0.5)
    assert lan.masters() == [1]
    lan.call(2, "start")
    lan.run_until(lan.now + 10.0)
    assert lan.masters() == [2]


def test_equal_priorities_elect_highest_address() -> None:
    lan = Lan(100, 100, 100)
    for i in range(3):
        lan.call(i, "start")
    lan.run_until(20.0)
    assert lan.masters() == [2]


def test_nopreempt_keeps_the_sitting_master() -> None:
    lan = Lan(100, 200, nopreempt=True)
    lan.call(0, "start")
    lan.run_until(5.0)
    assert lan.masters() == [0]
    lan.call(1, "start")
    lan.run_until(30.0)
    assert lan.masters() == [0]


def test_fault_hands_over_and_recovery_preempts_back() -> None:
    lan = Lan(100, 200)
    lan.call(0, "start")
    lan.call(1, "start")
    lan.run_until(5.0)
    lan.call(1, "set_fault", True)
    lan.run_until(6.0)
    assert lan.masters() == [0]
    lan.call(1, "set_fault", False)
    lan.run_until(12.0)
    assert lan.masters() == [1]
