"""The generic child process: one role (VRRP or checker) on its own fresh uvloop event loop.

The supervisor starts ``python -m fastalived.daemon.child ROLE --options JSON --channel-fd N``; the
runner loads the config, starts the role, answers the parent over the control channel and turns
signals into reloads, dumps and a graceful stop. It also runs standalone (``-f FILE``, no channel)
so each role can be exercised in a real process without the supervisor.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import dataclasses
import importlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal

import uvloop

from fastalived.config.model import Config
from fastalived.daemon import logsetup
from fastalived.daemon.channel import TO_PARENT, Channel, Message
from fastalived.daemon.dumps import DUMP_SIGNALS, write_dump, write_keepalived_dump
from fastalived.daemon.metrics import metric_to_wire
from fastalived.daemon.standby import PredecessorWatch, WarmStart, crashed, warm_up
from fastalived.options import RunOptions
from fastalived.runtime.role import DumpKind, Role, Steerable

RoleName = Literal["vrrp", "check"]
RoleFactory = Callable[[RunOptions], Role]  # a Role class, or a function wiring one up

ROLE_CLASSES: dict[str, str] = {
    "vrrp": "fastalived.daemon.child:vrrp_role",
    "check": "fastalived.daemon.child:check_role",
}
ROLE_TITLES: dict[str, str] = {"vrrp": "VRRP", "check": "Healthcheck"}
# What a standby child (``--standby``) imports while it waits: most of a cold start is imports,
# and a respawned VRRP child must advertise before the peers' Master_Down_Timer expires.
STANDBY_PRELOAD: dict[str, tuple[str, ...]] = {
    "vrrp": ("fastalived.vrrp.process", "fastalived.daemon.announce_link", "fastalived.ipvs.syncd"),
    "check": ("fastalived.daemon.announce_link", "fastalived.ipvs.director"),
}

HEARTBEAT_INTERVAL = 1.0  # seconds between "I am alive" messages; the parent's stall bound is a few of these
STOP_TIMEOUT = 10.0  # bound on role.stop(); a hung stop must not keep the process (and its VIPs) forever

EXIT_OK = 0
EXIT_FATAL = 3  # config unusable or the role could not start: respawning would only loop

_PR_SET_PDEATHSIG = 1
# A signal of its own (not SIGTERM) so the log can say why the child stops; unused by keepalived.
PARENT_DEATH_SIGNAL = signal.SIGRTMIN + 5

log = logging.getLogger("fastalived.child")


def encode_options(options: RunOptions) -> str:
    return json.dumps(dataclasses.asdict(options), separators=(",", ":"))


def decode_options(text: str) -> RunOptions:
    known = {f.name for f in dataclasses.fields(RunOptions)}
    values: dict[str, Any] = {}
    for key, value in json.loads(text).items():
        if key in known:  # JSON has no tuples: give back the frozen options the way they went in
            values[key] = tuple(value) if isinstance(value, list) else value
    return RunOptions(**values)


def vrrp_role(options: RunOptions) -> Role:
    """The VRRP child's role, with the IPVS sync daemon that follows ``lvs_sync_daemon`` wired in.

    This module is the composition root: the only place that hands one role's collaborators to
    another, so ``vrrp``, ``check`` and ``ipvs`` never import each other.
    """
    from fastalived.daemon.announce_link import VrrpStateReport
    from fastalived.ipvs.syncd import SyncDaemonDriver
    from fastalived.vrrp.process import VrrpRole

    return VrrpRole(options, sync_daemon=VrrpStateReport(SyncDaemonDriver(), TO_PARENT.send))


def check_role(options: RunOptions) -> Role:
    """The checker child's role, programming the kernel's IPVS table through the director and
    reporting the health of announced services to the parent."""
    from fastalived.daemon.announce_link import HealthReportingCheckRole
    from fastalived.ipvs.director import IpvsDirector

    async def open_director(config: Config) -> IpvsDirector | None:
        try:
            # a successor of a crashed checker keeps (and resumes from) the table it left: no flush
            return await IpvsDirector.open(flush=config.global_defs.lvs_flush and not options.adopt_ipvs)
        except OSError as exc:  # e.g. no permission for the netlink family: still worth checking
            log.warning("IPVS: cannot open (%s)", exc)
            return None

    return HealthReportingCheckRole(options, open_director, TO_PARENT.send)


def load_role_class(spec: str) -> RoleFactory:
    """Import ``module:factory`` lazily, so a VRRP-only process never imports the checker stack."""
    module_name, _, attr_name = spec.partition(":")
    factory: RoleFactory = getattr(importlib.import_module(module_name), attr_name)
    return factory


def _die_with_parent() -> None:
    """Ask the kernel for a signal when the parent dies (the channel EOF is the portable backup)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL, 0, 0, 0)
    except (OSError, AttributeError):
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable; relying on the control channel")


