"""``RealtimeScheduling``: entering twice is harmless, and a helper thread can share the policy
for a while (a promoted standby's netlink thread during its adopting start)."""

from __future__ import annotations

import os
import threading

import pytest

from fastalived.vrrp.realtime import RealtimeScheduling


def test_a_boosted_helper_thread_runs_real_time_until_unboosted() -> None:
    """Run in a thread of its own, so the test runner's thread never changes policy."""
    seen: dict[str, object] = {}
    release = threading.Event()
    helper = threading.Thread(target=release.wait, daemon=True)
    helper.start()

    def loop_thread() -> None:
        realtime = RealtimeScheduling()
        realtime.enter()
        if os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK != os.SCHED_RR:
            seen["skip"] = True  # no privilege: the role stays on the normal scheduler
            return
        realtime.enter()  # a standby entered before its promotion: start() enters again
        tid = helper.native_id
        assert tid is not None
        realtime.boost(tid)
        seen["boosted"] = os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK
        realtime.unboost()
        seen["unboosted"] = os.sched_getscheduler(tid)
        realtime.boost(tid)
        realtime.leave()  # restores the helper too
        seen["left"] = (os.sched_getscheduler(tid), os.sched_getscheduler(0))

    runner = threading.Thread(target=loop_thread)
    runner.start()
    runner.join(10)
    release.set()
    helper.join(10)
    if seen.get("skip"):
        pytest.skip("no permission for SCHED_RR")
    assert seen == {"boosted": os.SCHED_RR, "unboosted": os.SCHED_OTHER, "left": (os.SCHED_OTHER, os.SCHED_OTHER)}


def test_no_boost_unless_the_loop_thread_is_real_time() -> None:
    realtime = RealtimeScheduling()  # never entered
    realtime.boost(threading.get_native_id())
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    realtime.unboost()
