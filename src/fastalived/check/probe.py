"""How the role starts a check: ``probe.start(done)`` -> something it can cancel.

Plain HTTP_GET and TCP_CHECK implement ``start`` with callbacks on a raw non-blocking socket (no
task, no future: they are the 10,000-per-second path). Everything else (SSL_GET, SMTP, DNS, MISC)
is written as a coroutine and wrapped by :class:`CoroutineProbe` into one short-lived task per
check in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from fastalived.check.state import CheckResult

Done = Callable[[CheckResult], None]


class InFlight(Protocol):
    def cancel(self) -> object: ...


class Probe(Protocol):
    def start(self, done: Done) -> InFlight:
        """Begin one check now; ``done`` is called exactly once unless the check is cancelled."""
        ...


class CoroutineProbe:
    """Base for probes written as ``async def run()``; the task is the in-flight handle."""

    __slots__ = ()

    async def run(self) -> CheckResult:
        raise NotImplementedError

    def start(self, done: Done) -> InFlight:
        task = asyncio.get_running_loop().create_task(self.run())
        task.add_done_callback(lambda finished: _deliver(finished, done))
        return task


def _deliver(task: asyncio.Task[CheckResult], done: Done) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    done(CheckResult(False, f"internal error: {exc!r}") if exc is not None else task.result())
