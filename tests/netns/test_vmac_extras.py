"""VMAC extras seen on the wire: ``garp_extra_if`` (periodic GARPs for VIPs on interfaces other
than the instance's), ``use_ipvlan`` (the VIP on an ipvlan interface instead of a macvlan; skipped
on kernels without ipvlan) and ``garp_group`` (GARPs spaced per group of interfaces).

Real VRRP child processes in namespaces (the ``cluster`` fixture of test_vrrp_scenarios); the
extra interface is a veth pair inside the node, sniffed on its far end.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import time

import pytest

from tests.netns.test_vrrp_scenarios import VIP, cluster, holders, instance, master_down, wait_holder
from tests.support.netns import Testbed, wait_for
from tests.support.wire import Sniffer

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]
__all__ = ["cluster"]  # the fixture, shared with test_vrrp_scenarios

EXTRA_VIP = "198.51.100.109"


def node_with_extra_interface(cluster, vrid: int, extra: str):  # type: ignore[no-untyped-def]
    """One node (not started) with VI_1 configured with ``extra``, and ``xa``: a veth whose far end
    ``xb`` (also in the node) is where a sniffer listens."""
    bed, (daemon,) = cluster([instance("VI_1", vrid, 150, [f"{VIP}/24"], extra=extra, advert_int=1)], start=False)
    node = bed.node(1)
    node.check_output(["ip", "link", "add", "xa", "type", "veth", "peer", "name", "xb"])
    for ifname in ("xa", "xb"):
        node.check_output(["ip", "link", "set", ifname, "up"])
    return bed, daemon, node


def test_garp_extra_if_sends_periodic_garps_on_the_extra_interface(cluster) -> None:
    extra = (
        "    garp_master_delay 0\n    garp_master_repeat 1\n    garp_extra_if 2 all\n"
        f"    virtual_ipaddress_excluded {{\n        {EXTRA_VIP}/24 dev xa\n        198.51.100.110/24 dev xa\n    }}"
    )
    bed, n1, node = node_with_extra_interface(cluster, 71, extra)
    xa_mac = node.check_output(["ip", "-br", "link", "show", "xa"]).split()[2]
    with contextlib.closing(Sniffer(node.netns, "xb")) as far_end, contextlib.closing(bed.sniffer()) as bridge:
        n1.start()
        assert wait_holder(bed, 1, 6), holders(bed)
        time.sleep(8.5)

        garps = [f for f in far_end.frames("arp") if f.gratuitous]
        # One at the take-over (garp_master_repeat 1 per VIP), then one per interface (the first
        # VIP on it) each time the first advert after the 2 s timer goes out.
        periodic = [f for f in garps if f.target == EXTRA_VIP][1:]
        assert {f.target for f in garps} == {EXTRA_VIP, "198.51.100.110"}
        assert 2 <= len(periodic) <= 4, [(f.timestamp, f.target) for f in garps]
        assert all(f.src_mac == xa_mac for f in garps)
        gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(periodic)]
        assert all(1.5 <= gap <= 3.6 for gap in gaps), gaps
        assert len([f for f in garps if f.target == "198.51.100.110"]) == 1  # the take-over's only
        # The instance's own interface gets no periodic ones (it sends adverts).
        assert len([f for f in bridge.frames("arp") if f.gratuitous and f.target == VIP]) == 1


def ipvlan_instance(node: int, priority: int) -> str:
    return instance(
        "VI_1", 72, priority, [f"{VIP}/24"], extra=f"    use_ipvlan ipv72 198.51.100.{50 + node}/24 private\n"
    )


def on_ipvlan(bed: Testbed) -> list[int]:
    return [n.index for n in bed.nodes if n.has_address(VIP, "ipv72")]


def test_use_ipvlan_carries_the_vip_on_an_ipvlan_and_fails_over(cluster) -> None:
    bed, (n1, n2) = cluster([ipvlan_instance(1, 150), ipvlan_instance(2, 100)], start=False)
    probe = subprocess.run(
        ["ip", "-n", bed.node(1).netns, "link", "add", "link", "eth0", "name", "ipvprobe", "type", "ipvlan"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"this kernel cannot create ipvlan interfaces: {probe.stderr.strip()}")
    bed.node(1).check_output(["ip", "link", "del", "ipvprobe"])
    n1.start()
    n2.start()
    assert wait_for(lambda: on_ipvlan(bed) == [1], 6), (on_ipvlan(bed), n1.log_text())
    for index in (1, 2):
        details = bed.node(index).check_output(["ip", "-d", "-o", "link", "show", "ipv72"])
        assert "ipvlan  mode l2 private" in details, details
        assert bed.node(index).has_address(f"198.51.100.{50 + index}", "ipv72")  # its own address, always
    assert holders(bed) == []  # not on eth0
    assert n2.states() == ["BACKUP"]

    sniffer = bed.sniffer()
    advert = sniffer.wait_for(lambda f: f.kind == "vrrp" and f.vrid == 72, 3)
    assert advert is not None and advert.src_ip == "198.51.100.51"  # from the ipvlan's address
    assert advert.src_mac == bed.node(1).mac  # an ipvlan has its parent's MAC

    killed_at = n1.kill9()
    assert wait_for(lambda: on_ipvlan(bed) == [1, 2], master_down(100) + 1.0)  # node 1's stays: kill -9
    garp = sniffer.wait_for(lambda f: f.kind == "arp" and f.gratuitous and f.target == VIP, 3, since=killed_at)
    assert garp is not None and garp.src_mac == bed.node(2).mac


def test_garp_group_spaces_the_take_over_garps(cluster) -> None:
    group = "garp_group {\n    garp_interval 0.3\n    interfaces {\n        eth0\n    }\n}\n"
    extra = "    garp_master_delay 0\n    garp_master_repeat 3"
    bed, (n1,) = cluster([group + instance("VI_1", 73, 150, [f"{VIP}/24"], extra=extra, advert_int=1)], start=False)
    with contextlib.closing(bed.sniffer()) as sniffer:
        n1.start()
        assert wait_holder(bed, 1, 6), holders(bed)

        def garps() -> list[float]:
            return [f.timestamp for f in sniffer.frames("arp") if f.gratuitous and f.target == VIP]

        assert wait_for(lambda: len(garps()) == 3, 3), garps()
    gaps = [b - a for a, b in itertools.pairwise(garps())]
    assert all(0.25 <= gap <= 0.8 for gap in gaps), gaps  # back to back without the group


def test_use_vmac_addr_puts_other_interfaces_vips_on_vmacs_that_garp_extra_if_refreshes(cluster) -> None:
    extra = (
        "    use_vmac_addr\n    garp_master_delay 0\n    garp_master_repeat 1\n    garp_extra_if 2\n"
        f"    virtual_ipaddress_excluded {{\n        {EXTRA_VIP}/24 dev xa\n    }}"
    )
    bed, n1, node = node_with_extra_interface(cluster, 74, extra)
    with contextlib.closing(Sniffer(node.netns, "xb")) as far_end:
        n1.start()
        assert wait_holder(bed, 1, 6), holders(bed)  # the instance's own VIP stays on eth0
        assert wait_for(lambda: node.has_address(EXTRA_VIP, "vrrp.74"), 3)
        details = node.check_output(["ip", "-d", "-o", "link", "show", "vrrp.74"])
        assert "vrrp.74@xa" in details and "macvlan mode private" in details, details
        time.sleep(5.5)
        garps = [f for f in far_end.frames("arp") if f.gratuitous and f.target == EXTRA_VIP]
    # The take-over's, then the periodic ones (a VMAC elsewhere needs no 'all'), all from its MAC.
    assert 2 <= len(garps) <= 4, [f.timestamp for f in garps]
    assert {f.src_mac for f in garps} == {"00:00:5e:00:01:4a"}
    n1.terminate()
    assert wait_for(lambda: "vrrp.74" not in node.check_output(["ip", "-o", "link"]), 5)  # deleted with it
