"""The parent's announce table: the core's decisions carried out on the kernel, plus status rows.

The parent owns the table because it outlives both children and sees them die: a checker child
that exits or hangs takes every announcement with it at once, and a graceful stop withdraws,
drains, and only then lets the children tear IPVS down. A table that cannot be opened (no
privilege) is reported once; decisions are still made and shown in ``/status``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastalived.announce.core import AddRoute, AnnounceCore, DeleteRoute, Route, RouteChange
from fastalived.announce.routes import RouteTable
from fastalived.config.model import Config
from fastalived.runtime.role import Metric

log = logging.getLogger("fastalived.announce")

TableFactory = Callable[[int], RouteTable]


class Announcer:
    """One per parent process; every method is cheap and runs on the parent's event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, open_table: TableFactory = RouteTable) -> None:
        self.core = AnnounceCore()
        self._clock = clock
        self._open_table = open_table
        self._table: RouteTable | None = None
        self._table_id: int | None = None

    def configure(self, config: Config) -> None:
        """Apply a config; the first one (or a new table id) starts from a table emptied of our routes."""
        if any(vs.announce is not None for vs in config.virtual_servers):
            self._use_table(config.global_defs.announce_table)
        self._apply(self.core.configure(config, self._clock()))

    def set_health(self, health: Mapping[str, bool] | None) -> None:
        self._apply(self.core.set_health(health, self._clock()))

    def set_vrrp_states(self, states: Mapping[str, int] | None) -> None:
        self._apply(self.core.set_vrrp_states(states, self._clock()))

    def withdraw_all(self) -> float:
        """Withdraw every prefix for good; returns the drain time if anything was announced."""
        announced = any(entry.announced for entry in self.core.announcements.values())
        self._apply(self.core.stop(self._clock()))
        return self.core.drain_time() if announced else 0.0

    def close(self) -> None:
        if self._table is not None:
            self._table.close()
            self._table = None

    def _use_table(self, table_id: int) -> None:
        if table_id == self._table_id:
            return
        if self._table is not None:  # a new table id: leave the old table empty
            for entry in self.core.announcements.values():
                if entry.announced:
                    self._apply([DeleteRoute(Route(entry.prefix, entry.metric))])
            self._table.close()
            self.core.forget_installed()
        self._table_id = table_id
        try:
            self._table = self._open_table(table_id)
            for route in self._table.flush():
                log.info("announce: removed stale route %s from table %d", route.prefix, table_id)
        except OSError as exc:
            log.error("announce: cannot use routing table %d (%s); nothing will be announced", table_id, exc)
            self._table = None

    def _apply(self, changes: Iterable[RouteChange]) -> None:
        for change in changes:
            route = change.route
            entry = self.core.announcements.get(route.prefix)
            why = entry.reason if entry is not None else "no longer configured"
            verb = "announcing" if isinstance(change, AddRoute) else "withdrawing"
            log.info("announce: %s %s (%s)", verb, route.prefix, why)
            if self._table is None:
                continue
            try:
                if isinstance(change, AddRoute):
                    self._table.add(route)
                else:
                    self._table.delete(route)
            except OSError as exc:
                log.error("announce: %s %s in table %d failed: %s", verb, route.prefix, self._table.table, exc)

    def snapshot(self) -> list[dict[str, Any]]:
        """One row per prefix for ``/status``; ``last_change`` is wall-clock seconds since the epoch."""
        now, wall = self._clock(), time.time()
        return [
            {
                "prefix": str(entry.prefix),
                "state": "announced" if entry.announced else "withdrawn",
                "reason": entry.reason,
                "services": list(entry.services),
                "metric": entry.metric,
                "table": self._table_id,
                "last_change": round(wall - (now - entry.since), 3),
                "changes": entry.changes,
            }
            for entry in self.core.announcements.values()
        ]

    def metrics(self) -> list[Metric]:
        now, wall = self._clock(), time.time()
        samples = []
        for entry in self.core.announcements.values():
            labels = (("prefix", str(entry.prefix)),)
            samples += [
                Metric(
                    "fastalived_announce_up", float(entry.announced), labels, help="1 while the prefix is announced"
                ),
                Metric(
                    "fastalived_announce_last_change_timestamp_seconds",
                    wall - (now - entry.since),
                    labels,
                    help="when the prefix was last announced or withdrawn",
                ),
                Metric(
                    "fastalived_announce_changes_total",
                    float(entry.changes),
                    labels,
                    "counter",
                    "announcements and withdrawals of the prefix",
                ),
            ]
        return samples
