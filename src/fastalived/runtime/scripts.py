"""Who an operator's script runs as, and whether it may run at all: keepalived's script security.

keepalived's rules (``man keepalived.conf``: ``script_user``, ``enable_script_security``), kept
exactly so a config behaves the same under either daemon:

- a script runs as its own ``user [group]``; else global_defs' ``script_user [script_group]``;
  else the ``keepalived_script`` user when it exists; else as root. With script security on, a
  missing ``keepalived_script`` (and no ``script_user``) is an error, not a fall-back to root;
- a script that would run as root (uid or gid 0) may not sit anywhere on a path that a non-root
  user could change: every component from ``/`` down is owned by root, and no directory (unless
  sticky) or file is writable by its non-root group or by everyone. Under
  ``enable_script_security`` such a script is refused; without it, it runs with a warning;
- a script that is missing or not executable for its user never runs.

A script run on an interval (vrrp_script, MISC_CHECK) is a :class:`Script`: each run re-judges
it (a few ``lstat`` calls, nothing beside a fork), so a permission broken at run time counts at
once, but a refused one is disabled for good, as keepalived disables an insecure script: one log
line, a failed result, never judged or run again until a reload builds it anew. Notify scripts
(:func:`run_script`) are judged at each event; each distinct refusal or warning is logged once.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from fastalived.config.diagnostics import Diagnostic, Severity
from fastalived.config.model import Command, Config, GlobalDefs, MiscCheck, VrrpInstance, VrrpSyncGroup, Where
from fastalived.runtime.commands import SCRIPT_PATH, Identity, command_argv, run_command, shell_or_argv

log = logging.getLogger("fastalived.scripts")

DEFAULT_SCRIPT_USER = "keepalived_script"
NOTIFY_TIMEOUT = 30.0  # seconds a notify script may run before its process group is killed
SECURITY_VIOLATION = "SECURITY VIOLATION - scripts are being executed but script_security not enabled."


class UnknownUser(LookupError):
    """A configured user or group does not exist on this host."""


def _lookup(user: str | None, group: str | None) -> Identity:
    try:
        entry = pwd.getpwnam(user) if user is not None else None
        gid = grp.getgrnam(group).gr_gid if group is not None else (entry.pw_gid if entry else os.getegid())
    except KeyError:
        raise UnknownUser(f"unknown user or group {user if group is None else f'{user}:{group}'}") from None
    return Identity(entry.pw_uid if entry else os.geteuid(), gid)


def script_identity(user: str | None, group: str | None, global_defs: GlobalDefs) -> Identity:
    """The uid/gid a script runs as, by keepalived's chain of defaults (see the module docstring)."""
    if user is not None:
        return _lookup(user, group)
    if global_defs.script_user is not None:
        return _lookup(global_defs.script_user, global_defs.script_group)
    try:
        return _lookup(DEFAULT_SCRIPT_USER, None)
    except UnknownUser:
        if global_defs.enable_script_security:
            raise UnknownUser(f"Unable to set default user {DEFAULT_SCRIPT_USER} for script") from None
        return Identity(os.geteuid(), os.getegid())


def _components(path: str) -> Iterator[str]:
    """``/``, ``/usr``, ``/usr/bin``, ``/usr/bin/x``: every prefix of an absolute path."""
    yield "/"
    parts = [p for p in path.split("/") if p]
    for end in range(1, len(parts) + 1):
        yield "/" + "/".join(parts[:end])


def unsafe_component(path: str) -> str | None:
    """The first component of ``path`` a non-root user could change, or None when all are safe.

    As keepalived: every component is owned by root; a directory (unless sticky) or a regular file
    is not writable by a non-root group or by everyone; a symbolic link only needs a root owner.
    """
    components = list(_components(path))
    for component in components:
        info = os.lstat(component)
        if component != components[-1] and not stat.S_ISDIR(info.st_mode):
            return component  # keepalived: "Wrong file type found in script path"
        checked_mode = stat.S_ISREG(info.st_mode) or (stat.S_ISDIR(info.st_mode) and not info.st_mode & stat.S_ISVTX)
        writable = (info.st_gid != 0 and info.st_mode & stat.S_IWGRP) or info.st_mode & stat.S_IWOTH
        if info.st_uid != 0 or (checked_mode and writable):
            return component
    return None


