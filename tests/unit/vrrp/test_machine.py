"""The VRRP state machine against RFC 3768/5798 §6.4 and keepalived's behaviour, on a fake clock."""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import math

import pytest

from fastalived.config.model import VrrpInstance
from fastalived.vrrp.actions import (
    GARP_DELAYED,
    GARP_ON_MASTER,
    GARP_REFRESH,
    Action,
    AddVips,
    Notify,
    RemoveVips,
    SendAdvert,
    SendGarp,
    WantMaster,
)
from fastalived.vrrp.machine import (
    BACKUP,
    FAULT,
    INIT,
    MASTER,
    STATE_NAMES,
    STOP,
    TRANSITIONS,
    MachineParams,
    VrrpMachine,
)

ME = ipaddress.IPv4Address("192.0.2.10").packed
LOWER_IP = ipaddress.IPv4Address("192.0.2.5").packed
HIGHER_IP = ipaddress.IPv4Address("192.0.2.20").packed


def become_master(prio: int) -> list[Action]:
    """keepalived's order on entering MASTER."""
    return [SendAdvert(prio), AddVips(), SendGarp(GARP_ON_MASTER), Notify(MASTER)]


def params(**overrides: object) -> MachineParams:
    base: dict[str, object] = dict(name="VI_1", vrid=51, version=2, priority=100, advert_int=1.0, primary_ip=ME)
    base.update(overrides)
    return MachineParams(**base)  # type: ignore[arg-type]


def started(now: float = 0.0, **overrides: object) -> VrrpMachine:
    machine = VrrpMachine(params(**overrides))
    machine.start(now)
    return machine


def master(now: float = 0.0, **overrides: object) -> VrrpMachine:
    """A machine that became MASTER through the Master_Down_Timer at ``now``."""
    machine = started(now - 10.0, **overrides)
    assert machine.on_timer(now)[-1] == Notify(MASTER)
    assert machine.state == MASTER
    return machine


# --------------------------------------------------------------------------- start-up


def test_state_names_match_ints() -> None:
    assert [STATE_NAMES[s] for s in (INIT, BACKUP, MASTER, FAULT, STOP)] == [
        "INIT",
        "BACKUP",
        "MASTER",
        "FAULT",
        "STOP",
    ]


def test_new_machine_is_init_with_nothing_scheduled() -> None:
    machine = VrrpMachine(params())
    assert (machine.state, machine.next_deadline, machine.transitions) == (INIT, None, 0)
    assert machine.effective_priority == 100


def test_start_enters_backup_and_arms_master_down_v2() -> None:
    machine = VrrpMachine(params())
    assert machine.start(100.0) == [Notify(BACKUP)]
    assert machine.state == BACKUP
    assert machine.skew_time == pytest.approx(156 / 256, abs=1e-9)
    assert machine.next_deadline == pytest.approx(100.0 + 3.0 + 0.609375, abs=1e-6)
    assert machine.transitions == 1


def test_start_twice_does_nothing() -> None:
    machine = started()
    assert machine.start(1.0) == []
    assert machine.transitions == 1


def test_owner_becomes_master_at_once() -> None:
    machine = VrrpMachine(params(priority=255))
    assert machine.start(5.0) == become_master(255)
    assert machine.state == MASTER
    assert machine.master_ip == ME


def test_initial_state_master_still_waits_as_backup() -> None:
    machine = started(initial_state=MASTER)
    assert machine.state == BACKUP


# --------------------------------------------------------------------------- Master_Down_Timer


def test_master_down_fires_exactly_at_deadline_v2() -> None:
    machine = started(0.0, priority=200)  # skew = 56/256 = 0.21875
    deadline = 3.21875
    assert machine.next_deadline == pytest.approx(deadline, abs=1e-6)
    assert machine.on_timer(deadline - 1e-6) == []
    assert machine.state == BACKUP
    assert machine.on_timer(deadline) == become_master(200)
    assert machine.next_deadline == pytest.approx(deadline + 1.0, abs=1e-6)


def test_master_down_v3_uses_interval_in_skew() -> None:
    machine = started(0.0, version=3, advert_int=2.0, priority=100)
    # 3 * 2 + (156 * 2) / 256
    assert machine.next_deadline == pytest.approx(6.0 + 1.21875, abs=1e-6)


