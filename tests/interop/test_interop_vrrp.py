"""fastalived and the real keepalived 2.2.7 as VRRP peers on one L2 segment.

Each test: the backup (prio 100) starts alone and takes the VIP, the master (prio 150) starts and
preempts it, then the master's whole process group is SIGKILLed and the backup takes over again.
Run with fastalived as master and keepalived as backup and the other way round, so each
implementation has to take over from the other; keepalived against itself checks the harness.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support.keepalived import (
    DaemonSet,
    VrrpDaemon,
    assert_no_bad_packets,
    bad_packet_lines,
    global_defs_config,
    vrrp_instance_config,
)
from tests.support.netns import Testbed
from tests.support.testbed import Flavour
from tests.support.wire import Frame

pytestmark = [pytest.mark.interop, pytest.mark.root]

VRID = 51
MASTER_PRIO, BACKUP_PRIO = 150, 100


@dataclass(frozen=True)
class Scenario:
    """One VRRP flavour of the pair: version, timing, VIP family and auth."""

    version: int
    advert_int: float
    vip: str
    auth_pass: str | None = None

    @property
    def master_down(self) -> float:
        """RFC 5798 Master_Down_Interval of the backup (3 adverts + skew)."""
        return 3 * self.advert_int + (256 - BACKUP_PRIO) / 256 * self.advert_int

    @property
    def vip_address(self) -> str:
        return self.vip.split("/")[0]

    def config(self, router_id: str, priority: int) -> str:
        return global_defs_config(router_id) + vrrp_instance_config(
            "VI_1", VRID, priority, [self.vip], version=self.version,
            advert_int=self.advert_int, auth_pass=self.auth_pass)


V2_PASS = Scenario(2, 1, "198.51.100.100/24", auth_pass="fastaliv")  # v2 takes whole seconds
V3_IPV4 = Scenario(3, 0.1, "198.51.100.100/24")
V3_IPV6 = Scenario(3, 0.1, "2001:db8::100/64")

FA, KA = "fastalived", "keepalived"
CASES = [
    pytest.param(KA, KA, V3_IPV4, id="harness-keepalived-keepalived-v3-ipv4"),
    *(pytest.param(master, backup, scenario, id=f"{master}-master-{backup}-backup-{name}")
      for name, scenario in (("v2-pass", V2_PASS), ("v3-ipv4", V3_IPV4), ("v3-ipv6", V3_IPV6))
      for master, backup in ((FA, KA), (KA, FA))),
]


def _announces(frame: Frame, scenario: Scenario, mac: str) -> bool:
    """A gratuitous ARP / unsolicited NA for the VIP from ``mac``."""
    if frame.src_mac != mac:
        return False
    if ":" in scenario.vip_address:
        return frame.kind == "na" and frame.target == scenario.vip_address
    return frame.kind == "arp" and frame.gratuitous and frame.target == scenario.vip_address


def _holds_vip(bed: Testbed, index: int, scenario: Scenario) -> bool:
    return bed.node(index).has_address(scenario.vip_address)


def _elect(bed: Testbed, daemons: DaemonSet, master_flavour: Flavour, backup_flavour: Flavour,
           scenario: Scenario) -> tuple[VrrpDaemon, VrrpDaemon]:
    """Backup first (it takes the VIP alone), then the master, which must preempt it.

    Starting in this order also guarantees the backup is listening before anything is timed.
    """
    margin = scenario.master_down + max(1.0, 5 * scenario.advert_int)
    backup = daemons.start(backup_flavour, bed.node(2), scenario.config("n2", BACKUP_PRIO))
    assert bed.wait_for(lambda: _holds_vip(bed, 2, scenario), margin + scenario.master_down), \
        f"{backup.name} alone never took the VIP:\n{backup.log_text()}"
    master = daemons.start(master_flavour, bed.node(1), scenario.config("n1", MASTER_PRIO))
    assert bed.wait_for(lambda: _holds_vip(bed, 1, scenario) and not _holds_vip(bed, 2, scenario),
                        2 * margin), \
        f"{master.name} did not preempt:\n{master.log_text()}\n{backup.log_text()}"
    return master, backup


@pytest.mark.parametrize(("master_flavour", "backup_flavour", "scenario"), CASES)
def test_takeover_both_ways(testbed, vrrp_daemons: DaemonSet, master_flavour: Flavour,
                            backup_flavour: Flavour, scenario: Scenario) -> None:
    bed = testbed(2)
    sniffer = bed.sniffer()
    master, backup = _elect(bed, vrrp_daemons, master_flavour, backup_flavour, scenario)
    assert sniffer.wait_for(lambda f: f.kind == "vrrp" and f.src_mac == bed.node(1).mac, 1.0), \
        f"{master.name} holds the VIP but its adverts never reached the wire"
    adverts = sniffer.adverts(vrid=VRID)
    assert {f.version for f in adverts} == {scenario.version}
    assert {f.src_mac for f in adverts} == {bed.node(1).mac, bed.node(2).mac}

    killed_at = master.kill_group()
    assert bed.wait_for(lambda: _holds_vip(bed, 2, scenario), scenario.master_down + 1.0), \
        f"{backup.name} did not take over from the killed {master.name}:\n{backup.log_text()}"
    assert sniffer.wait_for(lambda f: _announces(f, scenario, bed.node(2).mac), 2.0, since=killed_at), \
        f"{backup.name} took the VIP without announcing it (GARP / NA)"
    assert any(f.src_mac == bed.node(2).mac for f in sniffer.adverts(vrid=VRID, since=killed_at)), \
        f"{backup.name} holds the VIP but does not advertise"
    assert_no_bad_packets(master, backup)


@pytest.mark.parametrize(("master_flavour", "backup_flavour"), [(FA, KA), (KA, FA)],
                         ids=["fastalived-master-keepalived-backup", "keepalived-master-fastalived-backup"])
def test_graceful_stop_hands_over_after_skew(testbed, vrrp_daemons: DaemonSet, master_flavour: Flavour,
                                             backup_flavour: Flavour) -> None:
    """SIGTERM makes the master send priority 0; the peer must take over after its skew time
    (61 ms here), well before the 361 ms a silent master would cost."""
    scenario = V3_IPV4
    bed = testbed(2)
    master, backup = _elect(bed, vrrp_daemons, master_flavour, backup_flavour, scenario)
    with bed.node(2).watch_addresses() as watcher:
        stopped_at = master.terminate()
        taken = watcher.wait_added(scenario.vip_address, scenario.master_down + 2)
    assert taken is not None, f"{backup.name} never took over:\n{backup.log_text()}"
    assert taken.received_at - stopped_at < 3 * scenario.advert_int, \
        f"{backup.name} ignored the priority-0 advert (took {taken.received_at - stopped_at:.3f} s)"
    assert bed.wait_for(lambda: not _holds_vip(bed, 1, scenario), 2.0), \
        f"{master.name} kept its VIP after a graceful stop"
    assert_no_bad_packets(master, backup)


def test_password_mismatch_is_reported_by_both_sides(testbed, vrrp_daemons: DaemonSet) -> None:
    """The converse of every clean-log assertion above: a wrong PASS password must be logged by both
    implementations (so a clean log means the adverts really were accepted)."""
    bed = testbed(2)
    good, wrong = V2_PASS, Scenario(2, 1, V2_PASS.vip, auth_pass="wrongpw")
    daemons = [vrrp_daemons.start(FA, bed.node(1), good.config("n1", MASTER_PRIO)),
               vrrp_daemons.start(KA, bed.node(2), wrong.config("n2", BACKUP_PRIO))]
    assert bed.wait_for(lambda: all(bad_packet_lines(d.log_text()) for d in daemons),
                        2 * good.master_down + 2, interval=0.1), \
        "\n".join(f"--- {d.name}\n{d.log_text()}" for d in daemons)
