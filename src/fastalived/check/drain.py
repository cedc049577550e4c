"""Operator drains of real servers (``fastalived ctl drain``): the checker role's overlay on IPVS.

The parent owns the drains (they survive reloads and respawns, and a restart when persisted) and
sends this child the whole set after every change. A drained real server stays in IPVS at weight 0,
so established connections keep their destination while new ones go to the others; its checks go
on. After the optional timeout it leaves the table; a restore gives back whatever the checker says
now. Deadlines are wall-clock seconds, so they mean the same to the parent, a respawned child and
a restarted daemon.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastalived.check.state import CheckState
from fastalived.config.model import RealServerKey

log = logging.getLogger("fastalived.check")

DrainKey = tuple[str, RealServerKey]  # (virtual server key, real server key)


def wire_key(item: Mapping[str, Any]) -> DrainKey:
    """The drain key of one item of the parent's wire form ``{"vs", "rs", "port", "until"}``."""
    port = item.get("port")
    return str(item["vs"]), (ipaddress.ip_address(item["rs"]), None if port is None else int(port))


def wire_until(item: Mapping[str, Any]) -> float | None:
    until = item.get("until")
    return None if until is None else float(until)


def parse_drains(items: Iterable[Mapping[str, Any]]) -> dict[DrainKey, float | None]:
    """The parent's wire form as drain key -> deadline."""
    return {wire_key(item): wire_until(item) for item in items}


def rs_text(key: RealServerKey) -> str:
    """``ADDR``, ``ADDR:PORT`` or ``[V6]:PORT``: how the operator names a real server."""
    address, port = key
    host = f"[{address}]" if address.version == 6 and port is not None else str(address)
    return host if port is None else f"{host}:{port}"


class DrainTable:
    """The drains and their deadlines; pure (``now`` is passed in)."""

    def __init__(self) -> None:
        self.drains: dict[DrainKey, float | None] = {}

    def replace(self, drains: Mapping[DrainKey, float | None]) -> tuple[list[DrainKey], list[DrainKey]]:
        """Take the parent's new set: returns (new or changed drains, restored real servers)."""
        changed = [key for key, until in drains.items() if key not in self.drains or self.drains[key] != until]
        restored = [key for key in self.drains if key not in drains]
        self.drains = dict(drains)
        return changed, restored

    def overlay(self, now: float) -> dict[DrainKey, bool]:
        """What ``build_desired`` applies: drained real server -> removed (its timeout passed)."""
        return {key: until is not None and now >= until for key, until in self.drains.items()}

    def next_deadline(self, now: float) -> float | None:
        """The next drain timeout still to come, if any."""
        return min((until for until in self.drains.values() if until is not None and until > now), default=None)


class Drainer:
    """Keeps ``CheckState.drained`` equal to the drain table and asks for an IPVS pass on change."""

    def __init__(self, state: CheckState, push: Callable[[], None], clock: Callable[[], float] = time.time) -> None:
        self.table = DrainTable()
        self._state = state
        self._push = push
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None

    def steer(self, overrides: Mapping[str, Any]) -> list[str]:
        """Apply the parent's full set of drains; one line per real server whose treatment changed."""
        changed, restored = self.table.replace(parse_drains(overrides.get("drains", ())))
        lines = [self._describe(key, drained=True) for key in changed]
        lines += [self._describe(key, drained=False) for key in restored]
        for line in lines:
            log.info("%s", line)
        self.refresh()
        return lines

    def refresh(self) -> None:
        """Recompute the overlay (a timeout may have passed) and re-arm the next timeout."""
        now = self._clock()
        overlay = self.table.overlay(now)
        if overlay != self._state.drained:
            for key, removed in overlay.items():
                if removed and not self._state.drained.get(key):
                    log.info("%s %s: drain timeout passed, removed from IPVS", key[0], rs_text(key[1]))
            self._state.drained = overlay
            self._push()
        self.close()
        deadline = self.table.next_deadline(now)
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_later(deadline - now, self.refresh)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _describe(self, key: DrainKey, drained: bool) -> str:
        vs_key, rs_key = key
        where = f"{vs_key} {rs_text(rs_key)}"
        vs = self._state.virtual_servers.get(vs_key)
        rs = vs.servers.get(rs_key) if vs is not None else None
        if rs is None:
            if not self._state.virtual_servers:  # steered before the role's start (a respawn)
                return f"{where}: {'drained' if drained else 'restored'} (the checker is starting)"
            return f"{where}: not in the running configuration"
        if not drained:
            now_weight = rs.weight if rs.up else "absent (checker says down)"
            return f"{where}: restored, weight 0 -> {now_weight}"
        until = self.table.drains[key]
        after = "" if until is None else f", removed from IPVS at {time.strftime('%H:%M:%S', time.localtime(until))}"
        return f"{where}: drained, weight {rs.weight if rs.up else 'down'} -> 0{after}"