def test_v3_backup_adopts_master_interval() -> None:
    machine = started(0.0, version=3, advert_int=1.0, priority=100)
    assert machine.on_advert(1.0, HIGHER_IP, 150, 0.5) == []
    assert machine.master_adver_int == 0.5
    assert machine.next_deadline == pytest.approx(1.0 + 1.5 + 156 * 0.5 / 256, abs=1e-6)
    assert machine.master_ip == HIGHER_IP


def test_v2_backup_keeps_its_own_interval() -> None:
    machine = started(0.0, version=2, advert_int=1.0)
    machine.on_advert(1.0, HIGHER_IP, 150, 0.5)
    assert machine.master_adver_int == 1.0
    assert machine.next_deadline == pytest.approx(1.0 + 3.609375, abs=1e-6)


def test_down_timer_adverts_is_the_multiplier() -> None:
    machine = started(0.0, down_timer_adverts=5)
    assert machine.next_deadline == pytest.approx(5.609375, abs=1e-6)


# --------------------------------------------------------------------------- backup receiving


def test_backup_higher_priority_advert_resets_timer() -> None:
    machine = started(0.0)
    machine.on_advert(2.0, HIGHER_IP, 150, 1.0)
    assert machine.next_deadline == pytest.approx(5.609375, abs=1e-6)
    assert machine.on_timer(5.6) == []
    assert machine.state == BACKUP


def test_backup_equal_priority_advert_resets_timer_whatever_the_address() -> None:
    machine = started(0.0)
    machine.on_advert(2.0, LOWER_IP, 100, 1.0)
    assert machine.next_deadline == pytest.approx(5.609375, abs=1e-6)


def test_backup_priority_zero_sets_skew_time_v2() -> None:
    machine = started(0.0)
    machine.on_advert(1.0, HIGHER_IP, 150, 1.0)
    machine.on_advert(2.0, HIGHER_IP, 0, 1.0)
    assert machine.next_deadline == pytest.approx(2.0 + 0.609375, abs=1e-6)
    assert machine.master_ip is None
    assert machine.on_timer(2.609375) == become_master(100)


def test_backup_priority_zero_sets_skew_time_v3() -> None:
    machine = started(0.0, version=3)
    machine.on_advert(1.0, HIGHER_IP, 150, 0.5)
    machine.on_advert(1.2, HIGHER_IP, 0, 0.5)
    assert machine.next_deadline == pytest.approx(1.2 + 156 * 0.5 / 256, abs=1e-6)


def test_backup_discards_lower_priority_when_preempting() -> None:
    machine = started(0.0, priority=150)
    before = machine.next_deadline
    assert machine.on_advert(1.0, HIGHER_IP, 100, 1.0) == []
    assert machine.next_deadline == before
    assert machine.master_ip is None
    assert machine.on_timer(before)[-1] == Notify(MASTER)


def test_v3_backup_does_not_adopt_interval_from_discarded_advert() -> None:
    machine = started(0.0, version=3, priority=150)
    machine.on_advert(1.0, HIGHER_IP, 100, 0.25)
    assert machine.master_adver_int == 1.0


def test_nopreempt_keeps_lower_master() -> None:
    machine = started(0.0, priority=150, nopreempt=True)
    for t in range(1, 30):
        assert machine.on_advert(float(t), LOWER_IP, 100, 1.0) == []
        assert machine.on_timer(float(t) + 0.5) == []
    assert machine.state == BACKUP
    assert machine.master_ip == LOWER_IP


def test_nopreempt_still_takes_over_a_released_master() -> None:
    machine = started(0.0, priority=150, nopreempt=True)
    machine.on_advert(1.0, LOWER_IP, 100, 1.0)
    machine.on_advert(2.0, LOWER_IP, 0, 1.0)
    assert machine.on_timer(2.0 + 106 / 256) == become_master(150)


def test_nopreempt_is_ignored_with_initial_state_master() -> None:
    machine = started(0.0, priority=150, nopreempt=True, initial_state=MASTER)
    deadline = machine.next_deadline
    machine.on_advert(1.0, LOWER_IP, 100, 1.0)
    assert machine.next_deadline == deadline


def test_preempt_delay_extends_startup_wait() -> None:
    machine = started(0.0, priority=128, preempt_delay=2.0)
    assert machine.next_deadline == pytest.approx(2.0 + 3.5, abs=1e-6)  # man page example


