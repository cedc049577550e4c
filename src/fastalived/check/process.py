"""The checker role: every probe on one uvloop loop, driven by one timer heap.

:class:`CheckRole` is what ``fastalived.daemon.child`` hosts in the checker process. It keeps a
single loop timer armed for the earliest due checker and starts the due probes (plain HTTP and
TCP as socket callbacks, the rest as one short task per check in flight; nothing sleeps between
checks), feeds each outcome to the sans-IO
:class:`~fastalived.check.state.CheckState`, and hands the resulting changes to the IPVS sink and
the notifiers. Where the kernel has no IPVS it says so once and keeps checking.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import math
import os
import resource
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from fastalived.check.alerts import CheckAlerts, format_rs, format_vs
from fastalived.check.drain import Drainer
from fastalived.check.events import INITIAL, WEIGHT_CHANGED, CheckEvent, RealServerChange, VirtualServerChange
from fastalived.check.probe import InFlight, Probe
from fastalived.check.probes import ProbeFactory
from fastalived.check.scheduler import DurationStats, TimerHeap
from fastalived.check.seed import KernelWeights, Seeds, initial_states
from fastalived.check.state import CheckerState, CheckResult, CheckState, VirtualServerState
from fastalived.config.model import (
    Config,
    FileCheck,
)
from fastalived.options import RunOptions
from fastalived.runtime.role import DumpKind, Metric
from fastalived.runtime.track_file import FileWatcher, initialise

log = logging.getLogger("fastalived.check")

BATCH = 256  # probes started per timer callback before yielding to I/O
FILE_HEADROOM = 256  # descriptors beyond one per checker: scripts, notify mail, the status channel
# Checks make no reference cycles, yet at the default threshold (700) the young-generation GC runs
# every ~150 checks just to scan the checks in flight: ~4 % of the CPU at 4,000 checks/s.
GC_YOUNG_THRESHOLD = 10_000
TIMER_SLACK = 0.001  # libuv timers have millisecond resolution and may fire that much early
# Checks start on a 10 ms grid: thousands of checkers due at scattered times wake the loop ~100
# times a second and start (and so get their replies) in batches, instead of one wake-up per check.
# A check starts at most this much after it is due (the scheduler lag includes it).
START_GRID = 0.01
LOCALITY_REFRESH = 1.0  # seconds between ha_suspend "is the VIP here?" tests per virtual server
# Seconds between re-reads of the kernel's IPVS table without checker events: an ``ipvsadm -d`` (or
# an op that failed with a netlink error) is repaired within this long. Cheap when nothing differs:
# one dump, no ops.
IPVS_REPAIR_INTERVAL = 5.0


class _Starting:
    """Placeholder in the in-flight table while ``probe.start`` runs."""

    def cancel(self) -> None:
        """Nothing to cancel yet."""


STARTING = _Starting()


class SyncReport(Protocol):
    """What one IPVS pass did (``ipvs.director.ReconcileReport`` has this shape), for metrics."""

    @property
    def applied(self) -> Mapping[Any, int]: ...  # operation kind (an enum) -> count

    @property
    def failed(self) -> Sequence[tuple[Any, int]]: ...  # (operation, errno)

    @property
    def seconds(self) -> float: ...


class IpvsSink(Protocol):
    """Where the checker's state goes; the daemon hands in :class:`fastalived.ipvs.director.IpvsDirector`."""

    async def apply(self, config: Config, check_state: CheckState, *, repair: bool = False) -> SyncReport | None:
        """Program what ``check_state`` asks for; ``repair`` re-reads the kernel first and logs each fix."""
        ...

    async def close(self, remove: bool, *, flush: bool = False) -> object: ...

    async def observe(self, config: Config) -> KernelWeights | None:
        """What the kernel table holds for ``config`` (read by a checker replacing a crashed one)."""
        ...


IpvsOpener = Callable[[Config], Awaitable[IpvsSink | None]]
"""Opens the kernel sink at start (``lvs_flush`` honoured); None on kernels without IPVS."""


class NoIpvs:
    """The sink on kernels without IPVS: say so once, then let the checks run for their own sake."""

    def __init__(self) -> None:
        self._told = False

    async def apply(self, config: Config, check_state: CheckState, *, repair: bool = False) -> SyncReport | None:
        if not self._told:
            self._told = True
            log.warning("IPVS: kernel has no IPVS support; health checks continue without programming LVS")
        return None  # nothing was programmed, so nothing to report

    async def close(self, remove: bool, *, flush: bool = False) -> None:
        """Nothing was programmed, so nothing to release."""

    async def observe(self, config: Config) -> None:
        """No table to resume from."""


