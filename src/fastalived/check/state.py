"""The checker's decisions, sans-IO: retries, up/down per real server, quorum per virtual server.

Adapters run probes and hand each outcome to :meth:`CheckState.record` together with ``now``; it
answers with the changes that outcome caused and when that checker should run next. keepalived's
rules, in one place:

* a checker that is up and fails is retried ``retry`` times, ``delay_before_retry`` apart, and only
  then declared down; a checker that is already down is simply re-checked every ``delay_loop``;
* one success brings a checker up; ``alpha`` starts it down, otherwise it starts up;
* a real server is up only while every one of its checkers is up (no checkers: always up);
* ``misc_dynamic`` moves the weight: the server's weight becomes ``weight + sum(asked - weight)``;
* a virtual server starts with its quorum up; it is lost when the live weight drops below
  ``quorum - hysteresis`` (or to 0), and gained again at ``quorum + hysteresis`` or more.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from fastalived.check.events import (
    INITIAL,
    WEIGHT_CHANGED,
    CheckEvent,
    RealServerChange,
    RealServerKey,
    VirtualServerChange,
)
from fastalived.check.scheduler import spread
from fastalived.check.seed import Seed, Seeds, is_dynamic
from fastalived.config.model import Checker, Config, RealServer, VirtualServer


class CheckResult(NamedTuple):
    """One probe's outcome. ``weight`` is set only by a ``misc_dynamic`` script asking for one;
    ``weight_offset`` only by FILE_CHECK, which moves the configured weight by that much.

    A NamedTuple rather than a frozen dataclass: one is made per check, and this is cheaper.
    """

    ok: bool
    reason: str = ""
    latency: float = 0.0
    weight: int | None = None
    weight_offset: int | None = None


class CheckerState:
    """One configured checker of one real server: its timing and where it stands."""

    __slots__ = (
        "id",
        "checker",
        "server",
        "up",
        "live",
        "retries_done",
        "consecutive_failures",
        "last_result",
        "dynamic_weight",
        "delay_loop",
        "delay_before_retry",
        "retry",
        "warmup",
    )

    def __init__(self, checker_id: str, checker: Checker, server: RealServerState) -> None:
        common = checker.common
        self.id = checker_id
        self.checker = checker
        self.server = server
        self.up = not (common.alpha or server.config.alpha)
        self.live = True  # False once removed by a reload: the scheduler then drops it
        self.retries_done = 0
        self.consecutive_failures = 0
        self.last_result: CheckResult | None = None
        self.dynamic_weight: int | None = None
        self.delay_loop = common.delay_loop
        self.delay_before_retry = common.delay_before_retry
        self.retry = common.retry
        self.warmup = common.delay_loop if common.warmup is None else common.warmup

    def is_down(self) -> bool:
        return not self.up

    def record(self, result: CheckResult) -> float:
        """Apply one outcome; returns the delay until this checker should run again."""
        self.last_result = result
        if result.ok:
            self.retries_done = 0
            self.consecutive_failures = 0
            self.up = True
            if result.weight is not None:
                self.dynamic_weight = result.weight
            elif result.weight_offset is not None:
                self.dynamic_weight = self.server.config.weight + result.weight_offset
            return self.delay_loop
        self.consecutive_failures += 1
        if self.up and self.retries_done < self.retry:
            self.retries_done += 1
            return self.delay_before_retry
        self.retries_done = 0
        self.up = False
        return self.delay_loop


class RealServerState:
    """A real server inside one virtual server: the AND of its checkers, and its effective weight."""

    __slots__ = ("vs", "config", "checkers", "up", "weight")

    def __init__(self, vs: VirtualServerState, config: RealServer) -> None:
        self.vs = vs
        self.config = config
        self.checkers: list[CheckerState] = []
        self.up = True
        self.weight = config.weight

    @property
    def key(self) -> RealServerKey:
        return self.config.key

    def wanted(self) -> tuple[bool, int]:
        """(up, weight) as the checkers currently say."""
        base = self.config.weight
        weight = base
        for checker in self.checkers:  # a plain loop: this runs once per check
            if not checker.up:
                return False, 0
            if checker.dynamic_weight is not None:
                weight += checker.dynamic_weight - base
        return True, max(0, weight)

    def evaluate(self, reason: str) -> RealServerChange | None:
        """Recompute from the checkers; a change event if the up state or live weight moved."""
        up, weight = self.wanted()
        if up == self.up and weight == self.weight:
            return None
        if up == self.up:
            reason = WEIGHT_CHANGED
        self.up, self.weight = up, weight
        return RealServerChange(self.vs.key, self.key, up, weight, reason)


class VirtualServerState:
    """A virtual server: its real servers and the quorum state with hysteresis."""

    __slots__ = ("config", "servers", "quorum_up", "suspended")

    def __init__(self, config: VirtualServer) -> None:
        self.config = config
        self.servers: dict[RealServerKey, RealServerState] = {}
        self.quorum_up = True  # keepalived starts with the quorum up and re-evaluates at once
        self.suspended = False  # ha_suspend: the adapter sets this while the VIP is not local

    @property
    def key(self) -> str:
        return self.config.key

    def live_weight(self) -> int:
        return sum(rs.weight for rs in self.servers.values() if rs.up)

    def evaluate_quorum(self) -> VirtualServerChange | None:
        weight = self.live_weight()
        quorum, hysteresis = self.config.quorum, self.config.hysteresis
        if not self.quorum_up and weight >= quorum + hysteresis and weight > 0:
            self.quorum_up = True
        elif self.quorum_up and (weight == 0 or weight < quorum - hysteresis):
            self.quorum_up = False
        else:
            return None
        return VirtualServerChange(self.key, self.quorum_up)


def checker_id(vs: VirtualServer, rs: RealServer, index: int, checker: Checker) -> str:
    """Stable across reloads; also the seed of the warmup spread."""
    return f"{vs.key}|{rs.address}:{rs.port}|{index}:{checker.kind}"


class CheckState:
    """Every virtual server's state, queryable at any time by the IPVS reconciler and ``/status``.

    ``fastalived.ipvs.desired.build_desired`` turns it (``up``/``weight`` per real server,
    ``quorum_up`` per virtual server) into the kernel table, sorry server and inhibit included.
    """

    def __init__(self) -> None:
        self.virtual_servers: dict[str, VirtualServerState] = {}
        # ``fastalived ctl drain``: (vs key, rs key) -> removed; weight 0 in IPVS until then (check.drain)
        self.drained: dict[tuple[str, RealServerKey], bool] = {}

    def load(
        self, config: Config, now: float, seeds: Seeds | None = None
    ) -> tuple[list[CheckEvent], list[tuple[float, CheckerState]]]:
        """Apply a (new) config; returns the changes and the new checkers with their first due time.

        First runs are spread over ``warmup`` (keepalived: a random delay in [0, warmup]) by a
        hash of the checker's identity, so 10,000 checkers never fire at once.

        Real servers whose config is unchanged keep their state, and so do checkers whose config is
        unchanged on a changed server; everything else starts fresh (``alpha`` rules). Removed
        checkers are marked dead so the scheduler drops them. ``seeds`` (a checker replacing a
        crashed one, see :mod:`fastalived.check.seed`) sets where new real servers start instead.
        """
        events: list[CheckEvent] = []
        started: list[CheckerState] = []
        old = self.virtual_servers
        self.virtual_servers = {}
        for vs_config in config.virtual_servers:
            vs = old.pop(vs_config.key, None)
            previous = vs.servers if vs is not None else {}
            if vs is None:
                vs = VirtualServerState(vs_config)
            vs.config = vs_config
            vs.servers = {}
            for rs_config in vs_config.real_servers:
                if rs_config.key in vs.servers:  # a duplicate (the parser warns): the first one wins
                    continue
                before = previous.pop(rs_config.key, None)
                rs, fresh = self._adopt_server(vs, rs_config, before)
                if before is None and seeds is not None and (seed := seeds.get((vs.key, rs.key))) is not None:
                    _seed(rs, seed)
                vs.servers[rs.key] = rs
                started.extend(fresh)
                if before is None:
                    rs.up, rs.weight = rs.wanted()
                    events.append(RealServerChange(vs.key, rs.key, rs.up, rs.weight, INITIAL))
                elif (change := rs.evaluate("reload")) is not None:
                    events.append(change)
            for gone in previous.values():
                _retire(gone)
            self.virtual_servers[vs.key] = vs
            quorum = vs.evaluate_quorum()
            if quorum is not None:
                events.append(quorum)
        for vs in old.values():
            for gone in vs.servers.values():
                _retire(gone)
        return events, [(now + spread(checker.id, checker.warmup), checker) for checker in started]

    @staticmethod
    def _adopt_server(
        vs: VirtualServerState, config: RealServer, previous: RealServerState | None
    ) -> tuple[RealServerState, list[CheckerState]]:
        rs = RealServerState(vs, config)
        if previous is not None:
            rs.up, rs.weight = previous.up, previous.weight
        kept = {(c.id, c.checker): c for c in previous.checkers} if previous is not None else {}
        fresh: list[CheckerState] = []
        for index, checker in enumerate(config.checkers):
            cid = checker_id(vs.config, config, index, checker)
            state = kept.pop((cid, checker), None)
            if state is None:
                state = CheckerState(cid, checker, rs)
                fresh.append(state)
            state.server = rs
            rs.checkers.append(state)
        for dropped in kept.values():
            dropped.live = False
        return rs, fresh

    def record(self, checker: CheckerState, result: CheckResult, now: float) -> tuple[list[CheckEvent], float]:
        """Apply one probe outcome; returns the changes it caused and the checker's next due time."""
        delay = checker.record(result)
        events: list[CheckEvent] = []
        rs = checker.server
        change = rs.evaluate(result.reason or ("success" if result.ok else "failure"))
        if change is not None:
            events.append(change)
            quorum = rs.vs.evaluate_quorum()
            if quorum is not None:
                events.append(quorum)
        return events, now + delay

    def real_server(self, vs_key: str, rs_key: RealServerKey) -> RealServerState | None:
        vs = self.virtual_servers.get(vs_key)
        return vs.servers.get(rs_key) if vs is not None else None

    def checkers(self) -> Iterator[CheckerState]:
        for vs in self.virtual_servers.values():
            for rs in vs.servers.values():
                yield from rs.checkers


def _seed(rs: RealServerState, seed: Seed) -> None:
    """Start a new real server's checkers where the kernel table says it stood (``alpha`` aside)."""
    for checker in rs.checkers:
        checker.up = seed.up
    if seed.weight is not None:  # the first dynamic checker holds it until it reports its own
        dynamic = next((c for c in rs.checkers if is_dynamic(c.checker)), None)
        if dynamic is not None:
            dynamic.dynamic_weight = seed.weight


def _retire(rs: RealServerState) -> None:
    for checker in rs.checkers:
        checker.live = False
