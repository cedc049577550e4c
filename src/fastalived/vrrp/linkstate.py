"""How link changes reach the VRRP instances, pure: ``interface_up_down_delays`` debouncing and
which interfaces ``linkbeat`` polls.

:class:`LinkDebounce` follows keepalived's ``update_interface_flags``: a change to up (down) waits
the interface's up (down) delay once the interface has been seen up; a change back before the
delay ends cancels it, so a shorter flap never reaches the instances; deletion acts at once. The
delay is kept below ``(down_timer_adverts - 1) * advert_int`` of every instance on the interface
(a lower interval heard from a VRRPv3 master counts too), so a peer never takes over before this
side notices its own fault. The I/O around it is :mod:`fastalived.vrrp.linkwatch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fastalived.config.model import Config

Delays = tuple[float, float]  # (down, up) seconds


@dataclass(frozen=True, slots=True)
class DelayLimit:
    """One instance using the interface: its ``down_timer_adverts`` and the lowest advert
    interval in play (its own, or its master's if lower)."""

    down_timer_adverts: int
    advert_int: float


def clamp_delay(delay: float, limits: Iterable[DelayLimit]) -> float:
    """keepalived's ``check_debounce_timers``: a delay not below ``(down_timer_adverts - 1) *
    advert_int`` becomes that less advert_int/256; with ``down_timer_adverts 1``, no delay."""
    for limit in limits:
        if limit.down_timer_adverts == 1:
            return 0.0
        bound = (limit.down_timer_adverts - 1) * limit.advert_int
        if delay >= bound:
            delay = bound - limit.advert_int / 256
    return max(delay, 0.0)


def interface_delays(config: Config) -> dict[str, Delays]:
    """Configured delays by interface; an instance's VMAC inherits its interface's."""
    delays = {d.interface: (d.down, d.up) for d in config.global_defs.interface_delays}
    for inst in config.vrrp_instances:
        if inst.use_vmac and inst.interface in delays:
            delays.setdefault(inst.use_vmac, delays[inst.interface])
    return delays


def polled_interfaces(config: Config) -> dict[str, str | None]:
    """Interfaces whose link state linkbeat polls, with the preferred probe (None: MII, else
    ETHTOOL, else IOCTL). keepalived polls only interfaces some instance uses or tracks, never
    a VMAC (netlink works for those), and ``linkbeat_use_polling`` (global or the instance's)
    adds the instance's own interface."""
    g = config.global_defs
    used: set[str] = set()
    vmacs = {inst.use_vmac for inst in config.vrrp_instances if inst.use_vmac}
    wanted: dict[str, str | None] = {}
    for inst in config.vrrp_instances:
        used.add(inst.interface)
        used.update(t.name for t in inst.track_interface)
        if g.linkbeat_use_polling or inst.linkbeat_use_polling:
            wanted.setdefault(inst.interface, None)
    for group in config.vrrp_sync_groups:
        used.update(t.name for t in group.track_interface)
    for entry in g.linkbeat_interfaces:
        wanted[entry.interface] = entry.kind
    return {ifname: kind for ifname, kind in wanted.items() if ifname in used and ifname not in vmacs}


class LinkDebounce:
    """Per-interface pending changes. :meth:`change` says what to do with a netlink report;
    :meth:`due` hands back a pending change once its delay is over."""

    def __init__(self) -> None:
        self.delays: dict[str, Delays] = {}
        self.pending: dict[str, tuple[bool, float]] = {}  # ifname -> (up, deadline)
        self._seen_up: set[str] = set()

    def configure(self, delays: Mapping[str, Delays]) -> None:
        self.delays = dict(delays)
        for ifname in [i for i in self.pending if i not in self.delays]:
            del self.pending[ifname]

    def change(
        self,
        ifname: str,
        up: bool,
        known: bool | None,
        now: float,
        limits: Iterable[DelayLimit] = (),
        deleted: bool = False,
    ) -> bool | float:
        """A reported state; ``known`` is what the instances last got. True: pass it on now;
        a float: hold it until then (replacing any pending change); False: nothing to do."""
        if known:
            self._seen_up.add(ifname)
        if deleted:
            self._seen_up.discard(ifname)
            self.pending.pop(ifname, None)
            return known is not False
        pending = self.pending.get(ifname)
        if pending is not None:
            if pending[0] == up:
                return False  # the same change is already waiting
            del self.pending[ifname]  # flapped back: the pending change is cancelled
        if known == up:
            return False
        down_delay, up_delay = self.delays.get(ifname, (0.0, 0.0))
        delay = clamp_delay(up_delay if up else down_delay, limits)
        if ifname in self._seen_up and delay > 0 and known is not None:
            deadline = now + delay
            self.pending[ifname] = (up, deadline)
            return deadline
        if up:
            self._seen_up.add(ifname)
        return True

    def due(self, ifname: str, now: float) -> bool | None:
        """The pending state of ``ifname`` if its delay is over (it is then no longer pending)."""
        pending = self.pending.get(ifname)
        if pending is None or pending[1] > now:
            return None
        del self.pending[ifname]
        if pending[0]:
            self._seen_up.add(ifname)
        return pending[0]
