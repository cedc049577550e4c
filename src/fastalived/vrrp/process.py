"""The VRRP role: sockets, timers and the kernel around the sans-IO router.

Every decision is made by :class:`fastalived.vrrp.router.VrrpRouter` (machines, tracking, sync
groups, advert validation); this module feeds it packets, timer expiries, script results and
link changes with a clock reading, and carries out the effects it returns, in order. Sends that
fall in one loop tick (a timer batch or a receive batch) go out in one ``send_many`` per socket;
VIP changes and GARPs follow in the same tick (:mod:`fastalived.vrrp.vips`). Slower effects
(routes, reload changes, scripts, e-mail) run as ordered background jobs per instance.

Receiving: a backup's master repeats the same advert every interval. After one such advert went
the full way (decode, validation, machine), and the router says a repeat would only restart its
Master_Down_Timer (``VrrpRouter.rearms_only``), the packet becomes its VRID's template on the
socket; byte-identical repeats (IP ID aside) are then sorted out by ``wire.recv_sorted`` and only
call ``VrrpRouter.steady_advert``. Any other change to the instance drops the template.

Reload keeps every unchanged instance's machine as is: no re-election, no VIP flap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import time
from collections import Counter, deque
from collections.abc import Coroutine, Iterable, Mapping
from functools import partial
from typing import Any

from fastalived.config.model import Config, IPAddress, TrackProcess, VrrpInstance
from fastalived.options import RunOptions
from fastalived.runtime.jobs import SerialTasks
from fastalived.runtime.role import DumpKind, Metric
from fastalived.vrrp import report, wire
from fastalived.vrrp.actions import AddVips, AdoptMaster, RemoveVips, SendAdvert, SendGarp
from fastalived.vrrp.addresses import FrameSender, LinkInfo, LinkMonitor, Netlink, NetlinkThread
from fastalived.vrrp.bfd_link import BfdLink
from fastalived.vrrp.binding import (
    Binding,
    advert_group,
    advert_protocol,
    advert_sender,
    ipv6_sender,
    needs_restart,
    sends_on_vmac,
    source_address,
)
from fastalived.vrrp.effects import ArmTimer, Effect, GroupChanged, Heard, InstanceAction, InstanceEvent, StateChanged
from fastalived.vrrp.io import TIMER_SLACK, DeadlineScheduler, Packet, SocketPool, VrrpSocket
from fastalived.vrrp.keepalived_data import keepalived_data_text
from fastalived.vrrp.linkwatch import LinkWatch, SourceTracking
from fastalived.vrrp.machine import BACKUP, INIT, STATE_NAMES, STOP
from fastalived.vrrp.nft import NftFirewall
from fastalived.vrrp.notify import NoSyncDaemon, Notifier, SyncDaemonHook
from fastalived.vrrp.proc_events import ProcessTracking
from fastalived.vrrp.realtime import RealtimeScheduling
from fastalived.vrrp.report import Transition
from fastalived.vrrp.router import VrrpRouter
from fastalived.vrrp.rtnl import RtnlSender
from fastalived.vrrp.scripts import ScriptRunner
from fastalived.vrrp.sysctl import LocalIgmpReports, PromoteSecondaries
from fastalived.vrrp.track_files import FileTracking
from fastalived.vrrp.tracking import Status, TrackKind
from fastalived.vrrp.vips import VipEffects, instance_vips, unshared_vmac_addrs, vip_device

log = logging.getLogger("fastalived.vrrp")

ALIGN_FRACTION = 0.1  # a master's advert may go this fraction of advert_int early to share a wakeup,
ALIGN_MAX = 0.001  # but never more than 1 ms (once, while phases merge; steady periods stay exact)
TRANSITION_LOG_SIZE = 1000  # state changes kept for snapshot() and tests


def _align_window(advert_int: float) -> float:
    """How early a master's advert may leave to share another master's wakeup."""
    return min(ALIGN_FRACTION * advert_int, ALIGN_MAX)


class VrrpRole:
    """The VRRP child's role (see :mod:`fastalived.runtime.role`)."""

    name = "vrrp"

    def __init__(self, options: RunOptions, sync_daemon: SyncDaemonHook | None = None) -> None:
        self.options = options
        self.config = Config()
        self.router = VrrpRouter()
        self.bindings: dict[str, Binding] = {}
        self.transitions: deque[Transition] = deque(maxlen=TRANSITION_LOG_SIZE)
        self._netlink_thread = NetlinkThread()
        self._netlink = Netlink(self._netlink_thread)
        self._jobs = SerialTasks("VRRP system effect failed")
        self._vips = VipEffects(self._netlink, FrameSender(), self._jobs)
        self._firewall = NftFirewall(self._jobs)  # accept mode: drop rules for no_accept masters' VIPs
        self._notifier = Notifier(self.config.global_defs)
        self._scripts = ScriptRunner(self._on_script_result)
        self._files = FileTracking(partial(self._on_tracked, "file"))
        self._processes = ProcessTracking(partial(self._on_tracked, "process"))
        self._bfd = BfdLink(partial(self._on_tracked, "bfd"))  # track_bfd sessions
        self._linkwatch = LinkWatch(self.router, self._on_link_change)  # interface_up_down_delays, linkbeat
        self._src_ips = SourceTracking(self._netlink, self._on_tracked)  # track_src_ip
        self._links = LinkMonitor(self._netlink_thread, self._linkwatch.on_link, self._on_address_change)
        self._background: set[asyncio.Task[None]] = set()
        self._pool: SocketPool | None = None
        self._timers: DeadlineScheduler | None = None
        self._touched: set[str] = set()  # instances whose machine changed this tick
        self._align_max: float | None = None  # the widest alignment window; None: recompute
        self._masters: Counter[float] | None = None  # masters per advert_int; None: recompute
        # Adverts accepted in full this tick that may become their instance's steady template:
        # name -> (socket, packet, the advert as heard).
        self._steady_candidates: dict[str, tuple[VrrpSocket, bytes, Heard]] = {}
        self._relinking: set[str] = set()  # interfaces with a re-check already queued
        self._stopping = False
        self._deleting: set[str] = set()  # instances a reload is removing: DELETED, not STOP
        self._realtime = RealtimeScheduling()
        self._promote = PromoteSecondaries()  # promote_secondaries: set while running, put back at stop
        self._local_igmp = LocalIgmpReports()  # disable_local_igmp: likewise
        self._lvs_sync = sync_daemon or NoSyncDaemon()  # lvs_sync_daemon: IPVS sync daemon follows an instance
        self._maintenance: frozenset[str] = frozenset()  # ``fastalived ctl``: instances never to be MASTER

    # ------------------------------------------------------------------ Role protocol

    async def prepare(self) -> None:
        """What start() needs of neither the config nor the options (``daemon.standby.Preparable``):
        a standby child does it before it is promoted, start() does it otherwise."""
        if self._timers is not None:
            return
        self._realtime.enter()
        loop = asyncio.get_running_loop()
        self._pool = SocketPool(loop, self._on_packets)
        self._timers = DeadlineScheduler(loop, self._on_timers, self._pool.drain_all)
        try:
            self._vips.rtnl = RtnlSender(loop)
        except OSError as exc:
            log.warning("no rtnetlink socket (%s); VIPs go through the slow path", exc)
        self._netlink_thread.start()
        await self._netlink.open()

    async def start(self, config: Config) -> None:
        await self.prepare()
        if self.options.adopt_masters:  # the adopting adverts wait on netlink answers: no queueing for a CPU
            self._realtime.boost(self._netlink_thread.native_id)
        if config.global_defs.disable_local_igmp:
            self._local_igmp.disable()
        await self._links.start()
        self._set_config(config)
        await self._notifier.configure(config.global_defs)
        await self._netlink.add_addresses(config.static_ipaddress, None)
        await self._netlink.add_routes(config.static_routes, None)
        await self._netlink.add_rules(config.static_rules)
        self.router.configure(config)
        if config.global_defs.vrrp_startup_delay > 0:
            log.info("Delaying startup for %g seconds", config.global_defs.vrrp_startup_delay)
            self.router.startup_until = wire.monotonic() + config.global_defs.vrrp_startup_delay
        self._files.update(self.router.tracked_files(), first_start=True)
        self._processes.update(self._tracked_processes())  # /proc scan before instances start
        self._bfd.update(config.bfd_instances, self.router.tracked_names("track_bfd"))
        self._lvs_sync.configure(config, {})  # lvs_sync_daemon: backup daemon until MASTER
        adopt = AdoptMaster(self.options.adopt_since)  # only for what a killed predecessor was MASTER of
        for inst_config in config.vrrp_instances:
            adopting = adopt if inst_config.name in self.options.adopt_masters else None
            await self._add_instance(inst_config, clean_leftovers=True, adopt=adopting)
        self._realtime.unboost()
        self._scripts.update(self.router.tracked_scripts(), config.global_defs)
        self._end_tick()

    async def reload(self, config: Config) -> None:
        old = self.config
        if old.global_defs.disable_local_igmp != config.global_defs.disable_local_igmp:
            log.info("Cannot change disable_local_igmp at a reload - please restart fastalived")
        self._set_config(config)
        await self._notifier.configure(config.global_defs)
        await self._reload_static(old, config)
        wanted = {inst.name: inst for inst in config.vrrp_instances}
        now = wire.monotonic()
        for name in [n for n in self.bindings if n not in wanted]:
            self._deleting.add(name)
            self._remove_instance(name, now)
            self._deleting.discard(name)
        self.router.configure(config)
        self._files.update(self.router.tracked_files(), first_start=False)
        self._processes.update(self._tracked_processes())
        self._bfd.update(config.bfd_instances, self.router.tracked_names("track_bfd"))
        for name, inst_config in wanted.items():
            current = self.bindings.get(name)
            if current is None:
                await self._add_instance(inst_config, clean_leftovers=True)
            elif needs_restart(current.config, inst_config):
                self._remove_instance(name, wire.monotonic())
                await self._add_instance(inst_config, clean_leftovers=False)
            else:
                await self._update_instance(current, inst_config)
        self._scripts.update(self.router.tracked_scripts(), config.global_defs)
        if config.global_defs.fifo_write_vrrp_states_on_reload:
            self._write_states_to_fifo()
        states = {name: self.router.state(name) for name in self.router.instances}
        self._lvs_sync.configure(config, states)  # lvs_sync_daemon
        self._end_tick()

    async def stop(self) -> None:
        self._stopping = True
        await self._scripts.stop()
        self._files.close()
        self._processes.close()
        self._bfd.close()
        self._linkwatch.close()
        now = wire.monotonic()
        for name in list(self.bindings):
            self._remove_instance(name, now)
        self._end_tick()
        await self._jobs.drain()
        await self._firewall.close()
        await self._lvs_sync.stop()  # lvs_sync_daemon: stop both sync daemons
        self._promote.restore()
        self._local_igmp.restore()
        if not self.options.dont_release_vrrp:
            await self._netlink.remove_rules(self.config.static_rules)
            await self._netlink.remove_routes(self.config.static_routes, None)
            await self._netlink.remove_addresses(self.config.static_ipaddress, None)
        await self._notifier.drain()
        await self._notifier.close()
        await self._links.stop()
        for task in list(self._background):
            task.cancel()
        if self._timers is not None:
            self._timers.close()
        if self._pool is not None:
            self._pool.close()
        if self._vips.rtnl is not None:
            self._vips.rtnl.read_acks()
            self._vips.rtnl.close()
            self._vips.rtnl = None
        self._vips.frames.close()
        await self._netlink.close()
        self._netlink_thread.stop()
        self._realtime.leave()

    def steer(self, overrides: Mapping[str, Any]) -> list[str]:
        """The parent's operator overrides: the full set of instances in maintenance
        (``fastalived ctl maintenance``/``resume``), kept for the instances added later (the
        parent sends it before the start, too). Returns what changed, one line each."""
        wanted = self._maintenance = frozenset(overrides.get("maintenance", ()))
        now = wire.monotonic()
        lines = []
        for name, inst in list(self.router.instances.items()):
            on = name in wanted
            if inst.machine.maintenance == on:
                continue
            log.info("(%s) %s maintenance", name, "Entering" if on else "Leaving")
            effects = self.router.set_maintenance(name, on, now)
            self._execute(effects)
            moves = [f"{e.instance} {STATE_NAMES[e.old]} -> {STATE_NAMES[e.new]}" for e in effects
                     if isinstance(e, StateChanged)]  # fmt: skip
            if any(isinstance(e, InstanceAction) and e.action == SendAdvert(0) for e in effects):
                moves.append("priority 0 advert sent")
            if on:
                lines.append(f"{name}: maintenance on" + (f" ({', '.join(moves)})" if moves else ""))
            else:
                state = STATE_NAMES[inst.machine.state]
                lines.append(f"{name}: maintenance off ({state}; " + (", ".join(moves) or "the election decides") + ")")
        self._end_tick()
        return lines

    def _write_states_to_fifo(self) -> None:
        """``fifo_write_vrrp_states_on_reload``: every instance's and group's state again."""
        for name, inst in self.router.instances.items():
            self._notifier.fifo_line("INSTANCE", name, STATE_NAMES[inst.machine.state], inst.machine.effective_priority)
        for name, group in self.router.sync_groups.items():
            self._notifier.fifo_line("GROUP", name, STATE_NAMES[group.state], 0)

    def snapshot(self) -> dict[str, Any]:
        return report.snapshot(self.router, self.bindings, list(self._pool or ()), self.transitions)

    def metrics(self) -> Iterable[Metric]:
        return report.metrics(self.router, self.bindings)

    def keepalived_dump(self, kind: DumpKind) -> str | None:
        if kind == "json":
            return json.dumps(report.keepalived_json(self.router, self.bindings), indent=2) + "\n"
        if kind == "stats":
            return report.keepalived_stats_text(self.router, self.bindings)
        return keepalived_data_text(self.router, self.bindings, self.config)

    # ------------------------------------------------------------------ instances

    def _set_config(self, config: Config) -> None:
        self.config = config
        self._notifier.global_defs = config.global_defs
        self._vips.global_defs = config.global_defs
        self._firewall.dirty = True
        self._linkwatch.configure(config)

    async def _add_instance(
        self, config: VrrpInstance, clean_leftovers: bool, adopt: AdoptMaster | None = None
    ) -> None:
        """Create, bind and start one instance (FAULT when its interface is missing or down).

        ``adopt``: the previous VRRP child died as this instance's MASTER; with every VIP still in
        place the machine may carry on as MASTER, and nothing is removed in the meantime."""
        self.router.add(config)
        if config.promote_secondaries:
            self._promote.want(config.interface)
        binding = self.bindings[config.name] = Binding(config.name, config)
        self._align_max = self._masters = None
        if config.name in self._maintenance:
            adopt = None  # ``fastalived ctl maintenance``: never MASTER, not even by adoption
        vips = instance_vips(config)
        if adopt is not None and await self._netlink.present_addresses(vips, vip_device(config)) < len(vips):
            adopt = None
        if clean_leftovers and adopt is None:
            await self._remove_leftovers(config)
        self._bind(binding, *await self._netlink.instance_links(config))
        await self._learn_links(binding)
        await self._src_ips.check(config)
        if config.name in self._maintenance:  # in maintenance from its first moment (respawn, reload)
            log.info("(%s) Entering maintenance", config.name)
            self._execute(self.router.set_maintenance(config.name, True, wire.monotonic()))
        self._execute(self.router.start(config.name, wire.monotonic(), adopt))
        if adopt is not None:
            self._end_tick()  # the adopting advert leaves now, not after every other instance's start
            if not self.router.is_master(config.name):  # faulted, or a peer may own the VIPs by now
                await self._remove_leftovers(config)

    async def _remove_leftovers(self, config: VrrpInstance) -> None:
        """A kill -9 leaves VIPs (and rules) behind; whoever owns them now will announce them."""
        removed = await self._netlink.remove_addresses(instance_vips(config), vip_device(config))
        if removed:
            log.info("(%s) removing VIPs. (%d left over from a previous run)", config.name, removed)
        await self._netlink.remove_rules(config.virtual_rules)

    async def _update_instance(self, binding: Binding, config: VrrpInstance) -> None:
        """Reload of a kept instance: apply the new settings without touching its state."""
        old = binding.config
        if not self.router.update(config):
            return  # untouched: same machine, same state, same timers
        binding.config = config
        self._align_max = self._masters = None
        self._bind(binding, *await self._netlink.instance_links(config))
        await self._learn_links(binding)
        await self._src_ips.check(config)
        self._execute(self.router.reconfigured(config.name, wire.monotonic()))
        if binding.vips_set and self.router.is_master(config.name):
            self._vips.replace(config, old)

    def _remove_instance(self, name: str, now: float) -> None:
        """Stop: a master sends priority 0 and drops its VIPs (unless ``-V``); then forget it."""
        binding = self.bindings[name]
        self._execute(self.router.remove(name, now))
        others = [b.config for other, b in self.bindings.items() if other != name]
        for vmac in [binding.config.use_vmac, *unshared_vmac_addrs(binding.config, others)]:
            if vmac and not (self._stopping and self.options.dont_release_vrrp):
                self._jobs.submit(name, partial(self._netlink.delete_link, vmac))
        self._unbind(binding)
        del self.bindings[name]
        self._align_max = self._masters = None

    async def _learn_links(self, binding: Binding) -> None:
        """Tell the router the state of every interface the instance tracks that it does not know."""
        for ifname in self.router.links_to_learn(binding.name):
            same = ifname == binding.config.interface
            info = binding.link if same else await self._netlink.link_info(ifname)
            self.router.learn_link(ifname, info is not None and info.up)

    def _bind(self, binding: Binding, info: LinkInfo | None, vmac: LinkInfo | None = None) -> None:
        """Attach the instance to its interface's socket and (re)build its advert template.

        With use_vmac, adverts leave through the VMAC's socket (virtual source MAC, the
        interface's source address; the interface's own with vmac_xmit_base) but are read on the
        interface's: a macvlan never receives frames carrying its own MAC, which is what the
        peers' VMACs send. Also called when the interface or its addresses change: the source
        address (and so the machine's primary IP, used for tie-breaks) follows the interface; and
        on reload, when the multicast group changed.
        """
        assert self._pool is not None
        cfg = binding.config
        src = source_address(cfg, info)
        sending = vmac if cfg.use_vmac else info
        tx_link = vmac if sends_on_vmac(cfg) else info
        family = binding.family
        group, exclusive = advert_group(cfg, self.config.global_defs)
        sender = ipv6_sender(cfg, src) if src is not None else None
        stale = (binding.vsock is not None and info is not None and binding.vsock.ifindex != info.index) or (
            binding.tx is not None and tx_link is not None and binding.tx.ifindex != tx_link.index
        ) or (binding.vsock is not None and (binding.vsock.group != group or binding.tx_sender != sender))
        if info is None or sending is None or src is None or stale:
            self._unbind(binding)
        binding.link = info
        for link, ifname in ((info, cfg.interface), (vmac, cfg.use_vmac)):
            if link is not None and ifname:
                self._vips.macs[ifname] = link.mac
        if info is None or sending is None or src is None:
            log.warning("(%s) interface %s is missing or has no usable address", cfg.name, cfg.interface)
            return
        if binding.vsock is None:
            protocol = advert_protocol(cfg)  # auth_type AH: its own socket, for protocol 51
            binding.vsock = self._pool.acquire(cfg.interface, info.index, family, group, exclusive, protocol)
            binding.tx, binding.tx_sender = binding.vsock, sender
            if cfg.use_vmac and vmac is not None and sends_on_vmac(cfg):
                binding.tx = self._pool.acquire(cfg.use_vmac, vmac.index, family, group, protocol=protocol, sender=sender)
            elif sender is not None:  # IPv6 from a configured source / with unicast_ttl: a socket of its own
                binding.tx = self._pool.acquire(cfg.interface, info.index, family, group, protocol=protocol, sender=sender)
        binding.vip_add, binding.vip_del = self._vips.prebuilt(cfg) or (None, None)
        previous_id = binding.sender.ip_id if binding.sender is not None else 0
        assert binding.tx is not None
        binding.sender = advert_sender(cfg, binding.tx, src.packed, group, self.router.instances[cfg.name].ah_seq)
        binding.sender.ip_id = previous_id
        self._execute(self.router.bind(cfg.name, cfg.interface, family, src.packed, wire.monotonic()))

    def _unbind(self, binding: Binding) -> None:
        vsock = binding.vsock
        if vsock is None:
            return
        self.router.unbind(binding.name)
        if binding.steady_key is not None and vsock.steady is not None:
            vsock.steady.clear(binding.config.virtual_router_id)
        binding.steady_key = None
        assert self._pool is not None
        if binding.tx is not None and binding.tx is not vsock:
            self._pool.release(binding.tx)
        self._pool.release(vsock)
        binding.vsock = binding.tx = None
        binding.sender = None

    async def _reload_static(self, old: Config, new: Config) -> None:
        netlink = self._netlink
        await netlink.remove_rules([r for r in old.static_rules if r not in new.static_rules])
        await netlink.remove_routes([r for r in old.static_routes if r not in new.static_routes], None)
        await netlink.remove_addresses([a for a in old.static_ipaddress if a not in new.static_ipaddress], None)
        await netlink.add_addresses([a for a in new.static_ipaddress if a not in old.static_ipaddress], None)
        await netlink.add_routes([r for r in new.static_routes if r not in old.static_routes], None)
        await netlink.add_rules([r for r in new.static_rules if r not in old.static_rules])

    # ------------------------------------------------------------------ events from the system

    def _on_script_result(self, name: str, ok: bool) -> None:
        self._execute(self.router.script_result(name, ok, wire.monotonic()))
        self._end_tick()

    def _tracked_processes(self) -> list[TrackProcess]:
        """The vrrp_track_process definitions some instance or sync group tracks (only those are
        watched, as keepalived does)."""
        names = self.router.tracked_names("track_process")
        return [t for t in self.config.track_processes if t.name in names]

    def _on_tracked(self, kind: TrackKind, name: str, status: Status) -> None:
        """A tracked file's value, or a tracked process's or BFD session's state, changed."""
        self._execute(self.router.tracked_changed(kind, name, status, wire.monotonic()))
        self._end_tick()

    def _on_link_change(self, ifname: str, index: int, up: bool) -> None:
        known = self.router.learn_link(ifname, up)
        if known == up:
            return
        if known is not None and self.router.watches(ifname):
            source = "Linkbeat" if self._linkwatch.polls(ifname) else "Netlink"
            log.info("%s reports %s %s", source, ifname, "up" if up else "down")
        self._netlink.forget(ifname)
        self._vips.forget(ifname)
        self._spawn(self._relink(ifname, up))

    def _on_address_change(self, index: int, address: str) -> None:
        """An address came or went: instances on that interface may gain or change their source.

        Our own VIP changes are ignored, and a burst of events costs one re-check per interface.
        """
        if not address or ipaddress.ip_address(address) in self._our_vips():
            return
        for ifname in {b.config.interface for b in self.bindings.values() if b.link and b.link.index == index}:
            if ifname not in self._relinking:
                self._relinking.add(ifname)
                self._spawn(self._relink(ifname, self.router.link_states.get(ifname, True)))

    def _our_vips(self) -> set[IPAddress]:
        return {spec.address.ip for b in self.bindings.values() for spec in instance_vips(b.config)}

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _relink(self, ifname: str, up: bool) -> None:
        """A link changed: rebind instances on it if needed, then re-evaluate their tracking."""
        self._relinking.discard(ifname)
        if up:
            for binding in list(self.bindings.values()):
                if binding.config.interface == ifname:
                    self._bind(binding, *await self._netlink.instance_links(binding.config))
        for binding in [b for b in self.bindings.values() if b.config.interface == ifname]:
            await self._src_ips.check(binding.config)
        self._execute(self.router.link_changed(ifname, up, wire.monotonic()))
        self._end_tick()

    # ------------------------------------------------------------------ events from the loop

    def _on_packets(self, vsock: VrrpSocket, packets: list[Packet], steady: list[tuple[Any, float]] | None = None) -> None:
        """A receive batch. ``steady`` are (binding, arrival) for the instances whose master
        repeated, byte for byte, an advert the router said only restarts the Master_Down_Timer.

        Each advert counts at its kernel arrival time (CLOCK_REALTIME, moved to the monotonic
        clock once per batch), not at the time it is read: reads may be batched late
        (``io.READ_PAUSE``) without moving a backup's Master_Down_Timer."""
        now = wire.monotonic()
        offset = now - time.time()
        router = self.router
        if steady:
            assert self._timers is not None
            timers_set = self._timers.set
            for binding, stamp in steady:
                heard = binding.steady_key
                if heard is None:
                    continue
                at = stamp + offset
                if at > now or not stamp:
                    at = now
                result = router.steady_advert(binding.name, at, heard)
                if isinstance(result, float):
                    timers_set(binding.name, result)
                else:
                    self._execute(result)  # a timer was due first: the full path
        ipv6 = vsock.family == socket.AF_INET6
        for data, src, hop_limit, stamp in packets:
            at = min(now, stamp + offset) if stamp else now
            packed_src = socket.inet_pton(socket.AF_INET6, src) if ipv6 else b""
            received = router.receive(vsock, data, packed_src, hop_limit, at)
            self._execute(received.effects)
            if received.instance is not None and received.heard is not None and vsock.steady is not None:
                self._steady_candidates[received.instance] = (vsock, data, received.heard)
        self._end_tick()

    def _on_timers(self, now: float, names: list[str]) -> None:
        router = self.router
        due = [name for name in names if name in self.bindings]
        if any(router.state(name) == BACKUP for name in due) and self._pool is not None:
            # The loop runs timers before I/O: after a stall, adverts already waiting in a socket
            # must count before a backup declares the master down.
            for vsock in list(self._pool):
                self._pool.drain(vsock)
            now = wire.monotonic()
        masters: list[str] = []
        for name in due:
            deadline = router.deadline(name)
            if deadline is None or deadline > now + TIMER_SLACK:
                assert self._timers is not None
                self._timers.set(name, deadline)  # pushed back by an advert read just now: re-arm
                self._touched.add(name)
            elif router.is_master(name):
                masters.append(name)
            else:
                self._execute(router.timer(name, max(now, deadline)))
        if masters:
            self._advertise_together(masters, now)
        self._end_tick()

    def _advertise_together(self, masters: list[str], now: float) -> None:
        """Serve due masters plus those due within :func:`_align_window` at one tick.

        Masters with the same advert_int share a tick and one ``send_many``: wakeups, not
        packets, are what costs CPU (the master's, and each backup's, which is woken per burst).
        When more than one master has that advert_int, each also moves its phase toward the
        same grid (``VrrpRouter.advert_due``), at most the window per advert, so after a few
        periods all of them leave in one wakeup; until then an advert is at most the window
        early. A lone master keeps its phase: its periods stay exact.
        """
        timers = self._timers
        assert timers is not None
        router = self.router
        bindings = self.bindings

        def may_join(name: str, deadline: float) -> bool:
            binding = bindings.get(name)
            return (binding is not None and router.is_master(name)
                    and deadline <= now + _align_window(binding.config.advert_int))  # fmt: skip

        if self._align_max is None:
            self._align_max = max((_align_window(b.config.advert_int) for b in bindings.values()), default=0.0)
        masters += [name for name, _ in timers.take_early(now + self._align_max, may_join)]
        by_interval: dict[float, list[Binding]] = {}
        for name in masters:
            binding = bindings[name]
            by_interval.setdefault(binding.config.advert_int, []).append(binding)
        if self._masters is None:  # masters came or went: the paced ones may have phases to align
            self._masters = Counter(b.config.advert_int for b in bindings.values() if router.is_master(b.name))
            timers.unpace_all()
        for advert_int, group in by_interval.items():
            tick = max([now, *(d for b in group if (d := router.deadline(b.name)) is not None)])
            window = _align_window(advert_int) if self._masters[advert_int] > 1 else 0.0
            for binding in group:
                name = binding.name
                due = router.advert_due(name, tick, window)  # the common case: just this advert
                if due is None or binding.sender is None:
                    self._execute(router.timer(name, tick))
                    continue
                binding.adverts_sent += binding.sender.queue(due[0])
                # a lone master's steady adverts: from C, until the machine changes (vrrp/pacing.py)
                inst = router.instances[name]  # garp_extra_if: its timer is looked at per advert
                if (
                    window
                    or due[1] is None
                    or inst.extra_if.deadline is not None
                    or not timers.pace(name, binding, inst.machine, due[0], due[1])
                ):
                    timers.set(name, due[1])

    def _end_tick(self) -> None:
        """Send what this tick queued, renew or drop steady templates, re-arm the timer."""
        if self._pool is None or self._timers is None:
            return
        for vsock in self._pool:
            vsock.flush()
        self._vips.flush()  # VIPs in place, then the GARPs
        if self._firewall.dirty:
            self._firewall.sync(self.config, [b.config for b in self.bindings.values() if b.vips_set])
        candidates = self._steady_candidates
        for name in self._touched:
            binding = self.bindings.get(name)
            if binding is None or binding.vsock is None or binding.vsock.steady is None:
                continue
            # Any change to the machine ends the shortcut, unless this tick's advert renews it.
            candidate = candidates.get(name) if candidates else None
            if candidate is not None and candidate[0] is binding.vsock and self.router.rearms_only(name, candidate[2]):
                owner = self._timers.watch(name, self.router.instances[name], binding)  # vrrp/pacing.py
                binding.vsock.steady.set(binding.config.virtual_router_id, candidate[1], owner)
                binding.steady_key = candidate[2]
            elif binding.steady_key is not None:
                binding.vsock.steady.clear(binding.config.virtual_router_id)
                binding.steady_key = None
        self._touched.clear()
        candidates.clear()
        self._timers.arm()

    # ------------------------------------------------------------------ effects

    def _execute(self, effects: list[Effect]) -> None:
        """Carry out the router's effects in order; slow ones go to the instance's job queue."""
        for effect in effects:
            match effect:
                case ArmTimer(name, deadline):
                    assert self._timers is not None
                    self._timers.set(name, deadline)
                    self._touched.add(name)
                case InstanceAction(name, action):
                    self._carry_out(self.bindings[name], action)
                case StateChanged():
                    self._entered(effect)
                case GroupChanged(group, state, adopted):
                    if not adopted:  # an adopted group state is the one its notify already reported
                        notify = self.router.sync_groups[group].group.notify
                        self._notifier.group_changed(group, notify, STATE_NAMES[state])
                case InstanceEvent(name, event, priority):
                    self._instance_event(name, event, priority)

    def _instance_event(self, name: str, event: str, priority: int) -> None:
        """notify_master_rx_lower_pri, and the priority-change FIFO lines if wanted: the
        instance's notify_priority_changes, else its sync group's, else the global setting."""
        notify = self.bindings[name].config.notify
        if event == "MASTER_RX_LOWER_PRI":
            self._notifier.master_rx_lower_pri(name, notify, priority)
            return
        group = next((g for g in self.config.vrrp_sync_groups if name in g.group), None)
        choices = (notify.priority_changes, group.notify.priority_changes if group else None)
        wanted = next((c for c in choices if c is not None), self.config.global_defs.vrrp_notify_priority_changes)
        if wanted:
            self._notifier.fifo_line("INSTANCE", name, event, priority)

    def _carry_out(self, binding: Binding, action: SendAdvert | AddVips | RemoveVips | SendGarp) -> None:
        match action:
            case SendAdvert(priority):
                if binding.sender is not None:
                    binding.adverts_sent += binding.sender.queue(priority)
                if priority == 0:
                    log.info("(%s) sent 0 priority", binding.name)
            case AddVips():
                binding.vips_set = self._firewall.dirty = True
                self._vips.add(binding.config, binding.vip_add, binding.tx)
            case RemoveVips():
                if self._stopping and self.options.dont_release_vrrp:
                    return  # -V: leave VIPs and routes in place on daemon stop
                binding.vips_set = False
                self._firewall.dirty = True
                self._vips.remove(binding.config, binding.vip_del)
            case SendGarp(burst):
                self._vips.announce(binding.config, burst, fast=binding.vip_add is not None)

    def _entered(self, change: StateChanged) -> None:
        binding = self.bindings[change.instance]
        self._masters = None
        name = STATE_NAMES[change.new]
        if change.new == STOP and change.instance in self._deleting:  # keepalived's default is FAULT
            name = "DELETED" if binding.config.notify.deleted_state else "FAULT"
        suffix = " (init)" if change.old == INIT and change.new == BACKUP else ""
        if change.adopted:
            suffix = " (adopted from the previous VRRP child)"
        log.info("(%s) Entering %s STATE%s", change.instance, name, suffix)
        binding.last_transition = time.time()
        self.transitions.append(Transition(binding.last_transition, change.instance, STATE_NAMES[change.old], name))
        if not change.adopted:  # adopted: the notify for this MASTER state already ran, in the dead child
            self._notifier.instance_changed(change.instance, binding.config.notify, name, change.priority)
        self._lvs_sync.instance_changed(change.instance, change.new)  # lvs_sync_daemon