def test_preempt_delay_tolerates_lower_master_then_preempts() -> None:
    machine = started(0.0, priority=150, preempt_delay=2.0)
    down = 3.0 + 106 / 256
    machine.on_advert(0.5, LOWER_IP, 100, 1.0)  # inside the start-up window: accepted
    assert machine.next_deadline == pytest.approx(0.5 + down, abs=1e-6)
    machine.on_advert(1.5, LOWER_IP, 100, 1.0)
    assert machine.next_deadline == pytest.approx(1.5 + down, abs=1e-6)
    machine.on_advert(2.5, LOWER_IP, 100, 1.0)  # window over: discarded
    machine.on_advert(3.5, LOWER_IP, 100, 1.0)
    assert machine.next_deadline == pytest.approx(1.5 + down, abs=1e-6)
    assert machine.on_timer(1.5 + down)[-1] == Notify(MASTER)


def test_preempt_delay_window_starts_at_first_lower_advert_after_losing() -> None:
    machine = master(10.0, priority=150, preempt_delay=2.0)
    machine.on_advert(11.0, HIGHER_IP, 200, 1.0)
    assert machine.state == BACKUP
    machine.on_advert(12.0, HIGHER_IP, 200, 1.0)
    # the higher master goes away and a lower one shows up at t=20
    down = 3.0 + 106 / 256
    machine.on_advert(14.0, LOWER_IP, 100, 1.0)
    machine.on_advert(15.0, LOWER_IP, 100, 1.0)
    machine.on_advert(16.5, LOWER_IP, 100, 1.0)  # 2.5 s after the first: discarded
    assert machine.next_deadline == pytest.approx(15.0 + down, abs=1e-6)


def test_preempt_delay_ignored_with_initial_state_master() -> None:
    machine = started(0.0, priority=128, preempt_delay=2.0, initial_state=MASTER)
    assert machine.next_deadline == pytest.approx(3.5, abs=1e-6)


# --------------------------------------------------------------------------- master


def test_master_sends_adverts_on_exact_interval() -> None:
    machine = master(10.0)
    assert machine.next_deadline == pytest.approx(11.0, abs=1e-6)
    assert machine.on_timer(10.999999) == []
    assert machine.on_timer(11.0) == [SendAdvert(100)]
    assert machine.next_deadline == pytest.approx(12.0, abs=1e-6)
    assert machine.on_timer(12.0 + 0.002) == [SendAdvert(100)]
    assert machine.next_deadline == pytest.approx(13.0, abs=1e-6)  # no drift from a late call


def test_master_late_by_several_intervals_sends_once() -> None:
    machine = master(10.0, garp_master_delay=0.0)
    assert machine.on_timer(14.5) == [SendAdvert(100)]
    assert machine.next_deadline == pytest.approx(15.5, abs=1e-6)


def test_master_yields_to_higher_priority() -> None:
    machine = master(10.0)
    assert machine.on_advert(10.5, HIGHER_IP, 150, 1.0) == [RemoveVips(), Notify(BACKUP)]
    assert machine.state == BACKUP
    assert machine.master_ip == HIGHER_IP
    assert machine.next_deadline == pytest.approx(10.5 + 3.609375, abs=1e-6)


def test_v3_master_yielding_adopts_interval() -> None:
    machine = master(10.0, version=3)
    machine.on_advert(10.5, HIGHER_IP, 150, 0.5)
    assert machine.master_adver_int == 0.5
    assert machine.next_deadline == pytest.approx(10.5 + 1.5 + 156 * 0.5 / 256, abs=1e-6)


def test_master_equal_priority_tie_break_on_primary_address() -> None:
    machine = master(10.0)
    assert machine.on_advert(10.2, LOWER_IP, 100, 1.0) == [SendAdvert(100)]
    assert machine.state == MASTER
    assert machine.on_advert(10.4, HIGHER_IP, 100, 1.0)[-1] == Notify(BACKUP)


def test_master_tie_break_compares_ipv6_numerically() -> None:
    low = ipaddress.IPv6Address("fe80::9").packed
    high = ipaddress.IPv6Address("fe80::10").packed
    machine = master(10.0, primary_ip=low)
    assert machine.on_advert(10.2, high, 100, 1.0)[-1] == Notify(BACKUP)


def test_master_answers_lower_priority_at_once() -> None:
    machine = master(10.0)
    assert machine.on_advert(10.3, LOWER_IP, 50, 1.0) == [SendAdvert(100)]
    assert machine.state == MASTER
    assert machine.next_deadline == pytest.approx(11.3, abs=1e-6)


