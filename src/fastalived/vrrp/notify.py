"""VRRP notifications: keepalived's notify scripts and ``smtp_alert`` mail on state changes, and
the ``lvs_sync_daemon`` hook, which is told every state change too.

Everything runs as ordered background jobs on the role's loop: a hung script or a slow SMTP
server must never delay an advert, and one instance's notifications run in order, so a state file
written by ``notify`` always ends with the latest state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from fastalived.config.model import Command, Config, GlobalDefs, NotifyScripts
from fastalived.runtime.commands import command_argv
from fastalived.runtime.fifo import NotifyFifos
from fastalived.runtime.jobs import SerialTasks
from fastalived.runtime.mail import SmtpError, send_alert
from fastalived.runtime.scripts import NOTIFY_TIMEOUT, run_notify_script

log = logging.getLogger("fastalived.notify")

_STATE_BODY = {
    "MASTER": "=> VRRP Instance is now owning VRRP VIPs <=",
    "BACKUP": "=> VRRP Instance is nolonger owning VRRP VIPs <=",
    "FAULT": "=> VRRP Instance is in FAULT state <=",
    "STOP": "=> VRRP Instance is stopping <=",
}


class Notifier:
    """Fires notify scripts and smtp alerts for instance and sync-group state changes."""

    def __init__(self, global_defs: GlobalDefs, script_timeout: float = NOTIFY_TIMEOUT) -> None:
        self.global_defs = global_defs
        self._script_timeout = script_timeout
        self._queue = SerialTasks("notification failed")
        self.fifos = NotifyFifos("vrrp_notify_fifo", runs_shared_script=True)

    async def configure(self, global_defs: GlobalDefs) -> None:
        """Start or reload: the settings, and the notify FIFOs opened (scripts started)."""
        self.global_defs = global_defs
        await self.fifos.configure(global_defs)

    def instance_changed(self, name: str, notify: NotifyScripts, state: str, priority: int) -> None:
        """The FIFO line at once, then ``notify_<state>`` (no arguments), then ``notify`` with
        ``INSTANCE name STATE priority``."""
        self.fifo_line("INSTANCE", name, state, priority)
        self._enqueue("INSTANCE", name, notify, state, priority)

    def group_changed(self, name: str, notify: NotifyScripts, state: str) -> None:
        """The same for a sync group: ``notify`` gets ``GROUP name STATE 0``."""
        self.fifo_line("GROUP", name, state, 0)
        self._enqueue("GROUP", name, notify, state, 0)

    def master_rx_lower_pri(self, name: str, notify: NotifyScripts, priority: int) -> None:
        """A master heard a lower priority: the FIFO line, and ``notify_master_rx_lower_pri``
        (no arguments), as keepalived does for every such advert."""
        self.fifo_line("INSTANCE", name, "MASTER_RX_LOWER_PRI", priority)
        script = notify.notify_master_rx_lower_pri
        if script is not None:
            self._queue.submit(("INSTANCE", name), lambda: self._script(script))

    def fifo_line(self, kind: str, name: str, state: str, priority: int) -> None:
        """keepalived's FIFO line: ``INSTANCE "VI_1" MASTER 100`` (``GROUP ... 0`` for groups)."""
        self.fifos.write(f'{kind} "{name}" {state} {priority}')

    async def drain(self) -> None:
        """Wait for every queued notification (graceful stop, tests)."""
        await self._queue.drain()

    async def close(self) -> None:
        """Stop: the FIFOs closed (removed if we made them) and their readers finished."""
        await self.fifos.close()

    def _enqueue(self, kind: str, name: str, notify: NotifyScripts, state: str, priority: int) -> None:
        self._queue.submit((kind, name), lambda: self._notify(kind, name, notify, state, priority))

    async def _notify(self, kind: str, name: str, notify: NotifyScripts, state: str, priority: int) -> None:
        specific = {
            "MASTER": notify.notify_master,
            "BACKUP": notify.notify_backup,
            "FAULT": notify.notify_fault,
            "STOP": notify.notify_stop,
            "DELETED": notify.notify_deleted,
        }.get(state)
        mailing = notify.smtp_alert and not (state == "FAULT" and self.global_defs.no_email_faults)
        mail = asyncio.get_running_loop().create_task(self._mail(kind, name, state)) if mailing else None
        if specific:
            await self._script(specific)
        if notify.notify:
            await self._script(notify.notify, kind, name, state, str(priority))
        if mail is not None:
            await mail

    async def _script(self, command: Command, *args: str) -> None:
        argv = command_argv(command.line) + list(args)
        await run_notify_script(argv, self._script_timeout, self.global_defs, user=command.user, group=command.group)

    async def _mail(self, kind: str, name: str, state: str) -> None:
        g = self.global_defs
        if not g.smtp_server or not g.notification_email:
            return
        what = "Instance" if kind == "INSTANCE" else "Group"
        subject = f"VRRP {what} {name} - Entering {state} state"
        body = _STATE_BODY.get(state, "") if kind == "INSTANCE" else f"=> All VRRP group instances are now {state} <="
        started = time.monotonic()
        try:
            await send_alert(g, subject, body)
        except (OSError, TimeoutError, SmtpError) as exc:
            log.warning("SMTP alert to %s failed after %.1fs: %s", g.smtp_server, time.monotonic() - started, exc)
        else:
            log.info("SMTP alert successfully sent.")


class SyncDaemonHook(Protocol):
    """``lvs_sync_daemon``: told every state of the followed instance; the daemon hands in
    :class:`fastalived.ipvs.syncd.SyncDaemonDriver` (a role never imports another role)."""

    def configure(self, config: Config, states: dict[str, int]) -> None: ...

    def instance_changed(self, name: str, state: int) -> None: ...

    async def stop(self) -> None: ...


class NoSyncDaemon:
    """The hook when no IPVS sync daemon is wired in (tests, VRRP-only use)."""

    def configure(self, config: Config, states: dict[str, int]) -> None:
        """Nothing to follow."""

    def instance_changed(self, name: str, state: int) -> None:
        """Nothing to follow."""

    async def stop(self) -> None:
        """Nothing was started."""
