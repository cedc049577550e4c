"""Pure supervisor policies: when to respawn a dead child and when a live one counts as stalled.

Both take ``now`` as an argument (monotonic seconds) so tests drive them with a fake clock.
"""

from __future__ import annotations

from collections import deque


class RespawnPolicy:
    """Respawn at once, unless a child keeps dying: then back off exponentially.

    Up to ``burst`` deaths inside ``window`` seconds restart immediately (keepalived's
    ``Restart of VRRP process delayed 0 seconds``); each further death doubles the delay from
    ``base_delay`` up to ``max_delay``, so a crash loop cannot eat the CPU the other child needs.
    """

    def __init__(self, burst: int = 5, window: float = 60.0, base_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self.burst = burst
        self.window = window
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._deaths: deque[float] = deque()

    def record_death(self, now: float) -> float:
        """Note a death at ``now`` and return how many seconds to wait before respawning."""
        self._deaths.append(now)
        while self._deaths and self._deaths[0] <= now - self.window:
            self._deaths.popleft()
        excess = len(self._deaths) - self.burst
        if excess <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * 2.0 ** (excess - 1))


class HeartbeatMonitor:
    """Tracks the last sign of life of one child.

    A child gets ``startup_grace`` to load its config and start (big configs take a while), then must
    beat at least every ``timeout`` seconds; a loop blocked for longer is considered hung. Right
    after it starts or takes a reload, a child applies the whole config at once (the first round of
    checks, the IPVS table): ``busy(now, grace)`` holds off the verdict that long, so a slow machine
    with a big config is not taken for a hung one and killed over and over.
    """

    def __init__(self, timeout: float = 5.0, startup_grace: float = 30.0) -> None:
        self.timeout = timeout
        self.startup_grace = startup_grace
        self._deadline = float("inf")
        self._busy_until = float("-inf")

    def spawned(self, now: float) -> None:
        self._deadline = now + self.startup_grace
        self._busy_until = float("-inf")

    def busy(self, now: float, grace: float) -> None:
        self._busy_until = max(self._busy_until, now + grace)
        self._deadline = max(self._deadline, self._busy_until)

    def beat(self, now: float) -> None:
        self._deadline = max(now + self.timeout, self._busy_until)

    def stalled(self, now: float) -> bool:
        return now > self._deadline

    def overdue_by(self, now: float) -> float:
        return now - self._deadline
