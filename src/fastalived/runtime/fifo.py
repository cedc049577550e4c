"""keepalived's notify FIFOs: one text line per state change, for a long-running reader.

``notify_fifo`` is shared by every role, ``vrrp_notify_fifo`` / ``lvs_notify_fifo`` belong to
one. As keepalived does, a role creates a missing FIFO (and removes it at stop), starts the
FIFO's script with the FIFO's path as its argument, then opens the FIFO read-write and
non-blocking, so a slow or absent reader never stalls VRRP: a line that does not fit is lost
(keepalived ignores write errors too). Lines under ``PIPE_BUF`` bytes are written atomically, so
two roles sharing ``notify_fifo`` never interleave within a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import pwd
import stat

from fastalived.config.model import GlobalDefs, NotifyFifo
from fastalived.runtime.commands import command_argv
from fastalived.runtime.scripts import run_script

log = logging.getLogger("fastalived.fifo")

SCRIPT_LIFETIME = 10 * 365 * 86400.0  # a FIFO script runs until the role stops it
SCRIPT_GRACE = 2.0  # seconds a FIFO script gets to finish reading after the FIFO is closed


class _OpenFifo:
    """One FIFO this role writes to."""

    def __init__(self, fifo: NotifyFifo, kind: str, global_defs: GlobalDefs, run_script_too: bool) -> None:
        self.fifo = fifo
        self.fd = -1
        self.created = False
        self.script: asyncio.Task[int | None] | None = None
        try:
            os.mkfifo(fifo.path, 0o644)
            self.created = True
            self._chown()
        except FileExistsError:
            pass
        except OSError as exc:
            log.info("Unable to create %snotify fifo %s: %s", kind, fifo.path, exc)
            return
        if fifo.script and run_script_too:
            argv = [*command_argv(fifo.script), fifo.path]
            run = run_script(argv, SCRIPT_LIFETIME, global_defs, fifo.script_user, fifo.script_group)
            self.script = asyncio.get_running_loop().create_task(run)
        try:
            self.fd = os.open(fifo.path, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
            if not stat.S_ISFIFO(os.fstat(self.fd).st_mode):
                raise OSError(f"{fifo.path} is not a FIFO")
        except OSError as exc:
            log.info("Unable to open %snotify fifo %s - %s", kind, fifo.path, exc)
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            if self.created:
                os.unlink(fifo.path)
                self.created = False
            if self.script is not None:
                self.script.cancel()
                self.script = None

    def _chown(self) -> None:
        if self.fifo.user is None and self.fifo.group is None:
            return
        try:
            uid = pwd.getpwnam(self.fifo.user).pw_uid if self.fifo.user else -1
            gid = grp.getgrnam(self.fifo.group).gr_gid if self.fifo.group else -1
            os.chown(self.fifo.path, uid, gid)
        except (KeyError, OSError) as exc:
            log.info("Failed to set uid:gid for fifo %s: %s", self.fifo.path, exc)

    def write(self, data: bytes) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self.fd, data)

    async def close(self) -> None:
        """Unlink first (a looping reader cannot reopen it), then close: the reader reads what is
        left and sees end-of-file; one still running after a grace period is killed."""
        if self.created:
            with contextlib.suppress(OSError):
                os.unlink(self.fifo.path)
            self.created = False
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        script, self.script = self.script, None
        if script is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(script, SCRIPT_GRACE)  # on timeout run_command kills the group


class NotifyFifos:
    """The FIFOs one role writes its lines to: the shared ``notify_fifo`` and the role's own.

    ``own_key`` names the role's GlobalDefs field (``vrrp_notify_fifo``, ``lvs_notify_fifo``);
    ``runs_shared_script``: whether this role starts the shared FIFO's script (exactly one role
    does, so the reader runs once)."""

    def __init__(self, own_key: str, runs_shared_script: bool) -> None:
        self._own_key = own_key
        self._runs_shared_script = runs_shared_script
        self._open: list[_OpenFifo] = []
        self._configured: tuple[NotifyFifo | None, NotifyFifo | None] = (None, None)

    @property
    def active(self) -> bool:
        return any(f.fd >= 0 for f in self._open)

    async def configure(self, global_defs: GlobalDefs) -> None:
        """Open the configured FIFOs (start or reload); unchanged ones are kept as they are."""
        own: NotifyFifo | None = getattr(global_defs, self._own_key)
        shared = global_defs.notify_fifo
        if own is not None and shared is not None and own.path == shared.path:
            log.info("notify FIFO %s has been specified for global and %s FIFO - ignoring it", own.path, self._own_key)
            own = None
        wanted = (shared, own)
        if wanted == self._configured:
            return
        await self.close()
        self._configured = wanted
        kind = self._own_key.removesuffix("notify_fifo")
        for fifo, prefix, runs in ((shared, "", self._runs_shared_script), (own, kind, True)):
            if fifo is not None and fifo.path:
                self._open.append(_OpenFifo(fifo, prefix, global_defs, runs))

    def write(self, line: str) -> None:
        """One line (newline added) to every open FIFO."""
        data = (line + "\n").encode()
        for fifo in self._open:
            fifo.write(data)

    async def close(self) -> None:
        opened, self._open = self._open, []
        self._configured = (None, None)
        for fifo in opened:
            await fifo.close()
