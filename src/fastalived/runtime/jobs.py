"""Ordered background jobs: slow side effects that must never sit on a protocol's hot path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger("fastalived.jobs")


class SerialTasks:
    """Per-key FIFO of background jobs: a key's jobs run one after another, keys in parallel.

    Keeps side effects of one instance in the order its state machine asked for them (VIPs
    added before the GARP that announces them, the MASTER notify before the BACKUP one).
    """

    def __init__(self, on_error: str = "background job failed") -> None:
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._on_error = on_error

    def submit(self, key: Hashable, job: Callable[[], Awaitable[object]]) -> None:
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run(previous, job))
        self._tails[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    async def drain(self) -> None:
        """Wait until every submitted job (including ones submitted meanwhile) has finished."""
        while self._tails:
            await asyncio.gather(*list(self._tails.values()), return_exceptions=True)

    def _forget(self, key: Hashable, done: asyncio.Task[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]

    async def _run(self, previous: asyncio.Task[None] | None, job: Callable[[], Awaitable[object]]) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await job()
        except Exception:
            log.exception(self._on_error)
