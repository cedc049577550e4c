"""One timer heap for every checker, plus the statistics of how late checks start.

10,000 checkers must not mean 10,000 sleeping tasks: the adapter keeps a single loop timer armed
for :attr:`TimerHeap.next_deadline` and, when it fires, starts whatever :meth:`TimerHeap.pop_due`
returns. Removal is lazy (the item tells whether it is still wanted), so reload never has to
search the heap. Sans-IO: time is always passed in.
"""

from __future__ import annotations

import heapq
import itertools
import math
import zlib
from bisect import bisect_left
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# Upper bounds (seconds) of the lag and latency histogram buckets, Prometheus style.
DURATION_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def spread(key: str, span: float) -> float:
    """A deterministic offset in [0, span) for ``key``: first runs spread evenly, same on every start.

    keepalived draws a random delay in [0, warmup]; hashing the checker's identity gives the same
    spread without a random generator, and a restart does not reshuffle the load.
    """
    if span <= 0:
        return 0.0
    return zlib.crc32(key.encode()) / 4294967296.0 * span


class DurationStats:
    """Recent durations (for p50/p99) and a cumulative histogram (for ``/metrics``).

    Used for the scheduler's lag and for check latency; recording is O(log buckets), quantiles
    sort the recent window only when someone asks.
    """

    def __init__(self, window: int = 8192, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last slot is +Inf
        self.total = 0
        self.sum = 0.0
        self._window = window
        self._recent: list[float] = []
        self._next_slot = 0

    def record(self, seconds: float) -> None:
        if seconds < 0.0:
            seconds = 0.0
        self.counts[bisect_left(self.buckets, seconds)] += 1
        self.total += 1
        self.sum += seconds
        if len(self._recent) < self._window:
            self._recent.append(seconds)
        else:
            self._recent[self._next_slot] = seconds
            self._next_slot = (self._next_slot + 1) % self._window

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0..1, nearest rank) of the recent window; 0 before any sample."""
        if not self._recent:
            return 0.0
        ordered = sorted(self._recent)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    def cumulative(self) -> tuple[tuple[float, int], ...]:
        """``(le, count)`` pairs including +Inf, as :class:`fastalived.runtime.role.Metric` wants."""
        out, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return tuple(out)


class TimerHeap(Generic[T]):
    """Due times -> items. ``is_live(item)`` decides at pop time whether a stale entry is skipped.

    Lag is the caller's to record (``DurationStats``): only it knows when each item really started.
    """

    def __init__(self, is_live: Callable[[T], bool] = lambda item: True) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()  # ties pop in push order, and items never get compared
        self._is_live = is_live

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, item: T) -> None:
        heapq.heappush(self._heap, (due, next(self._order), item))

    @property
    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int | None = None, early: float = 0.0) -> list[tuple[float, T]]:
        """``(due, item)`` for items due by ``now + early`` (at most ``limit``), earliest first.

        ``early`` absorbs a timer that fires a little before its deadline (libuv: up to 1 ms).
        """
        heap, is_live = self._heap, self._is_live
        out: list[tuple[float, T]] = []
        horizon = now + early
        while heap and heap[0][0] <= horizon and (limit is None or len(out) < limit):
            due, _, item = heapq.heappop(heap)
            if is_live(item):
                out.append((due, item))
        return out
