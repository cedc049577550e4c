"""GarpPacer on a fake clock: keepalived's per-interface / per-garp_group next send times."""

from __future__ import annotations

from fastalived.config.model import GarpGroup, GlobalDefs
from fastalived.vrrp.garp_pacing import GarpPacer
from fastalived.vrrp.vips import base_device
from tests.unit.vrrp.test_extra_garp import owner

GROUPED = GlobalDefs(
    garp_groups=(GarpGroup(garp_interval=0.5, interfaces=("eth0", "eth1")),),
    vrrp_garp_interval=0.2,
    vrrp_gna_interval=0.3,
)


def test_unpaced_interfaces_send_at_once() -> None:
    pacer = GarpPacer()
    assert not pacer.paced(GlobalDefs(), "eth0")
    assert [pacer.slot(GlobalDefs(), "eth0", 4, 10.0) for _ in range(3)] == [10.0, 10.0, 10.0]


def test_a_group_shares_one_pace_across_its_interfaces() -> None:
    pacer = GarpPacer()
    slots = [pacer.slot(GROUPED, dev, 4, 10.0) for dev in ("eth0", "eth1", "eth0")]
    assert slots == [10.0, 10.5, 11.0]
    assert pacer.slot(GROUPED, "eth1", 4, 20.0) == 20.0  # idle long enough: at once
    assert pacer.slot(GROUPED, "eth0", 6, 20.0) == pacer.slot(GROUPED, "eth0", 6, 20.0) == 20.0  # no gna_interval


def test_interfaces_outside_groups_each_get_the_global_intervals() -> None:
    pacer = GarpPacer()
    assert [pacer.slot(GROUPED, "eth2", 4, 0.0) for _ in range(2)] == [0.0, 0.2]
    assert pacer.slot(GROUPED, "eth3", 4, 0.0) == 0.0  # its own pace
    assert [pacer.slot(GROUPED, "eth2", 6, 0.0) for _ in range(2)] == [0.0, 0.3]  # NAs apart from GARPs


def test_a_vmac_is_paced_by_its_base_interface() -> None:
    cfg = owner("    use_vmac\n")
    assert base_device(cfg, "vrrp.51") == "eth0"
    assert base_device(cfg, "eth1") == "eth1"
