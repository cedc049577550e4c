"""The parent process: spawns the VRRP and checker children, watches them, orchestrates reloads.

The parent never does protocol work. It validates configs, keeps one control channel per child
(heartbeats, reload acks, state queries), respawns a child that dies or hangs, forwards dump signals,
serves the optional status endpoint and tells systemd where it stands. Each child is a fresh
``python -m fastalived.daemon.child`` process with its own uvloop loop: no fork of a running loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop

from fastalived import __version__
from fastalived.announce.announcer import Announcer
from fastalived.config import dump_json
from fastalived.config import snapshot as config_snapshot
from fastalived.config.diagnostics import LoadResult
from fastalived.config.model import Config, GlobalDefs
from fastalived.daemon import logsetup, pidfile, sdnotify
from fastalived.daemon.channel import Channel, Message
from fastalived.daemon.child import EXIT_FATAL, ROLE_TITLES, encode_options
from fastalived.daemon.control import Controller, ControlServer
from fastalived.daemon.ctl import socket_path
from fastalived.daemon.dumps import DUMP_SIGNALS, dump_dir, write_dump
from fastalived.daemon.lifecycle import enter_namespace, run_lifecycle_script, warn_namespace_change
from fastalived.daemon.liveness import HeartbeatMonitor, RespawnPolicy
from fastalived.daemon.metrics import build_info, metric_from_wire, reload_metrics
from fastalived.daemon.status import StatusServer
from fastalived.options import RunOptions
from fastalived.runtime.role import Metric
from fastalived.runtime.scripts import audit as audit_scripts
from fastalived.vrrp.machine import MASTER

log = logging.getLogger("fastalived.supervisor")

HEARTBEAT_TIMEOUT = 5.0  # a child loop silent this long is hung: SIGKILL and respawn
# After a start or a reload a child applies the whole config in one go, which costs some multiple of
# the parent's parse of it: that long (at least HEARTBEAT_TIMEOUT) its silence is not yet a hang.
BUSY_GRACE_PER_PARSE = 10.0
WATCHDOG_INTERVAL = 0.5
CHILD_STOP_TIMEOUT = 25.0  # the child's bounds (10 s for a running reload + 10 s stop) plus slack, then SIGKILL
RELOAD_ACK_TIMEOUT = 60.0
QUERY_TIMEOUT = 3.0
STEER_TIMEOUT = 10.0  # a ``fastalived ctl`` change waits this long for the child's account of it
DEFAULT_UMASK = 0o022  # keepalived's IWGRP | IWOTH when neither -u nor global_defs umask says otherwise
# Roles kept with a pre-imported standby child: a respawned VRRP child must advertise within the
# peers' Master_Down_Interval (0.36 s at advert_int 0.1), a checker resume within one delay_loop,
# and a cold start is mostly imports.
STANDBY_ROLES = frozenset({"vrrp", "check"})
STANDBY_DELAY = 1.0  # after the active child is ready, so the standby's imports do not slow its start

EXIT_OK = 0
EXIT_FAILURE = 1

# systemd talks to the main process only; children must not inherit its notify/watchdog settings.
_PARENT_ONLY_ENV = frozenset({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"})


@dataclass
class ChildSlot:
    """Everything the parent knows about one role's child process, across respawns."""

    role: str
    pid_file: str
    respawn: RespawnPolicy = field(default_factory=RespawnPolicy)
    heartbeat: HeartbeatMonitor = field(default_factory=lambda: HeartbeatMonitor(HEARTBEAT_TIMEOUT))
    process: asyncio.subprocess.Process | None = None
    channel: Channel | None = None
    wanted: bool = True
    restarts: int = 0
    started_at: float = 0.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    pending: dict[int, asyncio.Future[Message]] = field(default_factory=dict)
    # A started, pre-imported successor waiting for "start" (STANDBY_ROLES), and how long to wait
    # before starting the next one (the respawn back-off, once a death was answered with it).
    standby: asyncio.subprocess.Process | None = None
    standby_channel: Channel | None = None
    standby_watch: asyncio.Task[None] | None = None
    standby_ready: bool = False  # its imports are done
    standby_delay: float = 0.0
    # VRRP: the instances the child reported as MASTER, and since when none of them was advertised
    # (the death that left them behind): a respawn after an abnormal exit adopts them.
    masters: frozenset[str] = frozenset()
    masters_silent_since: float | None = None

    @property
    def title(self) -> str:
        return ROLE_TITLES.get(self.role, self.role)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.returncode is None else None