def _resolved(path: str) -> str:
    """keepalived's view of a script path: directories resolved, the file keeping its own name."""
    return os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))


def _executable_by(info: os.stat_result, who: Identity) -> bool:
    if who.uid == 0:
        return bool(info.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if info.st_uid == who.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == who.gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether and as whom a script runs; ``refused`` or ``warning`` say why in keepalived's words."""

    identity: Identity | None
    refused: str | None = None
    warning: str | None = None


def judge(argv: list[str], user: str | None, group: str | None, global_defs: GlobalDefs) -> Verdict:
    """keepalived's verdict on running ``argv`` (a command line split into words)."""
    try:
        who = script_identity(user, group, global_defs)
    except UnknownUser as exc:
        return Verdict(None, refused=str(exc))
    import shutil  # with bz2 and lzma: only once a script is configured

    name = argv[0] if argv else ""
    path = name if "/" in name else shutil.which(name, path=SCRIPT_PATH)
    try:
        info = os.stat(path) if path else None
    except OSError:
        info = None
    if path is None or info is None or not stat.S_ISREG(info.st_mode):
        return Verdict(None, refused=f"could not find script '{name}' - disabling")
    if not _executable_by(info, who):
        return Verdict(None, refused=f"script '{name}' is not executable for uid:gid {who.uid}:{who.gid} - disabling")
    setuid_root = info.st_uid == 0 and info.st_mode & stat.S_ISUID
    if not (who.is_root or setuid_root):
        return Verdict(who)
    shown, real = _resolved(path), os.path.realpath(path)
    unsafe = unsafe_component(shown) or (unsafe_component(real) if real != shown else None)
    if unsafe is None:
        return Verdict(who)
    if global_defs.enable_script_security:
        return Verdict(None, refused=f"Unsafe permissions found for script '{name}' ({unsafe}) - disabling")
    return Verdict(who, warning=f"Unsafe permissions found for script '{name}' ({unsafe}).")


_told: set[tuple[str, str]] = set()  # (script, message) already logged by this process


def _tell_once(level: int, name: str, message: str) -> None:
    if (name, message) not in _told:
        _told.add((name, message))
        log.log(level, "%s", message)


async def run_script(
    argv: list[str], timeout: float, global_defs: GlobalDefs, user: str | None = None, group: str | None = None
) -> int | None:
    """Run an operator's script under keepalived's rules; None when refused, timed out or unstartable.

    A refusal counts as a failed run (keepalived disables the script), logged once per reason.
    """
    verdict = judge(argv, user, group, global_defs)
    if verdict.identity is None:
        _tell_once(logging.WARNING, argv[0] if argv else "", verdict.refused or "refused")
        return None
    return await _run_allowed(argv, timeout, verdict)


async def _run_allowed(argv: list[str], timeout: float, verdict: Verdict) -> int | None:
    assert verdict.identity is not None
    if verdict.warning is not None:
        _tell_once(logging.WARNING, argv[0] if argv else "", verdict.warning)
    return await run_command(argv, timeout, verdict.identity)


class Script:
    """A script run again and again (vrrp_script, MISC_CHECK): disabled for good once refused."""

    __slots__ = ("argv", "user", "group", "label", "disabled")

    def __init__(self, argv: list[str], user: str | None = None, group: str | None = None, label: str = "") -> None:
        self.argv = argv
        self.user = user
        self.group = group
        self.label = label  # names it in the log line, e.g. "vrrp_script chk_haproxy"
        self.disabled: str | None = None  # why it was refused; it never runs again

    async def run(self, timeout: float, global_defs: GlobalDefs) -> int | None:
        """Like :func:`run_script`; None at once, silently, once the script is disabled."""
        if self.disabled is not None:
            return None
        verdict = judge(self.argv, self.user, self.group, global_defs)
        if verdict.identity is None:
            self.disabled = verdict.refused or "refused"
            log.warning("%s%s", f"{self.label}: " if self.label else "", self.disabled)
            return None
        return await _run_allowed(self.argv, timeout, verdict)


async def run_notify_script(
    argv: list[str],
    timeout: float,
    global_defs: GlobalDefs,
    logger: logging.Logger = log,
    user: str | None = None,
    group: str | None = None,
) -> None:
    """Run a notify script by the rules above (as its own user/group, if given); log a failure
    to ``logger``."""
    status = await run_script(argv, timeout, global_defs, user, group)
    if status is None:
        logger.warning("notify script %s timed out, failed to start or was refused", argv[0])
    elif status:
        logger.info("notify script %s exited with status %d", argv[0], status)


# ---------------------------------------------------------------------------- -t and start


def _commands(owner: object, keywords: tuple[str, ...]) -> Iterator[tuple[str, Command]]:
    for keyword in keywords:
        command = getattr(owner, keyword)
        if command is not None:
            yield keyword, command


_NOTIFY_KEYWORDS = (
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_master_rx_lower_pri",
    "notify_deleted",
)


def configured_scripts(config: Config) -> Iterator[tuple[str, str, str | None, str | None, Where]]:
    """``(keyword, command line, user, group, where)`` of every script the config would run."""
    g = config.global_defs
    if g.startup_script:
        yield "startup_script", g.startup_script, g.startup_script_user, g.startup_script_group, g.where
    if g.shutdown_script:
        yield "shutdown_script", g.shutdown_script, g.shutdown_script_user, g.shutdown_script_group, g.where
    for script in config.vrrp_scripts:
        yield "script", script.script, script.user, script.group, script.where
    owners: list[VrrpInstance | VrrpSyncGroup] = [*config.vrrp_instances, *config.vrrp_sync_groups]
    for owner in owners:
        for keyword, command in _commands(owner.notify, _NOTIFY_KEYWORDS):
            yield keyword, command.line, command.user, command.group, owner.where
    for vs in config.virtual_servers:
        for keyword, command in _commands(vs, ("quorum_up", "quorum_down")):
            yield keyword, command.line, command.user, command.group, vs.where
        for rs in vs.real_servers:
            for keyword, command in _commands(rs, ("notify_up", "notify_down")):
                yield keyword, command.line, command.user, command.group, rs.where
            for checker in rs.checkers:
                if isinstance(checker, MiscCheck):
                    yield "misc_path", checker.misc_path, checker.user, checker.group, checker.where


def audit(config: Config) -> list[Diagnostic]:
    """What keepalived says about the config's scripts at start and ``-t``, as diagnostics.

    A refused script is an error under ``enable_script_security`` (it will never run) and a
    warning otherwise; running scripts without script security is one warning, as in keepalived.
    """
    g = config.global_defs
    found: list[Diagnostic] = []
    first_script: Where | None = None
    for keyword, line, user, group, where in configured_scripts(config):
        first_script = first_script or where
        argv = shell_or_argv(line) if keyword == "misc_path" else command_argv(line)
        verdict = judge(argv, user, group, g)
        if verdict.refused is not None:
            severity: Severity = "error" if g.enable_script_security else "warning"
            found.append(Diagnostic(severity, where, keyword, verdict.refused))
        elif verdict.warning is not None:
            found.append(Diagnostic("warning", where, keyword, verdict.warning))
    if first_script is not None and not g.enable_script_security:
        insecure = any(d.message.startswith("Unsafe permissions") for d in found)
        where = g.where if g.where.line else first_script  # no global_defs block: name the first script
        found.append(
            Diagnostic(
                "warning",
                where,
                "enable_script_security",
                SECURITY_VIOLATION + (" There are insecure scripts." if insecure else ""),
            )
        )
    return found
