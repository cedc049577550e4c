"""``track_file``: the number in a tracked file, read keepalived's way and watched with inotify.

Shared by the roles that track files (FILE_CHECK in the checker, ``track_file`` in VRRP).
keepalived's rules: the file holds an integer (C ``strtol`` base 0: ``12``, ``-3``, ``0x1f``; empty,
missing or unreadable reads as 0; a number outside 32 bits is ignored).

Nothing polls: one inotify descriptor on the role's loop watches the directories of every
tracked file (keepalived watches directories too, so a file replaced by ``mv`` or created later is
seen), and a change re-reads the file at once.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import re
import struct
from collections.abc import Callable, Iterable
from pathlib import Path

from fastalived.config.model import TrackFile

log = logging.getLogger("fastalived.track_file")

READ_SIZE = 127  # keepalived reads at most this much of the file
_NUMBER = re.compile(rb"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_IN_CLOSE_WRITE, _IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x8, 0x40, 0x80, 0x100, 0x200
_IN_ISDIR = 0x40000000
_WATCHED = _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_DELETE | _IN_CREATE
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name


def parse_value(text: bytes) -> int | None:
    """The file's number as C ``strtol(text, NULL, 0)`` reads it; None when out of 32-bit range."""
    match = _NUMBER.match(text)
    if match is None:
        return 0
    sign, digits = match.groups()
    if digits[:2] in (b"0x", b"0X"):
        value = int(digits, 16)
    elif digits.startswith(b"0") and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    value = -value if sign == b"-" else value
    return value if -(2**31) <= value <= 2**31 else None


def read_value(path: str) -> int | None:
    try:
        with open(path, "rb") as handle:
            return parse_value(handle.read(READ_SIZE))
    except OSError:
        return 0


def initialise(track_files: Iterable[TrackFile], first_start: bool) -> None:
    """``init_file``: write the value when the file is missing, or at first start with ``overwrite``."""
    for tracked in track_files:
        if tracked.init_value is None:
            continue
        path = Path(tracked.file)
        if path.exists():
            if not (tracked.init_overwrite and first_start):
                continue
            if not path.is_file():
                log.warning("Cannot initialise track file %s - it is not a regular file", tracked.name)
                continue
        try:
            path.write_text(f"{tracked.init_value}\n")
        except OSError as exc:
            log.warning("Unable to initialise track file %s: %s", tracked.name, exc)


class _Libc:
    """inotify through ctypes: the standard library has no binding, and polling is what we avoid."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.init1 = libc.inotify_init1
        self.add_watch = libc.inotify_add_watch
        self.add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        self.rm_watch = libc.inotify_rm_watch
        self.rm_watch.argtypes = (ctypes.c_int, ctypes.c_int)


class FileWatcher:
    """One inotify descriptor for every tracked file; ``on_change(path)`` runs on the loop."""

    def __init__(self, add_reader: Callable[[int, Callable[[], None]], object], on_change: Callable[[str], None]):
        self._libc = _Libc()
        self._fd = self._libc.init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        self._on_change = on_change
        self._dirs: dict[int, str] = {}  # watch descriptor -> directory
        self._files: set[str] = set()
        add_reader(self._fd, self._read)

    def watch(self, paths: Iterable[str]) -> None:
        """Watch exactly ``paths`` from now on (a reload's new set)."""
        self._files = {os.path.abspath(path) for path in paths}
        wanted = {os.path.dirname(path) for path in self._files}
        for wd, directory in list(self._dirs.items()):
            if directory not in wanted:
                self._libc.rm_watch(self._fd, wd)
                del self._dirs[wd]
        for directory in wanted - set(self._dirs.values()):
            wd = self._libc.add_watch(self._fd, directory.encode(), _WATCHED)
            if wd < 0:
                code = ctypes.get_errno()
                log.warning("cannot watch %s for track_file changes: %s", directory, os.strerror(code))
                continue
            self._dirs[wd] = directory

    def close(self, remove_reader: Callable[[int], object]) -> None:
        remove_reader(self._fd)
        os.close(self._fd)

    def _read(self) -> None:
        changed: set[str] = set()
        while True:
            try:
                data = os.read(self._fd, 65536)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EINTR):
                    log.warning("inotify read failed: %s", exc)
                break
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0").decode(errors="replace")
                offset += _EVENT.size + length
                directory = self._dirs.get(wd)
                if directory is not None and not mask & _IN_ISDIR:
                    path = os.path.join(directory, name)
                    if path in self._files:
                        changed.add(path)
        for path in changed:
            self._on_change(path)
