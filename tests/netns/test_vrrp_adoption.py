"""kill -9 of the master's VRRP child: the successor adopts the running MASTER state, unnoticed.

Two full daemons at advert_int 0.1 (``tests/support/chaos.py``: node 1 prio 150 master, node 2
prio 100). Node 1's VRRP child is SIGKILLed five times; each time its pre-imported standby is
promoted, finds the VIP still on the interface and carries on as MASTER before node 2's
Master_Down_Timer (0.36 s) expires. So node 2 never changes state and the VIP, sampled every
2 ms, is on node 1 and only there throughout. A kill the parent answers with a cold start (no
standby) is the slow path the standby exists to avoid; the test makes sure it is not taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.chaos import VIP, VrrpPair
from tests.support.full_daemon import VipPresence
from tests.support.netns import Testbed

pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]

KILLS = 5


def test_a_killed_master_child_is_adopted_and_the_peer_never_notices(
    testbed: Callable[..., Testbed], tmp_path: Path
) -> None:
    bed = testbed(2)
    pair = VrrpPair(bed, tmp_path, advert_int=0.1)
    try:
        pair.start()
        pair.wait_steady(1.0)
        with VipPresence([bed.node(1), bed.node(2)], VIP, period=0.002) as presence:
            first = time.time()
            kills = [pair.kill_master_child(hold=0.5) for _ in range(KILLS)]
            last = time.time()
        log = pair.master.log_text()
    finally:
        pair.stop()
    assert all(k.promoted and k.adopted for k in kills), (kills, log[-4000:])
    assert [k.peer_transitions for k in kills] == [0] * KILLS, pair.backup.log_text()[-3000:]
    during = [mask for when, mask in zip(presence.times, presence.holders, strict=True) if first <= when <= last]
    assert len(during) > 100  # the sampler kept up, however loaded the machine
    assert [mask for mask in during if mask != 0b01] == []  # on node 1, and only there, every sample
    assert "removing VIPs" not in log.split("Stopping")[0]  # nothing removed them before the stop
