"""Pid files for the parent and each child.

The parent's file is also its single-instance lock: it holds an ``flock`` on it for its whole life.
keepalived instead checks whether the recorded pid is alive and so trips over zombies and recycled
pids after a SIGKILL ("daemon is already running"); a lock dies with its process, so a stale file
never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

DEFAULT_PARENT = "/run/fastalived.pid"
DEFAULT_VRRP = "/run/fastalived_vrrp.pid"
DEFAULT_CHECK = "/run/fastalived_checkers.pid"


class AlreadyRunning(RuntimeError):
    """Another live process holds the pid file lock."""

    def __init__(self, path: str, pid: int | None) -> None:
        super().__init__(f"daemon is already running (pid {pid if pid is not None else '?'}, {path})")
        self.pid = pid


class PidFileLock:
    """The parent's pid file, locked while the daemon lives."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Lock and write our pid; raise :class:`AlreadyRunning` if another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(str(self.path), int(holder) if holder.isdigit() else None) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        remove(self.path, os.getpid())
        os.close(self._fd)
        self._fd = None


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
