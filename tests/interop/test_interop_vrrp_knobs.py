"""keepalived's advert-policy and VMAC knobs, fastalived against the real keepalived 2.2.7: a master
hearing a lower priority advert (the answer unless ``lower_prio_no_advert``, GARP bursts at once and
``garp_lower_prio_delay`` later), or a higher one (``higher_prio_send_advert``), and a
``use_vmac`` + ``vmac_xmit_base`` unicast pair with one of each."""

from __future__ import annotations

import time

import pytest

from tests.netns.test_vmac_unicast import inject_advert
from tests.support.keepalived import DaemonSet, global_defs_config, vrrp_instance_config
from tests.support.testbed import Flavour

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(60)]

VIP = "198.51.100.100"


@pytest.mark.parametrize("quiet", [False, True], ids=["default", "lower_prio_no_advert"])
@pytest.mark.parametrize("flavour", ["keepalived", "fastalived"])
def test_lower_priority_answer_and_garps_match_keepalived(
    testbed, vrrp_daemons: DaemonSet, flavour: Flavour, quiet: bool
) -> None:
    vrid = 66
    extra = "    garp_master_delay 0\n    garp_lower_prio_repeat 2\n    garp_lower_prio_delay 1"
    extra += "\n    lower_prio_no_advert" if quiet else ""
    bed = testbed(2)
    config = global_defs_config("n1") + vrrp_instance_config(
        "VI_1", vrid, 150, [f"{VIP}/24"], version=3, advert_int=1, extra=extra
    )
    daemon = vrrp_daemons.start(flavour, bed.node(1), config)
    assert bed.wait_for(lambda: bed.node(1).has_address(VIP), 8), daemon.log_text()
    time.sleep(0.3)
    sniffer = bed.sniffer()
    assert sniffer.wait_for(lambda f: f.kind == "vrrp" and f.vrid == vrid, 2) is not None
    sent_at = inject_advert(bed, 2, vrid, 50)
    time.sleep(2.5)

    def garps(since: float, until: float) -> int:
        return sum(1 for f in sniffer.frames("arp", since) if f.gratuitous and f.target == VIP and f.timestamp < until)

    answered = any(
        f.vrid == vrid and f.src_ip == bed.node(1).ipv4 and f.timestamp < sent_at + 0.3
        for f in sniffer.frames("vrrp", sent_at)
    )
    assert (answered, garps(sent_at, sent_at + 0.5), garps(sent_at + 0.5, sent_at + 2.0)) == (not quiet, 2, 2)


@pytest.mark.parametrize("send", [False, True], ids=["default", "higher_prio_send_advert"])
@pytest.mark.parametrize("flavour", ["keepalived", "fastalived"])
def test_higher_priority_answer_matches_keepalived(
    testbed, vrrp_daemons: DaemonSet, flavour: Flavour, send: bool
) -> None:
    vrid = 67
    extra = "    higher_prio_send_advert" if send else ""
    bed = testbed(2)
    config = global_defs_config("n1") + vrrp_instance_config(
        "VI_1", vrid, 150, [f"{VIP}/24"], version=3, advert_int=1, extra=extra
    )
    daemon = vrrp_daemons.start(flavour, bed.node(1), config)
    assert bed.wait_for(lambda: bed.node(1).has_address(VIP), 8), daemon.log_text()
    sniffer = bed.sniffer()
    assert sniffer.wait_for(lambda f: f.kind == "vrrp" and f.vrid == vrid, 2) is not None
    sent_at = inject_advert(bed, 2, vrid, 200)
    assert bed.wait_for(lambda: not bed.node(1).has_address(VIP), 2)  # it yielded
    time.sleep(0.3)
    answers = [f.priority for f in sniffer.frames("vrrp", sent_at) if f.src_ip == bed.node(1).ipv4]
    assert answers == ([150] if send else [])


@pytest.mark.parametrize(("master", "backup"), [("fastalived", "keepalived"), ("keepalived", "fastalived")])
def test_vmac_xmit_base_unicast_pair_with_keepalived(
    testbed, vrrp_daemons: DaemonSet, master: Flavour, backup: Flavour
) -> None:
    bed = testbed(2)

    def config(node: int, priority: int) -> str:
        extra = (
            f"    use_vmac\n    vmac_xmit_base\n    unicast_src_ip 198.51.100.{10 + node}\n"
            f"    unicast_peer {{\n        198.51.100.{13 - node}\n    }}"
        )
        return global_defs_config(f"n{node}") + vrrp_instance_config(
            "VI_1", 68, priority, [f"{VIP}/24"], version=3, advert_int=0.1, extra=extra
        )

    backup_daemon = vrrp_daemons.start(backup, bed.node(2), config(2, 100))
    master_daemon = vrrp_daemons.start(master, bed.node(1), config(1, 150))
    assert bed.wait_for(lambda: bed.node(1).has_address(VIP, "vrrp.68"), 5), master_daemon.log_text()
    time.sleep(1.0)  # ten adverts: the backup hears the master over unicast from its base interface
    assert not bed.node(2).has_address(VIP, "vrrp.68"), backup_daemon.log_text()
    master_daemon.kill_group()
    assert bed.wait_for(lambda: bed.node(2).has_address(VIP, "vrrp.68"), 2), backup_daemon.log_text()


@pytest.mark.parametrize(("master", "backup"), [("fastalived", "keepalived"), ("keepalived", "fastalived")])
def test_mcast_dst_ip_pair_with_keepalived(testbed, vrrp_daemons: DaemonSet, master: Flavour, backup: Flavour) -> None:
    bed = testbed(2)

    def config(node: int, priority: int) -> str:
        return global_defs_config(f"n{node}") + vrrp_instance_config(
            "VI_1", 69, priority, [f"{VIP}/24"], version=3, advert_int=0.1, extra="    mcast_dst_ip 224.0.0.77"
        )

    backup_daemon = vrrp_daemons.start(backup, bed.node(2), config(2, 100))
    master_daemon = vrrp_daemons.start(master, bed.node(1), config(1, 150))
    assert bed.wait_for(lambda: bed.node(1).has_address(VIP), 5), master_daemon.log_text()
    sniffer = bed.sniffer()
    advert = sniffer.wait_for(lambda f: f.kind == "vrrp" and f.vrid == 69, 2)
    assert advert is not None and advert.raw[30:34] == bytes((224, 0, 0, 77))
    time.sleep(1.0)
    assert not bed.node(2).has_address(VIP), backup_daemon.log_text()
    master_daemon.kill_group()
    assert bed.wait_for(lambda: bed.node(2).has_address(VIP), 2), backup_daemon.log_text()
