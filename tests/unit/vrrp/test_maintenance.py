"""Operator maintenance (``fastalived ctl maintenance`` / ``resume``) in the machine and the router, on a fake clock."""

from __future__ import annotations

from fastalived.vrrp.actions import Notify, RemoveVips, SendAdvert, WantMaster
from fastalived.vrrp.effects import GroupChanged
from fastalived.vrrp.machine import BACKUP, FAULT, MASTER
from tests.unit.vrrp.test_machine import HIGHER_IP, LOWER_IP, become_master, master, started
from tests.unit.vrrp.test_router import ETH0, GROUPED, actions, config, instance, packet, router_for, run_timers, states

# --------------------------------------------------------------------------- machine


def test_a_master_in_maintenance_hands_over_with_one_priority_zero_advert() -> None:
    machine = master(10.0)
    assert machine.set_maintenance(10.2, True) == [SendAdvert(0), RemoveVips(), Notify(BACKUP)]
    assert machine.state == BACKUP and machine.maintenance
    assert machine.master_ip is None
    # a second request changes nothing
    assert machine.set_maintenance(10.3, True) == []


def test_maintenance_never_takes_master_on_silence() -> None:
    machine = master(10.0)
    machine.set_maintenance(10.0, True)
    for now in (15.0, 60.0, 600.0):
        assert machine.on_timer(now) == []
        assert machine.state == BACKUP
    # a peer's priority 0 release would normally make us master after Skew_Time: not now
    machine.on_advert(601.0, HIGHER_IP, 0, 1.0)
    assert machine.on_timer(700.0) == []
    assert machine.state == BACKUP


def test_resume_takes_master_back_from_a_lower_priority_master() -> None:
    machine = master(10.0, priority=150)
    machine.set_maintenance(10.0, True)
    machine.on_advert(11.0, LOWER_IP, 100, 1.0)  # the peer took over
    assert machine.on_timer(30.0) == [] and machine.state == BACKUP
    assert machine.set_maintenance(30.0, False) == []
    deadline = machine.next_deadline
    assert deadline is not None and deadline <= 30.0 + machine.master_down_interval
    machine.on_advert(30.5, LOWER_IP, 100, 1.0)  # lower priority: discarded, we preempt
    assert machine.on_timer(deadline) == become_master(150)


def test_resume_without_preempt_stays_backup_under_a_live_master() -> None:
    machine = master(10.0, priority=150, nopreempt=True)
    machine.set_maintenance(10.0, True)
    machine.set_maintenance(20.0, False)
    for step in range(10):
        machine.on_advert(20.5 + step, LOWER_IP, 100, 1.0)
    assert machine.state == BACKUP and not machine.maintenance


def test_the_address_owner_in_maintenance_stays_backup_and_takes_over_at_resume() -> None:
    machine = started(0.0, priority=255)
    assert machine.state == MASTER
    machine.set_maintenance(1.0, True)
    assert machine.state == BACKUP
    assert machine.on_timer(100.0) == [] and machine.state == BACKUP
    assert machine.set_maintenance(100.0, False) == become_master(255)


def test_maintenance_in_fault_comes_up_as_backup_and_a_held_group_member_stops_wanting() -> None:
    machine = started(0.0, priority=255)
    machine.set_fault(1.0, True)
    machine.set_maintenance(2.0, True)
    assert machine.state == FAULT
    machine.set_fault(3.0, False)
    assert machine.state == BACKUP  # the owner would be MASTER at once otherwise
    held = started(0.0, group_hold=True)
    held.on_timer(10.0)
    assert held.wants_master
    assert held.set_maintenance(10.0, True) == [WantMaster(False)]
    assert held.sync_to(11.0, MASTER) == [] and held.state == BACKUP


# --------------------------------------------------------------------------- router


def test_router_maintenance_hands_over_and_resume_preempts_back() -> None:
    router, _ = router_for(config(instance(priority=150)))
    run_timers(router, 10.0)
    assert router.is_master("VI_1")
    effects = router.set_maintenance("VI_1", True, 10.2)
    assert actions(effects) == [SendAdvert(0), RemoveVips()]
    assert states(effects) == [("VI_1", BACKUP)]
    assert router.instances["VI_1"].priority_zero_sent == 1
    router.receive(ETH0, packet(priority=100), b"", -1, 11.0)  # the peer is master now
    assert states(run_timers(router, 30.0)) == [] and not router.is_master("VI_1")
    router.set_maintenance("VI_1", False, 30.0)
    router.receive(ETH0, packet(priority=100), b"", -1, 30.5)
    assert ("VI_1", MASTER) in states(run_timers(router, 35.0))


def test_maintenance_of_one_sync_group_member_keeps_the_whole_group_backup() -> None:
    router, _ = router_for(config(*GROUPED))
    run_timers(router, 10.0)
    effects = router.set_maintenance("VI_1", True, 10.5)
    assert sorted(states(effects)) == [("VI_1", BACKUP), ("VI_2", BACKUP)]
    assert GroupChanged("G", BACKUP) in effects
    assert all(state != MASTER for _, state in states(run_timers(router, 100.0)))
    router.set_maintenance("VI_1", False, 100.0)
    assert {name for name, state in states(run_timers(router, 110.0)) if state == MASTER} == {"VI_1", "VI_2"}
