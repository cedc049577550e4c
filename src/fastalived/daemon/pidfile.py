"""Pid files for the parent and each child, with keepalived's stale-file handling.

keepalived refuses to start while a pid file names a live process (and trips over zombies after a
SIGKILL); we refuse only when that pid is alive *and* is a fastalived process, so a stale file left by
a crash or a recycled pid never blocks a restart.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_PARENT = "/run/fastalived.pid"
DEFAULT_VRRP = "/run/fastalived_vrrp.pid"
DEFAULT_CHECK = "/run/fastalived_checkers.pid"


def _process_is_fastalived(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "\nState:\tZ" in status:
        return False
    return b"fastalived" in cmdline


def running_pid(path: str | os.PathLike[str]) -> int | None:
    """The pid recorded in ``path`` if that process is a live fastalived, else None."""
    try:
        pid = int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    return pid if _process_is_fastalived(pid) else None


def write(path: str | os.PathLike[str], pid: int) -> None:
    """Write ``pid`` atomically (a reader never sees an empty file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    tmp.write_text(f"{pid}\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def remove(path: str | os.PathLike[str], pid: int) -> None:
    """Remove ``path`` only if it still names ``pid`` (a newer instance may own it now)."""
    try:
        if int(Path(path).read_text().strip()) == pid:
            Path(path).unlink()
    except (OSError, ValueError):
        pass
