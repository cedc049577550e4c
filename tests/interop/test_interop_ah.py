"""``auth_type AH`` between fastalived and the real keepalived 2.2.7, both ways.

keepalived's AH has no key exchange: one sequence-number counter per instance serves what it
sends and what it accepts, so the numbers must flow across a pre-emption and a take-over in both
directions. Each test: the backup (prio 100) starts alone and takes the VIP, the master (prio 150)
starts with a fresh counter and must pre-empt it (it first takes the backup's numbers), the backup
then stays BACKUP with every advert accepted (its keepalived-format stats, SIGUSR2), and takes over
again when the master stops. A wrong ``auth_pass`` must show up as a counted drop on both sides.
"""

from __future__ import annotations

import re
import signal
import time
from functools import partial

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
from tests.support.testbed import Flavour, wait_for
from tests.support.wire import Frame

pytestmark = [pytest.mark.interop, pytest.mark.root]

VRID = 52
VIP = "198.51.100.110"
MASTER_PRIO, BACKUP_PRIO = 150, 100
ADVERT_INT = 1  # VRRPv2 (the only version with AH) takes whole seconds
MASTER_DOWN = 3 * ADVERT_INT + (256 - BACKUP_PRIO) / 256 * ADVERT_INT
FA, KA = "fastalived", "keepalived"
_AH = 51


def config(router_id: str, priority: int, password: str = "fastaliv") -> str:
    return global_defs_config(router_id) + vrrp_instance_config(
        "VI_AH", VRID, priority, [f"{VIP}/24"], version=2, advert_int=ADVERT_INT, auth_pass=password, auth_type="AH"
    )


def holds_vip(bed: Testbed, index: int) -> bool:
    return bed.node(index).has_address(VIP)


def in_ah(frame: Frame) -> bool:
    """An advert carried inside an AH header (IP protocol 51), as keepalived sends it."""
    return frame.raw[23] == _AH


def stats(daemon: VrrpDaemon) -> dict[str, int]:
    """The daemon's keepalived-format stats (SIGUSR2 -> $TMPDIR/keepalived.stats), as
    ``{"Advertisements/Received": n, "Authentication Errors/Failure": n, ...}``."""
    assert daemon.proc is not None
    path = daemon.run_dir / "tmp" / "keepalived.stats"
    asked = time.time()
    daemon.proc.send_signal(signal.SIGUSR2)
    assert wait_for(lambda: path.exists() and path.stat().st_mtime >= asked - 0.01 and path.stat().st_size, 10), (
        f"{daemon.name} wrote no stats:\n{daemon.log_text()}"
    )
    time.sleep(0.2)  # written in one go, but give a slow box the benefit of the doubt
    values: dict[str, int] = {}
    section = ""
    for line in path.read_text().splitlines():
        if m := re.fullmatch(r"  (\S.*):", line):
            section = m.group(1)
        elif m := re.fullmatch(r"\s+(\S.*): (\d+)", line):
            values[f"{section}/{m.group(1)}"] = int(m.group(2))
    return values


def auth_failures_reach(daemon: VrrpDaemon, count: int) -> bool:
    return stats(daemon)["Authentication Errors/Failure"] >= count


def elect(
    bed: Testbed, daemons: DaemonSet, master_flavour: Flavour, backup_flavour: Flavour, password: str = "fastaliv"
) -> tuple[VrrpDaemon, VrrpDaemon]:
    """Backup first (it takes the VIP alone), then the master, which must pre-empt it."""
    backup = daemons.start(backup_flavour, bed.node(2), config("n2", BACKUP_PRIO))
    assert bed.wait_for(lambda: holds_vip(bed, 2), 2 * MASTER_DOWN + 5), (
        f"{backup.name} alone never took the VIP:\n{backup.log_text()}"
    )
    master = daemons.start(master_flavour, bed.node(1), config("n1", MASTER_PRIO, password))
    return master, backup


@pytest.mark.parametrize(
    ("master_flavour", "backup_flavour"),
    [(KA, FA), (FA, KA), (FA, FA)],
    ids=["keepalived-master-fastalived-backup", "fastalived-master-keepalived-backup", "fastalived-both"],
)
def test_ah_election_and_takeover_both_ways(
    testbed, vrrp_daemons: DaemonSet, master_flavour: Flavour, backup_flavour: Flavour
) -> None:
    bed = testbed(2)
    sniffer = bed.sniffer()
    master, backup = elect(bed, vrrp_daemons, master_flavour, backup_flavour)
    assert bed.wait_for(lambda: holds_vip(bed, 1) and not holds_vip(bed, 2), 2 * MASTER_DOWN + 5), (
        f"{master.name} did not pre-empt over AH:\n{master.log_text()}\n{backup.log_text()}"
    )

    # The backup stays BACKUP for longer than a Master_Down_Interval: it accepts every advert.
    settled = time.time()
    time.sleep(MASTER_DOWN + 1)
    assert holds_vip(bed, 1) and not holds_vip(bed, 2), f"{backup.name} took over from a live master"
    adverts = sniffer.adverts(vrid=VRID, since=settled)
    from_master = [f for f in adverts if f.src_mac == bed.node(1).mac]
    assert len(from_master) >= 3 and all(in_ah(f) for f in adverts), "adverts not in AH"
    assert all(f.priority == MASTER_PRIO for f in from_master)
    assert not [f for f in adverts if f.src_mac == bed.node(2).mac], f"{backup.name} still advertises"
    counted = stats(backup)
    assert counted["Advertisements/Received"] >= len(from_master), counted
    assert counted["Authentication Errors/Failure"] == 0, counted
    assert counted["Authentication Errors/Type Mismatch"] == 0, counted

    # A graceful stop (priority 0) hands over at once; a crash would after Master_Down_Interval.
    stopped_at = master.terminate()
    assert bed.wait_for(lambda: holds_vip(bed, 2), MASTER_DOWN + 2), (
        f"{backup.name} did not take over from the stopped {master.name}:\n{backup.log_text()}"
    )
    assert sniffer.wait_for(
        lambda f: f.kind == "vrrp" and f.src_mac == bed.node(2).mac and in_ah(f), 3.0, since=stopped_at
    ), f"{backup.name} took over but sends no AH adverts"
    assert_no_bad_packets(master, backup)


def test_ah_password_mismatch_is_a_counted_drop_on_both_sides(testbed, vrrp_daemons: DaemonSet) -> None:
    """The converse of the clean stats above: another auth_pass fails the ICV on both sides, each
    counts it (keepalived's "Authentication Errors: Failure") and both end up MASTER."""
    bed = testbed(2)
    fastalived, keepalived = elect(bed, vrrp_daemons, FA, KA, password="wrongpw")
    assert bed.wait_for(
        lambda: all(bad_packet_lines(d.log_text()) for d in (fastalived, keepalived)), 2 * MASTER_DOWN + 5, interval=0.1
    ), "\n".join(f"--- {d.name}\n{d.log_text()}" for d in (fastalived, keepalived))
    assert bed.wait_for(lambda: holds_vip(bed, 1) and holds_vip(bed, 2), 2 * MASTER_DOWN + 5)
    assert "BAD_AH_ICV" in "\n".join(bad_packet_lines(fastalived.log_text()))
    assert "IPSEC-AH : invalid IPSEC HMAC-MD5" in keepalived.log_text()
    for daemon in (fastalived, keepalived):
        assert wait_for(partial(auth_failures_reach, daemon, 2), 4 * ADVERT_INT + 5), daemon.name
        assert stats(daemon)["Advertisements/Received"] == 0