def test_master_answers_priority_zero_at_once() -> None:
    machine = master(10.0)
    assert machine.on_advert(10.3, HIGHER_IP, 0, 1.0) == [SendAdvert(100)]
    assert machine.next_deadline == pytest.approx(11.3, abs=1e-6)


def test_master_ignores_its_own_advert() -> None:
    machine = master(10.0)
    assert machine.on_advert(10.3, ME, 100, 1.0) == []
    assert machine.next_deadline == pytest.approx(11.0, abs=1e-6)


def test_owner_never_yields_to_lower() -> None:
    machine = VrrpMachine(params(priority=255))
    machine.start(0.0)
    assert machine.on_advert(0.5, HIGHER_IP, 254, 1.0) == [SendAdvert(255)]


# --------------------------------------------------------------------------- GARP


def test_garp_second_burst_after_master_delay() -> None:
    machine = master(10.0, garp_master_delay=5.0)
    actions = []
    for t in range(11, 16):
        actions += machine.on_timer(float(t))
    assert actions[-1] == SendGarp(GARP_DELAYED)
    assert actions.count(SendGarp(GARP_DELAYED)) == 1
    assert machine.on_timer(20.0).count(SendGarp(GARP_DELAYED)) == 0


def test_garp_delay_zero_means_no_second_burst() -> None:
    machine = master(10.0, garp_master_delay=0.0)
    actions = [a for t in range(11, 40) for a in machine.on_timer(float(t))]
    assert SendGarp(GARP_DELAYED) not in actions


def test_garp_refresh_is_periodic_and_exact() -> None:
    machine = master(0.0, advert_int=1.0, garp_master_delay=0.0, garp_master_refresh=2.5)
    refreshes = []
    t = 0.0
    while t < 10.0:
        t = machine.next_deadline
        if SendGarp(GARP_REFRESH) in machine.on_timer(t):
            refreshes.append(t)
    assert refreshes == pytest.approx([2.5, 5.0, 7.5, 10.0], abs=1e-6)


def test_leaving_master_cancels_garp_timers() -> None:
    machine = master(0.0, garp_master_refresh=2.0)
    machine.on_advert(0.5, HIGHER_IP, 200, 1.0)
    assert machine.next_deadline == pytest.approx(0.5 + 3.609375, abs=1e-6)
    machine.on_advert(3.0, HIGHER_IP, 200, 1.0)
    assert machine.on_timer(5.5) == []


# --------------------------------------------------------------------------- priority changes


def test_set_priority_clamps_to_1_254() -> None:
    machine = started()
    machine.set_priority(1.0, 400)
    assert machine.effective_priority == 254
    machine.set_priority(1.0, -30)
    assert machine.effective_priority == 1


def test_owner_priority_is_never_changed() -> None:
    machine = VrrpMachine(params(priority=255))
    machine.start(0.0)
    assert machine.set_priority(0.5, 100) == []
    assert machine.effective_priority == 255
    assert machine.on_timer(1.0) == [SendAdvert(255)]


def test_master_adverts_carry_new_priority() -> None:
    machine = master(10.0)
    assert machine.set_priority(10.5, 80) == []
    assert machine.on_timer(11.0) == [SendAdvert(80)]


def test_backup_rising_priority_shortens_running_down_timer() -> None:
    machine = started(0.0, priority=100)
    machine.set_priority(1.0, 228)  # skew 156/256 -> 28/256
    assert machine.next_deadline == pytest.approx(3.0 + 28 / 256, abs=1e-6)
    machine.set_priority(2.0, 100)  # lowering leaves the running timer alone
    assert machine.next_deadline == pytest.approx(3.0 + 28 / 256, abs=1e-6)


def test_raised_priority_preempts_lower_master_on_its_next_advert() -> None:
    machine = started(0.0, priority=90)
    machine.on_advert(1.0, LOWER_IP, 100, 1.0)
    machine.set_priority(1.5, 120)
    machine.on_advert(2.0, LOWER_IP, 100, 1.0)  # now lower: discarded
    deadline = machine.next_deadline
    assert deadline == pytest.approx(1.0 + 3.0 + 136 / 256, abs=1e-6)
    assert machine.on_timer(deadline)[-1] == Notify(MASTER)


# --------------------------------------------------------------------------- FAULT


