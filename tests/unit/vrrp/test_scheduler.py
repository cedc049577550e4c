"""The VRRP timer heap: lazy postponement, early take and firing (no sleeping: deadlines are
either long past or far in the future, and the loop is never run)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from fastalived.vrrp import wire
from fastalived.vrrp.io import DeadlineScheduler


@pytest.fixture
def scheduler() -> Iterator[tuple[DeadlineScheduler, list[tuple[float, list[str]]]]]:
    loop = asyncio.new_event_loop()
    fired: list[tuple[float, list[str]]] = []
    sched = DeadlineScheduler(loop, lambda now, keys: fired.append((now, keys)))
    yield sched, fired
    sched.close()
    loop.close()


def test_postponed_deadline_is_not_pushed_but_followed(scheduler) -> None:
    sched, _ = scheduler
    sched.set("a", 100.0)
    sched.set("b", 200.0)
    heap_size = len(sched._heap)
    for later in (110.0, 120.0, 130.0):  # a backup hearing its master: only moves later
        sched.set("a", later)
    assert len(sched._heap) == heap_size
    assert sched._earliest() == 130.0  # the stale entry moved to where "a" is now
    sched.set("a", 250.0)
    assert sched._earliest() == 200.0
    sched.set("b", 50.0)  # earlier: pushed at once
    assert sched._earliest() == 50.0
    sched.set("b", None)
    assert sched._earliest() == 250.0
    sched.set("a", None)
    assert sched._earliest() is None


def test_take_early_takes_accepted_keys_only(scheduler) -> None:
    sched, _ = scheduler
    sched.set("m1", 10.0)
    sched.set("m2", 10.5)
    sched.set("b1", 10.2)
    sched.set("far", 99.0)
    taken = sched.take_early(11.0, lambda key, deadline: key.startswith("m"))
    assert sorted(taken) == [("m1", 10.0), ("m2", 10.5)]
    assert sched._earliest() == 10.2
    sched.set("b1", 12.0)
    assert sched._earliest() == 12.0


def test_fire_reports_due_keys_and_skips_stale_entries(scheduler) -> None:
    sched, fired = scheduler
    now = wire.monotonic()
    sched.set("due", now - 5.0)
    sched.set("moved", now - 4.0)
    sched.set("moved", now + 3600.0)  # pushed back before its old entry surfaced
    sched.set("gone", now - 3.0)
    sched.set("gone", None)
    sched._fire()
    assert len(fired) == 1 and fired[0][1] == ["due"]
    assert sched._earliest() == now + 3600.0
