"""BFD between fastalived and the real keepalived 2.2.7 (its own BFD child), both ways.

Each node runs one daemon with a ``bfd_instance`` pointing at the other node and a vrrp_instance
of its own (its own VRID and VIP) that tracks that session with weight 0: the VIP is held only
while the session is Up. The two sessions come up together (RFC 5880's three-way handshake across
the two implementations); stopping either daemon takes the other's VIP away within the detect time,
and starting it again brings it back.
"""

from __future__ import annotations

import pytest

from tests.support.keepalived import DaemonSet, global_defs_config, vrrp_instance_config
from tests.support.netns import Testbed
from tests.support.testbed import Flavour

pytestmark = [pytest.mark.interop, pytest.mark.root]

VIPS = {1: "198.51.100.121", 2: "198.51.100.122"}
INTERVAL_MS, MULTIPLIER = 100, 3
DETECT = INTERVAL_MS * MULTIPLIER / 1000
UP_TIMEOUT = 15.0  # both daemons start, then the handshake (slow transmit while Down: 1 s)
FA, KA = "fastalived", "keepalived"


def config(bed: Testbed, index: int) -> str:
    peer = bed.node(3 - index).ipv4
    session = (
        f"bfd_instance peer{index} {{\n    neighbor_ip {peer}\n    source_ip {bed.node(index).ipv4}\n"
        f"    min_rx {INTERVAL_MS}\n    min_tx {INTERVAL_MS}\n    multiplier {MULTIPLIER}\n}}\n"
    )
    instance = vrrp_instance_config(
        f"VI_BFD{index}", 60 + index, 100, [f"{VIPS[index]}/24"],
        extra=f"    track_bfd {{\n        peer{index} weight 0\n    }}",
    )  # fmt: skip
    return global_defs_config(f"n{index}") + session + instance


def holds(bed: Testbed, index: int) -> bool:
    return bed.node(index).has_address(VIPS[index])


@pytest.mark.parametrize(("first", "second"), [(KA, FA), (FA, KA)], ids=["keepalived-n1", "fastalived-n1"])
def test_bfd_sessions_come_up_and_a_dead_peer_faults_the_tracker(
    testbed, vrrp_daemons: DaemonSet, first: Flavour, second: Flavour
) -> None:
    bed = testbed(2)
    one = vrrp_daemons.start(first, bed.node(1), config(bed, 1))
    two = vrrp_daemons.start(second, bed.node(2), config(bed, 2))
    logs = lambda: f"{one.log_text()[-3000:]}\n{two.log_text()[-3000:]}"  # noqa: E731
    assert bed.wait_for(lambda: holds(bed, 1) and holds(bed, 2), UP_TIMEOUT), logs()

    # node 2's daemon dies: node 1's session times out, its instance goes FAULT.
    two.kill_group()
    assert bed.wait_for(lambda: not holds(bed, 1), DETECT + 3), logs()
    two.start()
    assert bed.wait_for(lambda: holds(bed, 1) and holds(bed, 2), UP_TIMEOUT), logs()

    # And the other way round.
    one.kill_group()
    assert bed.wait_for(lambda: not holds(bed, 2), DETECT + 3), logs()
