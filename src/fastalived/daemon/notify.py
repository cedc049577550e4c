"""Notifications on state changes: keepalived's notify scripts and ``smtp_alert`` e-mail.

Everything here runs as background tasks on the role's event loop: a hung script or a slow SMTP
server must never delay an advert. Scripts run in their own session and the whole group is killed
after a timeout. Notifications for one instance (or group) run in order, so a state file written
by ``notify`` always ends with the latest state.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import pwd
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from email.utils import formatdate

from fastalived.config.model import GlobalDefs, NotifyScripts

log = logging.getLogger("fastalived.notify")

NOTIFY_TIMEOUT = 30.0  # seconds a notify script may run before its process group is killed

_STATE_BODY = {
    "MASTER": "=> VRRP Instance is now owning VRRP VIPs <=",
    "BACKUP": "=> VRRP Instance is nolonger owning VRRP VIPs <=",
    "FAULT": "=> VRRP Instance is in FAULT state <=",
    "STOP": "=> VRRP Instance is stopping <=",
}


def command_argv(command: str) -> list[str]:
    """Split a keepalived script line into argv (keepalived execs it directly, no shell)."""
    try:
        return shlex.split(command)
    except ValueError:  # unbalanced quotes: fall back to plain words
        return command.split()


def _credentials(user: str | None, group: str | None) -> tuple[int, int] | None:
    """(uid, gid) to switch to, or None when the child should keep ours."""
    if user is None and group is None:
        return None
    uid = pwd.getpwnam(user).pw_uid if user is not None else os.geteuid()
    if group is not None:
        gid = grp.getgrnam(group).gr_gid
    elif user is not None:
        gid = pwd.getpwnam(user).pw_gid
    else:
        gid = os.getegid()
    if (uid, gid) == (os.geteuid(), os.getegid()):
        return None
    return uid, gid


async def run_command(
    argv: list[str], timeout: float, user: str | None = None, group: str | None = None
) -> int | None:
    """Run ``argv`` in a new session; its exit status, or None if it timed out or could not start.

    ``user``/``group`` (script_user) are applied in the child; uvloop has no ``user=`` argument, so
    this uses ``preexec_fn``. On timeout (or cancellation) the whole process group gets SIGKILL.
    """
    try:
        credentials = _credentials(user, group)
    except KeyError as exc:
        log.warning("cannot run %s: unknown user or group %s", argv[0] if argv else "''", exc)
        return None

    def drop_privileges() -> None:
        assert credentials is not None
        os.setgroups([])
        os.setgid(credentials[1])
        os.setuid(credentials[0])

    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=drop_privileges if credentials is not None else None,
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        log.warning("cannot run %s: %s", argv[0] if argv else "''", exc)
        return None
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        await _kill_group(proc)
        return None
    except asyncio.CancelledError:
        await _kill_group(proc)
        raise


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the child's whole session and reap it, so no zombie or grandchild survives."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), 1.0)


async def run_notify_script(
    argv: list[str], timeout: float, global_defs: GlobalDefs, logger: logging.Logger = log
) -> None:
    """Run a notify script as global_defs' ``script_user``/``script_group``; log a failure to ``logger``."""
    status = await run_command(argv, timeout, global_defs.script_user, global_defs.script_group)
    if status is None:
        logger.warning("notify script %s timed out or failed to start", argv[0])
    elif status:
        logger.info("notify script %s exited with status %d", argv[0], status)


