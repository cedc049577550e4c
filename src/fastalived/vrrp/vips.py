"""Carrying out the VIP and GARP effects of the VRRP router: the fast path and the slow one.

Taking over is done in the tick that decides it, as keepalived does: the first advert, then the
VIPs as pre-built rtnetlink requests (:mod:`fastalived.vrrp.rtnl`, applied by the kernel before
``send`` returns), then the GARP / NA burst. When a request could not be pre-built (no rtnetlink
socket, an interface missing at bind time) or announcements are spaced out, the same work runs
as an ordered background job per instance through pyroute2 (:class:`~.addresses.Netlink`), as
do routes, reload changes and start-up clean-up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Callable, Iterable

from fastalived.config.model import GlobalDefs, IPAddress, IPAddressSpec, VrrpInstance
from fastalived.runtime.jobs import SerialTasks
from fastalived.vrrp.actions import GARP_EXTRA_IF, GARP_LOWER_PRIO, GARP_REFRESH
from fastalived.vrrp.addresses import FrameSender, Netlink, announcement_frames
from fastalived.vrrp.garp_pacing import GarpPacer
from fastalived.vrrp.io import VrrpSocket
from fastalived.vrrp.rtnl import RtnlSender, address_requests

log = logging.getLogger("fastalived.vrrp")

Requests = list[tuple[bytes, str]]  # pre-built rtnetlink requests with a text for the log


def instance_vips(cfg: VrrpInstance) -> tuple[IPAddressSpec, ...]:
    """Every address an instance owns as MASTER: the advertised VIPs and the excluded ones.

    With use_vmac, VIPs on the instance's own interface go to its VMAC instead (the default
    device, see :func:`vip_device`), as keepalived does.
    """
    specs = cfg.virtual_ipaddresses + cfg.virtual_ipaddresses_excluded
    if not cfg.use_vmac:
        return specs
    return tuple(dataclasses.replace(s, dev=None) if s.dev == cfg.interface else s for s in specs)


def vip_device(cfg: VrrpInstance) -> str:
    """Where VIPs without ``dev`` live: the instance's VMAC interface with use_vmac, as keepalived."""
    return cfg.use_vmac or cfg.interface


def base_device(cfg: VrrpInstance, dev: str) -> str:
    """The interface whose GARP pace ``dev``'s frames share: a VMAC's parent (keepalived's IF_BASE_IFP)."""
    if dev == cfg.use_vmac:
        return cfg.interface
    return next((v.base for v in cfg.vmac_addrs if v.name == dev), dev)


def unshared_vmac_addrs(cfg: VrrpInstance, others: Iterable[VrrpInstance]) -> list[str]:
    """The VIPs' VMACs of ``cfg`` that none of ``others`` uses: to delete with the instance."""
    used = {v.name for other in others for v in other.vmac_addrs}
    return [v.name for v in cfg.vmac_addrs if v.name not in used]


def _by_device(cfg: VrrpInstance, vips: Iterable[IPAddressSpec]) -> dict[str, list[IPAddress]]:
    by_dev: dict[str, list[IPAddress]] = {}
    for spec in vips:
        by_dev.setdefault(spec.dev or vip_device(cfg), []).append(spec.address.ip)
    return by_dev


def extra_if_vips(cfg: VrrpInstance) -> list[IPAddressSpec]:
    """garp_extra_if's GARP/NA: the first VIP on each interface other than the instance's, as
    keepalived's ``vrrp_send_vmac_update``. A plain interface needs ``all``; the instance's own
    (VMAC) one only counts with vmac_xmit_base, when no advert goes out on it. Nothing at all when
    no VIP is elsewhere (keepalived turns the timer off then)."""
    own = vip_device(cfg)
    ours = {v.name for v in cfg.vmac_addrs} | ({cfg.use_vmac} if cfg.use_vmac else set())  # fastalived's
    placed = [(spec.dev or own, spec) for spec in instance_vips(cfg)]
    elsewhere = {dev for dev, _ in placed if dev != own}
    if cfg.garp_extra_if <= 0 or not (elsewhere & ours or (elsewhere and cfg.garp_extra_if_all)):
        return []
    first: dict[str, IPAddressSpec] = {}
    for dev, spec in placed:
        if (dev in ours or cfg.garp_extra_if_all) and (dev != own or cfg.vmac_xmit_base):
            first.setdefault(dev, spec)
    return list(first.values())


