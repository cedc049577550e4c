"""A standby child's head start: what it does before the parent promotes it.

A promoted VRRP standby must advertise before the peers' Master_Down_Timer expires (0.36 s at
advert_int 0.1, on a host that may be busy). So everything that depends neither on the dead
child's state nor on the parent's ``start`` message is done while waiting: the config loaded and
parsed, and a :class:`Preparable` role built and prepared (sockets, the
netlink thread, real-time scheduling). A config changed in the meantime is caught twice: by the
main file's stat at promotion (the config is then loaded afresh, as a cold start would), and by a
full load once the role is up (includes), which the runner applies as a reload when it differs.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fastalived.config.model import Config
from fastalived.config.snapshot import FileSignature, file_signature
from fastalived.options import RunOptions
from fastalived.runtime.role import Role

log = logging.getLogger("fastalived.child")

Loader = Callable[[RunOptions], tuple[Config | None, list[str], list[str]]]  # config, errors, warnings


@runtime_checkable
class Preparable(Protocol):
    """A role a standby child builds and warms up before the parent promotes it.

    ``prepare`` opens what ``start`` needs of neither the config nor the options (sockets, helper
    threads, the scheduling policy), so a promotion only has to start the role. The runner then
    sets ``options`` to the ones the parent promoted it with (they say what to adopt) before
    ``start``; ``stop`` is never called on a role that was prepared but not started.
    """

    options: RunOptions

    async def prepare(self) -> None: ...


@dataclass(frozen=True)
class WarmStart:
    """The config a standby loaded and the role it prepared while waiting."""

    options: RunOptions  # what the config was loaded with
    signature: FileSignature | None  # the main config file's, taken before loading it
    config: Config
    warnings: tuple[str, ...]  # logged at promotion, where a cold start logs them
    role: Role | None  # prepared, never started; None: the role is built at promotion

    def config_for(self, options: RunOptions) -> Config | None:
        """The warm config if it still is what ``options`` name, else None (load it afresh)."""
        same_source = (options.config_file, options.config_id) == (self.options.config_file, self.options.config_id)
        if not same_source or self.signature is None or file_signature(options.config_file) != self.signature:
            return None
        return self.config

    def role_for(self, options: RunOptions) -> Role | None:
        """The prepared role, now running with the options the parent promoted it with."""
        if isinstance(self.role, Preparable):
            self.role.options = options
        return self.role


async def warm_up(options: RunOptions, load: Loader, role_factory: Callable[[RunOptions], Role]) -> WarmStart | None:
    """Load the config and prepare the role; None when the config does not load (the promotion
    then starts cold and reports the errors)."""
    signature = file_signature(options.config_file)
    config, _errors, warnings = await asyncio.to_thread(load, options)
    if config is None:
        return None
    role: Role | None = role_factory(options)
    if isinstance(role, Preparable):
        try:
            await role.prepare()
        except Exception:
            log.exception("standby: preparing the role failed; it will be built at promotion")
            role = None
    else:
        role = None  # nothing to gain from building it early
    return WarmStart(options, signature, config, tuple(warnings), role)


def zombie_status(pid: int) -> int | None:
    """The wait status of ``pid`` if it is a zombie (exited, not reaped by its parent yet), from
    ``/proc/PID/stat``; None when it is not (or no longer) one."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:
        return None
    # fields[0] is the state (field 3 of proc(5)), fields[49] the exit code (field 52, Linux 3.5+)
    if len(fields) < 50 or fields[0] != b"Z":
        return None
    return int(fields[49])


def crashed(status: int | None, clean: int, fatal: int) -> bool:
    """Whether a child that ended with wait status ``status`` is one the parent replaces by
    adoption: killed by a signal, or exited with neither the ``clean`` nor the ``fatal`` code."""
    if status is None:
        return False
    return os.WIFSIGNALED(status) or (os.WIFEXITED(status) and os.WEXITSTATUS(status) not in (clean, fatal))


class PredecessorWatch:
    """The active child a standby succeeds, watched through a pidfd, so the standby itself sees the
    moment it dies: the parent (normal scheduling, on a busy host) may notice a tenth of a second
    later, while the standby waits real-time. ``on_exit`` gets the wait status read from the
    zombie, or None once the parent reaped it (its "start" is then on the way)."""

    def __init__(self, on_exit: Callable[[int | None], None]) -> None:
        self._on_exit = on_exit
        self._pid: int | None = None
        self._fd: int | None = None

    def watch(self, pid: int) -> None:
        if pid == self._pid:
            return
        self.close()
        try:
            fd = os.pidfd_open(pid)
        except (OSError, AttributeError) as exc:  # gone already, or no pidfd: the parent's "start" comes
            log.debug("standby: cannot watch process %d (%s)", pid, exc)
            return
        asyncio.get_running_loop().add_reader(fd, self._exited)
        self._pid, self._fd = pid, fd

    def _exited(self) -> None:
        pid = self._pid
        self.close()
        self._on_exit(zombie_status(pid) if pid is not None else None)

    def close(self) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
        self._pid = self._fd = None
