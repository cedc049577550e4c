"""The VRRP role: every vrrp_instance's state machine wired to sockets, netlink, scripts and notifies.

The machines (:mod:`fastalived.vrrp.machine`) decide; this module only feeds them events and a clock
reading and carries out the actions they return. Sends that fall in one loop tick (a timer batch or
a receive batch) go out in one ``send_many`` per socket.

Taking over is done in the tick that decides it, as keepalived does: the first advert, then the
VIPs as pre-built rtnetlink requests (:mod:`fastalived.vrrp.rtnl`, applied by the kernel before
``send`` returns), then the GARP / NA burst; acks are read later and failures logged. Slower
effects (routes, reload changes, scripts, e-mail) run as ordered background jobs per instance.

Receiving: a backup's master repeats the same advert every interval. After one such advert went
the full way (decode, validation, machine), and the machine says a repeat would only restart its
Master_Down_Timer (``VrrpMachine.rearms_only``), the packet becomes its VRID's template on the
socket; byte-identical repeats (IP ID aside) are then sorted out by ``wire.recv_sorted`` and only
call ``VrrpMachine.steady_advert``. Any other change to the machine drops the template.

Reload keeps every unchanged instance's machine as is: no re-election, no VIP flap.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import os
import resource
import socket
import time
from collections import Counter, deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastalived.config.model import Config, IPAddress, IPAddressSpec, VrrpInstance, VrrpScript, VrrpSyncGroup
from fastalived.daemon.notify import Notifier, SerialTasks
from fastalived.daemon.role import Metric
from fastalived.ipvs.syncd import SyncDaemonDriver  # lvs_sync_daemon
from fastalived.options import RunOptions
from fastalived.vrrp import wire
from fastalived.vrrp.addresses import (
    SCOPES,
    FrameSender,
    LinkInfo,
    LinkMonitor,
    Netlink,
    NetlinkThread,
    announcement_frames,
)
from fastalived.vrrp.io import (
    TIMER_SLACK,
    AdvertSender,
    DeadlineScheduler,
    Packet,
    SocketPool,
    VrrpSocket,
    vrrp_interval_field,
)
from fastalived.vrrp.machine import (
    BACKUP,
    FAULT,
    GARP_REFRESH,
    INIT,
    MASTER,
    STATE_NAMES,
    STOP,
    Act,
    Action,
    MachineParams,
    VrrpMachine,
)
from fastalived.vrrp.rtnl import RtnlSender, address_message
from fastalived.vrrp.scripts import ScriptRunner
from fastalived.vrrp.tracking import PriorityCalculator, ScriptTracker, SyncGroup

log = logging.getLogger("fastalived.vrrp")

AUTH_TYPES = {None: 0, "PASS": 1, "AH": 2}
ALIGN_FRACTION = 0.1  # a master's advert may go this fraction of advert_int early to share a wakeup,
ALIGN_MAX = 0.001  # but never more than 1 ms (once, while phases merge; steady periods stay exact)
TRANSITION_LOG_SIZE = 1000  # state changes kept for snapshot() and tests
LOG_EVERY = 1.0  # seconds between repeats of a per-advert log line for one instance
RT_PRIORITY = 1  # lowest SCHED_RR priority: ahead of every normal task, behind other real-time ones
RT_CPU_LIMIT_US = 2_000_000  # CPU time without blocking after which the kernel stops the process
MAX_SYNC_DEPTH = 4  # sync-group forcing can cascade once per member; this bounds a misconfiguration


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change, for ``snapshot()`` and tests asserting "no transition during reload"."""

    time: float  # wall clock
    instance: str
    old: str
    new: str


@dataclass
class Instance:
    """One running vrrp_instance: config, machine, socket binding, tracking and counters."""

    config: VrrpInstance
    machine: VrrpMachine
    tracking: PriorityCalculator
    vsock: VrrpSocket | None = None  # receives (and sends, unless use_vmac)
    tx: VrrpSocket | None = None  # sends: the VMAC's socket with use_vmac, else ``vsock``
    sender: AdvertSender | None = None
    link: LinkInfo | None = None
    peers: frozenset[bytes] | None = None
    validation: dict[str, Any] = field(default_factory=dict)  # validate_for_instance() settings
    vips_set: bool = False  # our VIPs are on the interface (added by us as MASTER)
    # Pre-built RTM_NEWADDR / RTM_DELADDR requests for the VIPs (None: use the pyroute2 path).
    vip_add: list[tuple[bytes, str]] | None = None
    vip_del: list[tuple[bytes, str]] | None = None
    # The advert (src, priority, interval) whose exact repeats take the steady shortcut.
    steady_key: tuple[bytes, int, float] | None = None
    last_state: int = INIT  # the state the last NOTIFY reported, for the transition log
    adverts_sent: int = 0
    adverts_received: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    last_transition: float | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def family(self) -> int:
        return socket.AF_INET6 if self.config.family == 6 else socket.AF_INET



def _vips(cfg: VrrpInstance) -> tuple[IPAddressSpec, ...]:
    """Every address an instance owns as MASTER: the advertised VIPs and the excluded ones.

    With use_vmac, VIPs on the instance's own interface go to its VMAC instead (the default
    device, see :func:`_vip_dev`), as keepalived does.
    """
    specs = cfg.virtual_ipaddresses + cfg.virtual_ipaddresses_excluded
    if not cfg.use_vmac:
        return specs
    return tuple(dataclasses.replace(s, dev=None) if s.dev == cfg.interface else s for s in specs)


def _vip_dev(cfg: VrrpInstance) -> str:
    """Where VIPs without ``dev`` live: the instance's VMAC interface with use_vmac, as keepalived."""
    return cfg.use_vmac or cfg.interface


def vmac_address(vrid: int, family: int) -> bytes:
    """RFC 5798 virtual router MAC: 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6)."""
    return bytes((0, 0, 0x5E, 0, 1 if family == 4 else 2, vrid))


def _align_window(advert_int: float) -> float:
    """How early a master's advert may leave to share another master's wakeup."""
    return min(ALIGN_FRACTION * advert_int, ALIGN_MAX)


