"""The checker role: every probe on one uvloop loop, driven by one timer heap.

:class:`CheckRole` is what ``fastalived.daemon.child`` hosts in the checker process. It keeps a
single loop timer armed for the earliest due checker, starts due probes as short-lived tasks
(one per check *in flight*, none sleeping), feeds each outcome to the sans-IO
:class:`~fastalived.check.state.CheckState`, and hands the resulting changes to the IPVS sink and
the notifiers. Where the kernel has no IPVS it says so once and keeps checking.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from fastalived.check.alerts import CheckAlerts, format_rs, format_vs
from fastalived.check.dns import DnsProbe
from fastalived.check.events import CheckEvent, RealServerChange, VirtualServerChange
from fastalived.check.http import HttpProbe, SslProbe, client_ssl_context
from fastalived.check.misc import MiscProbe
from fastalived.check.probe import InFlight, Probe
from fastalived.check.scheduler import DurationStats, TimerHeap, spread
from fastalived.check.smtp import SmtpProbe
from fastalived.check.state import CheckerState, CheckResult, CheckState, VirtualServerState
from fastalived.check.tcp import TcpProbe
from fastalived.config.model import Checker, Config, HttpCheck, MiscCheck, SmtpCheck, TcpCheck
from fastalived.daemon.role import Metric
from fastalived.options import RunOptions

log = logging.getLogger("fastalived.check")

BATCH = 256  # probes started per timer callback before yielding to I/O
LOCALITY_REFRESH = 1.0  # seconds between ha_suspend "is the VIP here?" tests per virtual server


class IpvsSink(Protocol):
    """Where the checker's desired table goes; the IPVS director implements it."""

    async def apply(self, config: Config, state: CheckState) -> None: ...


class IpvsUnavailable:
    """The sink on kernels without IPVS: say so once, then let the checks run for their own sake."""

    def __init__(self) -> None:
        self._told = False

    async def apply(self, config: Config, state: CheckState) -> None:
        if not self._told:
            self._told = True
            log.warning("IPVS: kernel has no IPVS support; health checks continue without programming LVS")


async def open_ipvs_sink() -> IpvsSink:
    """The kernel IPVS director when there is one, else :class:`IpvsUnavailable`."""
    try:
        from fastalived.ipvs.director import IpvsDirector  # type: ignore[import-not-found]
    except ImportError:
        return IpvsUnavailable()
    opened = IpvsDirector.open()
    if asyncio.iscoroutine(opened):
        opened = await opened
    return opened if opened is not None else IpvsUnavailable()


def build_probe(checker: Checker, ssl_context: Callable[[], ssl.SSLContext]) -> Probe:
    """The probe for one configured checker; SSL_GET asks for the (shared, lazily made) context."""
    if isinstance(checker, HttpCheck):
        return SslProbe(checker, ssl_context()) if checker.kind == "SSL_GET" else HttpProbe(checker)
    if isinstance(checker, TcpCheck):
        return TcpProbe(checker)
    if isinstance(checker, SmtpCheck):
        return SmtpProbe(checker)
    if isinstance(checker, MiscCheck):
        return MiscProbe(checker)
    return DnsProbe(checker)


def address_is_local(address: str, family: int) -> bool:
    """True when ``address`` is configured on this host (binding to it succeeds)."""
    with socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