def ensure_file_limit(checkers: int) -> None:
    """Raise the soft RLIMIT_NOFILE towards one socket per checker plus headroom (keepalived does too).

    With the common default of 1024, a burst of checks would otherwise fail with EMFILE and
    report healthy servers down.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = checkers + FILE_HEADROOM
    if soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open file limit to %d: %s", target, exc)
        return
    if target < wanted:
        log.warning("open file limit %d is below %d checkers + headroom; bursts may fail", target, checkers)


def address_is_local(address: str, family: int) -> bool:
    """True when ``address`` is configured on this host (binding to it succeeds).

    With ``net.ipv4.ip_nonlocal_bind = 1`` every address binds, so ``ha_suspend`` never suspends.
    """
    with socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


class CheckRole:
    """The health-checker child's role (see :class:`fastalived.runtime.role.Role`)."""

    name = "check"

    def __init__(
        self,
        options: RunOptions | None = None,
        ipvs: IpvsSink | None = None,
        open_ipvs: IpvsOpener | None = None,
        on_events: Callable[[list[CheckEvent]], None] | None = None,
    ) -> None:
        self.options = options or RunOptions()
        self.state = CheckState()
        self.heap: TimerHeap[CheckerState] = TimerHeap(lambda checker: checker.live)
        self.latency = DurationStats()
        self.ipvs_seconds = DurationStats()  # one reconcile pass: dump (when due), plan, apply
        self.ipvs_ops: Counter[tuple[str, str]] = Counter()  # (operation, ok | failed | error)
        self.lag = DurationStats()  # how late each check really started compared with its due time
        self.runs = {"success": 0, "failure": 0}
        self._ipvs = ipvs
        self._open_ipvs = open_ipvs
        self._on_events = on_events
        self._config: Config | None = None
        self._alerts: CheckAlerts | None = None
        self._probes: dict[CheckerState, Probe] = {}  # built at each checker's first run (``_probe``)
        self._probe_factory: ProbeFactory | None = None
        self._in_flight: dict[CheckerState, InFlight] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = float("inf")
        self._locality_checked: dict[str, float] = {}
        self._ipvs_dirty = False
        self._ipvs_repair_due = False
        self._ipvs_task: asyncio.Task[None] | None = None
        self._ipvs_repair_timer: asyncio.TimerHandle | None = None
        self._file_watcher: FileWatcher | None = None
        self._file_checkers: dict[str, list[CheckerState]] = {}  # absolute path -> FILE_CHECKs on it
        self._loop: asyncio.AbstractEventLoop | None = None
        self.drainer = Drainer(self.state, self._push_ipvs)  # ``fastalived ctl drain``

    # ------------------------------------------------------------------ Role API

    async def start(self, config: Config) -> None:
        self._loop = asyncio.get_running_loop()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        if self._ipvs is None:
            opened = await self._open_ipvs(config) if self._open_ipvs is not None else None
            self._ipvs = opened if opened is not None else NoIpvs()
        initialise(config.track_files, first_start=True)
        self._apply_config(config, await self._kernel_seeds(config) if self.options.adopt_ipvs else None)
        await self._fifo_configure(config)
        self._ipvs_repair_timer = self._loop.call_later(IPVS_REPAIR_INTERVAL, self._repair_ipvs)
        count = sum(len(vs.servers) for vs in self.state.virtual_servers.values())
        log.info(
            "Activating healthchecker for %d real servers in %d virtual servers",
            count,
            len(self.state.virtual_servers),
        )

    async def reload(self, config: Config) -> None:
        initialise(config.track_files, first_start=False)
        self._apply_config(config)
        await self._fifo_configure(config)

    async def _kernel_seeds(self, config: Config) -> Seeds | None:
        """Replacing a crashed checker: start each real server where its IPVS table left it."""
        assert self._ipvs is not None
        try:
            kernel = await self._ipvs.observe(config)
        except OSError as exc:
            log.warning("IPVS: cannot read the table the previous checker left (%s): starting over", exc)
            return None
        seeds = None if kernel is None else initial_states(config, kernel)
        if seeds is not None:
            up = sum(seed.up for seed in seeds.values())
            log.info("Resuming from the IPVS table: %d of %d real servers up", up, len(seeds))
        return seeds

    async def _fifo_configure(self, config: Config) -> None:
        """The notify FIFOs (``notify_fifo``, ``lvs_notify_fifo``) opened, their readers started."""
        assert self._alerts is not None
        await self._alerts.configure(config.global_defs)

    def steer(self, overrides: Mapping[str, Any]) -> list[str]:
        """The parent's operator overrides (the full set of drains); what changed, line by line."""
        return self.drainer.steer(overrides)

    async def stop(self) -> None:
        self.drainer.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ipvs_repair_timer is not None:
            self._ipvs_repair_timer.cancel()
            self._ipvs_repair_timer = None
        if self._file_watcher is not None and self._loop is not None:
            self._file_watcher.close(self._loop.remove_reader)
            self._file_watcher = None
        for handle in self._in_flight.values():
            handle.cancel()
        self._in_flight.clear()
        if self._ipvs_task is not None:
            await asyncio.gather(self._ipvs_task, return_exceptions=True)
        if self._ipvs is not None and self._config is not None:
            try:
                await self._ipvs.close(
                    remove=not self.options.dont_release_ipvs, flush=self._config.global_defs.lvs_flush_onstop
                )
            except Exception:
                log.exception("IPVS release at stop failed")
        if self._alerts is not None:
            self._omega_notifications(self._alerts)
            await self._alerts.drain()
            await self._alerts.close()

    def _omega_notifications(self, alerts: CheckAlerts) -> None:
        """``omega``: on shutdown, report live servers and held quorums as going down."""
        for vs in self.state.virtual_servers.values():
            if not vs.config.omega:
                continue
            for rs in vs.servers.values():
                if rs.up:
                    alerts.real_server_changed(vs.config, rs.config, False)
            if vs.quorum_up:
                alerts.quorum_changed(vs.config, False)

    def snapshot(self) -> dict[str, Any]:
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
        lag = self.lag
        return {
            "virtual_servers": virtual_servers,
            "scheduler": {
                "lag_p50": lag.quantile(0.5),
                "lag_p99": lag.quantile(0.99),
                "scheduled": len(self.heap),
                "in_flight": len(self._in_flight),
            },
            "runs": dict(self.runs),
            "ipvs": "unavailable" if isinstance(self._ipvs, NoIpvs) else "kernel",
        }

    def keepalived_dump(self, kind: DumpKind) -> str | None:
        """keepalived's checker writes no dump its tools read; ours stays in run_dir."""
        return None

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
                yield Metric("fastalived_check_real_server_up", float(rs.up), labels, help="1 while all checkers pass")
                yield Metric(
                    "fastalived_check_real_server_weight", float(rs.weight), labels, help="weight asked of IPVS"
                )
        yield _histogram("fastalived_check_latency_seconds", self.latency, "duration of one check")
        yield Metric("fastalived_ipvs_available", float(not isinstance(self._ipvs, NoIpvs | None)),
                     help="1 when the kernel's IPVS table is being programmed")  # fmt: skip
        yield _histogram("fastalived_ipvs_reconcile_duration_seconds", self.ipvs_seconds, "one IPVS reconcile pass")
        for (operation, result), count in sorted(self.ipvs_ops.items()):
            yield Metric("fastalived_ipvs_operations_total", float(count), (("op", operation), ("result", result)),
                         "counter", "IPVS netlink operations by kind and result")  # fmt: skip
        # Quantiles come from the histogram (histogram_quantile); /status keeps lag_p50 / lag_p99.
        yield _histogram("fastalived_check_scheduler_lag_seconds", self.lag, "how late checks start after they are due")
        for result, count in self.runs.items():
            yield Metric("fastalived_check_runs_total", float(count), (("result", result),), "counter", "checks run")

    # ------------------------------------------------------------------ configuration

    def _apply_config(self, config: Config, seeds: Seeds | None = None) -> None:
        previous, self._config = self._config, config
        if self._alerts is None:  # the shared FIFO's reader is the VRRP role's to start, if it runs
            self._alerts = CheckAlerts(config.global_defs, runs_shared_fifo_script=self.options.check_only)
        self._alerts.global_defs = config.global_defs
        events, started = self.state.load(config, time.monotonic(), seeds)
        ensure_file_limit(sum(1 for _ in self.state.checkers()))
        if previous is None or (previous.global_defs, previous.ssl) != (config.global_defs, config.ssl):
            self._probes = {}  # what every probe was built with changed
            self._probe_factory = ProbeFactory(config)
        else:  # a checker kept across the reload keeps its probe
            self._probes = {checker: probe for checker, probe in self._probes.items() if checker.live}
        for checker in [c for c in self._in_flight if not c.live]:  # removed servers stop at once
            self._in_flight.pop(checker).cancel()
        self._locality_checked = {k: t for k, t in self._locality_checked.items() if k in self.state.virtual_servers}
        for due, checker in started:
            if checker.live:
                self.heap.push(due, checker)
        self._watch_files()
        self._arm()
        self._emit(events)

    def _watch_files(self) -> None:
        """Point the one inotify watcher at the files FILE_CHECKs track (made on first need)."""
        by_path: dict[str, list[CheckerState]] = {}
        for checker in self.state.checkers():
            if isinstance(checker.checker, FileCheck) and checker.live:
                by_path.setdefault(os.path.abspath(checker.checker.track_file.file), []).append(checker)
        self._file_checkers = by_path
        if self._loop is None or (not by_path and self._file_watcher is None):
            return
        if self._file_watcher is None:
            try:
                self._file_watcher = FileWatcher(self._loop.add_reader, self._file_changed)
            except OSError as exc:
                log.error("inotify unavailable (%s): FILE_CHECK reads its file every delay_loop instead", exc)
                return
        self._file_watcher.watch(by_path)

    def _file_changed(self, path: str) -> None:
        for checker in self._file_checkers.get(path, ()):
            if checker.live and checker not in self._in_flight and (probe := self._probe(checker)) is not None:
                probe.start(functools.partial(self._finished, checker))

    def _probe(self, checker: CheckerState) -> Probe | None:
        """The checker's probe, built at its first run rather than at the (re)load: thousands of
        real servers reach IPVS without waiting for all their probes. None: it cannot run."""
        probe = self._probes.get(checker)
        if probe is None:
            assert self._probe_factory is not None, "a checker runs only once a config is applied"
            try:
                probe = self._probes[checker] = self._probe_factory.build(checker)
            except (OSError, ValueError, KeyError) as exc:
                log.error("%s at %s cannot run: %s", checker.checker.kind, checker.checker.where, exc)
                checker.live = False
        return probe

    # ------------------------------------------------------------------ scheduling

    def _arm(self) -> None:
        """Keep the one loop timer set for the grid point at or after the earliest due checker."""
        due = self.heap.next_deadline
        if due is None or self._loop is None:
            return
        due = math.ceil(due / START_GRID) * START_GRID
        if due >= self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self._loop.call_later(max(0.0, due - time.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_due = float("inf")
        now = time.monotonic()
        probes, in_flight, record_lag, clock = self._probes, self._in_flight, self.lag.record, time.monotonic
        probe_for = self._probe
        for due, checker in self.heap.pop_due(now, BATCH, TIMER_SLACK):
            record_lag(clock() - due)  # at the real start: a long batch makes its last checks late too
            vs = checker.server.vs
            if vs.config.ha_suspend and self._suspended(vs, now):
                self.heap.push(now + checker.delay_loop, checker)
                continue
            probe = probes.get(checker)
            if probe is None and (probe := probe_for(checker)) is None:
                continue  # it cannot run (logged)
            in_flight[checker] = STARTING  # a probe may finish inside start(): refused, instant connect
            try:
                handle = probe.start(functools.partial(self._finished, checker))
                if checker in in_flight:
                    in_flight[checker] = handle
            except Exception as exc:  # a probe bug costs its own check, never the timer chain
                log.exception("%s on %s could not start", checker.checker.kind, checker.id)
                self._finished(checker, CheckResult(False, f"internal error: {exc!r}"))
        next_due = self.heap.next_deadline
        if next_due is not None and next_due <= now:  # more due than one batch: let I/O run, then go on
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
        was_up = checker.up
        events, due = self.state.record(checker, result, time.monotonic())
        if not isinstance(checker.checker, FileCheck) or self._file_watcher is None:  # inotify re-runs those
            self.heap.push(due, checker)
            if due < self._timer_due:
                self._arm()
        if not result.ok:  # log_all_failures: each failure while up, not just the one that takes it down
            loud = was_up and self._log_all_failures(checker)
            if loud or not events:
                level = logging.INFO if loud else logging.DEBUG
                log.log(level, "%s on %s failed: %s", checker.checker.kind, checker.id, result.reason)
        if events:
            self._emit(events)

    def _log_all_failures(self, checker: CheckerState) -> bool:
        config = self._config
        return checker.checker.common.log_all_failures or (
            config is not None and config.global_defs.checker_log_all_failures
        )

    # ------------------------------------------------------------------ effects

    def _emit(self, events: list[CheckEvent]) -> None:
        assert self._alerts is not None
        for event in events:
            vs = self.state.virtual_servers.get(event.vs_key)
            if vs is None:
                continue
            if isinstance(event, RealServerChange):
                rs = vs.servers[event.rs_key]
                service, of_vs = format_rs(rs.config, vs.config.protocol), format_vs(vs.config)
                if event.reason == WEIGHT_CHANGED:
                    log.info("Changing weight to %d for service %s of VS %s", event.weight, service, of_vs)
                    continue
                if event.reason == INITIAL:  # a server's first state is news only with rs_init_notifies
                    log.debug("Activating healthchecker for service %s of VS %s", service, of_vs)
                    if event.up and self._config is not None and self._config.global_defs.rs_init_notifies:
                        self._alerts.real_server_changed(vs.config, rs.config, True)
                    continue
                verb = "Adding" if event.up else ("Disabling" if rs.config.inhibit_on_failure else "Removing")
                direction = "to" if event.up else "from"
                log.info("%s service %s %s VS %s (%s)", verb, service, direction, of_vs, event.reason)
                self._alerts.real_server_changed(vs.config, rs.config, event.up)
            elif isinstance(event, VirtualServerChange):
                quorum, hysteresis, weight = vs.config.quorum, vs.config.hysteresis, vs.live_weight()
                if event.quorum_up:  # keepalived's wording, e.g. "Gained quorum 1+0=1 <= 4000 for VS ..."
                    log.info(
                        "Gained quorum %d+%d=%d <= %d for VS %s",
                        quorum,
                        hysteresis,
                        quorum + hysteresis,
                        weight,
                        format_vs(vs.config),
                    )
                else:
                    log.info(
                        "Lost quorum %d-%d=%d > %d for VS %s",
                        quorum,
                        hysteresis,
                        quorum - hysteresis,
                        weight,
                        format_vs(vs.config),
                    )
                self._alerts.quorum_changed(vs.config, event.quorum_up)
        if self._on_events is not None and events:
            self._on_events(events)
        self._push_ipvs()

    def _repair_ipvs(self) -> None:
        """The repair timer: one pass that re-reads the kernel, then the next timer."""
        assert self._loop is not None
        self._ipvs_repair_due = True
        self._push_ipvs()
        self._ipvs_repair_timer = self._loop.call_later(IPVS_REPAIR_INTERVAL, self._repair_ipvs)

    def _push_ipvs(self) -> None:
        """Coalesce changes into one IPVS apply at a time; a burst of changes costs one more pass."""
        self._ipvs_dirty = True
        if self._ipvs_task is None and self._loop is not None:
            self._ipvs_task = self._loop.create_task(self._ipvs_pass())

    async def _ipvs_pass(self) -> None:
        try:
            while self._ipvs_dirty and self._ipvs is not None and self._config is not None:
                self._ipvs_dirty = False
                repair, self._ipvs_repair_due = self._ipvs_repair_due, False
                try:
                    report = await self._ipvs.apply(self._config, self.state, repair=repair)
                except Exception:
                    log.exception("IPVS update failed")
                    self.ipvs_ops[("sync", "error")] += 1
                    continue
                if report is not None:
                    self.ipvs_seconds.record(report.seconds)
                    for kind, count in report.applied.items():
                        self.ipvs_ops[(kind.name.lower(), "ok")] += count
                    for op, _errno in report.failed:
                        self.ipvs_ops[(op.kind.name.lower(), "failed")] += 1
        finally:
            self._ipvs_task = None


def _histogram(name: str, stats: DurationStats, text: str) -> Metric:
    return Metric(name, float(stats.total), (), "histogram", text, stats.cumulative(), stats.sum)
