"""Link and source-address state on their way to the router: the I/O around
:mod:`fastalived.vrrp.linkstate`.

:class:`LinkWatch` sits between the netlink link monitor and the role: it holds a change back
for its ``interface_up_down_delays`` delay (a loop timer per interface), drops netlink's reports
for the interfaces linkbeat polls, and polls those every second (:mod:`fastalived.vrrp.linkbeat`).
:class:`SourceTracking` answers ``track_src_ip``: whether an instance's configured source address
is on its interface, reported to the router as the tracked item ``src_ip`` named after the
instance.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable

from fastalived.config.model import Config, IPAddressSpec, VrrpInstance
from fastalived.vrrp import wire
from fastalived.vrrp.addresses import Netlink
from fastalived.vrrp.linkbeat import LinkProbe
from fastalived.vrrp.linkstate import DelayLimit, LinkDebounce, interface_delays, polled_interfaces
from fastalived.vrrp.router import VrrpRouter
from fastalived.vrrp.tracking import Status, TrackKind

log = logging.getLogger("fastalived.vrrp")

POLLING_DELAY = 1.0  # keepalived's linkbeat period
LinkCallback = Callable[[str, int, bool], None]


class LinkWatch:
    """Feeds ``deliver(ifname, index, up)`` (the role's link handler) what the instances should
    see: netlink reports after their debounce delay, or linkbeat's polled state."""

    def __init__(self, router: VrrpRouter, deliver: LinkCallback) -> None:
        self._router = router
        self._deliver = deliver
        self._debounce = LinkDebounce()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._indexes: dict[str, int] = {}
        self._polled: dict[str, str | None] = {}
        self._probe = LinkProbe()
        self._last_polled: dict[str, bool] = {}
        self._poller: asyncio.Task[None] | None = None

    def configure(self, config: Config) -> None:
        """A (new) configuration: its delays and polled interfaces."""
        self._debounce.configure(interface_delays(config))
        for ifname in [i for i in self._timers if i not in self._debounce.pending]:
            self._timers.pop(ifname).cancel()
        polled = polled_interfaces(config)
        if polled != self._polled:
            self._probe.close()
            self._last_polled = {i: up for i, up in self._last_polled.items() if i in polled}
        self._polled = polled
        if polled and self._poller is None:
            log.info("Using MII-BMSR/ETHTOOL NIC polling thread(s)...")
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="linkbeat")
        elif not polled and self._poller is not None:
            self._poller.cancel()
            self._poller = None

    def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        self._probe.close()

    # ------------------------------------------------------------------ netlink reports

    def on_link(self, ifname: str, index: int, up: bool) -> None:
        """A netlink link report (``index`` 0: the interface was deleted)."""
        if ifname in self._polled:
            return  # keepalived ignores netlink's flags for a polled interface
        if index:
            self._indexes[ifname] = index
        verdict = self._debounce.change(
            ifname, up, self._router.link_states.get(ifname), wire.monotonic(), self._limits(ifname), deleted=not index
        )
        if ifname not in self._debounce.pending and ifname in self._timers:
            self._timers.pop(ifname).cancel()
            log.info("Delay timer for %s cancelled", ifname)
        if verdict is True:
            self._deliver(ifname, index, up)
        elif verdict is not False:
            log.info("%s: Adding %s change delay by %g s", ifname, "up" if up else "down", verdict - wire.monotonic())
            loop = asyncio.get_running_loop()
            self._timers[ifname] = loop.call_at(loop.time() + verdict - wire.monotonic(), self._expire, ifname)

    def _expire(self, ifname: str) -> None:
        self._timers.pop(ifname, None)
        up = self._debounce.due(ifname, wire.monotonic() + 0.001)  # the loop's timer may fire a hair early
        if up is not None:
            self._deliver(ifname, self._indexes.get(ifname, 0), up)

    def _limits(self, ifname: str) -> list[DelayLimit]:
        """Every instance on ``ifname`` (or its VMAC) bounds the delay by its advert interval,
        or its VRRPv3 master's if that is lower."""
        return [
            DelayLimit(inst.config.down_timer_adverts, min(inst.config.advert_int, inst.machine.master_adver_int))
            for inst in self._router.instances.values()
            if ifname in (inst.config.interface, inst.config.use_vmac)
        ]

    # ------------------------------------------------------------------ linkbeat

    def polls(self, ifname: str) -> bool:
        """Whether linkbeat, not netlink, reports ``ifname``'s state."""
        return ifname in self._polled

    async def _poll(self) -> None:
        while True:
            for ifname, preferred in list(self._polled.items()):
                up = self._probe.up(ifname, preferred)
                if self._last_polled.get(ifname) != up:
                    self._last_polled[ifname] = up
                    self._deliver(ifname, self._indexes.get(ifname, 0), up)
            await asyncio.sleep(POLLING_DELAY)


class SourceTracking:
    """``track_src_ip``: an instance is in FAULT while its configured unicast_src_ip /
    mcast_src_ip is missing from its interface (keepalived's TRACK_SADDR)."""

    def __init__(self, netlink: Netlink, report: Callable[[TrackKind, str, Status], None]) -> None:
        self._netlink = netlink
        self._report = report
        self._present: dict[str, bool] = {}

    async def check(self, cfg: VrrpInstance) -> None:
        """Look the address up and report it (the router ignores an unchanged status)."""
        source = cfg.unicast_src_ip or cfg.mcast_src_ip
        if not cfg.track_src_ip or source is None:
            return
        spec = IPAddressSpec(ipaddress.ip_interface(source), dev=cfg.interface)
        present = await self._netlink.present_addresses([spec], None) > 0
        if self._present.get(cfg.name, True) != present:
            log.info("(%s) source address %s %s %s", cfg.name, source, "back on" if present else "missing from",
                     cfg.interface)  # fmt: skip
        self._present[cfg.name] = present
        self._report("src_ip", cfg.name, present)
