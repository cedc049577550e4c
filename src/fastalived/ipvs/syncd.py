"""The kernel's IPVS connection-sync daemon, driven by VRRP state (``lvs_sync_daemon``).

keepalived runs the master sync daemon while the named VRRP instance is MASTER and the backup
daemon otherwise, so a new master's connection table is already warm. The VRRP role lives in its
own process; the daemon hands it a :class:`SyncDaemonDriver`, which asks the sans-IO
:class:`~fastalived.ipvs.lvs_sync.SyncDaemonPolicy` what to run on start, every transition of
that instance, reload and stop, and carries the answer out here. Each call opens a short-lived
netlink socket: transitions are rare, and the VRRP process keeps no IPVS state.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections import deque

from fastalived.config.model import Config
from fastalived.ipvs.lvs_sync import Command, DaemonState, StartDaemon, SyncDaemonPolicy, resolve_target
from fastalived.ipvs.netlink import IpvsClient, IpvsUnavailable, NetlinkError, SyncDaemonInfo

log = logging.getLogger("fastalived.ipvs")

async def start_daemon(
    state: DaemonState,
    ifname: str,
    syncid: int,
    *,
    maxlen: int | None = None,
    port: int | None = None,
    ttl: int | None = None,
    group: str | None = None,
) -> bool:
    """Start (or restart with new settings) the ``state`` daemon; False when IPVS is unavailable."""
    wanted = SyncDaemonInfo(state, ifname, syncid, maxlen, group, port, ttl)
    try:
        client = await IpvsClient.connect()
    except IpvsUnavailable:
        log.debug("IPVS is not available: cannot start the %s sync daemon", state)
        return False
    try:
        running = next((d for d in await client.daemons() if d.state == state), None)
        if running is not None and _same_settings(running, wanted):
            return True
        if running is not None:
            await client.stop_daemon(state)
        await client.start_daemon(state, ifname, syncid, maxlen=maxlen, group=group, port=port, ttl=ttl)
        log.info("Starting IPVS %s sync daemon on %s, syncid %d", state, ifname, syncid)
        return True
    finally:
        client.close()


async def stop_daemon(state: DaemonState) -> bool:
    """Stop the ``state`` daemon if it runs; False when IPVS is unavailable."""
    try:
        client = await IpvsClient.connect()
    except IpvsUnavailable:
        return False
    try:
        await client.stop_daemon(state)
        log.info("Stopping IPVS %s sync daemon", state)
    except NetlinkError as exc:
        if exc.errno != errno.ESRCH:  # not running: nothing to do
            raise
    finally:
        client.close()
    return True


def _same_settings(running: SyncDaemonInfo, wanted: SyncDaemonInfo) -> bool:
    """The kernel reports defaults for what was not given; compare only what was asked for."""
    return all(
        asked is None or asked == getattr(running, name)
        for name, asked in (
            ("interface", wanted.interface),
            ("syncid", wanted.syncid),
            ("maxlen", wanted.maxlen),
            ("group", wanted.group),
            ("port", wanted.port),
            ("ttl", wanted.ttl),
        )
    )


class SyncDaemonDriver:
    """The VRRP role's ``lvs_sync_daemon`` effect: policy decisions carried out in order, off the
    advert path (one background task drains the command queue).

    Never raises into the role: without IPVS it says so once and VRRP carries on; a kernel refusal
    (say, the interface is missing) is logged and the next transition tries again.
    """

    def __init__(self) -> None:
        self.policy = SyncDaemonPolicy()
        self._queue: deque[Command] = deque()
        self._task: asyncio.Task[None] | None = None
        self._warned_config: str | None = None
        self._told_unavailable = False

    def configure(self, config: Config, states: dict[str, int]) -> None:
        """Start and reload; ``states`` maps running instances to their current state."""
        _, problem = resolve_target(config)
        if problem is not None and problem != self._warned_config:
            log.warning("%s", problem)
        self._warned_config = problem
        self._submit(self.policy.configure(config, states))

    def instance_changed(self, name: str, state: int) -> None:
        self._submit(self.policy.instance_changed(name, state))

    async def stop(self) -> None:
        """Stop both daemons (when this process started one) and wait for the queue to drain."""
        self._submit(self.policy.stop())
        await self.drain()

    async def drain(self) -> None:
        while self._task is not None:
            await asyncio.shield(self._task)

    def _submit(self, commands: list[Command]) -> None:
        if not commands:
            return
        self._queue.extend(commands)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._queue:
                await self._execute(self._queue.popleft())
        finally:
            self._task = None

    async def _execute(self, command: Command) -> None:
        try:
            if isinstance(command, StartDaemon):
                s = command.settings
                assert s.sync_id is not None
                done = await start_daemon(
                    command.state, s.interface, s.sync_id, maxlen=s.maxlen, port=s.port, ttl=s.ttl,
                    group=None if s.group is None else str(s.group),
                )  # fmt: skip
            else:
                done = await stop_daemon(command.state)
        except OSError as exc:  # NetlinkError included: the kernel refused
            verb = "start" if isinstance(command, StartDaemon) else "stop"
            where = f" on {command.settings.interface}" if isinstance(command, StartDaemon) else ""
            log.error("IPVS: cannot %s the %s sync daemon%s: %s", verb, command.state, where, exc)
            return
        except Exception:
            log.exception("IPVS sync daemon command %s failed", command)
            return
        if not done and not self._told_unavailable:
            self._told_unavailable = True
            log.warning("IPVS: kernel has no IPVS support; lvs_sync_daemon ignored (VRRP carries on)")