async def send_mail(
    server: str,
    port: int,
    helo: str,
    sender: str,
    recipients: Iterable[str],
    subject: str,
    body: str,
    timeout: float,
) -> None:
    """Deliver one plain-text message with a minimal SMTP dialogue (what keepalived does).

    Raises OSError / TimeoutError / SmtpError; the caller logs and carries on.
    """
    recipients = list(recipients)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(server, port), timeout)
    try:

        async def expect(code: int) -> None:
            while True:
                line = await asyncio.wait_for(reader.readline(), timeout)
                if not line:
                    raise SmtpError(f"connection closed waiting for {code}")
                if line[3:4] != b"-":  # last line of a (possibly multi-line) reply
                    break
            if not line[:3].isdigit() or int(line[:3]) != code:
                raise SmtpError(f"expected {code}, got {line.decode(errors='replace').strip()}")

        async def command(text: str, code: int) -> None:
            writer.write(text.encode() + b"\r\n")
            await expect(code)

        await expect(220)
        await command(f"HELO {helo}", 250)
        await command(f"MAIL FROM:<{sender}>", 250)
        for rcpt in recipients:
            await command(f"RCPT TO:<{rcpt}>", 250)
        await command("DATA", 354)
        headers = [
            f"From: {sender}",
            f"Subject: {subject}",
            "X-Mailer: fastalived",
            f"Date: {formatdate(localtime=True)}",
            *(f"To: {rcpt}" for rcpt in recipients),
        ]
        lines = headers + [""] + body.splitlines()
        data = "".join(("." + ln if ln.startswith(".") else ln) + "\r\n" for ln in lines)  # dot-stuffing
        writer.write(data.encode())
        await command(".", 250)
        await command("QUIT", 221)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def send_alert(g: GlobalDefs, subject: str, body: str) -> None:
    """Mail ``[router_id] subject`` to global_defs' ``notification_email`` through its ``smtp_server``.

    The sender and HELO name default the way keepalived's do. The caller checks that SMTP is
    configured, and logs the OSError / TimeoutError / SmtpError this raises.
    """
    assert g.smtp_server, "callers check smtp_server and notification_email first"
    host = socket.gethostname()
    await send_mail(
        g.smtp_server,
        g.smtp_port,
        g.smtp_helo_name or host,
        g.notification_email_from or f"keepalived@{host}",
        g.notification_email,
        f"[{g.router_id or host}] {subject}",
        body,
        g.smtp_connect_timeout,
    )


class SmtpError(Exception):
    """The SMTP server answered with an unexpected reply code."""


class SerialTasks:
    """Per-key FIFO of background jobs: a key's jobs run one after another, keys in parallel.

    Keeps side effects of one instance in the order its state machine asked for them (VIPs
    added before the GARP that announces them, the MASTER notify before the BACKUP one).
    """

    def __init__(self, on_error: str = "background job failed") -> None:
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        self._on_error = on_error

    def submit(self, key: Hashable, job: Callable[[], Awaitable[object]]) -> None:
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run(previous, job))
        self._tails[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    async def drain(self) -> None:
        """Wait until every submitted job (including ones submitted meanwhile) has finished."""
        while self._tails:
            await asyncio.gather(*list(self._tails.values()), return_exceptions=True)

    def _forget(self, key: Hashable, done: asyncio.Task[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]

    async def _run(self, previous: asyncio.Task[None] | None, job: Callable[[], Awaitable[object]]) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await job()
        except Exception:
            log.exception(self._on_error)


class Notifier:
    """Fires notify scripts and smtp alerts for instance and sync-group state changes."""

    def __init__(self, global_defs: GlobalDefs, script_timeout: float = NOTIFY_TIMEOUT) -> None:
        self.global_defs = global_defs
        self._script_timeout = script_timeout
        self._queue = SerialTasks("notification failed")

    def instance_changed(self, name: str, notify: NotifyScripts, state: str, priority: int) -> None:
        """``notify_<state>`` (no arguments), then ``notify`` with ``INSTANCE name STATE priority``."""
        self._enqueue("INSTANCE", name, notify, state, priority)

    def group_changed(self, name: str, notify: NotifyScripts, state: str) -> None:
        """The same for a sync group: ``notify`` gets ``GROUP name STATE 0``."""
        self._enqueue("GROUP", name, notify, state, 0)

    async def drain(self) -> None:
        """Wait for every queued notification (graceful stop, tests)."""
        await self._queue.drain()

    def _enqueue(self, kind: str, name: str, notify: NotifyScripts, state: str, priority: int) -> None:
        self._queue.submit((kind, name), lambda: self._notify(kind, name, notify, state, priority))

    async def _notify(self, kind: str, name: str, notify: NotifyScripts, state: str, priority: int) -> None:
        specific = {
            "MASTER": notify.notify_master,
            "BACKUP": notify.notify_backup,
            "FAULT": notify.notify_fault,
            "STOP": notify.notify_stop,
        }.get(state)
        mail = asyncio.get_running_loop().create_task(self._mail(kind, name, state)) if notify.smtp_alert else None
        if specific:
            await self._script(command_argv(specific))
        if notify.notify:
            await self._script(command_argv(notify.notify) + [kind, name, state, str(priority)])
        if mail is not None:
            await mail

    async def _script(self, argv: list[str]) -> None:
        await run_notify_script(argv, self._script_timeout, self.global_defs)

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
