"""Diagnostics: every problem found while loading a config, with where it came from.

Loading never raises on bad input; each problem becomes one :class:`Diagnostic` so a user sees
every mistake in one run, formatted like a compiler message (``file:line:col: error: ...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fastalived.config.model import Config, Where

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    where: Where
    keyword: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


@dataclass(slots=True)
class LoadResult:
    """What :func:`fastalived.config.load_config` returns: the model plus everything it noticed.

    ``notices`` holds ``info`` diagnostics (keywords accepted with no effect on purpose, see
    ``keywords.py``, and old syntax keepalived accepts quietly); they are kept apart from
    ``diagnostics`` so ``-t`` and the daemon stay quiet about them.
    """

    config: Config
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notices: list[Diagnostic] = field(default_factory=list)
    # CLOCK_REALTIME (ns) before the first file was read: a file modified later than this may not
    # be what was parsed (config/snapshot.py writes no snapshot then)
    read_since_ns: int = 0

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


class Reporter:
    """Collects diagnostics; ``info`` goes to the separate notices list."""

    __slots__ = ("diagnostics", "notices")

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.notices: list[Diagnostic] = []

    def error(self, where: Where, keyword: str | None, message: str) -> None:
        self.diagnostics.append(Diagnostic("error", where, keyword, message))

    def warning(self, where: Where, keyword: str | None, message: str) -> None:
        self.diagnostics.append(Diagnostic("warning", where, keyword, message))

    def info(self, where: Where, keyword: str | None, message: str) -> None:
        self.notices.append(Diagnostic("info", where, keyword, message))