def _load(options: RunOptions) -> tuple[Config | None, list[str], list[str]]:
    """Load the config off the event loop: parsing a big file must not delay adverts or heartbeats.

    The parent's snapshot of the config it validated is taken when it still matches the files
    (its warnings were logged by the parent); otherwise the file is parsed as keepalived does."""
    if options.config_snapshot is not None:
        from fastalived.config import snapshot

        try:
            config = snapshot.read(options.config_snapshot)
        except FileNotFoundError:
            config = None
        except Exception as exc:  # a snapshot is an optimisation: any defect in it means "parse"
            log.warning("Configuration snapshot %s unusable (%s); parsing the file", options.config_snapshot, exc)
            config = None
        if config is not None:
            log.debug("Configuration taken from the parent's snapshot %s", options.config_snapshot)
            return config, [], []
    from fastalived.config import load_config

    result = load_config(options.config_file, options.config_id)
    errors = [str(d) for d in result.diagnostics if d.severity == "error"]
    warnings = [str(d) for d in result.diagnostics if d.severity != "error"]
    return (result.config if result.ok else None), errors, warnings


class RoleRunner:
    """Owns one role for the lifetime of the process: start, reload, dumps, stop."""

    def __init__(
        self,
        role_name: str,
        options: RunOptions,
        role_class: RoleFactory,
        channel_sock: socket.socket | None,
        standby: bool = False,
    ) -> None:
        self.role_name = role_name
        self.title = ROLE_TITLES.get(role_name, role_name)
        self.options = options
        self._role_class = role_class
        self._channel_sock = channel_sock
        self._channel: Channel | None = None
        self._role: Role | None = None
        self._stopping = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[object]] = set()
        self._standby = standby  # wait for the parent's "start" (with the options to run) before loading
        self._promoted: asyncio.Future[RunOptions] | None = None
        self._overrides: Message | None = None  # the parent's latest ``fastalived ctl`` set for this role
        # A standby's predecessor: the active child it takes over from when that dies ("arm").
        self._predecessor = PredecessorWatch(self._predecessor_gone)
        self._predecessor_masters: tuple[str, ...] = ()
        self._parent_pid = os.getppid()

    async def load_and_log(self) -> Config | None:
        config, errors, warnings = await asyncio.to_thread(_load, self.options)
        for line in warnings:
            log.warning("%s", line)
        for line in errors:
            log.error("%s", line)
        return config

    async def run(self) -> int:
        self._promoted = asyncio.get_running_loop().create_future()
        if self._channel_sock is not None:
            self._channel = await Channel.open(self._channel_sock)
            TO_PARENT.connect(self._channel.send)
            self._spawn(self._serve_channel())
        self._install_signals()
        warm: WarmStart | None = None
        if self._standby:
            warm = await warm_up(self.options, _load, self._role_class)  # all that needs no "start"
            self._send({"op": "standby", "pid": os.getpid()})  # ready to be promoted
            stopping = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait((self._promoted, stopping), return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not self._promoted.done() or self._stopping.is_set():
                return EXIT_OK  # stopped (or the parent went away) before being needed
            self._predecessor.close()
            self.options = self._promoted.result()
        config = warm.config_for(self.options) if warm is not None else None
        if config is not None and warm is not None:
            for line in warm.warnings:
                log.warning("%s", line)
        else:
            config = await self.load_and_log()
        if config is None:
            log.error("%s child: configuration is not usable; exiting", self.title)
            return EXIT_FATAL
        if self._stopping.is_set():
            return EXIT_OK
        role: Role = (warm.role_for(self.options) if warm is not None else None) or self._role_class(self.options)
        self._role = role
        self._steer()  # ``fastalived ctl`` overrides sent with the spawn hold from the first moment
        try:
            async with self._reload_lock:  # a SIGHUP during start-up waits for the start to finish
                await role.start(config)
        except Exception:
            log.exception("%s child: role failed to start", self.title)
            await self._stop_role()
            return EXIT_FATAL
        self._steer()  # again, now that the role is up: the parent sees what is in force
        self._send({"op": "ready", "pid": os.getpid()})
        self._spawn(self._heartbeat())
        if warm is not None and warm.config is config:
            self._spawn(self._catch_up(config))
        await self._stopping.wait()
        log.info("Stopping")
        await self._stop_role()
        log.info("Stopped")
        return EXIT_OK

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stopping.set)
        if self._channel_sock is None:
            loop.add_signal_handler(signal.SIGINT, self._stopping.set)
        else:
            loop.add_signal_handler(PARENT_DEATH_SIGNAL, self._parent_gone)
            # Ctrl-C reaches the whole foreground group; under a parent only the parent reacts (it
            # stops us), so a child can never exit first and be mistaken for a crash to respawn.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload()))
        for signum, kind in DUMP_SIGNALS.items():
            loop.add_signal_handler(signum, self.dump, kind)

    def _parent_gone(self) -> None:
        if not self._stopping.is_set():
            log.warning("%s child: parent process went away; stopping", self.title)
        self._stopping.set()

    async def _stop_role(self) -> None:
        """``role.stop()`` after any reload in progress (roles never see the two interleaved)."""
        if self._role is None:
            return
        try:  # held until exit: no reload may start once the role is stopping
            await asyncio.wait_for(self._reload_lock.acquire(), STOP_TIMEOUT)
        except TimeoutError:
            log.error("%s child: a reload is still running after %.0f s; stopping anyway", self.title, STOP_TIMEOUT)
        try:
            await asyncio.wait_for(self._role.stop(), STOP_TIMEOUT)
        except TimeoutError:
            log.error("%s child: graceful stop took more than %.0f s; exiting anyway", self.title, STOP_TIMEOUT)
        except Exception:
            log.exception("%s child: error while stopping", self.title)

    async def reload(self) -> bool:
        """Re-read the config; an invalid one is reported and the running one stays untouched."""
        async with self._reload_lock:
            if self._role is None or self._stopping.is_set():
                return False
            log.info("Reloading")
            config = await self.load_and_log()
            if config is None:
                log.error("Reload failed: configuration has errors; keeping the running configuration")
                return False
            try:
                await self._role.reload(config)
            except Exception:
                log.exception("%s child: reload failed", self.title)
                return False
            self._steer()  # instances or real servers the reload re-created get their overrides back
            log.info("Reload complete")
            return True

    def dump(self, kind: DumpKind) -> None:
        if self._role is None:
            return
        log.info("Printing %s %s for process(%d) on signal", self.title, kind, os.getpid())
        try:
            write_dump(self.options, self.role_name, kind, self._role.snapshot(), self._role.metrics())
            keepalived_layout = self._role.keepalived_dump(kind)
            if keepalived_layout is not None:
                write_keepalived_dump(kind, keepalived_layout)
        except Exception:
            log.exception("%s child: %s dump failed", self.title, kind)

    def _send(self, message: Message) -> None:
        if self._channel is not None:
            self._channel.send(message)

    async def _heartbeat(self) -> None:
        while True:
            self._send({"op": "hb"})
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    async def _serve_channel(self) -> None:
        assert self._channel is not None
        while (message := await self._channel.receive()) is not None:
            op = message.get("op")
            if op == "reload":
                self._spawn(self._reload_for_parent(message.get("id")))
            elif op == "query":
                self._answer_query(message.get("id"))
            elif op == "start" and self._promoted is not None and not self._promoted.done():
                self._promoted.set_result(decode_options(message["options"]))  # a standby is promoted
            elif op == "arm" and self._promoted is not None and not self._promoted.done():
                self._arm(message)
            elif op == "steer":
                self._overrides = message.get("overrides") or {}
                self._send({"op": "steered", "id": message.get("id"), **self._steer()})
        self._parent_gone()

    def _arm(self, message: Message) -> None:
        """The parent's account of the active child: its pid, what it is MASTER of, the overrides."""
        self._predecessor_masters = tuple(message.get("adopt_masters") or ())
        self._overrides = message.get("overrides") or {}  # None: none in force (any more)
        self._predecessor.watch(int(message["pid"]))

    def _predecessor_gone(self, status: int | None) -> None:
        """The active child died while we stand by: after a crash or a kill, take over now with
        what the parent's "start" would say (that "start" then finds us started). Any other end,
        or one whose status is gone, is left to the parent."""
        if self._promoted is None or self._promoted.done() or self._stopping.is_set():
            return
        if os.getppid() != self._parent_pid or not crashed(status, EXIT_OK, EXIT_FATAL):
            return  # the parent died too (we are stopping), or it decides
        log.info("%s child process died: standby taking over", self.title)
        since = time.monotonic()  # CLOCK_MONOTONIC, as the parent's adopt_since
        masters = self._predecessor_masters
        self._promoted.set_result(dataclasses.replace(self.options, adopt_masters=masters, adopt_since=since))

    def _steer(self) -> Message:
        """Apply the latest overrides to the running role: ``{"ok", "changed"}`` (or ``"error"``)."""
        role = self._role
        if self._overrides is None or role is None:
            return {"ok": True, "changed": [], "pending": True}
        if not isinstance(role, Steerable):
            return {"ok": False, "error": f"the {self.title} child takes no run-time overrides"}
        try:
            return {"ok": True, "changed": role.steer(self._overrides)}
        except Exception as exc:
            log.exception("%s child: applying run-time overrides failed", self.title)
            return {"ok": False, "error": repr(exc)}

    async def _catch_up(self, started: Config) -> None:
        """A promoted standby started with the config it loaded while waiting: if the files
        changed since (an include the stat at promotion cannot see), apply them as a reload."""
        config, _errors, _warnings = await asyncio.to_thread(_load, self.options)
        async with self._reload_lock:
            if config is None or config == started or self._role is None or self._stopping.is_set():
                return
            log.info("Configuration changed while on standby; applying it")
            try:
                await self._role.reload(config)
            except Exception:
                log.exception("%s child: reload failed", self.title)
                return
            self._steer()

    async def _reload_for_parent(self, request_id: object) -> None:
        ok = await self.reload()
        self._send({"op": "reloaded", "id": request_id, "ok": ok})

    def _answer_query(self, request_id: object) -> None:
        """Send the role's state; a broken snapshot is reported, never allowed to kill the channel."""
        reply: Message = {"op": "state", "id": request_id, "snapshot": {}, "metrics": []}
        try:
            if self._role is not None:
                reply["snapshot"] = self._role.snapshot()
                reply["metrics"] = [metric_to_wire(m) for m in self._role.metrics()]
            self._send(reply)
        except Exception as exc:
            log.exception("%s child: snapshot failed", self.title)
            self._send({"op": "state", "id": request_id, "snapshot": {"error": repr(exc)}, "metrics": []})


