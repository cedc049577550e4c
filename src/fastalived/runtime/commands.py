"""Running operators' commands (scripts, notify hooks, MISC_CHECK) without letting them hurt us.

keepalived execs scripts directly (no shell), each in its own session, and kills the whole group
on timeout so a hung script or one of its grandchildren can never pile up behind a checker or an
advert. The same rules hold for every role, so they live here once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio.subprocess

log = logging.getLogger("fastalived.commands")

SHELL_SYNTAX = frozenset("|&;<>()$`*?[]{}~#\n")


def command_argv(command: str) -> list[str]:
    """Split a keepalived script line into argv (keepalived execs it directly, no shell)."""
    try:
        return shlex.split(command)
    except ValueError:  # unbalanced quotes: fall back to plain words
        return command.split()


def shell_or_argv(command: str) -> list[str]:
    """MISC_CHECK's rule: plain words are exec'd directly; shell syntax goes to ``/bin/sh -c``."""
    if any(char in SHELL_SYNTAX for char in command):
        return ["/bin/sh", "-c", command]
    return command_argv(command)


@dataclass(frozen=True, slots=True)
class Identity:
    """The uid/gid a command runs as (:mod:`fastalived.runtime.scripts` decides which)."""

    uid: int
    gid: int

    @property
    def is_root(self) -> bool:
        return self.uid == 0 or self.gid == 0


SCRIPT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLEAN_ENVIRONMENT = {"PATH": SCRIPT_PATH}  # scripts see none of the daemon's own environment


async def run_command(argv: list[str], timeout: float, identity: Identity | None = None) -> int | None:
    """Run ``argv`` in a new session; its exit status, or None if it timed out or could not start.

    It runs as ``identity`` (None: as we are) with no supplementary groups and a clean
    environment; uvloop has no ``user=`` argument, so this uses ``preexec_fn``. On timeout (or
    cancellation) the whole process group gets SIGKILL.
    """
    import asyncio  # here, not at import: ``fastalived -t`` audits scripts without an event loop
    import subprocess

    switch = identity is not None and (identity.uid, identity.gid) != (os.geteuid(), os.getegid())

    def drop_privileges() -> None:
        assert identity is not None
        os.setgroups([])
        os.setgid(identity.gid)
        os.setuid(identity.uid)

    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            env=CLEAN_ENVIRONMENT,
            preexec_fn=drop_privileges if switch else None,
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
    import asyncio

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), 1.0)
