"""SIGUSR1 data, SIGUSR2 stats and SIGRTMIN+2 JSON dumps, written the way keepalived does.

Each process writes its own file (keepalived: ``keepalived.data`` from VRRP, ``keepalived_check.data``
from the checker, ``keepalived_parent.data`` from the parent); ours carry the ``fastalived`` prefix and
go to ``options.run_dir`` (falling back to ``$TMPDIR`` or ``/tmp``), mode 0600 because they hold auth passwords.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastalived.daemon.metrics import render
from fastalived.options import RunOptions
from fastalived.runtime.role import DumpKind, Metric

# keepalived's JSON and STATS_CLEAR signals; SIGUSR1/SIGUSR2 are the data and stats dumps.
SIGJSON = signal.SIGRTMIN + 2
SIGSTATS_CLEAR = signal.SIGRTMAX - 1

# Roles keep their counters (Prometheus counters never reset), so STATS_CLEAR writes the stats
# dump like SIGUSR2 instead of killing the process with a real-time signal's default action.
DUMP_SIGNALS: dict[int, DumpKind] = {
    signal.SIGUSR1: "data",
    signal.SIGUSR2: "stats",
    SIGJSON: "json",
    SIGSTATS_CLEAR: "stats",
}

# The VRRP process owns the unprefixed names, as in keepalived.
_FILE_STEMS = {"vrrp": "fastalived", "check": "fastalived_check", "parent": "fastalived_parent"}

log = logging.getLogger(__name__)


def dump_dir(options: RunOptions) -> Path:
    """``run_dir`` when it exists or can be created, else ``$TMPDIR`` (``/tmp``), where keepalived writes."""
    run_dir = Path(options.run_dir)
    fallback = keepalived_tmp_dir()
    try:
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return fallback
    return run_dir if os.access(run_dir, os.W_OK) else fallback


def dump_path(options: RunOptions, process: str, kind: DumpKind) -> Path:
    return dump_dir(options) / f"{_FILE_STEMS.get(process, 'fastalived_' + process)}.{kind}"


def _tree_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        lines: list[str] = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(_tree_lines(item, indent + 2))
            else:
                lines.append(f"{pad}{key} = {item}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict | list):
                lines.append(f"{pad}-")
                lines.extend(_tree_lines(item, indent + 2))
            else:
                lines.append(f"{pad}- {item}")
        return lines
    return [f"{pad}{value}"]


def format_dump(kind: DumpKind, process: str, snapshot: dict[str, Any], metrics: Iterable[Metric]) -> str:
    """The text of one dump; ``data`` is an indented tree, ``stats`` the metric samples, ``json`` one line."""
    if kind == "json":
        return json.dumps(snapshot, default=str, separators=(",", ":")) + "\n"
    if kind == "stats":
        return f"------< {process} statistics >------\n" + render(metrics)
    return "\n".join([f"------< {process} data >------", *_tree_lines(snapshot, 1)]) + "\n"


def write_dump(
    options: RunOptions, process: str, kind: DumpKind, snapshot: dict[str, Any], metrics: Iterable[Metric]
) -> Path | None:
    """Write one dump file atomically with mode 0600 and return its path.

    A full or read-only disk is the operator's to fix, not a reason to stop: it is logged, the
    partial temporary file removed, and None returned.
    """
    return _write_atomically(dump_path(options, process, kind), format_dump(kind, process, snapshot, metrics), kind)


def keepalived_tmp_dir() -> Path:
    """keepalived's tmp dir, where its exporters and scripts look: ``$TMPDIR``, else ``/tmp``."""
    return Path(os.environ.get("TMPDIR") or "/tmp")


def write_keepalived_dump(kind: DumpKind, text: str) -> Path | None:
    """The VRRP process's dump where, and as, keepalived writes it (``/tmp/keepalived.json`` ...)."""
    return _write_atomically(keepalived_tmp_dir() / f"keepalived.{kind}", text, kind)


def _write_atomically(path: Path, text: str, kind: DumpKind) -> Path | None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # not ours to remove (e.g. a directory in the way)
            pass
        log.error("Cannot write the %s dump %s: %s", kind, path, exc.strerror or exc)
        return None
    return path
