"""What the parent does around its children: the network namespace it runs in and the
``startup_script`` / ``shutdown_script`` it runs, as keepalived 2.2.7 does.

- ``net_namespace NAME`` (top level) or ``-s NAME`` (which overrides it): the parent enters
  ``/run/netns/NAME`` before anything else, so every child, socket and script lives there. Like
  keepalived the namespace must exist (``ip netns add NAME``); a missing one stops the start. Pid
  files and the run directory not given on the command line move to ``/run/fastalived/NAME/`` (as
  keepalived's ``/run/keepalived/NAME/``), so daemons in different namespaces do not collide.
  The namespace cannot change on a reload.
- The start-up script runs once before any child starts and the shut-down script once after
  every child stopped, each under keepalived's script_user chain and killed after its timeout
  (default 10 s); a failure is logged and never stops the daemon.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
from typing import Literal

from fastalived.config.diagnostics import LoadResult
from fastalived.config.model import Config, GlobalDefs
from fastalived.options import DEFAULT_RUN_DIR, RunOptions
from fastalived.runtime.commands import command_argv
from fastalived.runtime.scripts import run_script

log = logging.getLogger("fastalived.supervisor")

CLONE_NEWNET = 0x40000000  # sched.h: setns() into a network namespace
NETNS_DIR = "/run/netns"


def enter_network_namespace(name: str) -> None:
    """Move this process (and so every child it starts later) into ``ip netns`` namespace NAME."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)


def effective_namespace(options: RunOptions, config: Config | None) -> str | None:
    """``-s NAME`` if given, else the config's ``net_namespace``."""
    if options.namespace is not None:
        return options.namespace
    return config.global_defs.net_namespace if config is not None else None


def placed_options(
    options: RunOptions, name: str | None, instance: str | None = None, use_pid_dir: bool = False
) -> RunOptions:
    """keepalived's pid file placement: in namespace NAME, pid files and the run directory default
    to NAME's own (``/run/fastalived/NAME/``); ``use_pid_dir`` (implied by a namespace or an
    ``instance``) puts them in ``/run/fastalived/``; ``instance INST`` names them
    ``fastalived_INST.pid``, ``fastalived_vrrp_INST.pid``, ``fastalived_checkers_INST.pid``."""
    if name is None and instance is None and not use_pid_dir:
        return options
    base = os.path.join(DEFAULT_RUN_DIR, name) if name is not None else DEFAULT_RUN_DIR
    suffix = f"_{instance}" if instance is not None else ""
    return dataclasses.replace(
        options,
        namespace=name,
        pid_file=options.pid_file or os.path.join(base, f"fastalived{suffix}.pid"),
        vrrp_pid_file=options.vrrp_pid_file or os.path.join(base, f"fastalived_vrrp{suffix}.pid"),
        checkers_pid_file=options.checkers_pid_file or os.path.join(base, f"fastalived_checkers{suffix}.pid"),
        run_dir=base if options.run_dir == DEFAULT_RUN_DIR else options.run_dir,
    )


def enter_namespace(options: RunOptions, loaded: LoadResult) -> RunOptions:
    """Before anything starts: enter ``-s``'s or the config's namespace, if any; the options to run
    with (pid files placed as keepalived places them). OSError when the namespace cannot be entered."""
    config = loaded.config if loaded.ok else None
    name = effective_namespace(options, config)
    if name is not None:
        enter_network_namespace(name)
    if config is None:
        return placed_options(options, name)
    return placed_options(options, name, config.global_defs.instance_name, config.global_defs.use_pid_dir)


def warn_namespace_change(started: GlobalDefs, reloaded: GlobalDefs) -> None:
    """A reload asking for another namespace is told, as keepalived does; the running one stays."""
    if reloaded.net_namespace != started.net_namespace:
        log.warning("Cannot change network namespace at a reload - please restart fastalived")


async def run_lifecycle_script(kind: Literal["startup", "shutdown"], global_defs: GlobalDefs) -> int | None:
    """Run the start-up or shut-down script, if configured, and wait for it (up to its timeout).

    Returns its exit status; None when none is configured, or it was refused, timed out or
    could not start (each logged)."""
    line: str | None = getattr(global_defs, f"{kind}_script")
    if line is None:
        return None
    timeout, user, group = (getattr(global_defs, f"{kind}_script_{key}") for key in ("timeout", "user", "group"))
    argv = command_argv(line)
    log.info("Running %s script %s", kind, argv[0] if argv else line)
    status = await run_script(argv, timeout, global_defs, user, group)
    if status is None:
        log.warning("%s script %s timed out, failed to start or was refused", kind, argv[0] if argv else line)
    elif status:
        log.info("%s script failed, status %d", kind, status)
    return status