def test_master_fault_releases_first() -> None:
    machine = master(10.0)
    assert machine.set_fault(10.5, True) == [SendAdvert(0), RemoveVips(), Notify(FAULT)]
    assert (machine.state, machine.next_deadline) == (FAULT, None)


def test_backup_fault_only_notifies() -> None:
    machine = started()
    assert machine.set_fault(1.0, True) == [Notify(FAULT)]
    assert machine.next_deadline is None


def test_fault_ignores_adverts_and_timers() -> None:
    machine = started()
    machine.set_fault(1.0, True)
    assert machine.on_advert(2.0, HIGHER_IP, 0, 1.0) == []
    assert machine.on_timer(100.0) == []
    assert machine.state == FAULT


def test_fault_cleared_returns_to_backup_like_start() -> None:
    machine = started(0.0, priority=128, preempt_delay=2.0)
    machine.set_fault(1.0, True)
    assert machine.set_fault(5.0, False) == [Notify(BACKUP)]
    assert machine.next_deadline == pytest.approx(5.0 + 2.0 + 3.5, abs=1e-6)


def test_owner_fault_cleared_goes_master() -> None:
    machine = VrrpMachine(params(priority=255))
    machine.start(0.0)
    machine.set_fault(1.0, True)
    assert machine.set_fault(2.0, False) == become_master(255)


def test_fault_before_start_starts_in_fault() -> None:
    machine = VrrpMachine(params())
    assert machine.set_fault(0.0, True) == []
    assert machine.start(0.0) == [Notify(FAULT)]
    assert machine.state == FAULT


def test_repeated_fault_reports_are_idempotent() -> None:
    machine = started()
    machine.set_fault(1.0, True)
    assert machine.set_fault(1.5, True) == []
    assert machine.transitions == 2


# --------------------------------------------------------------------------- stop


def test_stop_master_releases_and_drops_vips() -> None:
    machine = master(10.0)
    assert machine.stop(10.5) == [SendAdvert(0), RemoveVips(), Notify(STOP)]
    assert (machine.state, machine.next_deadline) == (STOP, None)


@pytest.mark.parametrize("fault", [False, True])
def test_stop_backup_or_fault_only_notifies(fault: bool) -> None:
    machine = started()
    machine.set_fault(0.5, fault)
    assert machine.stop(1.0) == [Notify(STOP)]
    assert machine.state == STOP


def test_stopped_machine_ignores_everything() -> None:
    machine = started()
    machine.stop(1.0)
    assert machine.on_advert(2.0, HIGHER_IP, 0, 1.0) == []
    assert machine.set_fault(2.0, True) == []
    assert machine.sync_to(2.0, MASTER) == []
    assert machine.stop(3.0) == []


def test_stop_before_start_is_silent() -> None:
    machine = VrrpMachine(params())
    assert machine.stop(0.0) == []
    assert machine.state == STOP


# --------------------------------------------------------------------------- sync groups


def test_sync_to_master_from_backup() -> None:
    machine = started()
    assert machine.sync_to(1.0, MASTER) == become_master(100)


def test_sync_to_backup_from_master_without_release() -> None:
    machine = master(10.0)
    assert machine.sync_to(10.5, BACKUP) == [RemoveVips(), Notify(BACKUP)]
    assert machine.next_deadline == pytest.approx(10.5 + 3.609375, abs=1e-6)


@pytest.mark.parametrize("state", [INIT, FAULT, STOP])
def test_sync_to_other_states_is_ignored(state: int) -> None:
    machine = started()
    assert machine.sync_to(1.0, state) == []
    machine.set_fault(1.0, True)
    assert machine.sync_to(1.0, MASTER) == []


# --------------------------------------------------------------------------- reload


def test_reconfigure_master_keeps_state_and_applies_interval() -> None:
    machine = master(10.0)
    assert machine.reconfigure(10.2, params(advert_int=0.5, priority=120)) == []
    assert machine.state == MASTER
    assert machine.effective_priority == 120
    assert machine.next_deadline == pytest.approx(10.7, abs=1e-6)
    assert machine.on_timer(10.7) == [SendAdvert(120)]
    assert machine.next_deadline == pytest.approx(11.2, abs=1e-6)


def test_reconfigure_same_priority_keeps_tracked_priority() -> None:
    machine = started()
    machine.set_priority(1.0, 130)
    machine.reconfigure(2.0, params(nopreempt=True))
    assert machine.effective_priority == 130


