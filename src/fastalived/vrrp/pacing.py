"""Steady instances' timers served from C, on their own timerfds, without a Python tick each.

Pacing: a master whose only pending timer is the Adver_Timer, and that shares its advert_int with no
other master (so there is no phase to align), repeats one pre-built advert every period. Its
scheduler entry then becomes a ``wire.Pacer``: a periodic timerfd whose reader, in C, asks the
machine (``VrrpMachine.advert_due``) and sends the packets with sendmmsg. The machine stays the
one deciding: any change to the instance comes to the scheduler as a new deadline
(``DeadlineScheduler.set``), which takes the instance back first; a pacer that meets a changed
sender or priority, or a machine that declines, hands the instance back itself.

Watching: a backup whose only pending timer is the Master_Down_Timer, and whose master's advert
is the steady template of its socket (``SteadyTable``), gets a ``wire.Watch`` as that template's
owner: ``recv_sorted`` hands it each exact repeat in C, and the loop sees the instance again
only when the deadline comes, or when anything else sets one (``DeadlineScheduler.set``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from functools import partial
from typing import Any

from fastalived.vrrp import wire

log = logging.getLogger("fastalived.vrrp")

MAX_PACKETS = 64  # destinations one pacer sends to (one sendmmsg)


class Pacing:
    """The paced instances of one scheduler; ``take_back(key, deadline)`` reschedules one that
    its pacer gave up, at the deadline it was serving."""

    def __init__(self, loop: asyncio.AbstractEventLoop, take_back: Callable[[str, float], None]) -> None:
        self._loop = loop
        self._take_back = take_back
        self.pacers: dict[str, tuple[Any, Any]] = {}  # key -> (pacer, the socket it sends on)

    def engage(self, key: str, binding: Any, machine: Any, priority: int, deadline: float) -> bool:
        """Pace ``key`` from ``deadline`` on, when its machine and sender allow it (see the module)."""
        sender = binding.sender
        if key in self.pacers or sender is None or not machine.adverts_only():
            return False
        targets = sender.paced_packets(priority)
        if not targets or len(targets) > MAX_PACKETS:
            return False
        vsock = sender.vsock
        try:
            pacer = wire.Pacer(
                vsock.fd, vsock.family, [packet for packet, _ in targets], [dest for _, dest in targets],
                vsock.family == socket.AF_INET, sender.ip_id, machine.params.advert_int, deadline,
                machine, binding, sender, priority, partial(self._stale, key),
            )  # fmt: skip
        except OSError as exc:
            log.debug("(%s) adverts not paced: %s", key, exc)
            return False
        self.pacers[key] = (pacer, vsock)
        self._loop.add_reader(pacer.fd, pacer.tick)
        return True

    def release(self, key: str) -> float | None:
        """Stop pacing ``key``; returns the deadline its pacer was serving (None: not paced)."""
        entry = self.pacers.pop(key, None)
        if entry is None:
            return None
        pacer, vsock = entry
        self._loop.remove_reader(pacer.fd)
        pacer.close()
        vsock.send_errors += pacer.send_errors
        deadline: float = pacer.next
        return deadline

    def release_all(self) -> list[tuple[str, float]]:
        """Stop pacing everything; returns (key, deadline served) pairs."""
        released = []
        for key in list(self.pacers):
            deadline = self.release(key)
            if deadline is not None:
                released.append((key, deadline))
        return released

    def _stale(self, key: str) -> None:
        deadline = self.release(key)
        if deadline is not None:
            self._take_back(key, deadline)


class Watches:
    """The watched backups of one scheduler (see the module), behind one ``wire.WatchSet``;
    ``take_back`` as for :class:`Pacing`."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, take_back: Callable[[str, float], None], drain: Callable[[], object]
    ) -> None:
        self._loop = loop
        self._take_back = take_back
        self._drain = drain  # reads every socket now: a repeat may wait there, read late
        self._set: Any = None  # the WatchSet, opened with the first watch
        self.watches: dict[str, Any] = {}

    def engage(self, key: str, inst: Any, binding: Any, deadline: float) -> Any:
        """A ``wire.Watch`` serving ``deadline`` for ``key``, or None when its machine has other timers."""
        if key in self.watches or not inst.machine.down_timer_only():
            return None
        if self._set is None:
            try:
                self._set = wire.WatchSet()
            except OSError as exc:
                log.debug("Master_Down_Timers not watched: %s", exc)
                return None
            self._loop.add_reader(self._set.fd, self._set.tick)
        watch = self.watches[key] = wire.Watch(inst.machine, inst, binding, deadline, partial(self._expired, key))
        self._set.add(watch)
        return watch

    def release(self, key: str) -> float | None:
        """Stop watching ``key``; returns its deadline (None: not watched). Repeats that still
        reach the released watch come back to the role's own steady path."""
        watch = self.watches.pop(key, None)
        if watch is None:
            return None
        self._set.remove(watch)
        deadline: float = watch.deadline
        return deadline

    def close(self) -> None:
        self.watches.clear()
        if self._set is not None:
            self._loop.remove_reader(self._set.fd)
            self._set.close()
            self._set = None

    def _expired(self, key: str) -> None:
        """The deadline came: unless a repeat waiting in a socket moves it, the loop takes over."""
        watch = self.watches.get(key)
        if watch is None:
            return
        self._drain()
        if watch.active and watch.deadline > wire.monotonic() + 0.0002:  # io.TIMER_SLACK
            return  # the set arms for the new earliest deadline
        deadline = self.release(key)
        if deadline is not None:
            self._take_back(key, deadline)