def _master_repeat(cfg: VrrpInstance) -> int:
    return cfg.garp_master_repeat


# GARP burst -> how many GARPs/NAs per address (GARP_ON_MASTER and GARP_DELAYED: garp_master_repeat)
_BURST_REPEAT: dict[int, Callable[[VrrpInstance], int]] = {
    GARP_REFRESH: lambda cfg: cfg.garp_master_refresh_repeat,
    GARP_LOWER_PRIO: lambda cfg: cfg.garp_lower_prio_repeat,
}


class VipEffects:
    """Adds, removes and announces instances' VIPs (and their virtual routes and rules)."""

    def __init__(self, netlink: Netlink, frames: FrameSender, jobs: SerialTasks) -> None:
        self.netlink = netlink
        self.frames = frames
        self.jobs = jobs  # the role's ordered background jobs, one queue per instance
        self.rtnl: RtnlSender | None = None  # VIP changes from the loop, in the advert's tick
        self.global_defs = GlobalDefs()
        self.macs: dict[str, bytes] = {}  # interface -> MAC, the source of GARP / NA frames
        self._garps: list[tuple[str, list[bytes]]] = []  # this tick's GARP/NA, sent after the VIPs
        self.pacer = GarpPacer()  # garp_group / vrrp_garp_interval / vrrp_gna_interval

    def prebuilt(self, cfg: VrrpInstance) -> tuple[Requests, Requests] | None:
        """The instance's VIP add and delete requests, packed now so a takeover only sends them.

        None (the pyroute2 path, which logs the problem) when there is no rtnetlink socket or
        some VIP's interface does not exist yet."""
        if self.rtnl is None:
            return None
        add: Requests = []
        remove: Requests = []
        for spec in instance_vips(cfg):
            dev = spec.dev or vip_device(cfg)
            try:
                index = socket.if_nametoindex(dev)
                requests = address_requests(spec, index)
            except (OSError, ValueError, KeyError):
                return None
            what = f"{spec.address.ip} dev {dev}"
            add.append((requests[0], what))
            remove.append((requests[1], what))
        return add, remove

    def add(self, cfg: VrrpInstance, prebuilt: Requests | None, sender: VrrpSocket | None) -> None:
        """Entering MASTER: with pre-built requests, the advert queued on ``sender``, then the
        VIPs, now; logs and notifies come after."""
        if prebuilt is None or self.rtnl is None:
            log.info("(%s) setting VIPs.", cfg.name)
            self.jobs.submit(cfg.name, lambda: self._set_vips(cfg))
            return
        if sender is not None:
            sender.flush()
        self.rtnl.queue(prebuilt)
        self.rtnl.flush()
        log.info("(%s) setting VIPs.", cfg.name)
        if cfg.virtual_routes:
            self.jobs.submit(cfg.name, lambda: self.netlink.add_routes(cfg.virtual_routes, vip_device(cfg)))
        if cfg.virtual_rules:  # after the routes they may point at, as keepalived
            self.jobs.submit(cfg.name, lambda: self.netlink.add_rules(cfg.virtual_rules))

    def remove(self, cfg: VrrpInstance, prebuilt: Requests | None) -> None:
        """Leaving MASTER: the delete requests go out with this tick's :meth:`flush`."""
        log.info("(%s) removing VIPs.", cfg.name)
        if prebuilt is None or self.rtnl is None:
            self.jobs.submit(cfg.name, lambda: self._remove_vips(cfg))
            return
        if cfg.virtual_rules:
            self.jobs.submit(cfg.name, lambda: self.netlink.remove_rules(cfg.virtual_rules))
        if cfg.virtual_routes:
            self.jobs.submit(cfg.name, lambda: self.netlink.remove_routes(cfg.virtual_routes, vip_device(cfg)))
        self.rtnl.queue(prebuilt)

    def announce(self, cfg: VrrpInstance, burst: int, fast: bool) -> None:
        """One GARP / NA burst; ``fast``: the VIPs went the pre-built way, so may the frames."""
        if burst == GARP_EXTRA_IF:
            self.jobs.submit(cfg.name, lambda: self._announce(cfg, extra_if_vips(cfg), 1))
            return
        repeat = _BURST_REPEAT.get(burst, _master_repeat)(cfg)
        if not (fast and self._queue_announce(cfg, repeat)):
            self.jobs.submit(cfg.name, lambda: self._announce(cfg, instance_vips(cfg), repeat))

    def flush(self) -> None:
        """End of tick: the queued VIP requests (in place when this returns), then the GARPs."""
        if self.rtnl is not None:
            self.rtnl.flush()
        if self._garps:
            garps, self._garps = self._garps, []
            for dev, frames in garps:
                self.frames.send(dev, frames)

    def replace(self, cfg: VrrpInstance, old: VrrpInstance) -> None:
        """Reload of a master: drop VIPs and routes no longer configured, add and announce new ones."""
        self.jobs.submit(cfg.name, lambda: self._replace_vips(cfg, old))

    def forget(self, ifname: str) -> None:
        """The interface changed: its MAC and frame socket are learnt again."""
        self.frames.forget(ifname)
        self.macs.pop(ifname, None)

    def _queue_announce(self, cfg: VrrpInstance, repeat: int) -> bool:
        """Queue the GARP / NA burst for this tick (sent right after the VIP requests) when no
        spacing is configured and every interface's MAC is known; False: use :meth:`_announce`."""
        by_dev = _by_device(cfg, instance_vips(cfg))
        if any(dev not in self.macs or self.pacer.paced(self.global_defs, base_device(cfg, dev)) for dev in by_dev):
            return False
        for dev, addresses in by_dev.items():
            self._garps.append((dev, announcement_frames(self.macs[dev], addresses, repeat)))
        return True

    async def _set_vips(self, cfg: VrrpInstance) -> None:
        await self.netlink.add_addresses(instance_vips(cfg), vip_device(cfg))
        await self.netlink.add_routes(cfg.virtual_routes, vip_device(cfg))
        await self.netlink.add_rules(cfg.virtual_rules)

    async def _remove_vips(self, cfg: VrrpInstance) -> None:
        await self.netlink.remove_rules(cfg.virtual_rules)
        await self.netlink.remove_routes(cfg.virtual_routes, vip_device(cfg))
        await self.netlink.remove_addresses(instance_vips(cfg), vip_device(cfg))

    async def _replace_vips(self, new: VrrpInstance, old: VrrpInstance) -> None:
        old_vips = set(instance_vips(old))
        new_vips = set(instance_vips(new))
        gone = [v for v in instance_vips(old) if v not in new_vips]
        added = [v for v in instance_vips(new) if v not in old_vips]
        for spec in gone:
            log.info("(%s) ip address %s dev %s, no longer exist", new.name, spec.address, spec.dev or vip_device(old))
        netlink = self.netlink
        await netlink.remove_rules([r for r in old.virtual_rules if r not in new.virtual_rules])
        await netlink.remove_routes([r for r in old.virtual_routes if r not in new.virtual_routes], vip_device(old))
        await netlink.remove_addresses(gone, vip_device(old))
        if added:
            log.info("(%s) setting VIPs.", new.name)
        await netlink.add_addresses(added, vip_device(new))
        await netlink.add_routes([r for r in new.virtual_routes if r not in old.virtual_routes], vip_device(new))
        await netlink.add_rules([r for r in new.virtual_rules if r not in old.virtual_rules])
        await self._announce(new, added, new.garp_master_repeat)

    async def _announce(self, cfg: VrrpInstance, vips: Iterable[IPAddressSpec], repeat: int) -> None:
        """GARP / unsolicited NA bursts for the VIPs, from each VIP's own interface.

        Back to back like keepalived, unless garp_group / vrrp_garp_interval / vrrp_gna_interval
        pace the interface (:class:`~.garp_pacing.GarpPacer`, shared by every instance).
        """
        g = self.global_defs
        clock = asyncio.get_running_loop().time
        for dev, addresses in _by_device(cfg, vips).items():
            mac = self.macs.get(dev)
            if mac is None:  # not learnt from a bind: ask once (netlink dumps are costly)
                info = await self.netlink.link_info(dev)
                if info is None:
                    continue
                mac = self.macs[dev] = info.mac
            base = base_device(cfg, dev)
            for version in (4, 6):
                frames = announcement_frames(mac, [a for a in addresses if a.version == version], repeat)
                if not self.pacer.paced(g, base):
                    self.frames.send(dev, frames)
                    continue
                for frame in frames:
                    if (wait := self.pacer.slot(g, base, version, clock()) - clock()) > 0:
                        await asyncio.sleep(wait)
                    self.frames.send(dev, [frame])