def test_reconfigure_backup_keeps_timer_unless_shorter() -> None:
    machine = started(0.0)
    machine.reconfigure(1.0, params(advert_int=5.0))
    assert machine.next_deadline == pytest.approx(3.609375, abs=1e-6)
    machine.reconfigure(1.0, params(advert_int=0.1))
    assert machine.next_deadline == pytest.approx(1.0 + 0.3 + 156 / 256, abs=1e-6)


def test_reconfigure_v3_backup_keeps_adopted_interval() -> None:
    machine = started(0.0, version=3)
    machine.on_advert(1.0, HIGHER_IP, 150, 0.5)
    machine.reconfigure(1.5, params(version=3, advert_int=2.0))
    assert machine.master_adver_int == 0.5


def test_reconfigure_to_owner_takes_over() -> None:
    machine = started()
    assert machine.reconfigure(1.0, params(priority=255)) == become_master(255)


def test_reconfigure_master_garp_refresh_toggle() -> None:
    machine = master(10.0, garp_master_delay=0.0)
    machine.reconfigure(10.0, params(garp_master_delay=0.0, garp_master_refresh=3.0))
    machine.on_timer(11.0)
    machine.on_timer(12.0)
    assert machine.on_timer(13.0) == [SendAdvert(100), SendGarp(GARP_REFRESH)]
    machine.reconfigure(13.0, params(garp_master_delay=0.0))
    assert all(not isinstance(a, SendGarp) for t in range(14, 30) for a in machine.on_timer(float(t)))


# --------------------------------------------------------------------------- ordering, config


def test_event_after_missed_deadline_runs_timer_first() -> None:
    machine = started(0.0)
    actions = machine.on_advert(10.0, LOWER_IP, 50, 1.0)
    assert actions == become_master(100) + [SendAdvert(100)]


def test_transitions_count_every_state_change() -> None:
    machine = started(0.0)
    machine.on_timer(10.0)
    machine.on_advert(10.5, HIGHER_IP, 200, 1.0)
    machine.set_fault(11.0, True)
    machine.stop(12.0)
    assert machine.transitions == 5


def test_params_from_instance() -> None:
    inst = VrrpInstance(
        name="VI_9",
        interface="eth0",
        virtual_router_id=9,
        state="MASTER",
        priority=150,
        advert_int=0.5,
        version=3,
        nopreempt=True,
        preempt_delay=4.0,
        garp_master_delay=2.0,
        garp_master_repeat=3,
        garp_master_refresh=30.0,
    )
    p = MachineParams.from_instance(inst, ME)
    assert dataclasses.astuple(p) == (
        "VI_9", 9, 3, 150, 0.5, ME, True, 4.0, MASTER, 2.0, 3, 30.0, 3, False, False, 5, 5.0, False
    )  # fmt: skip
    assert MachineParams.from_instance(inst, ME, group_hold=True).group_hold
    assert p.preempts and p.effective_preempt_delay == 0.0
    assert MachineParams.from_instance(dataclasses.replace(inst, state="BACKUP"), ME).initial_state == BACKUP


# --------------------------------------------------------------------------- sync-group hold


def test_group_hold_waits_in_backup_and_reports_want_master() -> None:
    machine = started(0.0, priority=200, group_hold=True)
    deadline = machine.next_deadline
    assert deadline is not None
    assert machine.on_timer(deadline) == [WantMaster(True)]
    assert machine.state == BACKUP and machine.wants_master
    assert machine.next_deadline is None
    assert machine.on_timer(deadline + 10.0) == []  # reported once
    assert machine.sync_to(deadline + 10.0, MASTER) == become_master(200)
    assert machine.state == MASTER and not machine.wants_master


def test_group_hold_master_heard_again_withdraws_the_wish() -> None:
    machine = started(0.0, group_hold=True)
    deadline = machine.next_deadline
    assert deadline is not None
    machine.on_timer(deadline)
    assert machine.on_advert(deadline + 0.5, HIGHER_IP, 150, 1.0) == [WantMaster(False)]
    assert not machine.wants_master
    assert machine.next_deadline == pytest.approx(deadline + 0.5 + machine.master_down_interval)
    # a lower-priority advert does not count as a live master: the wish stays
    again = machine.next_deadline
    assert again is not None
    assert machine.on_timer(again) == [WantMaster(True)]
    assert machine.on_advert(again + 0.1, LOWER_IP, 50, 1.0) == []
    assert machine.wants_master


