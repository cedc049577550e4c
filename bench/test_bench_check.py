"""Micro-benchmarks of the checker's hot pure code: the timer heap and HTTP response judgement.

.venv/bin/python -m pytest bench/test_bench_check.py --benchmark-only
"""

from __future__ import annotations

import hashlib

from fastalived.check.http import BodyResponseCheck, ResponseCheck
from fastalived.check.scheduler import TimerHeap, spread
from fastalived.config.model import StatusCodeRange

N = 10_000
OK_2XX = (StatusCodeRange(200, 299),)
HAPROXY_200 = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ncache-control: no-cache\r\n\r\n"
BODY = b"x" * 4096
PAGE = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4096\r\n\r\n" + BODY


def test_timer_heap_push_pop_10k(benchmark) -> None:
    due = [spread(f"vs|rs{i}|0:HTTP_GET", 1.0) for i in range(N)]

    def cycle() -> int:
        heap: TimerHeap[int] = TimerHeap()
        for i, when in enumerate(due):
            heap.push(when, i)
        return len(heap.pop_due(2.0))

    assert benchmark(cycle) == N


def test_status_only_response(benchmark) -> None:
    def judge() -> str | None:
        return ResponseCheck(OK_2XX).feed(HAPROXY_200)

    assert benchmark(judge) == ""


def test_digest_response_4k(benchmark) -> None:
    digest = hashlib.md5(BODY).hexdigest()

    def judge() -> str | None:
        return BodyResponseCheck(OK_2XX, digest).feed(PAGE)

    assert benchmark(judge) == ""
