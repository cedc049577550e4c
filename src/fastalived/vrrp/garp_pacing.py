"""When each GARP / unsolicited NA may leave: ``garp_group`` and the global
``vrrp_garp_interval`` / ``vrrp_gna_interval``, sans-IO.

keepalived keeps one "next send time" per pace (IPv4 and IPv6 apart) and per interface, shared by
every interface of a ``garp_group``; an interface outside every group gets its own pace from the
global intervals. The pace is the base interface's: a VMAC's frames share it with its parent.
Every instance's frames go through the same pace, so two instances taking over on one interface
are spaced too. :meth:`GarpPacer.slot` books the next free moment at ``now`` (first come, first
served); the shell sleeps until then and sends.
"""

from __future__ import annotations

from fastalived.config.model import GlobalDefs


class GarpPacer:
    """The next free moment of every pace, in the caller's clock."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, int], float] = {}  # (pace name, IP version) -> next free moment

    @staticmethod
    def _pace(g: GlobalDefs, ifname: str, version: int) -> tuple[str, float]:
        """(the pace's name, its interval in seconds; 0: not paced) of ``ifname``'s frames."""
        for index, group in enumerate(g.garp_groups):
            if ifname in group.interfaces:
                interval = group.garp_interval if version == 4 else group.gna_interval
                return f"group {index}", interval or 0.0
        return ifname, g.vrrp_garp_interval if version == 4 else g.vrrp_gna_interval

    def paced(self, g: GlobalDefs, ifname: str) -> bool:
        """Whether any frame from ``ifname`` (a base interface) may have to wait."""
        return any(self._pace(g, ifname, version)[1] > 0 for version in (4, 6))

    def slot(self, g: GlobalDefs, ifname: str, version: int, now: float) -> float:
        """Book the moment (``now`` or later) one frame of ``version`` from ``ifname`` may leave."""
        name, interval = self._pace(g, ifname, version)
        if interval <= 0:
            return now
        key = (name, version)
        at = max(now, self._next.get(key, now))
        self._next[key] = at + interval
        return at
