"""Which prefixes belong in the announce table, decided from health, VRRP state and liveness.

Sans-IO: every method takes ``now`` (monotonic seconds) and returns the route changes to make, in
order (a changed metric adds the new route before deleting the old one). The rules fail closed:

* a service counts as healthy only once its checker child reported it settled (every checker
  ran at least once) with its quorum up; a checker child that is gone or restarting knows nothing,
  so every service is unhealthy until the new child's first round of checks;
* ``require_master VI`` also needs that instance MASTER, and a VRRP child that is gone knows
  nothing;
* a prefix shared by several services is announced only while every one of them is healthy;
* after :meth:`AnnounceCore.stop` nothing is announced again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fastalived.config.model import Announce, Config, IPNetwork

MASTER = 2  # the VRRP child's state number for MASTER (fastalived.vrrp's convention)


@dataclass(frozen=True, slots=True)
class Route:
    """One route in the announce table: ``prefix`` with ``metric`` (the kernel's route priority)."""

    prefix: IPNetwork
    metric: int = 0


@dataclass(frozen=True, slots=True)
class AddRoute:
    route: Route


@dataclass(frozen=True, slots=True)
class DeleteRoute:
    route: Route


RouteChange = AddRoute | DeleteRoute


@dataclass(slots=True)
class Announcement:
    """One prefix: the services behind it, whether its route is in the table, why, and since when."""

    prefix: IPNetwork
    services: tuple[str, ...]
    metric: int
    drain: float
    announced: bool = False
    reason: str = "starting"
    since: float = 0.0
    changes: int = 0


class AnnounceCore:
    """The announce table's desired state; the caller carries out the returned route changes."""

    def __init__(self) -> None:
        self._wanted: dict[IPNetwork, list[tuple[str, Announce]]] = {}
        self._health: Mapping[str, bool] | None = None
        self._vrrp: Mapping[str, int] | None = None
        self._stopping = False
        self.announcements: dict[IPNetwork, Announcement] = {}

    def configure(self, config: Config, now: float) -> list[RouteChange]:
        """Apply a (new) config: prefixes no longer configured are withdrawn, new ones evaluated."""
        wanted: dict[IPNetwork, list[tuple[str, Announce]]] = {}
        for vs in config.virtual_servers:
            if vs.announce is not None:
                for prefix in vs.announce.prefixes:
                    wanted.setdefault(prefix, []).append((vs.key, vs.announce))
        self._wanted = wanted
        changes: list[RouteChange] = []
        for prefix in [p for p in self.announcements if p not in wanted]:
            gone = self.announcements.pop(prefix)
            if gone.announced:
                changes.append(DeleteRoute(Route(prefix, gone.metric)))
        for prefix, services in wanted.items():
            entry = self.announcements.get(prefix)
            metric = min(announce.metric for _, announce in services)
            drain = max(announce.drain for _, announce in services)
            if entry is None:
                entry = self.announcements[prefix] = Announcement(prefix, (), metric, drain, since=now)
            entry.services = tuple(key for key, _ in services)
            entry.drain = drain
            if entry.announced and entry.metric != metric:
                changes += [AddRoute(Route(prefix, metric)), DeleteRoute(Route(prefix, entry.metric))]
            entry.metric = metric
        return changes + self._evaluate(now)

    def set_health(self, health: Mapping[str, bool] | None, now: float) -> list[RouteChange]:
        """The checker child's verdicts (settled services only); None: no checker child is running."""
        self._health = health
        return self._evaluate(now)

    def set_vrrp_states(self, states: Mapping[str, int] | None, now: float) -> list[RouteChange]:
        """Every VRRP instance's state; None: no VRRP child is running."""
        self._vrrp = states
        return self._evaluate(now)

    def stop(self, now: float) -> list[RouteChange]:
        """Withdraw everything for good (graceful stop)."""
        self._stopping = True
        return self._evaluate(now)

    def drain_time(self) -> float:
        """How long to keep serving after :meth:`stop`: the longest ``drain`` of any configured prefix."""
        return max((entry.drain for entry in self.announcements.values()), default=0.0)

    def forget_installed(self) -> None:
        """The table was emptied behind our back (a new table id): nothing is announced any more."""
        for entry in self.announcements.values():
            entry.announced = False

    def _evaluate(self, now: float) -> list[RouteChange]:
        changes: list[RouteChange] = []
        for prefix, entry in self.announcements.items():
            reason = self._blocker(self._wanted.get(prefix, ()))
            announce = reason is None
            if announce != entry.announced:
                entry.announced = announce
                entry.since = now
                entry.changes += 1
                route = Route(prefix, entry.metric)
                changes.append(AddRoute(route) if announce else DeleteRoute(route))
            entry.reason = reason or "healthy"
        return changes

    def _blocker(self, services: Sequence[tuple[str, Announce]]) -> str | None:
        """Why the prefix must not be announced, or None when every service behind it is fine."""
        if self._stopping:
            return "stopping"
        for key, announce in services:
            reason = self._service_blocker(key, announce)
            if reason is not None:
                return f"{key}: {reason}"
        return None

    def _service_blocker(self, key: str, announce: Announce) -> str | None:
        if self._health is None:
            return "checker not running"
        healthy = self._health.get(key)
        if healthy is None:
            return "first checks pending"
        if not healthy:
            return "quorum lost"
        instance = announce.require_master
        if instance is not None:
            if self._vrrp is None:
                return "VRRP not running"
            if self._vrrp.get(instance) != MASTER:
                return f"{instance} not MASTER"
        return None
