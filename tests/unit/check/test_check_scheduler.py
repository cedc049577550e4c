"""The timer heap and its lag statistics, on an injected clock."""

from __future__ import annotations

from fastalived.check.scheduler import DurationStats, TimerHeap, spread


def test_spread_is_deterministic_and_within_the_warmup() -> None:
    offsets = [spread(f"vs|rs{i}|0:HTTP_GET", 10.0) for i in range(10_000)]
    assert offsets == [spread(f"vs|rs{i}|0:HTTP_GET", 10.0) for i in range(10_000)]
    assert all(0.0 <= o < 10.0 for o in offsets)
    per_second = [sum(1 for o in offsets if s <= o < s + 1) for s in range(10)]
    assert min(per_second) > 800 and max(per_second) < 1200  # 10,000 first runs spread evenly
    assert spread("anything", 0.0) == 0.0


def test_items_pop_in_due_order_only_when_due() -> None:
    heap: TimerHeap[str] = TimerHeap()
    for due, name in [(3.0, "c"), (1.0, "a"), (2.0, "b"), (1.0, "a2")]:
        heap.push(due, name)
    assert heap.next_deadline == 1.0
    assert heap.pop_due(0.5) == []
    assert heap.pop_due(0.9995, early=0.001) == [(1.0, "a"), (1.0, "a2")]  # a timer firing a hair early
    heap.push(1.0, "a")
    heap.push(1.0, "a2")
    assert [item for _, item in heap.pop_due(2.0)] == ["a", "a2", "b"]  # ties keep push order
    assert heap.next_deadline == 3.0
    assert heap.pop_due(10.0) == [(3.0, "c")]
    assert heap.next_deadline is None


def test_dead_items_are_dropped_lazily_and_batches_are_bounded() -> None:
    dead = {"x"}
    heap: TimerHeap[str] = TimerHeap(lambda item: item not in dead)
    for i, name in enumerate(["x", "a", "b", "c"]):
        heap.push(float(i), name)
    assert [item for _, item in heap.pop_due(10.0, limit=2)] == ["a", "b"]
    assert [item for _, item in heap.pop_due(10.0)] == ["c"]


def test_lag_quantiles_are_nearest_rank() -> None:
    stats = DurationStats()
    for late in range(100):
        stats.record(float(late))
    assert stats.total == 100
    assert stats.quantile(0.5) == 49.0
    assert stats.quantile(0.99) == 98.0
    assert DurationStats().quantile(0.99) == 0.0
    stats.record(-0.0005)  # a timer firing a hair early is not negative lag
    assert stats.quantile(0.0) == 0.0 and stats.sum == sum(range(100))


def test_duration_histogram_is_cumulative_with_inf() -> None:
    stats = DurationStats(window=3, buckets=(0.1, 1.0))
    for seconds in (0.05, 0.5, 5.0, 0.01):
        stats.record(seconds)
    assert stats.cumulative() == ((0.1, 2), (1.0, 3), (float("inf"), 4))
    assert stats.total == 4 and abs(stats.sum - 5.56) < 1e-9
    assert sorted(stats._recent) == [0.01, 0.5, 5.0]  # the window keeps the latest 3
