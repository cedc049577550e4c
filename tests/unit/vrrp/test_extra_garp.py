"""garp_extra_if in the sans-IO core on a fake clock (keepalived's vmac_garp_timer: armed on
becoming MASTER, looked at by the timed adverts only), and the shell's choice of interfaces."""

from __future__ import annotations

from fastalived.config.model import VrrpInstance
from fastalived.vrrp.actions import GARP_EXTRA_IF, SendAdvert, SendGarp
from fastalived.vrrp.effects import InstanceAction
from fastalived.vrrp.extra_garp import ExtraIfTimer
from fastalived.vrrp.machine import BACKUP, MASTER
from fastalived.vrrp.router import VrrpRouter
from fastalived.vrrp.vips import base_device, extra_if_vips, unshared_vmac_addrs
from tests.unit.vrrp.test_router import ETH0, config, instance, packet, router_for, run_timers

EXTRA = "    virtual_ipaddress_excluded {\n        198.51.100.9/24 dev eth1\n        198.51.100.10/24 dev eth1\n    }\n"


def extra_garp_times(effects: list[tuple[float, object]]) -> list[float]:
    return [t for t, e in effects if isinstance(e, InstanceAction) and e.action == SendGarp(GARP_EXTRA_IF)]


def timed(router: VrrpRouter, until: float) -> list[tuple[float, object]]:
    """run_timers one advert period at a time, remembering when each effect happened."""
    out: list[tuple[float, object]] = []
    t = 0.0
    while t < until:
        t += 0.5
        out += [(t, e) for e in run_timers(router, t)]
    return out


def owner(extra: str) -> VrrpInstance:
    return config(instance(priority=255, extra=extra)).vrrp_instances[0]


def test_timer_arms_on_master_and_fires_with_the_first_advert_after_it() -> None:
    cfg = owner("    garp_extra_if 3 all\n" + EXTRA)
    timer = ExtraIfTimer()
    timer.entered(cfg, MASTER, 10.0)
    assert timer.after_adverts(cfg, [SendAdvert(255)], 13.0) == [SendAdvert(255)]  # not past it yet
    assert timer.after_adverts(cfg, [], 13.5) == []  # no advert: no look
    assert timer.after_adverts(cfg, [SendAdvert(255)], 14.0) == [SendAdvert(255), SendGarp(GARP_EXTRA_IF)]
    assert timer.deadline == 17.0  # re-armed from the advert, not from the old deadline
    assert timer.after_adverts(cfg, [SendAdvert(0)], 18.0) == [SendAdvert(0)]  # a release is no timed advert
    timer.entered(cfg, BACKUP, 18.0)
    assert not timer.due(100.0)


def test_router_sends_extra_garps_every_interval_on_the_advert_grid() -> None:
    router, _ = router_for(config(instance(priority=255, extra="    garp_extra_if 3 all\n" + EXTRA)))
    assert router.is_master("VI_1")
    assert extra_garp_times(timed(router, 12.0)) == [4.0, 8.0, 12.0]
    assert router.advert_due("VI_1", 13.0, 0.0) is not None  # the fast path while not due
    assert router.advert_due("VI_1", 16.0, 0.0) is None  # due: the slow path, which adds the GARP


def test_no_extra_garps_without_the_keyword_or_once_backup() -> None:
    router, _ = router_for(config(instance(priority=255, extra=EXTRA)))
    assert extra_garp_times(timed(router, 10.0)) == []
    router, _ = router_for(config(instance(priority=100, state="MASTER", extra="    garp_extra_if 1 all\n" + EXTRA)))
    run_timers(router, 4.0)
    assert router.is_master("VI_1")
    router.receive(ETH0, packet(priority=200), b"", -1, 4.1)
    assert not router.is_master("VI_1")
    assert extra_garp_times(timed(router, 7.5)) == []  # until its down timer makes it master again


def test_extra_if_vips_needs_all_for_plain_interfaces_and_takes_one_vip_each() -> None:
    assert extra_if_vips(owner("    garp_extra_if 3\n" + EXTRA)) == []  # no VMAC elsewhere, no 'all'
    chosen = extra_if_vips(owner("    garp_extra_if 3 all\n" + EXTRA))
    assert [(str(s.address.ip), s.dev) for s in chosen] == [("198.51.100.9", "eth1")]
    assert extra_if_vips(owner("    garp_extra_if 0 all\n" + EXTRA)) == []
    assert extra_if_vips(owner("    garp_extra_if 3 all\n")) == []  # every VIP on the instance's interface


def test_the_vmac_itself_counts_only_with_vmac_xmit_base() -> None:
    vmac = "    use_vmac\n    garp_extra_if 3 all\n" + EXTRA
    assert [s.dev for s in extra_if_vips(owner(vmac))] == ["eth1"]
    with_base = [s.dev for s in extra_if_vips(owner(vmac + "    vmac_xmit_base\n"))]
    assert with_base == [None, "eth1"]  # None: the VMAC, the default device
    assert extra_if_vips(owner("    use_vmac\n    vmac_xmit_base\n    garp_extra_if 3 all\n")) == []


def test_a_vmac_elsewhere_needs_no_all_and_is_paced_by_its_base() -> None:
    cfg = owner("    use_vmac_addr\n    garp_extra_if 3\n" + EXTRA)
    assert [v.name for v in cfg.vmac_addrs] == ["vrrp.51"]
    assert [(str(s.address.ip), s.dev) for s in extra_if_vips(cfg)] == [("198.51.100.9", "vrrp.51")]
    assert base_device(cfg, "vrrp.51") == "eth1"
    other = owner("    use_vmac_addr\n" + EXTRA)
    assert unshared_vmac_addrs(cfg, [other]) == [] and unshared_vmac_addrs(cfg, []) == ["vrrp.51"]