class CheckRole:
    """The health-checker child's role (see :class:`fastalived.daemon.role.Role`)."""

    name = "check"

    def __init__(
        self,
        options: RunOptions | None = None,
        ipvs: IpvsSink | None = None,
        on_events: Callable[[list[CheckEvent]], None] | None = None,
    ) -> None:
        self.options = options or RunOptions()
        self.state = CheckState()
        self.heap: TimerHeap[CheckerState] = TimerHeap(lambda checker: checker.live)
        self.latency = DurationStats()
        self.runs = {"success": 0, "failure": 0}
        self._ipvs = ipvs
        self._on_events = on_events
        self._config: Config | None = None
        self._alerts: CheckAlerts | None = None
        self._probes: dict[str, Probe] = {}
        self._in_flight: dict[CheckerState, InFlight] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = float("inf")
        self._locality_checked: dict[str, float] = {}
        self._ipvs_dirty = False
        self._ipvs_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ Role API

    async def start(self, config: Config) -> None:
        self._loop = asyncio.get_running_loop()
        if self._ipvs is None:
            self._ipvs = await open_ipvs_sink()
        self._apply_config(config)
        count = sum(len(vs.servers) for vs in self.state.virtual_servers.values())
        log.info(
            "Activating healthchecker for %d real servers in %d virtual servers",
            count,
            len(self.state.virtual_servers),
        )

    async def reload(self, config: Config) -> None:
        self._apply_config(config)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for handle in self._in_flight.values():
            handle.cancel()
        self._in_flight.clear()
        if self._ipvs_task is not None:
            await asyncio.gather(self._ipvs_task, return_exceptions=True)
        if self._alerts is not None:
            await self._alerts.drain()

    def snapshot(self) -> dict:
        virtual_servers = []
        for vs in self.state.virtual_servers.values():
            servers = []
            for rs in vs.servers.values():
                checkers = []
                for checker in rs.checkers:
                    last = checker.last_result
                    checkers.append(
                        {
                            "kind": checker.checker.kind,
                            "up": checker.up,
                            "last_result": None if last is None else ("success" if last.ok else "failure"),
                            "last_reason": None if last is None else last.reason,
                            "last_latency": None if last is None else round(last.latency, 6),
                            "consecutive_failures": checker.consecutive_failures,
                        }
                    )
                servers.append(
                    {
                        "address": str(rs.config.address),
                        "port": rs.config.port,
                        "up": rs.up,
                        "weight": rs.weight,
                        "checkers": checkers,
                    }
                )
            virtual_servers.append(
                {
                    "key": vs.key,
                    "quorum_up": vs.quorum_up,
                    "live_weight": vs.live_weight(),
                    "suspended": vs.suspended,
                    "real_servers": servers,
                }
            )
        lag = self.heap.lag
        return {
            "virtual_servers": virtual_servers,
            "scheduler": {
                "lag_p50": lag.quantile(0.5),
                "lag_p99": lag.quantile(0.99),
                "scheduled": len(self.heap),
                "in_flight": len(self._in_flight),
            },
            "runs": dict(self.runs),
            "ipvs": "unavailable" if isinstance(self._ipvs, IpvsUnavailable) else "kernel",
        }

    def metrics(self) -> Iterable[Metric]:
        for vs in self.state.virtual_servers.values():
            yield Metric(
                "fastalived_check_virtual_server_quorum_up",
                float(vs.quorum_up),
                (("vs", vs.key),),
                help="1 while the virtual server has its quorum",
            )
            for rs in vs.servers.values():
                labels = (("vs", vs.key), ("rs", f"{rs.config.address}:{rs.config.port}"))
                yield Metric(
                    "fastalived_check_real_server_up", float(rs.up), labels, help="1 while all checkers pass"
                )
                yield Metric(
                    "fastalived_check_real_server_weight", float(rs.weight), labels, help="weight asked of IPVS"
                )
        yield _histogram("fastalived_check_latency_seconds", self.latency, "duration of one check")
        lag = self.heap.lag
        yield _histogram("fastalived_check_scheduler_lag_seconds", lag, "how late checks start after they are due")
        for q in (0.5, 0.99):
            yield Metric(
                "fastalived_check_scheduler_lag_quantile_seconds",
                lag.quantile(q),
                (("quantile", str(q)),),
                help="recent scheduler lag quantiles",
            )
        for result, count in self.runs.items():
            yield Metric(
                "fastalived_check_runs_total", float(count), (("result", result),), "counter", "checks run"
            )

    # ------------------------------------------------------------------ configuration

    def _apply_config(self, config: Config) -> None:
        self._config = config
        self._alerts = CheckAlerts(config.global_defs) if self._alerts is None else self._alerts
        self._alerts.global_defs = config.global_defs
        ssl_context: ssl.SSLContext | None = None

        def shared_ssl_context() -> ssl.SSLContext:
            nonlocal ssl_context
            if ssl_context is None:
                ssl_context = client_ssl_context(config.ssl)
            return ssl_context

        events, started = self.state.load(config)
        probes: dict[str, Probe] = {}
        for checker in self.state.checkers():
            try:
                probes[checker.id] = build_probe(checker.checker, shared_ssl_context)
            except (OSError, ValueError, KeyError) as exc:
                log.error("%s at %s cannot run: %s", checker.checker.kind, checker.checker.where, exc)
                checker.live = False
        self._probes = probes
        now = time.monotonic()
        for checker in started:
            if checker.live:
                self.heap.push(now + spread(checker.id, checker.warmup), checker)
        self._arm()
        self._emit(events, initial=True)

    # ------------------------------------------------------------------ scheduling

    def _arm(self) -> None:
        """Keep the one loop timer set for the earliest due checker."""
        due = self.heap.next_deadline
        if due is None or due >= self._timer_due or self._loop is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._loop.call_later(max(0.0, due - time.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_due = float("inf")
        now = time.monotonic()
        probes, in_flight = self._probes, self._in_flight
        for checker in self.heap.pop_due(now, BATCH):
            vs = checker.server.vs
            if vs.config.ha_suspend and self._suspended(vs, now):
                self.heap.push(now + checker.delay_loop, checker)
                continue
            in_flight[checker] = probes[checker.id].start(lambda result, checker=checker: self._finished(checker, result))
        due = self.heap.next_deadline
        if due is not None and due <= now:  # more due than one batch: let I/O run, then go on
            self._timer_due = now
            self._timer = self._loop.call_later(0, self._on_timer)  # type: ignore[union-attr]
        else:
            self._arm()

    def _suspended(self, vs: VirtualServerState, now: float) -> bool:
        """ha_suspend: skip checks while the virtual address is not on this host (re-tested each second)."""
        if vs.config.address is None:
            return False
        if now - self._locality_checked.get(vs.key, -LOCALITY_REFRESH) >= LOCALITY_REFRESH:
            self._locality_checked[vs.key] = now
            vs.suspended = not address_is_local(str(vs.config.address), vs.config.address.version)
        return vs.suspended

    def _finished(self, checker: CheckerState, result: CheckResult) -> None:
        self._in_flight.pop(checker, None)
        if not checker.live:
            return
        self.runs["success" if result.ok else "failure"] += 1
        self.latency.record(result.latency)
        events, due = self.state.record(checker, result, time.monotonic())
        self.heap.push(due, checker)
        if due < self._timer_due:
            self._arm()
        if events:
            self._emit(events)
        elif not result.ok:
            log.debug("%s on %s failed: %s", checker.checker.kind, checker.id, result.reason)

    # ------------------------------------------------------------------ effects

    def _emit(self, events: list[CheckEvent], initial: bool = False) -> None:
        config = self._config
        assert config is not None and self._alerts is not None
        for event in events:
            vs = self.state.virtual_servers.get(event.vs_key)
            if vs is None:
                continue
            if isinstance(event, RealServerChange):
                rs = vs.servers[event.rs_key]
                where = f"{format_rs(rs.config, vs.config.protocol)} {'to' if event.up else 'from'} VS {format_vs(vs.config)}"
                if initial and event.up:
                    log.debug("Activating healthchecker for service %s", where)
                    continue
                verb = "Adding" if event.up else ("Disabling" if rs.config.inhibit_on_failure else "Removing")
                log.info("%s service %s (%s)", verb, where, event.reason)
                if not initial:  # a server's first state is not news; keepalived notifies changes
                    self._alerts.real_server_changed(vs.config, rs.config, event.up)
            elif isinstance(event, VirtualServerChange):
                state = "Gained" if event.quorum_up else "Lost"
                log.info(
                    "%s quorum %d for VS %s (quorum %d, hysteresis %d)",
                    state,
                    vs.live_weight(),
                    format_vs(vs.config),
                    vs.config.quorum,
                    vs.config.hysteresis,
                )
                self._alerts.quorum_changed(vs.config, event.quorum_up)
        if self._on_events is not None and events:
            self._on_events(events)
        self._push_ipvs()

    def _push_ipvs(self) -> None:
        """Coalesce changes into one IPVS apply at a time; a burst of changes costs one more pass."""
        self._ipvs_dirty = True
        if self._ipvs_task is None and self._loop is not None:
            self._ipvs_task = self._loop.create_task(self._ipvs_pass())

    async def _ipvs_pass(self) -> None:
        try:
            while self._ipvs_dirty and self._ipvs is not None and self._config is not None:
                self._ipvs_dirty = False
                try:
                    await self._ipvs.apply(self._config, self.state)
                except Exception:
                    log.exception("IPVS update failed")
        finally:
            self._ipvs_task = None


def _histogram(name: str, stats: DurationStats, text: str) -> Metric:
    return Metric(name, float(stats.total), (), "histogram", text, stats.cumulative(), stats.sum)
