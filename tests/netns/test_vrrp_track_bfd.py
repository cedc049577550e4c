"""``track_bfd`` end to end against FRR's ``bfdd`` as the BFD peer: the session comes up (FRR says
so too), the instance holds the VIP while it is up, goes FAULT within the detection time when
the peer dies (diag 1) or is shut down (AdminDown, diag 3), and recovers when the peer is back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.netns.test_vrrp_scenarios import VIP, VrrpNode, instance, master_down
from tests.support.frr import FrrNode, frr_root, frr_unavailable
from tests.support.netns import Testbed, unavailable_reason, wait_for
from tests.support.testbed import global_defs_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

DETECT = 0.3  # both ends: 100 ms x 3
MARGIN = 1.5  # a loaded 2-core box

BFDD_CONFIG = """\
bfd
 peer {peer} local-address {local}
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 exit
exit
"""


def bfd_instance(neighbor: str, source: str, extra: str = "") -> str:
    return (
        f"bfd_instance frr {{\n    neighbor_ip {neighbor}\n    source_ip {source}\n"
        f"    min_rx 100\n    min_tx 100\n    multiplier 3\n{extra}}}\n"
    )


class Bed:
    """Node 2 runs FRR's zebra and bfdd, the others fastalived; node 1 has the BFD session."""

    def __init__(self, tmp_path: Path, nodes: int) -> None:
        self.testbed = Testbed(nodes, prefix="bf")
        self.root = frr_root()
        self.frr = FrrNode(self.testbed.node(2).netns, self.root)
        self.vrrp: list[VrrpNode] = []
        self.tmp_path = tmp_path
        self.family = 4  # of the BFD session's addresses

    @property
    def ours(self) -> str:
        node = self.testbed.node(1)
        return node.ipv4 if self.family == 4 else node.ipv6

    @property
    def theirs(self) -> str:
        node = self.testbed.node(2)
        return node.ipv4 if self.family == 4 else node.ipv6

    def start_bfdd(self, first: bool = True) -> None:
        if first:
            self.frr.start("zebra")
            assert wait_for(lambda: (self.frr.directory / "zserv.api").exists(), 5)
        (self.frr.directory / "bfdd.vty").unlink(missing_ok=True)
        self.frr.start("bfdd")
        assert wait_for(lambda: (self.frr.directory / "bfdd.vty").exists(), 5)
        self.frr.apply(BFDD_CONFIG.format(peer=self.ours, local=self.theirs))

    def frr_status(self) -> str | None:
        """What FRR says of the session to us ("up", "down", "init", "shutdown"), None if unknown."""
        try:
            peers = json.loads(self.frr.vtysh("show bfd peers json") or "[]")
        except json.JSONDecodeError:
            return None
        return next((p.get("status") for p in peers if p.get("peer") == self.ours), None)

    def start_vrrp(self, index: int, config: str) -> VrrpNode:
        node = VrrpNode(self.testbed.node(index), self.tmp_path, global_defs_config(f"n{index}") + config)
        self.vrrp.append(node)
        return node.start()

    def holder(self) -> list[int]:
        return [n.index for n in self.testbed.nodes if n.index != 2 and n.has_address(VIP)]

    def holds_vip(self) -> bool:
        return self.holder() == [1]

    def close(self) -> None:
        for node in self.vrrp:
            node.stop()
        self.frr.stop()
        self.testbed.destroy()


@pytest.fixture
def make_bed(tmp_path: Path) -> Iterator[Callable[[int], Bed]]:
    if reason := unavailable_reason() or frr_unavailable():
        pytest.skip(reason)
    made: list[Bed] = []

    def make(nodes: int) -> Bed:
        made.append(Bed(tmp_path, nodes))
        return made[-1]

    try:
        yield make
    finally:
        for bed in made:
            bed.close()


