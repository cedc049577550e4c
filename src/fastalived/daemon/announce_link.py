"""What the children tell the parent's announcer: settled health per announced service, VRRP states.

The checker child reports, for each virtual server with ``fastalived_announce``, whether it is
healthy (quorum up) once every one of its checkers has run at least once, so a restarted child
re-announces only after its first round of checks. The VRRP child reports every instance's state
through the hook it already calls on each transition. Both send only when something changed.
On its way out the checker child also empties the announce table itself: the parent normally
withdrew everything already, but if the parent was killed the routes must not outlive the checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from fastalived.announce.routes import RouteTable
from fastalived.check.events import CheckEvent
from fastalived.check.process import CheckRole, IpvsOpener
from fastalived.check.state import VirtualServerState
from fastalived.config.model import Config
from fastalived.daemon.channel import Message
from fastalived.options import RunOptions
from fastalived.vrrp.notify import SyncDaemonHook

log = logging.getLogger("fastalived.announce")

Send = Callable[[Message], None]
SETTLE_POLL = 0.05  # seconds between looks for services whose first round of checks is still running


def settled_health(vs: VirtualServerState) -> bool | None:
    """The service's quorum once every checker has a result; None while the first round runs."""
    for rs in vs.servers.values():
        for checker in rs.checkers:
            if checker.live and checker.last_result is None:
                return None
    return vs.quorum_up


class HealthReportingCheckRole(CheckRole):
    """The checker role, also reporting each announced service's settled health to the parent."""

    def __init__(self, options: RunOptions, open_ipvs: IpvsOpener, send: Send) -> None:
        super().__init__(options, open_ipvs=open_ipvs, on_events=self._changed)
        self._send = send
        self._reported: dict[str, bool] | None = None
        self._settled: set[str] = set()  # services whose first round of checks is done
        self._settling: asyncio.Task[None] | None = None

    async def start(self, config: Config) -> None:
        await super().start(config)
        self._report()

    async def reload(self, config: Config) -> None:
        await super().reload(config)
        # A kept service stays announced through a reload; a new one waits for its first round.
        self._settled &= set(self.state.virtual_servers)
        self._report()

    async def stop(self) -> None:
        if self._settling is not None:
            self._settling.cancel()
        config = self._config
        await super().stop()
        if config is not None and any(vs.announce is not None for vs in config.virtual_servers):
            _empty_table(config.global_defs.announce_table)

    def _changed(self, events: list[CheckEvent]) -> None:
        self._report()

    def _report(self) -> None:
        if self._send_health() and self._settling is None:
            self._settling = asyncio.get_running_loop().create_task(self._wait_settled())

    def _send_health(self) -> bool:
        """Send the settled verdicts if they changed; True while some service is still unsettled."""
        health: dict[str, bool] = {}
        pending = False
        for vs in self.state.virtual_servers.values():
            if vs.config.announce is None:
                continue
            if vs.key in self._settled:
                health[vs.key] = vs.quorum_up
            elif (verdict := settled_health(vs)) is None:
                pending = True
            else:
                self._settled.add(vs.key)
                health[vs.key] = verdict
        if health != self._reported:
            self._reported = health
            self._send({"op": "health", "vs": health})
        return pending

    async def _wait_settled(self) -> None:
        """No event marks a first success on a server that started up: look until all have run."""
        try:
            pending = True
            while pending:
                await asyncio.sleep(SETTLE_POLL)
                pending = self._send_health()
        finally:
            self._settling = None


def _empty_table(table: int) -> None:
    with contextlib.suppress(OSError):
        routes = RouteTable(table)
        try:
            if routes.flush():
                log.info("announce: withdrew what was left in table %d", table)
        finally:
            routes.close()


class VrrpStateReport:
    """A :class:`SyncDaemonHook` that passes everything on and reports instance states to the parent."""

    def __init__(self, inner: SyncDaemonHook, send: Send) -> None:
        self._inner = inner
        self._send = send
        self._states: dict[str, int] = {}

    def configure(self, config: Config, states: dict[str, int]) -> None:
        self._inner.configure(config, states)
        self._states = dict(states)
        self._send({"op": "vrrp", "states": dict(self._states)})

    def instance_changed(self, name: str, state: int) -> None:
        self._inner.instance_changed(name, state)
        if self._states.get(name) != state:
            self._states[name] = state
            self._send({"op": "vrrp", "states": dict(self._states)})

    async def stop(self) -> None:
        await self._inner.stop()
