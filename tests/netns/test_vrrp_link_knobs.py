"""How link and source-address changes reach VRRP instances, end to end: ``interface_up_down_delays``
absorbs a flap shorter than the delay and faults on a longer one, ``linkbeat_interfaces`` polls
the link instead of trusting netlink, and ``track_src_ip`` keeps an instance in FAULT while its
configured source address is missing."""

from __future__ import annotations

import time

import pytest

from tests.netns.test_vrrp_scenarios import VIP, cluster, holders, instance, master_down, wait_holder
from tests.support.netns import wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

__all__ = ["cluster"]  # the fixture, shared with the scenario tests

ADVERT = 1.0  # delays must stay below (down_timer_adverts - 1) * advert_int = 2 s
DOWN_DELAY = 1.5
UP_DELAY = 0.5


def test_up_down_delays_absorb_a_short_flap_and_fault_on_a_longer_one(cluster) -> None:
    delays = f"interface_up_down_delays {{\n    eth0 {DOWN_DELAY} {UP_DELAY}\n}}\n"
    bed, (n1, _) = cluster(
        [
            delays + instance("VI_1", 91, 150, [f"{VIP}/24"], advert_int=ADVERT),
            instance("VI_1", 91, 100, [f"{VIP}/24"], advert_int=ADVERT),
        ]
    )
    assert wait_holder(bed, 1, master_down(150, ADVERT) + 3), holders(bed)

    # Down for 0.3 s: shorter than the down delay, the master never notices.
    bed.set_link(1, False)
    time.sleep(0.3)
    bed.set_link(1, True)
    assert wait_for(lambda: "Delay timer for eth0 cancelled" in n1.log_text(), 3), n1.log_text()
    time.sleep(DOWN_DELAY + 0.5)
    assert "FAULT" not in n1.states(), n1.log_text()
    assert holders(bed) == [1]

    # Down for longer than the delay: FAULT, but not before the delay ran out.
    went_down = bed.set_link(1, False)
    assert wait_for(lambda: "FAULT" in n1.states(), DOWN_DELAY + 3), n1.log_text()
    assert time.time() - went_down >= DOWN_DELAY - 0.1
    assert wait_for(lambda: bed.node(2).has_address(VIP), master_down(100, ADVERT) + 2)
    bed.set_link(1, True)
    assert wait_holder(bed, 1, UP_DELAY + master_down(150, ADVERT) + 3), holders(bed)
    assert n1.states()[-3:] == ["FAULT", "BACKUP", "MASTER"]


def test_linkbeat_polls_the_link_instead_of_netlink(cluster) -> None:
    polled = "linkbeat_interfaces {\n    eth0 ETHTOOL\n}\n"
    bed, (n1, _) = cluster(
        [polled + instance("VI_1", 92, 150, [f"{VIP}/24"]), instance("VI_1", 92, 100, [f"{VIP}/24"])]
    )
    assert wait_holder(bed, 1, 3), holders(bed)
    bed.set_link(1, False)
    assert wait_for(lambda: "FAULT" in n1.states(), 3), n1.log_text()
    assert "Linkbeat reports eth0 down" in n1.log_text()
    assert "Netlink reports eth0" not in n1.log_text()
    bed.set_link(1, True)
    assert wait_holder(bed, 1, master_down(150) + 3), holders(bed)


def test_track_src_ip_faults_while_the_source_address_is_missing(cluster) -> None:
    source = "198.51.100.51"

    def unicast(priority: int, src: str, peer: str, extra: str = "") -> str:
        body = f"    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n{extra}"
        return instance("VI_1", 93, priority, [f"{VIP}/24"], extra=body)

    bed, (n1, _) = cluster(
        [
            unicast(150, source, "198.51.100.12", "    track_src_ip\n"),
            unicast(100, "198.51.100.12", source),
        ]
    )
    # Missing from the start: FAULT at once; the address appearing brings the instance up.
    assert n1.states() == ["FAULT"], n1.log_text()
    assert wait_holder(bed, 2, master_down(100) + 3), holders(bed)
    bed.node(1).add_address(f"{source}/24")
    assert wait_holder(bed, 1, master_down(150) + 3), holders(bed)
    assert n1.states() == ["FAULT", "BACKUP", "MASTER"], n1.log_text()

    bed.node(1).delete_address(f"{source}/24")
    assert wait_for(lambda: n1.states()[-1] == "FAULT", 3), n1.log_text()
    assert wait_holder(bed, 2, master_down(100) + 2), holders(bed)

    bed.node(1).add_address(f"{source}/24")
    assert wait_holder(bed, 1, master_down(150) + 3), holders(bed)
    assert n1.states()[-3:] == ["FAULT", "BACKUP", "MASTER"]