def wanted_roles(config: Config, options: RunOptions) -> list[str]:
    """The children this config needs; like keepalived, a role with nothing configured is skipped."""
    roles = []
    statics = config.static_ipaddress or config.static_routes or config.static_rules
    if not options.check_only and (config.vrrp_instances or statics):
        roles.append("vrrp")
    if not options.vrrp_only and config.virtual_servers:
        roles.append("check")
    return roles


def _describe_exit(pid: int, returncode: int) -> str:
    if returncode < 0:
        return f"pid {pid} exited due to signal {-returncode} ({signal.Signals(-returncode).name})"
    return f"pid {pid} exited with status {returncode}"


class Supervisor:
    """The parent's state; ``run()`` is the whole life of the daemon."""

    def __init__(
        self,
        options: RunOptions,
        *,
        role_classes: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        loaded: LoadResult | None = None,
    ) -> None:
        self.options = options
        self._loaded = loaded  # the config as ``run`` read it before starting the loop
        self._global_defs: GlobalDefs | None = None  # of the running config (the shutdown script)
        self._role_classes = dict(role_classes or {})
        self._clock = clock
        self._slots: dict[str, ChildSlot] = {}
        self._stop = asyncio.Event()
        self._exit_code = EXIT_OK
        self._reload_lock = asyncio.Lock()
        self._reload_queued = False  # a SIGHUP's reload waits for the lock; more SIGHUPs add nothing
        self._request_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reloads = {"ok": 0, "invalid": 0, "failed": 0}
        self._started_at = clock()
        self._status_server: StatusServer | None = None
        self._announcer = Announcer(clock)  # the parent owns the announce table: see _child_gone
        self._control = Controller(options.run_dir, self._steer, self.collect)  # ``fastalived ctl``
        self._control_server: ControlServer | None = None
        self._last_reload: tuple[bool, float] = (True, time.time())  # (succeeded, wall clock of the last success)
        self._read_since_ns = 0  # when the running config's files were read (config.snapshot)
        self._busy_grace = HEARTBEAT_TIMEOUT  # see BUSY_GRACE_PER_PARSE

    # ------------------------------------------------------------------ life cycle

    async def run(self) -> int:
        log.info("Starting fastalived v%s", __version__)
        for note in self.options.compat_notes:
            log.info("keepalived option %s", note)
        config = await self._load_config()
        if config is None:
            log.error("Configuration has errors; not starting")
            return EXIT_FAILURE
        parent_pid_file = pidfile.PidFileLock(self.options.pid_file or pidfile.DEFAULT_PARENT)
        try:
            parent_pid_file.acquire()
        except pidfile.AlreadyRunning as exc:
            log.error("%s", exc)
            return EXIT_FAILURE
        except OSError as exc:  # e.g. a read-only /run: without its lock the daemon must not run
            log.error("cannot write pid file %s: %s", parent_pid_file.path, exc.strerror or exc)
            return EXIT_FAILURE
        if dump_dir(self.options) == Path(self.options.run_dir):  # creates run_dir (0700): dumps, state
            snapshot_path = Path(self.options.run_dir) / f"config.{os.getpid()}.snapshot"  # never in a /tmp fallback
            self.options = dataclasses.replace(self.options, config_snapshot=str(snapshot_path))
        await self._write_snapshot(config)
        try:
            self._install_signals()
            await self._start_control(config)
            await self._apply_status_listen(config)
            self._announcer.configure(config)
            await run_lifecycle_script("startup", config.global_defs)
            roles = wanted_roles(config, self.options)
            if not roles:
                log.warning("No VRRP instances or virtual servers configured; nothing to run until a reload")
            for role in roles:
                await self._spawn(self._slot(role))
            self._spawn_task(self._watchdog())
            await self._wait_ready(roles)
            if not self._stop.is_set():
                sdnotify.ready(f"running {', '.join(roles) or 'no'} children")
            await self._stop.wait()
            await self._shutdown()
        finally:
            parent_pid_file.release()
        return self._exit_code

    def request_stop(self, exit_code: int = EXIT_OK) -> None:
        self._exit_code = max(self._exit_code, exit_code)
        self._stop.set()

    async def _shutdown(self) -> None:
        sdnotify.stopping()
        log.info("Stopping")
        drain = self._announcer.withdraw_all()
        if drain:  # routers move the traffic away while this director still serves it
            log.info("announce: draining for %.1f s before stopping", drain)
            await asyncio.sleep(drain)
        await asyncio.gather(*(self._stop_child(slot) for slot in self._slots.values()))
        if self.options.config_snapshot is not None:
            Path(self.options.config_snapshot).unlink(missing_ok=True)
        if self._global_defs is not None:
            await run_lifecycle_script("shutdown", self._global_defs)
        self._announcer.close()
        if self._control_server is not None:
            await self._control_server.close()
        if self._status_server is not None:
            await self._status_server.close()
        for task in list(self._tasks):
            task.cancel()
        log.info("Stopped fastalived v%s", __version__)

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        for dump_signum, kind in DUMP_SIGNALS.items():
            loop.add_signal_handler(dump_signum, self._dump_signal, dump_signum, kind)

    def _spawn_task(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _load_config(self) -> Config | None:
        from fastalived.config import load_config

        result, self._loaded = self._loaded, None
        if result is None:
            result = await asyncio.to_thread(load_config, self.options.config_file, self.options.config_id)
        for diagnostic in result.diagnostics:
            (log.error if diagnostic.severity == "error" else log.warning)("%s", diagnostic)
        if not result.ok:
            return None
        if self.options.dump_conf:  # -d: keepalived dumps what it loaded; ours is the resolved model
            for line in dump_json(result.config).splitlines():
                log.info("%s", line)
        # keepalived disables a refused script and runs on; its verdicts never block a (re)load.
        for finding in await asyncio.to_thread(audit_scripts, result.config):
            log.warning("%s", finding)
        if self._global_defs is not None:
            warn_namespace_change(self._global_defs, result.config.global_defs)
        self._global_defs = result.config.global_defs
        self._read_since_ns = result.read_since_ns
        parse_seconds = (time.time_ns() - result.read_since_ns) / 1e9
        self._busy_grace = max(HEARTBEAT_TIMEOUT, BUSY_GRACE_PER_PARSE * parse_seconds)
        return result.config

    async def _write_snapshot(self, config: Config) -> None:
        """Hand the children the config just validated (``config.snapshot``), not a second parse."""
        path = self.options.config_snapshot
        if path is None:
            return
        try:
            await asyncio.to_thread(config_snapshot.write, config, path, self._read_since_ns)
        except OSError as exc:  # e.g. a full /run: the children parse the file instead
            log.warning("Configuration snapshot %s not written (%s); children parse the file", path, exc)
            Path(path).unlink(missing_ok=True)

    # ------------------------------------------------------------------ children

    def _slot(self, role: str) -> ChildSlot:
        slot = self._slots.get(role)
        if slot is None:
            default_pid = pidfile.DEFAULT_VRRP if role == "vrrp" else pidfile.DEFAULT_CHECK
            configured = self.options.vrrp_pid_file if role == "vrrp" else self.options.checkers_pid_file
            slot = self._slots[role] = ChildSlot(role=role, pid_file=configured or default_pid)
        slot.wanted = True
        return slot

    def _child_command(self, role: str, channel_fd: int, options: RunOptions, standby: bool = False) -> list[str]:
        command = [sys.executable, "-m", "fastalived.daemon.child", role]
        command += ["--options", encode_options(options), "--channel-fd", str(channel_fd)]
        if role in self._role_classes:
            command += ["--role-class", self._role_classes[role]]
        if standby:
            command.append("--standby")
        return command

    async def _start_process(
        self, role: str, options: RunOptions, standby: bool = False
    ) -> tuple[asyncio.subprocess.Process, Channel]:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {key: value for key, value in os.environ.items() if key not in _PARENT_ONLY_ENV}
        try:
            process = await asyncio.create_subprocess_exec(
                *self._child_command(role, child_end.fileno(), options, standby),
                pass_fds=(child_end.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                env=env,
            )
        except OSError:
            parent_end.close()
            raise
        finally:
            child_end.close()
        return process, await Channel.open(parent_end)

    async def _spawn(self, slot: ChildSlot, options: RunOptions | None = None) -> None:
        """Start the role's child: its standby when one is waiting (promoted at once), else a new process."""
        options = options or self.options
        promoted = self._take_standby(slot)
        if promoted is not None:
            process, channel = promoted
            channel.send({"op": "start", "options": encode_options(options)})
        else:
            process, channel = await self._start_process(slot.role, options)
        slot.process = process
        slot.ready.clear()
        slot.started_at = self._clock()
        slot.heartbeat.spawned(self._clock())
        slot.channel = channel
        if (overrides := self._control.for_role(slot.role)) is not None:  # kept across respawns
            slot.channel.send({"op": "steer", "id": 0, "overrides": overrides})
        try:
            pidfile.write(slot.pid_file, process.pid)
        except OSError as exc:  # a full or read-only /run must not cost the child its supervision
            log.error("cannot write pid file %s: %s", slot.pid_file, exc.strerror or exc)
        log.info("Starting %s child process, pid=%d%s", slot.title, process.pid, " (standby)" if promoted else "")
        self._spawn_task(self._read_channel(slot, slot.channel))
        self._spawn_task(self._watch_exit(slot, process))

    def _take_standby(self, slot: ChildSlot) -> tuple[asyncio.subprocess.Process, Channel] | None:
        process, channel, watch = slot.standby, slot.standby_channel, slot.standby_watch
        slot.standby = slot.standby_channel = slot.standby_watch = None
        slot.standby_ready = False
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()  # the channel is the active child's reader's from now on
        if process is None or channel is None or process.returncode is not None:
            if channel is not None:
                channel.close()
            return None
        return process, channel

    async def _prepare_standby(self, slot: ChildSlot, owner: asyncio.subprocess.Process | None) -> None:
        """Once ``owner``, the role's active child, is up: start a pre-imported successor for it."""
        if slot.role not in STANDBY_ROLES or self.options.dont_respawn or slot.standby is not None:
            return
        try:
            await asyncio.wait_for(self._stop.wait(), max(STANDBY_DELAY, slot.standby_delay))
            return
        except TimeoutError:
            pass
        if slot.process is not owner or not slot.wanted or slot.standby is not None:
            return
        process, channel = await self._start_process(slot.role, self.options, standby=True)
        slot.standby, slot.standby_channel = process, channel
        log.info("%s standby child process, pid=%d, waiting to take over", slot.title, process.pid)
        slot.standby_watch = self._spawn_task(self._watch_standby(slot, process, channel))
        if self._stop.is_set() or not slot.wanted:  # stopped while it was being started
            await self._stop_standby(slot)

    async def _watch_standby(self, slot: ChildSlot, process: asyncio.subprocess.Process, channel: Channel) -> None:
        """Until promoted (which cancels this): note when its imports are done, and its death."""
        message = await channel.receive()
        if message is not None and message.get("op") == "standby" and slot.standby is process:
            slot.standby_ready = True
            self._arm_standby(slot)
        returncode = await process.wait()
        if slot.standby is process:  # died before it was needed: the next respawn starts cold
            self._take_standby(slot)
            if not self._stop.is_set():
                log.warning("%s standby child: %s", slot.title, _describe_exit(process.pid, returncode))

    async def _stop_standby(self, slot: ChildSlot) -> None:
        taken = self._take_standby(slot)
        if taken is None:
            return
        process, channel = taken
        process.terminate()  # it has no role yet: it just exits
        try:
            await asyncio.wait_for(process.wait(), CHILD_STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
        channel.close()

    def _note_vrrp_states(self, slot: ChildSlot, states: Mapping[str, int]) -> None:
        """What a VRRP child reports; an instance it does not mention (yet) keeps what we knew."""
        slot.masters = frozenset(
            {name for name in slot.masters if name not in states} | {n for n, s in states.items() if s == MASTER}
        )
        if states:
            slot.masters_silent_since = None  # a live child speaks for its instances again
        self._arm_standby(slot)

    def _arm_standby(self, slot: ChildSlot) -> None:
        """Tell a ready VRRP standby which child it succeeds, what that one is MASTER of and the
        overrides: it watches that process itself and takes over the moment it dies, where this
        process (normal scheduling, a busy host) may react a tenth of a second later; the "start"
        sent then finds it started. A standby is stopped before its active child, so that death
        is never a stop."""
        if slot.role != "vrrp" or not slot.standby_ready or slot.standby_channel is None or slot.process is None:
            return
        arm = {"op": "arm", "pid": slot.process.pid, "adopt_masters": sorted(slot.masters)}
        slot.standby_channel.send({**arm, "overrides": self._control.for_role(slot.role)})

    def _respawn_options(self, slot: ChildSlot, returncode: int) -> RunOptions | None:
        """After an abnormal exit the VIPs of the dead VRRP child's masters are still in place: its
        successor may adopt them (``vrrp.actions.AdoptMaster``); so is the checker's IPVS table,
        which its successor keeps and resumes from (``check.seed``). A clean exit released them."""
        if slot.role == "check" and returncode != EXIT_OK:
            return dataclasses.replace(self.options, adopt_ipvs=True)
        if slot.role != "vrrp" or returncode == EXIT_OK or not slot.masters:
            return None
        if slot.masters_silent_since is None:
            slot.masters_silent_since = time.monotonic()  # CLOCK_MONOTONIC: the child compares with its own
        return dataclasses.replace(
            self.options, adopt_masters=tuple(sorted(slot.masters)), adopt_since=slot.masters_silent_since
        )

    async def _read_channel(self, slot: ChildSlot, channel: Channel) -> None:
        while (message := await channel.receive()) is not None:
            slot.heartbeat.beat(self._clock())
            op = message.get("op")
            if op == "ready":
                slot.heartbeat.busy(self._clock(), self._busy_grace)
                slot.ready.set()
                self._spawn_task(self._prepare_standby(slot, slot.process))
            elif op in ("reloaded", "state", "steered"):
                future = slot.pending.pop(message.get("id", -1), None)
                if future is not None and not future.done():
                    future.set_result(message)
            elif op == "health":
                self._announcer.set_health(message.get("vs") or {})
            elif op == "vrrp":
                self._announcer.set_vrrp_states(message.get("states") or {})
                self._note_vrrp_states(slot, message.get("states") or {})
        channel.close()
        if slot.channel is channel:
            self._child_gone(slot)

    def _child_gone(self, slot: ChildSlot) -> None:
        """Fail closed: what a dead child vouched for is withdrawn until its successor reports."""
        if slot.role == "check":
            self._announcer.set_health(None)
        elif slot.role == "vrrp":
            self._announcer.set_vrrp_states(None)

    async def _watch_exit(self, slot: ChildSlot, process: asyncio.subprocess.Process) -> None:
        returncode = await process.wait()
        if slot.process is process:
            self._child_gone(slot)
        pidfile.remove(slot.pid_file, process.pid)
        for future in slot.pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"{slot.title} child exited"))
        slot.pending.clear()
        if slot.process is not process or not slot.wanted or self._stop.is_set():
            return
        log.warning("%s", _describe_exit(process.pid, returncode))
        if returncode == EXIT_FATAL:
            log.error("%s child process(%d) exited fatally: stopping", slot.title, process.pid)
            self.request_stop(EXIT_FAILURE)
            return
        if self.options.dont_respawn:
            log.error("%s child process(%d) died: exiting (respawn disabled)", slot.title, process.pid)
            self.request_stop(EXIT_FAILURE)
            return
        log.warning("%s child process(%d) died: Respawning", slot.title, process.pid)
        slot.restarts += 1
        options = self._respawn_options(slot, returncode)
        delay = slot.standby_delay = slot.respawn.record_death(self._clock())
        if slot.standby is not None:
            delay = 0.0  # promoting costs no new process: the back-off delays the next standby instead
        log.info("Restart of %s process delayed %.0f seconds to limit respawn rate", slot.title, delay)
        if delay:
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass
        if slot.wanted and not self._stop.is_set() and slot.process is process:
            await self._spawn(slot, options)

    async def _watchdog(self) -> None:
        """Kill hung children (their exit watchers respawn them); ping systemd while our loop runs."""
        systemd_interval = sdnotify.watchdog_interval()
        tick = WATCHDOG_INTERVAL if systemd_interval is None else min(WATCHDOG_INTERVAL, systemd_interval)
        next_ping = self._clock()
        while not self._stop.is_set():
            now = self._clock()
            if systemd_interval is not None and now >= next_ping:
                sdnotify.watchdog()
                next_ping = now + systemd_interval
            self._kill_stalled(now)
            await asyncio.sleep(tick)

    def _kill_stalled(self, now: float) -> None:
        for slot in self._slots.values():
            if slot.pid is None or not slot.wanted or not slot.heartbeat.stalled(now):
                continue
            log.error(
                "%s child process(%d) stalled (no heartbeat for %.1f s): killing it",
                slot.title,
                slot.pid,
                slot.heartbeat.timeout + slot.heartbeat.overdue_by(now),
            )
            slot.heartbeat.spawned(now)  # one kill per stall
            slot.process.kill()  # type: ignore[union-attr]

    async def _wait_ready(self, roles: list[str]) -> None:
        """Until every child applied its first config, or a stop was requested."""
        stop = asyncio.ensure_future(self._stop.wait())
        pending = {asyncio.ensure_future(self._slots[role].ready.wait()) for role in roles} | {stop}
        while stop in pending and len(pending) > 1:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for future in pending:
            future.cancel()

    async def _stop_child(self, slot: ChildSlot) -> None:
        slot.wanted = False
        await self._stop_standby(slot)
        process = slot.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), CHILD_STOP_TIMEOUT)
        except TimeoutError:
            log.error("%s child process(%d) did not stop in time: killing it", slot.title, process.pid)
            process.kill()
            await process.wait()
        pidfile.remove(slot.pid_file, process.pid)

    async def _request(self, slot: ChildSlot, message: Message, timeout: float) -> Message:
        """Send a request carrying a fresh id and wait for the child's answer with that id."""
        if slot.channel is None or slot.pid is None:
            raise ConnectionError(f"{slot.title} child is not running")
        request_id = next(self._request_ids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        slot.pending[request_id] = future
        slot.channel.send({**message, "id": request_id})
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            slot.pending.pop(request_id, None)

    # ------------------------------------------------------------------ reload

    def _request_reload(self) -> None:
        """SIGHUP: queue one reload; a storm collapses into the one already waiting (it reads the newest file)."""
        if not self._reload_queued:
            self._reload_queued = True
            self._spawn_task(self.reload())

    async def reload(self) -> bool:
        """Validate the config; only a clean one reaches the children, which apply just the diff."""
        async with self._reload_lock:
            self._reload_queued = False
            if self._stop.is_set():
                return False
            sdnotify.reloading()
            log.info("Reloading ...")
            try:
                return await self._reload_locked()
            finally:
                if not self._stop.is_set():
                    sdnotify.ready()

    async def _reload_locked(self) -> bool:
        config = await self._load_config()
        if self._stop.is_set():  # SIGTERM while the config was loading: the stop wins
            log.info("Reload abandoned: stopping")
            return False
        if config is None:
            log.error("Reload aborted: configuration has errors; keeping the running configuration")
            self._reloads["invalid"] += 1
            self._last_reload = (False, self._last_reload[1])
            return False
        await self._write_snapshot(config)
        await self._apply_status_listen(config)
        self._announcer.configure(config)
        wanted = wanted_roles(config, self.options)
        for role, slot in self._slots.items():
            if role not in wanted and slot.wanted:
                log.info("%s no longer configured: stopping its child", slot.title)
                await self._stop_child(slot)
        outcomes = await asyncio.gather(*(self._reload_child(role) for role in wanted))
        ok = all(outcomes)
        self._reloads["ok" if ok else "failed"] += 1
        self._last_reload = (ok, time.time() if ok else self._last_reload[1])
        await self._control.configured(config)
        log.info("Reload complete" if ok else "Reload finished with errors")
        return ok

    async def _reload_child(self, role: str) -> bool:
        slot = self._slots.get(role)
        if self._stop.is_set():  # never start children the shutdown has already stopped
            return False
        if slot is None or not slot.wanted or slot.pid is None:
            await self._spawn(self._slot(role))  # newly configured (or between respawns): start fresh
            return True
        slot.heartbeat.busy(self._clock(), self._busy_grace)  # it is about to apply the new config
        try:
            answer = await self._request(slot, {"op": "reload"}, RELOAD_ACK_TIMEOUT)
        except (ConnectionError, TimeoutError) as exc:
            log.error("%s child did not confirm the reload: %s", slot.title, exc or type(exc).__name__)
            return False
        return bool(answer.get("ok"))

    # ------------------------------------------------------------------ dumps, status

    def _dump_signal(self, signum: int, kind: str) -> None:
        """Write the parent's own dump, then pass the signal on so each child writes its file."""
        if kind == "data":
            log.info("Printing parent data for process(%d) on signal", os.getpid())
            write_dump(self.options, "parent", "data", self.parent_snapshot(), ())
        for slot in self._slots.values():
            if slot.pid is not None:
                os.kill(slot.pid, signum)

    def parent_snapshot(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "version": __version__,
            "config_file": self.options.config_file,
            "uptime": round(self._clock() - self._started_at, 3),
            "reloads": dict(self._reloads),
            "children": {
                role: {
                    "pid": slot.pid,
                    "uptime": round(self._clock() - slot.started_at, 3),
                    "restarts": slot.restarts,
                    "ready": slot.ready.is_set(),
                    "standby": slot.standby.pid if slot.standby is not None and slot.standby_ready else None,
                }
                for role, slot in self._slots.items()
                if slot.wanted
            },
        }

    def parent_metrics(self) -> list[Metric]:
        samples = [build_info(), *reload_metrics(*self._last_reload), *self._control.metrics()]
        for role, slot in self._slots.items():
            labels = (("role", role),)
            samples.append(
                Metric(
                    "fastalived_process_restarts_total",
                    slot.restarts,
                    labels,
                    "counter",
                    "Child processes respawned after dying or hanging.",
                )
            )
            samples.append(
                Metric("fastalived_process_up", float(slot.pid is not None), labels, help="1 while the child runs.")
            )
        for result, count in self._reloads.items():
            samples.append(
                Metric(
                    "fastalived_reloads_total",
                    count,
                    (("result", result),),
                    "counter",
                    "SIGHUP reloads by outcome (invalid = rejected, old config kept).",
                )
            )
        return samples

    async def collect(self) -> tuple[dict[str, Any], list[Metric]]:
        """Aggregate state of the parent and every running child (for /status, /metrics)."""
        status: dict[str, Any] = {"parent": self.parent_snapshot(), "roles": {}}
        status["announcements"] = self._announcer.snapshot()
        status["overrides"] = self._control.overrides.snapshot()
        metrics = self.parent_metrics() + self._announcer.metrics()
        running = [slot for slot in self._slots.values() if slot.pid is not None and slot.wanted]
        answers = await asyncio.gather(
            *(self._request(slot, {"op": "query"}, QUERY_TIMEOUT) for slot in running), return_exceptions=True
        )
        for slot, answer in zip(running, answers, strict=True):
            if isinstance(answer, BaseException):
                status["roles"][slot.role] = {"error": f"no answer: {answer!r}"}
                continue
            status["roles"][slot.role] = answer.get("snapshot", {})
            metrics.extend(metric_from_wire(item) for item in answer.get("metrics", ()))
        return status, metrics

    # ------------------------------------------------------------------ fastalived ctl

    async def _start_control(self, config: Config) -> None:
        """Read back persisted overrides and open ``<run dir>/fastalived.ctl`` (the daemon runs on without it)."""
        self._control.start(config)
        server = ControlServer(self._control.handle)
        try:
            await server.start(socket_path(self.options.run_dir))
        except OSError as exc:
            log.error("Control socket not started: %s", exc.strerror or exc)
            return
        self._control_server = server

    async def _steer(self, role: str, overrides: Message) -> Message | None:
        """Hand a role's full override set to its child; None when that child is not running."""
        slot = self._slots.get(role)
        if slot is None or not slot.wanted or slot.pid is None:
            return None
        self._arm_standby(slot)  # a successor starts with them, too
        return await self._request(slot, {"op": "steer", "overrides": overrides}, STEER_TIMEOUT)

    async def _apply_status_listen(self, config: Config) -> None:
        listen = config.global_defs.status_listen
        current = self._status_server.address if self._status_server is not None else None
        if listen == current:
            return
        if self._status_server is not None:
            await self._status_server.close()
            self._status_server = None
        if listen is None:
            return
        server = StatusServer(self.collect)
        try:
            await server.start(*listen)
        except (OSError, ValueError) as exc:
            log.error("Status endpoint %s:%d not started: %s", listen[0], listen[1], exc)
            return
        self._status_server = server


def daemonize() -> None:
    """Detach like keepalived without ``-n``: double fork, new session, stdio on /dev/null."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)


def run(options: RunOptions, *, role_classes: Mapping[str, str] | None = None) -> int:
    """The daemon's entry point for a normal run (``-t`` is handled by the CLI); returns the exit code."""
    from fastalived.config import load_config

    loaded = load_config(options.config_file, options.config_id)  # read once, here: it names the namespace
    if options.umask is None:  # -u (already applied) beats global_defs umask; keepalived's default is 022
        configured = loaded.config.global_defs.umask if loaded.config is not None else None
        os.umask(DEFAULT_UMASK if configured is None else configured)
    try:
        options = enter_namespace(options, loaded)  # -s NAME or net_namespace, before anything starts
    except OSError as exc:
        print(f"fastalived: cannot enter network namespace: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if not options.dont_fork:
        # Once detached nobody sees stderr or the exit status: reject a broken config while the
        # caller still does.
        if errors := [str(d) for d in loaded.diagnostics if d.severity == "error"]:
            print("\n".join(errors), file=sys.stderr)
            return EXIT_FAILURE
        daemonize()
    logsetup.configure(options, "parent")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(Supervisor(options, role_classes=role_classes, loaded=loaded).run())
