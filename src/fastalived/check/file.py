"""FILE_CHECK: a number in a tracked file moves a real server's weight, or takes it down.

With a weight ``w`` (the FILE_CHECK's, else the track_file's; negated by ``reverse``) the server's
weight moves by ``value * w``; only a product at or below -2^31 takes the server down. With weight
0 any non-zero value (zero, with ``reverse``) takes it down. Reading and watching the file
(keepalived's number rules, inotify) is shared with VRRP in :mod:`fastalived.runtime.track_file`;
a change re-reads the file at once through the same probe the timer heap starts.
"""

from __future__ import annotations

import logging

from fastalived.check.probe import Done
from fastalived.check.state import CheckResult
from fastalived.config.model import FileCheck
from fastalived.runtime.track_file import read_value

log = logging.getLogger("fastalived.check")

WEIGHT_FAULT = -(2**31)  # keepalived's IPVS_WEIGHT_FAULT
WEIGHT_LIMIT = 2**31 - 1


def file_verdict(check: FileCheck, value: int) -> CheckResult:
    """What ``value`` in the tracked file means for the server."""
    name = check.track_file.name
    if check.weight == 0:
        failed = (value != 0) != check.weight_reverse
        return CheckResult(False, f"track_file {name} value {value}") if failed else CheckResult(True, weight_offset=0)
    offset = value * check.weight * (-1 if check.weight_reverse else 1)
    if offset <= WEIGHT_FAULT:
        return CheckResult(False, f"track_file {name} value {value}")
    return CheckResult(True, weight_offset=min(offset, WEIGHT_LIMIT))


class _Finished:
    """The handle of a check that finished inside ``start``."""

    __slots__ = ()

    def cancel(self) -> None:
        """Already done."""


FINISHED = _Finished()


class FileProbe:
    """Reads the tracked file; run by the timer heap once at start and by :class:`FileWatcher` after."""

    __slots__ = ("check", "last_value")

    def __init__(self, check: FileCheck) -> None:
        self.check = check
        self.last_value = 0

    def start(self, done: Done) -> _Finished:
        value = read_value(self.check.track_file.file)
        if value is None:
            log.info("Invalid number read from %s - ignoring", self.check.track_file.file)
        else:
            self.last_value = value
        done(file_verdict(self.check, self.last_value))
        return FINISHED
