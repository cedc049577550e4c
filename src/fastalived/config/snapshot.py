"""A loaded :class:`~fastalived.config.model.Config` as a file, so the children need not parse again.

The parent parses and validates the file once (at start and at every reload); its children load
this snapshot instead, which costs a third of a parse. It records the signature of every file the
config was read from: a child whose files changed since (a respawn after an edit, before any
reload) parses them afresh, exactly as it would without a snapshot. The model's frozen, slotted dataclasses
would pickle through dataclasses' generic ``__setstate__`` (a Python loop over ``fields()`` per
object, slower than the parse it replaces), so each model class pickles through its constructor:
``(cls, field values)``. Snapshots are only ever read by the daemon that wrote them, from its own
run directory (mode 0700), never from anywhere a user could write.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path
from typing import Any

from fastalived.config import model
from fastalived.config.model import Config

FileSignature = tuple[int, int, int, int]


def file_signature(path: str) -> FileSignature | None:
    """What changes when the file is edited or replaced; None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _constructor_reduce(cls: type) -> Callable[[Any], tuple[type, tuple[Any, ...]]]:
    names = [f.name for f in dataclasses.fields(cls)]
    if len(names) < 2:  # attrgetter needs a name, and of one it returns the bare value
        return lambda self: (cls, tuple(getattr(self, name) for name in names))
    values = attrgetter(*names)
    return lambda self: (cls, values(self))


def _install_reducers() -> None:
    for value in vars(model).values():
        ours = isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == model.__name__
        if ours and all(f.init for f in dataclasses.fields(value)):
            value.__reduce__ = _constructor_reduce(value)


_install_reducers()


def write(config: Config, path: str | os.PathLike[str], loaded_since_ns: int) -> bool:
    """Replace ``path`` atomically (a reader sees the old or the new snapshot, never half of one).

    ``loaded_since_ns`` (CLOCK_REALTIME, taken before the parse) guards against a file edited
    while it was being parsed: its signature would then not describe what was parsed, so no
    snapshot is written (False) and the children parse, as they would without one."""
    signatures = tuple((name, file_signature(name)) for name in config.files)
    if any(sig is None or sig[3] >= loaded_since_ns for _, sig in signatures):
        Path(path).unlink(missing_ok=True)
        return False
    target = Path(path)
    partial = target.with_name(f".{target.name}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pickle.dumps((signatures, config), protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return True


def read(path: str | os.PathLike[str]) -> Config | None:
    """The snapshot's config, or None when a file it was read from has changed since."""
    signatures, config = pickle.loads(Path(path).read_bytes())
    if not isinstance(config, Config):
        raise TypeError(f"not a configuration snapshot: {type(config).__name__}")
    if any(file_signature(name) != sig for name, sig in signatures):
        return None
    return config