def _scope_number(scope: str | None) -> int:
    """``scope`` as ``ip`` takes it: a keyword or a number (0, global, when not given)."""
    if scope is None:
        return 0
    return SCOPES[scope] if scope in SCOPES else int(scope, 0)


def _sync_group_of(config: Config, name: str) -> VrrpSyncGroup | None:
    return next((g for g in config.vrrp_sync_groups if name in g.group), None)


def _tracked_scripts(config: Config) -> list[VrrpScript]:
    """Only scripts some instance or sync group tracks are run, as keepalived does."""
    names = {ts.name for inst in config.vrrp_instances for ts in inst.track_script}
    names |= {ts.name for group in config.vrrp_sync_groups for ts in group.track_script}
    return [s for s in config.vrrp_scripts if s.name in names]


class RealtimeScheduling:
    """Runs the loop thread at a low SCHED_RR priority while the role is up (keepalived offers the
    same through vrrp_rt_priority / vrrp_rlimit_rttime) and restores the previous policy on stop.

    A busy host must not delay adverts by tens of milliseconds (a 10 ms advert_int gives a
    backup 36 ms). Only this thread is real-time: RESET_ON_FORK keeps threads and scripts we
    start on the normal scheduler, and RLIMIT_RTTIME kills a runaway loop. Without the privilege
    we simply stay on the normal scheduler.
    """

    def __init__(self) -> None:
        self._saved: tuple[int, os.sched_param, tuple[int, int]] | None = None

    def enter(self) -> None:
        try:
            rttime = resource.getrlimit(resource.RLIMIT_RTTIME)
            saved = (os.sched_getscheduler(0), os.sched_getparam(0), rttime)
            resource.setrlimit(resource.RLIMIT_RTTIME, (RT_CPU_LIMIT_US, rttime[1]))  # SIGXCPU past it
            os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(RT_PRIORITY))
        except (OSError, ValueError, AttributeError) as exc:
            log.debug("real-time scheduling unavailable (%s); using the normal scheduler", exc)
            return
        self._saved = saved

    def leave(self) -> None:
        if self._saved is None:
            return
        policy, param, rttime = self._saved
        self._saved = None
        try:
            os.sched_setscheduler(0, policy, param)
            resource.setrlimit(resource.RLIMIT_RTTIME, rttime)
        except (OSError, ValueError) as exc:
            log.debug("cannot restore the scheduling policy: %s", exc)