def test_group_hold_dropped_on_reload_takes_over() -> None:
    machine = started(0.0, group_hold=True)
    deadline = machine.next_deadline
    assert deadline is not None
    machine.on_timer(deadline)
    actions = machine.reconfigure(deadline + 1.0, params(group_hold=False))
    assert actions == become_master(100)


def test_without_group_hold_no_want_master_is_reported() -> None:
    machine = started(0.0)
    deadline = machine.next_deadline
    assert deadline is not None
    assert WantMaster(True) not in machine.on_timer(deadline)
    assert machine.state == MASTER


# --------------------------------------------------------------------------- I/O shortcuts


def test_advert_due_matches_on_timer_for_a_plain_advert() -> None:
    fast, full = master(0.0, garp_master_delay=0.0), master(0.0, garp_master_delay=0.0)
    for now in (1.0, 2.0005, 3.5, 9.0):  # on time, a little late, skipped periods
        actions = full.on_timer(now)
        assert [SendAdvert(p) for p in [fast.advert_due(now)] if p is not None] == actions
        assert fast.next_deadline == full.next_deadline
    assert fast.advert_due(fast.next_deadline - 0.01) is None  # not due yet


def test_advert_due_declines_when_another_timer_is_due_or_not_master() -> None:
    machine = master(0.0, garp_master_delay=1.0)  # GARP_DELAYED and the advert both due at 1.0
    assert machine.advert_due(1.0) is None
    assert machine.on_timer(1.0) == [SendAdvert(100), SendGarp(GARP_DELAYED)]
    assert started(0.0).advert_due(100.0) is None


def test_align_advert_walks_a_master_onto_the_interval_grid() -> None:
    machine = master(0.0, version=3, advert_int=0.01, garp_master_delay=0.0)
    machine.on_timer(100.0037)  # late: the next advert is 10 ms on, 3.7 ms past the 10 ms grid
    gaps = []
    for _ in range(10):
        deadline = machine.next_deadline
        assert deadline is not None
        machine.align_advert(0.001)
        aligned = machine.next_deadline
        assert aligned is not None and deadline - 0.001 - 1e-12 <= aligned <= deadline  # at most 1 ms early
        assert machine.advert_due(aligned) == 100
        gaps.append(aligned)
    steps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(gaps)]
    assert steps[:2] == [0.009, 0.009] and steps[-1] == 0.01  # walked early, then exact periods
    phase = math.fmod(gaps[-1], 0.01)
    assert min(phase, 0.01 - phase) < 1e-6
    backup = started(0.0)
    before = backup.next_deadline
    backup.align_advert(0.001)  # not a master: nothing moves
    assert backup.next_deadline == before


def test_rearms_only_and_steady_advert_match_on_advert() -> None:
    fast, full = started(0.0, version=3, advert_int=0.01), started(0.0, version=3, advert_int=0.01)
    for machine in (fast, full):
        machine.on_advert(0.001, HIGHER_IP, 150, 0.01)
    assert fast.rearms_only(HIGHER_IP, 150, 0.01)
    assert not fast.rearms_only(LOWER_IP, 150, 0.01)  # another router
    assert not fast.rearms_only(HIGHER_IP, 150, 0.02)  # v3 interval change
    assert not fast.rearms_only(HIGHER_IP, 0, 0.01)  # release
    assert not fast.rearms_only(HIGHER_IP, 50, 0.01)  # lower priority: preempt decides
    for now in (0.011, 0.021, 0.03):
        assert full.on_advert(now, HIGHER_IP, 150, 0.01) == []
        assert fast.steady_advert(now) == full.next_deadline
    deadline = fast.next_deadline
    assert deadline is not None
    assert fast.steady_advert(deadline) is None  # due: the caller must take the full path
    assert not master(0.0).rearms_only(HIGHER_IP, 150, 1.0)


# --------------------------------------------------------------------------- transition table


def test_every_state_can_shut_down_and_only_masters_yield() -> None:
    from fastalived.vrrp.machine import Event

    assert all(table[Event.SHUTDOWN] == STOP for table in TRANSITIONS.values())
    assert [state for state, table in TRANSITIONS.items() if Event.YIELD in table] == [MASTER]


def test_want_master_is_typed() -> None:
    machine = started(0.0, group_hold=True)
    assert machine.on_timer(machine.next_deadline or 0.0) == [WantMaster(True)]
