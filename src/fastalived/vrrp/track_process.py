"""``vrrp_track_process``, pure: which processes match, how many run, and whether quorum holds.

The role's adapter (:mod:`fastalived.vrrp.proc_events`) scans /proc once and then feeds the
kernel's process events (fork, exec, name change, exit) with ``now``; :class:`ProcessTracker`
answers with the tracked processes whose status changed and keeps its own next deadline for the
``fork_delay``/``terminate_delay`` timers. Tests drive it with a fake clock.

keepalived's rules (core/track_process.c): a tracked process is up while
``quorum <= matching processes <= quorum_max``. A change of that caused by a fork waits
``fork_delay``, one caused by an exit waits ``terminate_delay``, and a crossing back before the
delay ends cancels it; an exec or a rename counts at once. A forked child counts for whatever its
parent counted for (it has the same name and command line until it execs). Unlike keepalived, a
process that execs itself again is not counted twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from fastalived.config.model import TrackProcess

Cause = Literal["fork", "exit", "now"]


@dataclass(frozen=True, slots=True)
class Seen:
    """One process as read from /proc: its name (``comm``) and raw command line
    (NUL-separated); None where unreadable or not needed."""

    pid: int
    comm: str | None
    cmdline: bytes | None


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """A tracked process gained (``up``) or lost its quorum."""

    name: str
    up: bool


def _wanted_params(track: TrackProcess) -> bytes:
    return b"".join(os.fsencode(param) + b"\0" for param in track.params)


def params_match(track: TrackProcess, params: bytes) -> bool:
    """keepalived's ``param_match`` on the command line after its first word (each argument
    NUL-terminated): ``exact`` the same arguments (none, when none are given), ``partial`` the
    given ones first, ``initial`` the same but the last given one may be a prefix."""
    wanted = _wanted_params(track)
    if track.param_match == "exact":
        return params == wanted
    if len(params) < len(wanted):
        return False
    if track.param_match == "partial":
        return params.startswith(wanted)
    return params.startswith(wanted[:-1])  # initial: without the last argument's NUL


def matches(track: TrackProcess, comm: str | None, cmdline: bytes | None) -> bool:
    """Whether a process with this name and command line counts for ``track``: the name must
    equal ``process`` exactly (no pattern, unlike pgrep), or with ``full_command`` the first
    word of the command line must, and then the parameters as ``param_match`` says."""
    if not track.full_command:
        return comm is not None and comm == track.process
    if cmdline is None:
        return False
    first, _, params = cmdline.partition(b"\0")
    if first != os.fsencode(track.process):
        return False
    return track.param_match == "none" or params_match(track, params)


class _Count:
    """One ``vrrp_track_process``: the pids counted, the status reported, a pending delay."""

    def __init__(self, track: TrackProcess) -> None:
        self.track = track
        self.pids: set[int] = set()
        self.up: bool | None = None  # None until the first scan
        self.timer: Cause | None = None  # "fork" or "exit": a delayed status change is pending
        self.deadline = 0.0

    @property
    def in_quorum(self) -> bool:
        return self.track.quorum <= len(self.pids) <= self.track.quorum_max


class ProcessTracker:
    """Every tracked process definition's count and status (sans-IO)."""

    def __init__(self, tracks: Iterable[TrackProcess]) -> None:
        self._counts = {track.name: _Count(track) for track in tracks}

    @property
    def names(self) -> list[str]:
        return list(self._counts)

    @property
    def needs_comm(self) -> bool:
        return any(not c.track.full_command for c in self._counts.values())

    @property
    def needs_cmdline(self) -> bool:
        return any(c.track.full_command for c in self._counts.values())

    @property
    def cmdline_limit(self) -> int:
        """Bytes of a command line worth reading (as keepalived: enough to tell a longer one)."""
        lengths = (len(os.fsencode(c.track.process)) + 1 + len(_wanted_params(c.track)) for c in self._counts.values())
        return max(lengths, default=0) + 2

    def status(self, name: str) -> bool | None:
        count = self._counts.get(name)
        return None if count is None else count.up

    def count(self, name: str) -> int:
        return len(self._counts[name].pids)

    def next_deadline(self) -> float | None:
        pending = [c.deadline for c in self._counts.values() if c.timer is not None]
        return min(pending, default=None)

    # ------------------------------------------------------------------ whole scans

    def scan(self, seen: Iterable[Seen], now: float) -> list[ProcessStatus]:
        """A full /proc scan (at start, on reload, after the kernel dropped events): recount.
        A first scan reports every status; later ones report changes, a loss of quorum after
        ``terminate_delay`` as keepalived's re-read does."""
        for count in self._counts.values():
            count.pids.clear()
        for process in seen:
            for count in self._counts.values():
                if matches(count.track, process.comm, process.cmdline):
                    count.pids.add(process.pid)
        out: list[ProcessStatus] = []
        for count in self._counts.values():
            count.timer = None
            want = count.in_quorum
            if count.up and not want and count.track.terminate_delay:
                count.timer, count.deadline = "exit", now + count.track.terminate_delay
            elif count.up is None or count.up != want:
                self._set(count, want, out)
        return out

    # ------------------------------------------------------------------ process events

    def fork(self, parent: int, child: int, now: float) -> list[ProcessStatus]:
        """A new process: it counts wherever its parent does."""
        out: list[ProcessStatus] = []
        for count in self._counts.values():
            if parent in count.pids and child not in count.pids:
                self._change(count, child, True, "fork", now, out)
        return out

    def exec(self, process: Seen, now: float) -> list[ProcessStatus]:
        """A process ran a new program: recheck it against every definition."""
        out: list[ProcessStatus] = []
        for count in self._counts.values():
            match = matches(count.track, process.comm, process.cmdline)
            if match != (process.pid in count.pids):
                self._change(count, process.pid, match, "now", now, out)
        return out

    def comm(self, pid: int, comm: str, now: float) -> list[ProcessStatus]:
        """A process renamed itself (``prctl(PR_SET_NAME)``): recheck the name-matched ones."""
        out: list[ProcessStatus] = []
        for count in self._counts.values():
            if count.track.full_command:
                continue
            match = comm == count.track.process
            if match != (pid in count.pids):
                self._change(count, pid, match, "now", now, out)
        return out

    def exit(self, pid: int, now: float) -> list[ProcessStatus]:
        out: list[ProcessStatus] = []
        for count in self._counts.values():
            if pid in count.pids:
                self._change(count, pid, False, "exit", now, out)
        return out

    def expire(self, now: float) -> list[ProcessStatus]:
        """Delays that ended by ``now``: the status is whatever the count says then."""
        out: list[ProcessStatus] = []
        for count in self._counts.values():
            if count.timer is not None and count.deadline <= now:
                count.timer = None
                self._set(count, count.in_quorum, out)
        return out

    # ------------------------------------------------------------------ internals

    def _change(self, count: _Count, pid: int, add: bool, cause: Cause, now: float, out: list[ProcessStatus]) -> None:
        before = count.in_quorum
        if add:
            count.pids.add(pid)
        else:
            count.pids.discard(pid)
        after = count.in_quorum
        if after == before:
            return
        delay = {"fork": count.track.fork_delay, "exit": count.track.terminate_delay, "now": 0.0}[cause]
        if count.timer == cause:
            return  # the pending delay re-reads the count when it ends
        if count.timer is None and delay > 0:
            count.timer, count.deadline = cause, now + delay
            return
        count.timer = None  # crossing back before the other delay ended, or an immediate cause
        self._set(count, after, out)

    @staticmethod
    def _set(count: _Count, up: bool, out: list[ProcessStatus]) -> None:
        if count.up != up:
            count.up = up
            out.append(ProcessStatus(count.track.name, up))