class VrrpRole:
    """The VRRP child's role (see :mod:`fastalived.daemon.role`)."""

    name = "vrrp"

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.config = Config()
        self.instances: dict[str, Instance] = {}
        self.transitions: deque[Transition] = deque(maxlen=TRANSITION_LOG_SIZE)
        self.sync_groups: dict[str, SyncGroup] = {}
        self._group_announced: dict[str, int] = {}  # the last state each group notified
        self.script_trackers: dict[str, ScriptTracker] = {}
        self._netlink_thread = NetlinkThread()
        self._netlink = Netlink(self._netlink_thread)
        self._frames = FrameSender()
        self._rtnl: RtnlSender | None = None  # VIP changes from the loop, in the advert's tick
        self._garps: list[tuple[str, list[bytes]]] = []  # this tick's GARP/NA, sent after the VIPs
        self._notifier = Notifier(self.config.global_defs)
        self._effects = SerialTasks("VRRP system effect failed")
        self._scripts = ScriptRunner(self._on_script_result)
        self._links = LinkMonitor(self._netlink_thread, self._on_link_change, self._on_address_change)
        self._link_state: dict[str, bool] = {}
        self._background: set[asyncio.Task] = set()
        self._pool: SocketPool | None = None
        self._timers: DeadlineScheduler | None = None
        self._by_vrid: dict[tuple[str, int, int], Instance] = {}
        self._touched: set[str] = set()
        self._align_max: float | None = None  # the widest alignment window; None: recompute
        self._masters: Counter[float] | None = None  # masters per advert_int; None: recompute
        # Adverts handled in full this tick that may become their instance's steady template:
        # name -> (socket, vrid, packet, (src, priority, interval)).
        self._steady_candidates: dict[str, tuple[VrrpSocket, int, bytes, tuple[bytes, int, float]]] = {}
        self._relinking: set[str] = set()  # interfaces with a re-check already queued
        self._macs: dict[str, bytes] = {}  # interface -> MAC, the source of GARP / NA frames
        self._lower_logged: dict[str, float] = {}  # rate limit of "received lower priority"
        self._stopping = False
        self._realtime = RealtimeScheduling()
        self._lvs_sync = SyncDaemonDriver()  # lvs_sync_daemon: IPVS sync daemon follows an instance

    # ------------------------------------------------------------------ Role protocol

    async def start(self, config: Config) -> None:
        self._realtime.enter()
        loop = asyncio.get_running_loop()
        self._pool = SocketPool(loop, self._on_packets)
        self._timers = DeadlineScheduler(loop, self._on_timers)
        try:
            self._rtnl = RtnlSender(loop)
        except OSError as exc:
            log.warning("no rtnetlink socket (%s); VIPs go through the slow path", exc)
        self._netlink_thread.start()
        await self._netlink.open()
        await self._links.start()
        self.config = config
        self._notifier.global_defs = config.global_defs
        await self._netlink.add_addresses(config.static_ipaddress, None)
        await self._netlink.add_routes(config.static_routes, None)
        self._rebuild_sync_groups(config)
        self._lvs_sync.configure(config, {})  # lvs_sync_daemon: backup daemon until MASTER
        for inst_config in config.vrrp_instances:
            await self._add_instance(inst_config, clean_leftovers=True)
        self._scripts.update(_tracked_scripts(config))
        self._end_tick()

    async def reload(self, config: Config) -> None:
        old = self.config
        self.config = config
        self._notifier.global_defs = config.global_defs
        await self._reload_static(old, config)
        wanted = {inst.name: inst for inst in config.vrrp_instances}
        now = wire.monotonic()
        for name in [n for n in self.instances if n not in wanted]:
            self._remove_instance(self.instances[name], now)
        self._rebuild_sync_groups(config)
        scripts = {s.name: s for s in config.vrrp_scripts}
        for name, tracker in list(self.script_trackers.items()):
            if scripts.get(name) != tracker.script:
                del self.script_trackers[name]
        for name, inst_config in wanted.items():
            current = self.instances.get(name)
            if current is None:
                await self._add_instance(inst_config, clean_leftovers=True)
            elif self._needs_restart(current.config, inst_config):
                self._remove_instance(current, wire.monotonic())
                await self._add_instance(inst_config, clean_leftovers=False)
            else:
                await self._update_instance(current, inst_config)
        self._scripts.update(_tracked_scripts(config))
        self._lvs_sync.configure(config, {n: i.machine.state for n, i in self.instances.items()})  # lvs_sync_daemon
        self._end_tick()

    async def stop(self) -> None:
        self._stopping = True
        await self._scripts.stop()
        now = wire.monotonic()
        for inst in list(self.instances.values()):
            self._remove_instance(inst, now)
        self._end_tick()
        await self._effects.drain()
        await self._lvs_sync.stop()  # lvs_sync_daemon: stop both sync daemons
        if not self.options.dont_release_vrrp:
            await self._netlink.remove_routes(self.config.static_routes, None)
            await self._netlink.remove_addresses(self.config.static_ipaddress, None)
        await self._notifier.drain()
        await self._links.stop()
        for task in list(self._background):
            task.cancel()
        if self._timers is not None:
            self._timers.close()
        if self._pool is not None:
            self._pool.close()
        if self._rtnl is not None:
            self._rtnl.read_acks()
            self._rtnl.close()
            self._rtnl = None
        self._frames.close()
        await self._netlink.close()
        self._netlink_thread.stop()
        self._realtime.leave()

    def snapshot(self) -> dict:
        return {
            "instances": [self._instance_snapshot(inst) for inst in self.instances.values()],
            "sync_groups": {
                name: {"state": STATE_NAMES[group.state], "members": list(group.group.group)}
                for name, group in self.sync_groups.items()
            },
            "interfaces": [
                {
                    "interface": vsock.ifname,
                    "family": 6 if vsock.family == socket.AF_INET6 else 4,
                    "drops": dict(vsock.drops),
                    "send_errors": vsock.send_errors,
                }
                for vsock in (self._pool or ())
            ],
            "transitions": [[t.time, t.instance, t.old, t.new] for t in list(self.transitions)[-100:]],
        }

    def metrics(self) -> Iterable[Metric]:
        for inst in self.instances.values():
            labels = (("instance", inst.name), ("vrid", str(inst.config.virtual_router_id)))
            m = inst.machine
            yield Metric("fastalived_vrrp_state", m.state, labels, help="0=INIT 1=BACKUP 2=MASTER 3=FAULT 4=STOP")
            yield Metric("fastalived_vrrp_priority", inst.config.priority, labels, help="Configured priority")
            yield Metric("fastalived_vrrp_effective_priority", m.effective_priority, labels,
                         help="Priority after tracking")  # fmt: skip
            yield Metric("fastalived_vrrp_transitions_total", m.transitions, labels, "counter", "State changes")
            yield Metric("fastalived_vrrp_adverts_sent_total", inst.adverts_sent, labels, "counter", "Adverts sent")
            yield Metric("fastalived_vrrp_adverts_received_total", inst.adverts_received, labels, "counter",
                         "Valid adverts received")  # fmt: skip
            for reason, count in sorted(inst.drops.items()):
                yield Metric("fastalived_vrrp_drops_total", count, labels + (("reason", reason),), "counter",
                             "Received packets dropped, by reason")  # fmt: skip

    # ------------------------------------------------------------------ instances

    def _instance_snapshot(self, inst: Instance) -> dict:
        m = inst.machine
        master_ip = m.master_ip
        return {
            "name": inst.name,
            "vrid": inst.config.virtual_router_id,
            "interface": inst.config.interface,
            "state": STATE_NAMES[m.state],
            "priority": inst.config.priority,
            "effective_priority": m.effective_priority,
            "master_ip": str(ipaddress.ip_address(master_ip)) if master_ip else None,
            "vips": [str(spec.address) for spec in _vips(inst.config)],
            "adverts_sent": inst.adverts_sent,
            "adverts_received": inst.adverts_received,
            "drops": dict(inst.drops),
            "transitions": m.transitions,
            "last_transition": inst.last_transition,
        }

    async def _add_instance(self, config: VrrpInstance, clean_leftovers: bool) -> None:
        """Create, bind and start one instance (FAULT when its interface is missing or down)."""
        group = _sync_group_of(self.config, config.name)
        scripts = {s.name: s for s in self.config.vrrp_scripts}
        tracking = PriorityCalculator(config, scripts, group)
        inst = Instance(config, VrrpMachine(self._params(config, b"")), tracking)
        self._align_max = self._masters = None
        if config.auth_type == "AH" and config.version == 2:
            log.warning("(%s) auth_type AH is not supported; adverts carry auth type 2 without an AH header",
                        config.name)  # fmt: skip
        self.instances[config.name] = inst
        if clean_leftovers:
            # A kill -9 leaves VIPs behind; whoever owns them now will announce them.
            removed = await self._netlink.remove_addresses(_vips(config), _vip_dev(config))
            if removed:
                log.info("(%s) removing VIPs. (%d left over from a previous run)", config.name, removed)
        self._bind(inst, *await self._links_of(config))
        await self._refresh_tracking_inputs(inst)
        now = wire.monotonic()
        self._apply_tracking(inst, now, initial=True)
        self._apply(inst, inst.machine.start(now), now)

    def _params(self, cfg: VrrpInstance, primary_ip: bytes) -> MachineParams:
        """The machine's settings; sync-group members wait for their group to take over."""
        in_group = _sync_group_of(self.config, cfg.name) is not None
        return MachineParams.from_instance(cfg, primary_ip, group_hold=in_group)

    @staticmethod
    def _needs_restart(old: VrrpInstance, new: VrrpInstance) -> bool:
        """Identity changes cannot be applied in place: another router on the wire."""
        return (old.interface, old.virtual_router_id, old.family, old.version, old.use_vmac) != (
            new.interface, new.virtual_router_id, new.family, new.version, new.use_vmac,
        )  # fmt: skip

    async def _update_instance(self, inst: Instance, config: VrrpInstance) -> None:
        """Reload of a kept instance: apply the new settings without touching its state."""
        old = inst.config
        group = _sync_group_of(self.config, config.name)
        scripts = {s.name: s for s in self.config.vrrp_scripts}
        tracking = PriorityCalculator(config, scripts, group)
        params = self._params(config, inst.machine.params.primary_ip)
        if config == old and tracking.items == inst.tracking.items and params == inst.machine.params:
            return  # untouched: same machine, same state, same timers
        inst.config = config
        inst.tracking = tracking
        self._align_max = self._masters = None
        self._bind(inst, *await self._links_of(config))
        await self._refresh_tracking_inputs(inst)
        now = wire.monotonic()
        actions = inst.machine.reconfigure(now, params)
        self._apply(inst, actions, now)
        self._apply_tracking(inst, now)
        if inst.vips_set and inst.machine.state == MASTER:
            self._effects.submit(inst.name, lambda: self._replace_vips(inst, old))

    def _remove_instance(self, inst: Instance, now: float) -> None:
        """Stop: a master sends priority 0 and drops its VIPs (unless ``-V``); then forget it."""
        self._apply(inst, inst.machine.stop(now), now)
        vmac = inst.config.use_vmac
        if vmac and not (self._stopping and self.options.dont_release_vrrp):
            self._effects.submit(inst.name, lambda: self._netlink.delete_link(vmac))
        self._unbind(inst)
        self._touched.add(inst.name)
        del self.instances[inst.name]
        self._align_max = self._masters = None

    async def _links_of(self, cfg: VrrpInstance) -> tuple[LinkInfo | None, LinkInfo | None]:
        """The instance's interface and, with use_vmac, its VMAC (created when missing)."""
        info = await self._netlink.link_info(cfg.interface)
        if not cfg.use_vmac or info is None:
            return info, None
        mac = vmac_address(cfg.virtual_router_id, cfg.family)
        if not await self._netlink.ensure_vmac(cfg.use_vmac, cfg.interface, mac):
            return info, None
        return info, await self._netlink.link_info(cfg.use_vmac)

    def _bind(self, inst: Instance, info: LinkInfo | None, vmac: LinkInfo | None = None) -> None:
        """Attach the instance to its interface's socket and (re)build its advert template.

        With use_vmac, adverts leave through the VMAC's socket (virtual source MAC, the
        interface's source address) but are read on the interface's: a macvlan never receives
        frames carrying its own MAC, which is what the peers' VMACs send. Also called when the
        interface or its addresses change: the source address (and so the machine's primary IP,
        used for tie-breaks) follows the interface.
        """
        assert self._pool is not None
        cfg = inst.config
        src = self._source_address(cfg, info)
        sending = vmac if cfg.use_vmac else info
        stale = (inst.vsock is not None and info is not None and inst.vsock.ifindex != info.index) or (
            inst.tx is not None and sending is not None and inst.tx.ifindex != sending.index
        )
        if info is None or sending is None or src is None or stale:
            self._unbind(inst)
        inst.link = info
        for link, ifname in ((info, cfg.interface), (vmac, cfg.use_vmac)):
            if link is not None and ifname:
                self._macs[ifname] = link.mac
        if info is None or sending is None or src is None:
            log.warning("(%s) interface %s is missing or has no usable address", cfg.name, cfg.interface)
            return
        if inst.machine.params.primary_ip != src.packed:
            params = self._params(cfg, src.packed)
            if inst.machine.state == INIT:
                inst.machine = VrrpMachine(params)
            else:
                now = wire.monotonic()
                self._apply(inst, inst.machine.reconfigure(now, params), now)
        family = inst.family
        group = str(self.config.global_defs.vrrp_mcast_group6 if family == socket.AF_INET6
                    else self.config.global_defs.vrrp_mcast_group4)  # fmt: skip
        if inst.vsock is None:
            inst.vsock = self._pool.acquire(cfg.interface, info.index, family, group)
            inst.tx = self._pool.acquire(cfg.use_vmac, sending.index, family, group) if cfg.use_vmac else inst.vsock
        self._by_vrid[(cfg.interface, family, cfg.virtual_router_id)] = inst
        peers = [str(p) for p in cfg.unicast_peers]
        inst.peers = frozenset(p.packed for p in cfg.unicast_peers) or None
        vips = [s.address.ip.packed for s in cfg.virtual_ipaddresses if s.family == cfg.family]
        inst.validation = {
            "version": cfg.version,
            "vrid": cfg.virtual_router_id,
            "auth_type": AUTH_TYPES[cfg.auth_type],
            "auth_pass": cfg.auth_pass or b"",
            "interval": vrrp_interval_field(cfg.version, cfg.advert_int),
            "multicast": inst.peers is None,
            "peers": inst.peers,
            "expected_addr_count": None if self.config.global_defs.vrrp_skip_check_adv_addr else len(vips),
        }
        inst.vip_add, inst.vip_del = self._vip_messages(cfg)
        previous_id = inst.sender.ip_id if inst.sender is not None else 0
        assert inst.tx is not None
        inst.sender = AdvertSender(
            inst.tx,
            version=cfg.version,
            vrid=cfg.virtual_router_id,
            advert_int=cfg.advert_int,
            addresses=vips,
            src=src.packed,
            destinations=peers or [group],
            auth_type=AUTH_TYPES[cfg.auth_type] if cfg.version == 2 else 0,
            auth_data=cfg.auth_pass or b"",
            pseudo_header=not cfg.v3_checksum_as_v2,
        )
        inst.sender.ip_id = previous_id

    def _vip_messages(self, cfg: VrrpInstance) -> tuple[list[tuple[bytes, str]] | None, list[tuple[bytes, str]] | None]:
        """The instance's VIP add and delete requests, packed now so a takeover only sends them.

        None (the pyroute2 path, which logs the problem) when there is no rtnetlink socket or
        some VIP's interface does not exist yet."""
        if self._rtnl is None:
            return None, None
        add: list[tuple[bytes, str]] = []
        remove: list[tuple[bytes, str]] = []
        default_dev = _vip_dev(cfg)
        for spec in _vips(cfg):
            dev = spec.dev or default_dev
            try:
                index = socket.if_nametoindex(dev)
                scope = _scope_number(spec.scope)
            except (OSError, ValueError, KeyError):
                return None, None
            address = spec.address.ip.packed
            prefixlen = spec.address.network.prefixlen
            peer = spec.peer.ip.packed if spec.peer is not None else None
            what = f"{spec.address.ip} dev {dev}"
            add.append((address_message(True, index, address, prefixlen, peer=peer,
                                        broadcast=spec.brd.packed if spec.brd is not None else None,
                                        scope=scope, label=spec.label), what))  # fmt: skip
            remove.append((address_message(False, index, address, prefixlen, peer=peer), what))
        return add, remove

    def _unbind(self, inst: Instance) -> None:
        if inst.vsock is None:
            return
        key = (inst.vsock.ifname, inst.vsock.family, inst.config.virtual_router_id)
        if self._by_vrid.get(key) is inst:
            del self._by_vrid[key]
            if inst.vsock.steady is not None:
                inst.vsock.steady.clear(inst.config.virtual_router_id)
        inst.steady_key = None
        assert self._pool is not None
        if inst.tx is not None and inst.tx is not inst.vsock:
            self._pool.release(inst.tx)
        self._pool.release(inst.vsock)
        inst.vsock = inst.tx = None
        inst.sender = None

    @staticmethod
    def _source_address(cfg: VrrpInstance, info: LinkInfo | None) -> IPAddress | None:
        """keepalived's choice: unicast_src_ip / mcast_src_ip (one setting with two names), else the
        interface's primary IPv4 address or its IPv6 link-local one."""
        configured = cfg.unicast_src_ip or cfg.mcast_src_ip
        if configured is not None and configured.version == cfg.family:
            return configured
        if info is None:
            return None
        return info.link_local6 if cfg.family == 6 else info.primary4

    # ------------------------------------------------------------------ tracking

    async def _refresh_tracking_inputs(self, inst: Instance) -> None:
        """Feed a new PriorityCalculator the current link and script states."""
        for item in inst.tracking.items:
            if item.kind == "interface":
                if item.name not in self._link_state:
                    info = inst.link if item.name == inst.config.interface else await self._netlink.link_info(item.name)
                    self._link_state[item.name] = info is not None and info.up
                inst.tracking.update_interface(item.name, self._link_state[item.name])
            elif item.name in self.script_trackers:
                inst.tracking.update_script(item.name, self.script_trackers[item.name].up)

    def _apply_tracking(self, inst: Instance, now: float, initial: bool = False) -> None:
        """Push the calculator's priority and fault flag into the machine (and the sync group)."""
        self._apply(inst, inst.machine.set_priority(now, inst.tracking.effective_priority), now)
        own_fault = inst.tracking.faulted or inst.vsock is None
        group = self._group_for(inst.name)
        if group is None:
            self._apply(inst, inst.machine.set_fault(now, own_fault), now)
            return
        if group.set_member_fault(inst.name, own_fault) or initial:
            for member in self._members(group):
                self._apply(member, member.machine.set_fault(now, group.faulted), now)

    def _on_script_result(self, name: str, ok: bool) -> None:
        script = self.config.script(name)
        if script is None:
            return
        tracker = self.script_trackers.get(name)
        if tracker is None:
            tracker = self.script_trackers[name] = ScriptTracker(script)
        if not tracker.result(ok):
            return
        log.info("Script `%s` now returning %s", name, "success" if tracker.up else "failure")
        now = wire.monotonic()
        for inst in list(self.instances.values()):
            if inst.tracking.update_script(name, tracker.up):
                self._apply_tracking(inst, now)
        self._end_tick()

    def _on_link_change(self, ifname: str, index: int, up: bool) -> None:
        known = self._link_state.get(ifname)
        if known == up:
            return
        self._link_state[ifname] = up
        if known is not None and any(ifname == i.config.interface or ifname in (t.name for t in i.tracking.items)
               for i in self.instances.values()):  # fmt: skip
            log.info("Netlink reports %s %s", ifname, "up" if up else "down")
        self._netlink.forget(ifname)
        self._frames.forget(ifname)
        self._macs.pop(ifname, None)
        self._spawn(self._relink(ifname, up))

    def _on_address_change(self, index: int, address: str) -> None:
        """An address came or went: instances on that interface may gain or change their source.

        Our own VIP changes are ignored, and a burst of events costs one re-check per interface.
        """
        if not address or ipaddress.ip_address(address) in self._our_vips():
            return
        for ifname in {i.config.interface for i in self.instances.values() if i.link and i.link.index == index}:
            if ifname not in self._relinking:
                self._relinking.add(ifname)
                self._spawn(self._relink(ifname, self._link_state.get(ifname, True)))

    def _our_vips(self) -> set:
        return {spec.address.ip for inst in self.instances.values() for spec in _vips(inst.config)}

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _relink(self, ifname: str, up: bool) -> None:
        """A link changed: rebind instances on it if needed, then re-evaluate their tracking."""
        self._relinking.discard(ifname)
        if up:
            for inst in list(self.instances.values()):
                if inst.config.interface == ifname:
                    self._bind(inst, *await self._links_of(inst.config))
        now = wire.monotonic()
        for inst in list(self.instances.values()):
            if inst.tracking.update_interface(ifname, up) or inst.config.interface == ifname:
                self._apply_tracking(inst, now)
        self._end_tick()

    # ------------------------------------------------------------------ sync groups

    def _rebuild_sync_groups(self, config: Config) -> None:
        """New SyncGroup objects for the config, seeded with the members' current states."""
        self.sync_groups = {}
        for group_config in config.vrrp_sync_groups:
            group = SyncGroup(group_config)
            for member in group_config.group:
                inst = self.instances.get(member)
                if inst is not None:
                    group.states[member] = inst.machine.state
                    if inst.machine.wants_master:
                        group.wanting.add(member)
                    group.set_member_fault(member, inst.tracking.faulted or inst.vsock is None)
            self.sync_groups[group_config.name] = group

    def _group_for(self, name: str) -> SyncGroup | None:
        return next((g for g in self.sync_groups.values() if name in g.states), None)

    def _members(self, group: SyncGroup) -> list[Instance]:
        return [self.instances[m] for m in group.group.group if m in self.instances]

    def _sync(self, inst: Instance, state: int, now: float, depth: int) -> None:
        group = self._group_for(inst.name)
        if group is None:
            return
        forced = group.member_changed(inst.name, state, now)
        for member_name, target in forced:
            member = self.instances.get(member_name)
            if member is not None and depth < MAX_SYNC_DEPTH:
                self._apply(member, member.machine.sync_to(now, target), now, depth + 1)
        after = group.state
        if after != self._group_announced.get(group.group.name, INIT) and after in (BACKUP, MASTER, FAULT):
            self._group_announced[group.group.name] = after
            log.info("VRRP_Group(%s) Syncing instances to %s state", group.group.name, STATE_NAMES[after])
            self._notifier.group_changed(group.group.name, group.group.notify, STATE_NAMES[after])

    def _group_wants(self, inst: Instance, wants: bool, now: float, depth: int) -> None:
        """A sync-group member's down timer expired (or it heard a master again): the group goes
        MASTER once every member wants it."""
        group = self._group_for(inst.name)
        if group is None:  # not (or no longer) in a group: take over alone
            if wants:
                self._apply(inst, inst.machine.sync_to(now, MASTER), now, depth + 1)
            return
        for member_name, target in group.member_wants_master(inst.name, wants):
            member = self.instances.get(member_name)
            if member is not None and depth < MAX_SYNC_DEPTH:
                self._apply(member, member.machine.sync_to(now, target), now, depth + 1)

    # ------------------------------------------------------------------ events from the loop

    def _on_packets(self, vsock: VrrpSocket, packets: list[Packet], steady: list | None = None) -> None:
        """A receive batch. ``steady`` are (instance, arrival) for the instances whose master
        repeated, byte for byte, an advert their machine said only restarts the Master_Down_Timer
        (``rearms_only``).

        Each advert counts at its kernel arrival time (CLOCK_REALTIME, moved to the monotonic
        clock once per batch), not at the time it is read: reads may be batched late
        (``io.READ_PAUSE``) without moving a backup's Master_Down_Timer."""
        now = wire.monotonic()
        offset = now - time.time()
        if steady:
            timers = self._timers
            assert timers is not None
            timers_set = timers.set
            for inst, stamp in steady:
                inst.adverts_received += 1
                at = stamp + offset
                if at > now or not stamp:
                    at = now
                deadline = inst.machine.steady_advert(at)
                if deadline is not None:
                    timers_set(inst.config.name, deadline)
                elif inst.steady_key is not None:  # a timer is due first: the full path
                    self._apply(inst, inst.machine.on_advert(at, *inst.steady_key), at)
        for data, src, hop_limit, stamp in packets:
            self._receive(vsock, data, src, hop_limit, min(now, stamp + offset) if stamp else now)
        self._end_tick()

    def _receive(self, vsock: VrrpSocket, data: bytes, src: str, hop_limit: int, now: float) -> None:
        if vsock.family == socket.AF_INET:
            advert = wire.decode_advert(data, socket.AF_INET, has_ip_header=True, accept_no_pseudo=True)
        else:
            packed_src = socket.inet_pton(socket.AF_INET6, src)
            advert = wire.decode_advert(
                data, socket.AF_INET6, has_ip_header=False, src=packed_src,
                dst=vsock.group_packed, hop_limit=hop_limit,
            )  # fmt: skip
            if advert == wire.Drop.BAD_CHECKSUM:
                # Unicast to us: the kernel already verified the checksum (IPV6_CHECKSUM), but
                # the decoder needs the real destination, which is one of our unicast sources.
                for local in {i.sender.src for i in self.instances.values() if i.peers and i.sender}:
                    advert = wire.decode_advert(data, socket.AF_INET6, has_ip_header=False, src=packed_src,
                                                dst=local, hop_limit=hop_limit)  # fmt: skip
                    if not isinstance(advert, wire.Drop):
                        break
        if isinstance(advert, wire.Drop):
            vsock.drops[advert.name] += 1
            log.debug("%s: dropped VRRP packet from %s: %s", vsock.ifname, src, advert.name)
            return
        inst = self._by_vrid.get((vsock.ifname, vsock.family, advert.vrid))
        if inst is None:
            vsock.drops[wire.Drop.BAD_VRID.name] += 1
            return
        cfg = inst.config
        reason = wire.validate_for_instance(advert, **inst.validation)
        if reason is None and advert.checksum_ok_form == "no-pseudo" and not cfg.v3_checksum_as_v2:
            reason = wire.Drop.BAD_CHECKSUM
        if reason is not None:
            inst.drops[reason.name] += 1
            vsock.drops[reason.name] += 1
            log.debug("(%s) dropped advert from %s: %s", inst.name, src, reason.name)
            return
        inst.adverts_received += 1
        machine = inst.machine
        if machine.state == BACKUP and 0 < advert.priority < machine.effective_priority and machine.params.preempts:
            if now - self._lower_logged.get(inst.name, -LOG_EVERY) >= LOG_EVERY:  # keepalived: every advert
                self._lower_logged[inst.name] = now
                log.info("(%s) received lower priority (%d) advert from %s - discarding",
                         inst.name, advert.priority, src)  # fmt: skip
        elif machine.state == MASTER and advert.priority > machine.effective_priority:
            log.info("(%s) Master received advert from %s with higher priority %d, ours %d",
                     inst.name, src, advert.priority, machine.effective_priority)  # fmt: skip
        interval = advert.interval / 100 if advert.version == 3 else float(advert.interval)
        self._apply(inst, machine.on_advert(now, advert.src, advert.priority, interval), now)
        if vsock.steady is not None:
            self._steady_candidates[inst.name] = (vsock, advert.vrid, data, (advert.src, advert.priority, interval))

    def _on_timers(self, now: float, names: list[str]) -> None:
        due = [inst for name in names if (inst := self.instances.get(name)) is not None]
        if any(inst.machine.state == BACKUP for inst in due) and self._pool is not None:
            # The loop runs timers before I/O: after a stall, adverts already waiting in a socket
            # must count before a backup declares the master down.
            for vsock in list(self._pool):
                self._pool.drain(vsock)
            now = wire.monotonic()
        masters: list[Instance] = []
        for inst in due:
            deadline = inst.machine.next_deadline
            if deadline is None or deadline > now + TIMER_SLACK:
                self._touched.add(inst.name)  # pushed back by an advert read just now: re-arm
                continue
            if inst.machine.state == MASTER:
                masters.append(inst)
            else:
                tick = max(now, deadline)
                self._apply(inst, inst.machine.on_timer(tick), tick)
        if masters:
            self._advertise_together(masters, now)
        self._end_tick()

    def _advertise_together(self, masters: list[Instance], now: float) -> None:
        """Serve due masters plus those due within :func:`_align_window` at one tick.

        Masters with the same advert_int share a tick and one ``send_many``: wakeups, not
        packets, are what costs CPU (the master's, and each backup's, which is woken per burst).
        When more than one master has that advert_int, each also moves its phase toward the
        same grid (``VrrpMachine.align_advert``), at most the window per advert, so after a few
        periods all of them leave in one wakeup; until then an advert is at most the window
        early. A lone master keeps its phase: its periods stay exact.
        """
        assert self._timers is not None

        def may_join(name: str, deadline: float) -> bool:
            inst = self.instances.get(name)
            return (inst is not None and inst.machine.state == MASTER
                    and deadline <= now + _align_window(inst.config.advert_int))  # fmt: skip

        if self._align_max is None:
            self._align_max = max((_align_window(i.config.advert_int) for i in self.instances.values()), default=0.0)
        horizon = now + self._align_max
        masters += [self.instances[name] for name, _ in self._timers.take_early(horizon, may_join)]
        by_interval: dict[float, list[Instance]] = {}
        for inst in masters:
            by_interval.setdefault(inst.config.advert_int, []).append(inst)
        timers = self._timers
        if self._masters is None:
            self._masters = Counter(i.config.advert_int for i in self.instances.values() if i.machine.state == MASTER)
        for advert_int, group in by_interval.items():
            tick = max([now, *(d for inst in group if (d := inst.machine.next_deadline) is not None)])
            window = _align_window(advert_int) if self._masters[advert_int] > 1 else 0.0
            for inst in group:
                machine = inst.machine
                priority = machine.advert_due(tick)  # the common case: just this advert
                if priority is None or inst.sender is None:
                    self._apply(inst, machine.on_timer(tick), tick)
                    continue
                inst.adverts_sent += inst.sender.queue(priority)
                if window:
                    machine.align_advert(window)
                timers.set(inst.config.name, machine.next_deadline)

    def _end_tick(self) -> None:
        """Send what this tick queued, then re-arm the timer for the touched instances."""
        if self._pool is None or self._timers is None:
            return
        for vsock in self._pool:
            vsock.flush()
        if self._rtnl is not None:
            self._rtnl.flush()  # VIPs in place when this returns: the GARPs may follow
        if self._garps:
            garps, self._garps = self._garps, []
            for dev, frames in garps:
                self._frames.send(dev, frames)
        candidates = self._steady_candidates
        for name in self._touched:
            inst = self.instances.get(name)
            self._timers.set(name, inst.machine.next_deadline if inst is not None else None)
            if inst is None or inst.vsock is None or inst.vsock.steady is None:
                continue
            # Any change to the machine ends the shortcut, unless this tick's advert renews it.
            candidate = candidates.get(name) if candidates else None
            if (candidate is not None and candidate[0] is inst.vsock
                    and inst.machine.rearms_only(*candidate[3])):  # fmt: skip
                inst.vsock.steady.set(inst.config.virtual_router_id, candidate[2], inst)
                inst.steady_key = candidate[3]
            elif inst.steady_key is not None:
                inst.vsock.steady.clear(inst.config.virtual_router_id)
                inst.steady_key = None
        self._touched.clear()
        candidates.clear()
        self._timers.arm()

    # ------------------------------------------------------------------ actions

    def _apply(self, inst: Instance, actions: list[Action], now: float, depth: int = 0) -> None:
        """Carry out one machine's actions in order; slow ones go to the instance's job queue."""
        self._touched.add(inst.name)
        for act, arg in actions:
            if act == Act.SEND_ADVERT:
                if inst.sender is not None:
                    inst.adverts_sent += inst.sender.queue(arg)
                if arg == 0:
                    log.info("(%s) sent 0 priority", inst.name)
            elif act == Act.ADD_VIPS:
                inst.vips_set = True
                if inst.vip_add is not None and self._rtnl is not None:
                    # Taking over: the advert, then the VIPs, now; logs and notifies come after.
                    if inst.tx is not None:
                        inst.tx.flush()
                    self._rtnl.queue(inst.vip_add)
                    self._rtnl.flush()
                    log.info("(%s) setting VIPs.", inst.name)
                    if inst.config.virtual_routes:
                        self._effects.submit(inst.name, lambda cfg=inst.config: self._set_routes(cfg))
                else:
                    log.info("(%s) setting VIPs.", inst.name)
                    self._effects.submit(inst.name, lambda cfg=inst.config: self._set_vips(cfg))
            elif act == Act.REMOVE_VIPS:
                if self._stopping and self.options.dont_release_vrrp:
                    continue  # -V: leave VIPs and routes in place on daemon stop
                log.info("(%s) removing VIPs.", inst.name)
                inst.vips_set = False
                if inst.vip_del is not None and self._rtnl is not None:
                    if inst.config.virtual_routes:
                        self._effects.submit(inst.name, lambda cfg=inst.config: self._remove_routes(cfg))
                    self._rtnl.queue(inst.vip_del)
                else:
                    self._effects.submit(inst.name, lambda cfg=inst.config: self._remove_vips(cfg))
            elif act == Act.SEND_GARP:
                cfg = inst.config
                repeat = cfg.garp_master_refresh_repeat if arg == GARP_REFRESH else cfg.garp_master_repeat
                if not (inst.vip_add is not None and self._queue_announce(cfg, repeat)):
                    self._effects.submit(inst.name, lambda cfg=cfg, n=repeat: self._announce(cfg, _vips(cfg), n))
            elif act == Act.NOTIFY:
                self._entered(inst, arg, now, depth)
            elif act == Act.WANT_MASTER:
                self._group_wants(inst, bool(arg), now, depth)

    def _entered(self, inst: Instance, state: int, now: float, depth: int) -> None:
        old, inst.last_state = inst.last_state, state
        self._masters = None
        name = STATE_NAMES[state]
        suffix = " (init)" if old == INIT and state == BACKUP else ""
        log.info("(%s) Entering %s STATE%s", inst.name, name, suffix)
        inst.last_transition = time.time()
        self.transitions.append(Transition(inst.last_transition, inst.name, STATE_NAMES[old], name))
        self._notifier.instance_changed(inst.name, inst.config.notify, name, inst.machine.effective_priority)
        self._lvs_sync.instance_changed(inst.name, state)  # lvs_sync_daemon
        if state != STOP:
            self._sync(inst, state, now, depth)

    # ------------------------------------------------------------------ system effects (jobs)

    async def _set_routes(self, cfg: VrrpInstance) -> None:
        await self._netlink.add_routes(cfg.virtual_routes, _vip_dev(cfg))

    async def _remove_routes(self, cfg: VrrpInstance) -> None:
        await self._netlink.remove_routes(cfg.virtual_routes, _vip_dev(cfg))

    def _queue_announce(self, cfg: VrrpInstance, repeat: int) -> bool:
        """Queue the GARP / NA burst for this tick (sent right after the VIP requests) when no
        spacing is configured and every interface's MAC is known; False: use :meth:`_announce`."""
        g = self.config.global_defs
        if g.vrrp_garp_interval > 0 or g.vrrp_gna_interval > 0:
            return False
        by_dev: dict[str, list] = {}
        default_dev = _vip_dev(cfg)
        for spec in _vips(cfg):
            by_dev.setdefault(spec.dev or default_dev, []).append(spec.address.ip)
        if any(dev not in self._macs for dev in by_dev):
            return False
        for dev, addresses in by_dev.items():
            self._garps.append((dev, announcement_frames(self._macs[dev], addresses, repeat)))
        return True

    async def _set_vips(self, cfg: VrrpInstance) -> None:
        await self._netlink.add_addresses(_vips(cfg), _vip_dev(cfg))
        await self._netlink.add_routes(cfg.virtual_routes, _vip_dev(cfg))

    async def _remove_vips(self, cfg: VrrpInstance) -> None:
        await self._netlink.remove_routes(cfg.virtual_routes, _vip_dev(cfg))
        await self._netlink.remove_addresses(_vips(cfg), _vip_dev(cfg))

    async def _replace_vips(self, inst: Instance, old: VrrpInstance) -> None:
        """Reload of a master: drop VIPs and routes no longer configured, add and announce new ones."""
        new = inst.config
        old_vips = set(_vips(old))
        new_vips = set(_vips(new))
        gone = [v for v in _vips(old) if v not in new_vips]
        added = [v for v in _vips(new) if v not in old_vips]
        for spec in gone:
            log.info("(%s) ip address %s dev %s, no longer exist", new.name, spec.address, spec.dev or _vip_dev(old))
        await self._netlink.remove_routes([r for r in old.virtual_routes if r not in new.virtual_routes], _vip_dev(old))
        await self._netlink.remove_addresses(gone, _vip_dev(old))
        if added:
            log.info("(%s) setting VIPs.", new.name)
        await self._netlink.add_addresses(added, _vip_dev(new))
        await self._netlink.add_routes([r for r in new.virtual_routes if r not in old.virtual_routes], _vip_dev(new))
        await self._announce(new, added, new.garp_master_repeat)

    async def _announce(self, cfg: VrrpInstance, vips: Iterable[IPAddressSpec], repeat: int) -> None:
        """GARP / unsolicited NA bursts for the VIPs, from each VIP's own interface.

        Back to back like keepalived, unless vrrp_garp_interval / vrrp_gna_interval space them.
        """
        by_dev: dict[str, list] = {}
        for spec in vips:
            by_dev.setdefault(spec.dev or _vip_dev(cfg), []).append(spec.address.ip)
        g = self.config.global_defs
        for dev, addresses in by_dev.items():
            mac = self._macs.get(dev)
            if mac is None:  # not learnt from a bind: ask once (netlink dumps are costly)
                info = await self._netlink.link_info(dev)
                if info is None:
                    continue
                mac = self._macs[dev] = info.mac
            for version, spacing in ((4, g.vrrp_garp_interval), (6, g.vrrp_gna_interval)):
                frames = announcement_frames(mac, [a for a in addresses if a.version == version], repeat)
                if spacing <= 0:
                    self._frames.send(dev, frames)
                    continue
                for frame in frames:
                    self._frames.send(dev, [frame])
                    await asyncio.sleep(spacing)

    async def _reload_static(self, old: Config, new: Config) -> None:
        await self._netlink.remove_routes([r for r in old.static_routes if r not in new.static_routes], None)
        await self._netlink.remove_addresses([a for a in old.static_ipaddress if a not in new.static_ipaddress], None)
        await self._netlink.add_addresses([a for a in new.static_ipaddress if a not in old.static_ipaddress], None)
        await self._netlink.add_routes([r for r in new.static_routes if r not in old.static_routes], None)
