"""A respawned VRRP child adopting its killed predecessor's MASTER state (``AdoptMaster``), on a fake clock.

The goal is what the peers see: an advert before their Master_Down_Timer expires and no VIP move,
so the adopting machine advertises at once, keeps the VIPs (re-asserted, no change) and sends no
GARP burst; it falls back to a normal start when it is faulted, or when a peer may have taken over
and the instance would not preempt it (``nopreempt``, ``preempt_delay``).
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from fastalived.vrrp.actions import GARP_REFRESH, AddVips, AdoptMaster, Notify, RemoveVips, SendAdvert, SendGarp
from fastalived.vrrp.effects import GroupChanged, InstanceAction, StateChanged
from fastalived.vrrp.machine import BACKUP, FAULT, INIT, MASTER, STOP, TRANSITIONS, Event, MachineParams, VrrpMachine
from fastalived.vrrp.router import VrrpRouter
from tests.unit.vrrp.test_router import ETH0, GROUPED, ME, config, instance, packet

SELF = ipaddress.IPv4Address("192.0.2.10").packed
HIGHER_IP = ipaddress.IPv4Address("192.0.2.20").packed


def machine(**overrides: object) -> VrrpMachine:
    base: dict[str, object] = dict(name="VI_1", vrid=51, version=3, priority=150, advert_int=0.1, primary_ip=SELF)
    base.update(overrides)
    return VrrpMachine(MachineParams(**base))  # type: ignore[arg-type]


ADOPTED = [SendAdvert(150), AddVips(), Notify(MASTER, adopted=True)]


def test_adoption_advertises_at_once_keeps_the_vips_and_sends_no_garp() -> None:
    vrrp = machine()
    assert vrrp.start(10.0, AdoptMaster(silent_since=9.95)) == ADOPTED
    assert vrrp.state == MASTER and vrrp.master_ip == SELF
    assert vrrp.next_deadline == pytest.approx(10.1)  # then the usual Adver_Timer
    assert vrrp.on_timer(10.1) == [SendAdvert(150)]


def test_without_adoption_the_start_is_unchanged() -> None:
    vrrp = machine()
    assert vrrp.start(10.0) == [Notify(BACKUP)]
    assert vrrp.state == BACKUP


def test_adoption_is_only_a_first_start_from_init() -> None:
    assert TRANSITIONS[INIT][Event.ADOPT] == MASTER
    assert [state for state, table in TRANSITIONS.items() if Event.ADOPT in table] == [INIT]
    vrrp = machine()
    vrrp.start(0.0)
    vrrp.stop(1.0)
    assert vrrp.state == STOP
    assert vrrp.start(2.0, AdoptMaster(1.99)) == [Notify(BACKUP)]  # a restart after STOP starts over


def test_a_faulted_instance_does_not_adopt() -> None:
    vrrp = machine()
    vrrp.set_fault(10.0, True)
    assert vrrp.start(10.0, AdoptMaster(9.95)) == [Notify(FAULT)]


@pytest.mark.parametrize("setting", [{"nopreempt": True}, {"preempt_delay": 5.0}])
def test_no_preemption_adopts_only_while_no_peer_can_have_taken_over(setting: dict[str, object]) -> None:
    # down_timer_adverts 3 x 0.1 s: a peer's Master_Down_Interval is more than 0.3 s after our last advert,
    # which left at most one advert_int before the predecessor died.
    assert machine(**setting).start(10.0, AdoptMaster(silent_since=9.85)) == ADOPTED
    late = machine(**setting)
    assert late.start(10.0, AdoptMaster(silent_since=9.7)) == [Notify(BACKUP)]
    assert late.state == BACKUP


def test_a_preempting_instance_adopts_however_late() -> None:
    # A peer that took over in the meantime has a lower priority: it would be preempted anyway.
    assert machine().start(60.0, AdoptMaster(silent_since=10.0)) == ADOPTED


def test_an_adopted_master_yields_to_a_higher_priority_advert() -> None:
    vrrp = machine()
    vrrp.start(10.0, AdoptMaster(9.95))
    assert vrrp.on_advert(10.05, HIGHER_IP, 200, 0.1) == [RemoveVips(), Notify(BACKUP)]
    assert vrrp.state == BACKUP and vrrp.master_ip == HIGHER_IP


def test_an_adopted_master_answers_a_lower_priority_advert() -> None:
    vrrp = machine()
    vrrp.start(10.0, AdoptMaster(9.95))
    assert vrrp.on_advert(10.05, HIGHER_IP, 100, 0.1) == [SendAdvert(150)]
    assert vrrp.state == MASTER


def test_adoption_keeps_the_garp_refresh_but_no_delayed_burst() -> None:
    vrrp = machine(garp_master_refresh=2.0, garp_master_delay=5.0)
    vrrp.start(10.0, AdoptMaster(9.95))
    actions = []
    for tick in range(1, 80):
        actions += vrrp.on_timer(10.0 + tick * 0.1)
    garps = [a for a in actions if isinstance(a, SendGarp)]
    assert garps == [SendGarp(GARP_REFRESH)] * 3  # at 12, 14 and 16 s; nothing at 15 s


# --------------------------------------------------------------------------- through the router


def adopting_router(*blocks: str, now: float = 10.0, adopt: tuple[str, ...] = ("VI_1",)) -> tuple[VrrpRouter, list]:
    cfg = config(*blocks)
    router = VrrpRouter()
    router.configure(cfg)
    effects: list = []
    for inst in cfg.vrrp_instances:
        router.add(inst)
        effects += router.bind(inst.name, "eth0", socket.AF_INET, ME, now)
        for ifname in router.links_to_learn(inst.name):
            router.learn_link(ifname, True)
    for inst in cfg.vrrp_instances:
        effects += router.start(inst.name, now, AdoptMaster(now - 0.05) if inst.name in adopt else None)
    return router, effects


def test_router_reports_an_adopted_state_change_and_counts_no_new_mastership() -> None:
    router, effects = adopting_router(instance("VI_1", 51, 150))
    changes = [e for e in effects if isinstance(e, StateChanged)]
    assert changes == [StateChanged("VI_1", INIT, MASTER, 150, adopted=True)]
    assert [e.action for e in effects if isinstance(e, InstanceAction)] == [SendAdvert(150), AddVips()]
    assert router.instances["VI_1"].became_master == 0


def test_router_adopted_master_still_loses_to_a_better_peer() -> None:
    router, _ = adopting_router(instance("VI_1", 51, 150))
    effects = router.receive(ETH0, packet(vrid=51, priority=200), b"", -1, 10.05).effects
    assert StateChanged("VI_1", MASTER, BACKUP, 150) in effects
    assert InstanceAction("VI_1", RemoveVips()) in effects


def test_a_sync_group_of_adopted_members_is_master_without_a_group_notify() -> None:
    router, effects = adopting_router(*GROUPED, adopt=("VI_1", "VI_2"))
    assert router.sync_groups["G"].state == MASTER
    groups = [e for e in effects if isinstance(e, GroupChanged)]
    assert groups[-1] == GroupChanged("G", MASTER, adopted=True) and all(e.adopted for e in groups)
    assert all(e.adopted for e in effects if isinstance(e, StateChanged))