def test_track_bfd_weight_zero_faults_while_frr_bfdd_is_down(make_bed) -> None:
    bed = make_bed(2)
    track = "    track_bfd {\n        frr\n    }"
    node = bed.start_vrrp(1, bfd_instance(bed.theirs, bed.ours) + instance("VI_1", 71, 150, [f"{VIP}/24"], extra=track))
    # FAULT until the session is up (keepalived starts track_bfd instances down), then MASTER.
    time.sleep(master_down(150) + 0.5)
    assert node.states() == ["FAULT"] and not bed.holds_vip(), node.log_text()
    bed.start_bfdd()
    assert wait_for(lambda: bed.frr_status() == "up", 10), (bed.frr_status(), node.log_text())
    assert wait_for(bed.holds_vip, master_down(150) + 3), node.log_text()
    assert "BFD_Instance(frr) Entering Up state" in node.log_text()

    # bfdd dies without a word: our detection timer (3 x 100 ms) takes the instance to FAULT.
    killed_at = time.monotonic()
    bed.frr.procs["bfdd"].kill()
    assert wait_for(lambda: not bed.holds_vip(), DETECT + MARGIN), node.log_text()
    assert time.monotonic() - killed_at < DETECT + MARGIN
    assert node.states()[-1] == "FAULT"
    assert "BFD_Instance(frr) Entering Down state (Local diagnostic - Control Detection Time Expired" in node.log_text()

    # bfdd is back: new handshake, the instance recovers.
    bed.frr.procs["bfdd"].wait(5)
    bed.start_bfdd(first=False)
    assert wait_for(lambda: bed.frr_status() == "up", 10), (bed.frr_status(), node.log_text())
    assert wait_for(bed.holds_vip, master_down(150) + 3), node.log_text()
    assert node.states()[-1] == "MASTER"

    # A reload that leaves the bfd_instance as it was keeps the session (and the VIP) as is.
    sessions_before = node.log_text().count("BFD_Instance(frr) Entering")
    node.reload(node.config_path.read_text())
    time.sleep(2 * DETECT)
    assert node.log_text().count("BFD_Instance(frr) Entering") == sessions_before
    assert node.states()[-1] == "MASTER" and bed.holds_vip()

    # An operator shuts the peer down: it says AdminDown, we go Down (diag 3) and FAULT at once.
    bed.frr.vtysh("configure terminal", "bfd", f"peer {bed.ours} local-address {bed.theirs}", "shutdown")
    assert wait_for(lambda: not bed.holds_vip(), DETECT + MARGIN), node.log_text()
    assert "BFD_Instance(frr) Entering Down state (Local diagnostic - Neighbor Signaled Session Down" in node.log_text()
    bed.frr.vtysh("configure terminal", "bfd", f"peer {bed.ours} local-address {bed.theirs}", "no shutdown")
    assert wait_for(bed.holds_vip, master_down(150) + 5), node.log_text()


def test_track_bfd_weight_moves_the_vip_and_a_passive_end_waits_for_frr(make_bed) -> None:
    bed = make_bed(3)
    track = "    track_bfd {\n        frr weight -60\n    }"
    passive = bfd_instance(bed.theirs, bed.ours, extra="    passive\n")
    n1 = bed.start_vrrp(1, passive + instance("VI_1", 72, 150, [f"{VIP}/24"], extra=track))
    bed.start_vrrp(3, instance("VI_1", 72, 100, [f"{VIP}/24"]))
    # Session down: 150 - 60 = 90 < 100, node 3 holds the VIP (a weighted item never faults).
    assert wait_for(lambda: bed.holder() == [3], master_down(100) + 3), bed.holder()
    assert "BFD_Instance(frr) Entering" not in n1.log_text()  # passive: silent while FRR is absent

    bed.start_bfdd()  # FRR speaks first, our passive end answers, node 1 (150) preempts
    assert wait_for(lambda: bed.frr_status() == "up", 10), (bed.frr_status(), n1.log_text())
    assert wait_for(bed.holds_vip, master_down(150) + 3), (bed.holder(), n1.log_text())

    bed.frr.kill()  # zebra and bfdd die: detection time, then the VIP goes back to node 3
    assert wait_for(lambda: bed.holder() == [3], DETECT + master_down(100) + MARGIN), (bed.holder(), n1.log_text())
    assert n1.states()[-1] == "BACKUP"


def test_track_bfd_over_ipv6_with_frr(make_bed) -> None:
    bed = make_bed(2)
    bed.family = 6
    # keepalived's IPv6 default hop limit is 64; FRR's single-hop sessions want 255 (RFC 5881).
    bfd = bfd_instance(bed.theirs, bed.ours, extra="    hoplimit 255\n")
    node = bed.start_vrrp(
        1, bfd + instance("VI_1", 73, 150, [f"{VIP}/24"], extra="    track_bfd {\n        frr\n    }")
    )
    bed.start_bfdd()
    assert wait_for(lambda: bed.frr_status() == "up", 10), (bed.frr_status(), node.log_text())
    assert wait_for(bed.holds_vip, master_down(150) + 3), node.log_text()
    bed.frr.procs["bfdd"].kill()
    assert wait_for(lambda: not bed.holds_vip(), DETECT + MARGIN), node.log_text()
    assert node.states()[-1] == "FAULT"
