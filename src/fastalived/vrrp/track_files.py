"""VRRP's ``track_file`` watcher (I/O shell): the value in each tracked file, read at start and
again on every inotify change, reported by name to the router (:meth:`VrrpRouter.tracked_changed`),
which turns it into priority or FAULT as keepalived does."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable

from fastalived.config.model import TrackFile
from fastalived.runtime.track_file import FileWatcher, initialise, read_value

log = logging.getLogger("fastalived.vrrp")


class FileTracking:
    """One inotify watcher over the directories of the files VRRP instances track."""

    def __init__(self, on_value: Callable[[str, int], None]) -> None:
        self._on_value = on_value
        self._watcher: FileWatcher | None = None
        self._names: dict[str, list[str]] = {}  # absolute path -> track_file names reading it
        self._loop: asyncio.AbstractEventLoop | None = None

    def update(self, files: Iterable[TrackFile], first_start: bool) -> None:
        """Watch exactly ``files`` (start or reload): ``init_file`` first, then read each one."""
        files = list(files)
        initialise(files, first_start)
        self._names = {}
        for tracked in files:
            self._names.setdefault(os.path.abspath(tracked.file), []).append(tracked.name)
        if self._names and self._watcher is None:
            self._loop = asyncio.get_running_loop()
            try:
                self._watcher = FileWatcher(self._loop.add_reader, self._changed)
            except OSError as exc:
                log.error("inotify unavailable (%s): track_file changes will not be seen", exc)
        if self._watcher is not None:
            self._watcher.watch(self._names)
        for path in self._names:
            self._changed(path)

    def close(self) -> None:
        if self._watcher is not None and self._loop is not None:
            self._watcher.close(self._loop.remove_reader)
            self._watcher = None

    def _changed(self, path: str) -> None:
        value = read_value(path)
        if value is None:
            log.info("Invalid number read from %s - ignoring", path)
            return
        for name in self._names.get(path, ()):
            self._on_value(name, value)