def run_role(
    role_name: RoleName | str,
    options: RunOptions,
    *,
    role_class: str | RoleFactory | None = None,
    channel_fd: int | None = None,
    standby: bool = False,
) -> int:
    """Run one role to completion on a new uvloop loop and return the process exit code.

    A ``standby`` imports everything first, then waits until the parent promotes it."""
    spec = role_class if role_class is not None else ROLE_CLASSES[role_name]
    cls = load_role_class(spec) if isinstance(spec, str) else spec
    if standby:
        for module in ("fastalived.config", *(STANDBY_PRELOAD.get(role_name, ()) if role_class is None else ())):
            importlib.import_module(module)
    channel_sock = None
    if channel_fd is not None:
        _die_with_parent()
        os.set_inheritable(channel_fd, False)  # notify and check scripts must not hold the channel open
        channel_sock = socket.socket(fileno=channel_fd)
    runner = RoleRunner(role_name, options, cls, channel_sock, standby)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop_runner:
        return loop_runner.run(runner.run())


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fastalived.daemon.child", description=__doc__)
    parser.add_argument("role", choices=sorted(ROLE_CLASSES))
    parser.add_argument("--options", help="RunOptions as JSON (what the supervisor passes)")
    parser.add_argument("-f", "--use-file", dest="config_file", help="config file (standalone use)")
    parser.add_argument("-i", "--config-id", dest="config_id")
    parser.add_argument("-l", "--log-console", action="store_true")
    parser.add_argument("-D", "--log-detail", action="store_true")
    parser.add_argument("--run-dir")
    parser.add_argument("--channel-fd", type=int)
    parser.add_argument("--role-class", help="module:Class overriding the role (tests)")
    parser.add_argument("--standby", action="store_true", help="preload, then wait for the parent's start")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    options = decode_options(args.options) if args.options else RunOptions()
    overrides = {
        "config_file": args.config_file,
        "config_id": args.config_id,
        "run_dir": args.run_dir,
        "log_console": args.log_console or None,
        "log_detail": args.log_detail or None,
    }
    options = dataclasses.replace(options, **{k: v for k, v in overrides.items() if v is not None})
    logsetup.configure(options, args.role)
    return run_role(args.role, options, role_class=args.role_class, channel_fd=args.channel_fd, standby=args.standby)


if __name__ == "__main__":
    sys.exit(main())
