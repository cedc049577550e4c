"""What the checker tells people about: notify_up/notify_down, quorum_up/quorum_down, smtp_alert.

Script running and mail delivery are the floor's (:mod:`fastalived.runtime`); this module
only decides which script and which words. Everything runs in the background, one queue per real
or virtual server so an up/down pair is always reported in order.
"""

from __future__ import annotations

import asyncio
import logging

from fastalived.config.model import Command, GlobalDefs, RealServer, VirtualServer
from fastalived.runtime.commands import command_argv
from fastalived.runtime.fifo import NotifyFifos
from fastalived.runtime.jobs import SerialTasks
from fastalived.runtime.mail import SmtpError, send_alert
from fastalived.runtime.scripts import NOTIFY_TIMEOUT, run_notify_script

log = logging.getLogger("fastalived.check")


def format_rs(rs: RealServer, protocol: str) -> str:
    """keepalived's ``[192.0.2.13]:tcp:8001``."""
    return f"[{rs.address}]:{protocol.lower()}:{rs.port if rs.port is not None else 0}"


def format_vs(vs: VirtualServer) -> str:
    if vs.fwmark is not None:
        return f"FWM {vs.fwmark}"
    if vs.group is not None:
        return f"[{vs.group}]:{vs.protocol.lower()}"
    return f"[{vs.address}]:{vs.protocol.lower()}:{vs.port}"


class CheckAlerts:
    """Queues scripts and mails for real-server and quorum changes."""

    def __init__(
        self, global_defs: GlobalDefs, script_timeout: float = NOTIFY_TIMEOUT, runs_shared_fifo_script: bool = False
    ) -> None:
        self.global_defs = global_defs
        self._script_timeout = script_timeout
        self._queue = SerialTasks("checker notification failed")
        self.fifos = NotifyFifos("lvs_notify_fifo", runs_shared_fifo_script)

    async def configure(self, global_defs: GlobalDefs) -> None:
        """Start or reload: the settings, and the notify FIFOs opened (scripts started)."""
        self.global_defs = global_defs
        await self.fifos.configure(global_defs)

    def real_server_changed(self, vs: VirtualServer, rs: RealServer, up: bool) -> None:
        """FIFO line ``RS [ip]:tcp:port [vip]:tcp:port UP`` at once, then script and mail."""
        self.fifos.write(f"RS {format_rs(rs, vs.protocol)} {format_vs(vs)} {'UP' if up else 'DOWN'}")
        script = rs.notify_up if up else rs.notify_down
        subject = (
            f"Realserver {format_rs(rs, vs.protocol)} of virtual server {format_vs(vs)} - {'UP' if up else 'DOWN'}"
        )
        body = "=> CHECK succeed on service <=" if up else "=> CHECK failed on service <="
        self._queue.submit((vs.key, rs.key), lambda: self._notify(script, rs.smtp_alert, subject, body))

    def quorum_changed(self, vs: VirtualServer, up: bool) -> None:
        """FIFO line ``VS [vip]:tcp:port UP`` at once, then script and mail."""
        self.fifos.write(f"VS {format_vs(vs)} {'UP' if up else 'DOWN'}")
        script = vs.quorum_up if up else vs.quorum_down
        subject = f"Virtualserver {format_vs(vs)} - {'UP' if up else 'DOWN'}"
        body = "=> Gained quorum <=" if up else "=> Lost quorum <="
        self._queue.submit(vs.key, lambda: self._notify(script, vs.smtp_alert, subject, body))

    async def drain(self) -> None:
        await self._queue.drain()

    async def close(self) -> None:
        await self.fifos.close()

    async def _notify(self, script: Command | None, mail: bool, subject: str, body: str) -> None:
        mailing = asyncio.get_running_loop().create_task(self._mail(subject, body)) if mail else None
        if script:
            argv = command_argv(script.line)
            await run_notify_script(argv, self._script_timeout, self.global_defs, log, script.user, script.group)
        if mailing is not None:
            await mailing

    async def _mail(self, subject: str, body: str) -> None:
        g = self.global_defs
        if not g.smtp_server or not g.notification_email:
            return
        try:
            await send_alert(g, subject, body)
        except (TimeoutError, OSError, SmtpError) as exc:
            log.warning("SMTP alert to %s failed: %s", g.smtp_server, exc)
        else:
            log.info("SMTP alert successfully sent.")
