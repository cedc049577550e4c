"""Every vrrp_instance of the VRRP role as one sans-IO core: machines, tracking, sync groups, validation.

The role (:mod:`fastalived.vrrp.process`) owns sockets, timers and the kernel; this module owns
every decision. It is fed decoded-or-raw adverts, timer expiries, script results and link states,
always with ``now`` (monotonic seconds), and answers with typed effects for the role to carry out
in order: :class:`InstanceAction` (an advert, the VIPs, a GARP burst, straight from the machine),
:class:`StateChanged`, :class:`GroupChanged` and :class:`ArmTimer`. No socket, no asyncio, no
netlink, no subprocess: tests drive it with a fake clock.

Validation of a received advert happens in :meth:`VrrpRouter.receive` only, in RFC 5798 §7.1
order: the packet checks of the codec (``wire.decode_advert``: IP header, version, type, length,
checksum, address count; with the IPv6 retry for unicast), the VRID configured here, the codec's
protocol checks for that instance (``wire.check_advert``: TTL for multicast, version, checksum
form, auth; then for ``auth_type AH`` the ICV, SPI and sequence number, :mod:`fastalived.vrrp.ah`),
then the instance's own (:class:`AdvertRules`: v2 advert interval, address count, unicast peer).
Every drop is counted by its :class:`wire.Drop` (or :class:`ah.AhDrop`) name, per instance and per
interface.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass, field

from fastalived.config.model import Config, TrackFile, VrrpInstance, VrrpScript, VrrpSyncGroup
from fastalived.vrrp import ah, wire
from fastalived.vrrp.actions import Action, AdoptMaster, Notify, SendAdvert, WantMaster
from fastalived.vrrp.advert_rules import AdvertRules
from fastalived.vrrp.effects import (
    ArmTimer,
    Effect,
    GroupChanged,
    Heard,
    InstanceAction,
    InstanceEvent,
    Listener,
    Received,
    StateChanged,
)
from fastalived.vrrp.extra_garp import ExtraIfTimer
from fastalived.vrrp.machine import BACKUP, FAULT, INIT, MASTER, STATE_NAMES, STOP, MachineParams, VrrpMachine
from fastalived.vrrp.tracking import PriorityCalculator, ScriptTracker, Status, SyncGroup, TrackKind, track_definitions

log = logging.getLogger("fastalived.vrrp")

LOG_EVERY = 1.0  # seconds between repeats of a per-advert log line for one instance
MAX_SYNC_DEPTH = 4  # sync-group forcing can cascade once per member; this bounds a misconfiguration

# ---------------------------------------------------------------------------------------- instances


@dataclass
class InstanceCore:
    """One vrrp_instance's decisions: config, machine, tracking, where it listens, and counters."""

    config: VrrpInstance
    machine: VrrpMachine
    tracking: PriorityCalculator
    rules: AdvertRules
    listening: tuple[str, int] | None = None  # (interface, socket family) once bound
    last_state: int = INIT  # the state the last StateChanged reported
    adverts_received: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    # keepalived's own counters (its SIGUSR2 / JSON stats), so its exporters read the same numbers
    became_master: int = 0
    released_master: int = 0
    priority_zero_received: int = 0
    priority_zero_sent: int = 0
    ah_seq: ah.SeqCounter = field(default_factory=ah.SeqCounter)  # auth_type AH: sent and accepted
    extra_if: ExtraIfTimer = field(default_factory=ExtraIfTimer)  # garp_extra_if

    @property
    def name(self) -> str:
        return self.config.name


def _sync_group_of(config: Config, name: str) -> VrrpSyncGroup | None:
    return next((g for g in config.vrrp_sync_groups if name in g.group), None)


def _address_text(packed: bytes) -> str:
    return str(ipaddress.ip_address(packed)) if len(packed) in (4, 16) else "?"


class VrrpRouter:
    """All instances of one VRRP role. Methods taking ``now`` return the effects to carry out."""

    def __init__(self) -> None:
        self.config = Config()
        self.instances: dict[str, InstanceCore] = {}
        self.sync_groups: dict[str, SyncGroup] = {}
        self.script_trackers: dict[str, ScriptTracker] = {}
        self.link_states: dict[str, bool] = {}  # interface -> up, as last reported
        self.tracked_status: dict[tuple[TrackKind, str], Status] = {}  # files, processes, BFD sessions
        self.interface_drops: dict[tuple[str, int], Counter[str]] = {}  # (interface, family) -> reasons
        self._group_announced: dict[str, int] = {}  # the last state each group notified
        self._listeners: dict[tuple[str, int, int], InstanceCore] = {}  # (interface, family, vrid)
        self._lower_logged: dict[str, float] = {}  # rate limit of "received lower priority"
        # vrrp_startup_delay: instances started before this wait in INIT until then (see start)
        self.startup_until = 0.0
        self._deferred: dict[str, tuple[float, AdoptMaster | None]] = {}

    # ------------------------------------------------------------------ configuration

    def configure(self, config: Config) -> None:
        """A new configuration: sync groups seeded from the current members, stale script
        results forgotten. Call after removing the instances the config drops."""
        self.config = config
        scripts = {s.name: s for s in config.vrrp_scripts}
        for name, tracker in list(self.script_trackers.items()):
            if scripts.get(name) != tracker.script:
                del self.script_trackers[name]
        self.sync_groups = {}
        for group_config in config.vrrp_sync_groups:
            group = SyncGroup(group_config)
            for member in group_config.group:
                inst = self.instances.get(member)
                if inst is not None:
                    group.states[member] = inst.machine.state
                    if inst.machine.wants_master:
                        group.wanting.add(member)
                    group.set_member_fault(member, self._own_fault(inst))
            self.sync_groups[group_config.name] = group

    def tracked_names(self, attribute: str) -> set[str]:
        """The names some instance or sync group lists under ``attribute`` (``track_script``,
        ``track_file`` ...): only those are run or watched, as keepalived does."""
        owners = (*self.config.vrrp_instances, *self.config.vrrp_sync_groups)
        return {entry.name for owner in owners for entry in getattr(owner, attribute)}

    def tracked_scripts(self) -> list[VrrpScript]:
        names = self.tracked_names("track_script")
        return [s for s in self.config.vrrp_scripts if s.name in names]

    def tracked_files(self) -> list[TrackFile]:
        names = self.tracked_names("track_file")
        return [f for f in self.config.track_files if f.name in names]

    def add(self, cfg: VrrpInstance) -> InstanceCore:
        """A new instance, INIT and not listening yet: :meth:`bind` it, then :meth:`start` it."""
        machine = VrrpMachine(self._params(cfg, b""))
        inst = InstanceCore(cfg, machine, self._tracking(cfg), AdvertRules.of(cfg, self.config))
        self.instances[cfg.name] = inst
        return inst

    def update(self, cfg: VrrpInstance) -> bool:
        """Reload of a kept instance: take the new settings (applied by :meth:`reconfigured`);
        False when nothing changed, so the machine, its state and timers stay untouched."""
        inst = self.instances[cfg.name]
        tracking = self._tracking(cfg)
        params = self._params(cfg, inst.machine.params.primary_ip)
        if cfg == inst.config and tracking.items == inst.tracking.items and params == inst.machine.params:
            return False
        inst.config = cfg
        inst.tracking = tracking
        inst.rules = AdvertRules.of(cfg, self.config)
        return True

    def links_to_learn(self, name: str) -> list[str]:
        """Interfaces ``name`` tracks whose state is not known yet: the role looks them up and
        reports each with :meth:`learn_link` before :meth:`start` / :meth:`reconfigured`."""
        items = self.instances[name].tracking.items
        return [item.name for item in items if item.kind == "interface" and item.name not in self.link_states]

    def learn_link(self, ifname: str, up: bool) -> bool | None:
        """Record an interface's state; returns the previous one (None: unknown)."""
        known = self.link_states.get(ifname)
        self.link_states[ifname] = up
        return known

    def watches(self, ifname: str) -> bool:
        """Whether some instance runs on or tracks ``ifname``."""
        return any(
            ifname == inst.config.interface or any(item.name == ifname for item in inst.tracking.items)
            for inst in self.instances.values()
        )

    def start(self, name: str, now: float, adopt: AdoptMaster | None = None) -> list[Effect]:
        """Bring a new instance up with the current tracking inputs; ``adopt``: see
        :class:`~fastalived.vrrp.actions.AdoptMaster` (the machine decides whether it may)."""
        inst = self.instances[name]
        if now < self.startup_until:  # vrrp_startup_delay: :meth:`timer` starts it then
            self._deferred[name] = (self.startup_until, adopt)
            return [ArmTimer(name, self.startup_until)]
        self._deferred.pop(name, None)
        out: list[Effect] = []
        self._refresh_tracking_inputs(inst)
        self._apply_tracking(inst, now, out, initial=True)
        self._apply(inst, inst.machine.start(now, adopt), now, out)
        return out

    def reconfigured(self, name: str, now: float) -> list[Effect]:
        """Apply what :meth:`update` took, without a re-election."""
        inst = self.instances[name]
        out: list[Effect] = []
        self._refresh_tracking_inputs(inst)
        params = self._params(inst.config, inst.machine.params.primary_ip)
        self._apply(inst, inst.machine.reconfigure(now, params), now, out)
        inst.extra_if.reconfigured(inst.config, inst.machine.state, now)
        self._apply_tracking(inst, now, out)
        return out

    def remove(self, name: str, now: float) -> list[Effect]:
        """Stop: a master sends priority 0 and drops its VIPs; then forget the instance."""
        inst = self.instances[name]
        out: list[Effect] = []
        self._apply(inst, inst.machine.stop(now), now, out)
        self.unbind(name)
        del self.instances[name]
        self._deferred.pop(name, None)
        out.append(ArmTimer(name, None))
        return out

    def bind(self, name: str, ifname: str, family: int, primary_ip: bytes, now: float) -> list[Effect]:
        """The instance listens on (``ifname``, ``family``) with ``primary_ip`` as its source: the
        address a tie between equal priorities is broken on follows the interface."""
        inst = self.instances[name]
        out: list[Effect] = []
        if inst.machine.params.primary_ip != primary_ip:
            params = self._params(inst.config, primary_ip)
            if inst.machine.state == INIT:
                inst.machine = VrrpMachine(params)
            else:
                self._apply(inst, inst.machine.reconfigure(now, params), now, out)
        inst.listening = (ifname, family)
        self._listeners[(ifname, family, inst.config.virtual_router_id)] = inst
        return out

    def unbind(self, name: str) -> None:
        """The instance's socket is gone: it hears nothing and counts as faulted."""
        inst = self.instances.get(name)
        if inst is None or inst.listening is None:
            return
        key = (*inst.listening, inst.config.virtual_router_id)
        if self._listeners.get(key) is inst:
            del self._listeners[key]
        inst.listening = None

    def local_unicast_sources(self) -> set[bytes]:
        """Our own addresses a unicast advert may be sent to (IPv6 checksum destinations)."""
        return {
            inst.machine.params.primary_ip
            for inst in self.instances.values()
            if inst.config.unicast_peers and inst.listening is not None
        }

    # ------------------------------------------------------------------ adverts

    def receive(self, listener: Listener, data: bytes, src: bytes, hop_limit: int, now: float) -> Received:
        """Validate one packet (RFC 5798 §7.1 order, see the module doc) and hand it to its
        instance. ``src`` is the packed source for IPv6 (its header is not delivered), else b""."""
        ifname, family = listener.ifname, listener.family
        sealed: ah.Sealed | None = None
        if not src:
            advert = wire.decode_advert(data, family, has_ip_header=True, accept_no_pseudo=True)
            if advert is wire.Drop.BAD_IP_HEADER and ah.is_ah(data):  # auth_type AH: VRRP inside AH
                unwrapped = ah.unwrap(data)
                if isinstance(unwrapped, ah.AhDrop):
                    self._count_drop(listener, None, unwrapped)
                    return Received(None, None, [])
                sealed = unwrapped
                advert = wire.decode_advert(sealed.inner, family, has_ip_header=True, accept_no_pseudo=True)
        else:
            advert = wire.decode_advert(data, family, has_ip_header=False, src=src,
                                        dst=listener.group_packed, hop_limit=hop_limit)  # fmt: skip
            if advert == wire.Drop.BAD_CHECKSUM:
                # Unicast to us: the kernel already verified the checksum (IPV6_CHECKSUM), but
                # the decoder needs the real destination, which is one of our unicast sources.
                for local in self.local_unicast_sources():
                    advert = wire.decode_advert(data, family, has_ip_header=False, src=src,
                                                dst=local, hop_limit=hop_limit)  # fmt: skip
                    if not isinstance(advert, wire.Drop):
                        break
        if isinstance(advert, wire.Drop):
            self._count_drop(listener, None, advert)
            if log.isEnabledFor(logging.DEBUG):
                source = _address_text(src or bytes(data[12:16]))
                log.debug("%s: dropped VRRP packet from %s: %s", ifname, source, advert.name)
            return Received(None, None, [])
        inst = self._listeners.get((ifname, family, advert.vrid))
        if inst is None:
            if self.config.global_defs.log_unknown_vrids:
                log.info("Unknown VRID(%d) received on interface(%s) from %s. ignoring...",
                         advert.vrid, ifname, _address_text(advert.src))  # fmt: skip
            self._count_drop(listener, None, wire.Drop.BAD_VRID)
            return Received(None, None, [])
        reason = inst.rules.violation(advert, sealed, inst.ah_seq)
        if reason is not None:
            self._count_drop(listener, inst, reason)
            log.debug("(%s) dropped advert from %s: %s", inst.name, _address_text(advert.src), reason.name)
            return Received(None, None, [])
        if sealed is not None:
            machine = inst.machine
            ours = (machine.effective_priority, machine.params.primary_ip)
            inst.ah_seq.heard(sealed.seq, machine.state, (advert.priority, advert.src), ours)
        interval = advert.interval / 100 if advert.version == 3 else float(advert.interval)
        heard = (advert.src, advert.priority, interval)
        return Received(inst.name, heard, self.hear(inst.name, now, heard))

    def hear(self, name: str, now: float, heard: Heard) -> list[Effect]:
        """A valid advert for ``name`` (from :meth:`receive`, or a steady repeat whose timer
        was due first)."""
        inst = self.instances[name]
        inst.adverts_received += 1
        machine = inst.machine
        src, priority, _ = heard
        if priority == 0:
            inst.priority_zero_received += 1
        preempts = machine.params.preempts and not machine.maintenance
        if machine.state == BACKUP and 0 < priority < machine.effective_priority and preempts:
            if now - self._lower_logged.get(name, -LOG_EVERY) >= LOG_EVERY:  # keepalived: every advert
                self._lower_logged[name] = now
                log.info("(%s) received lower priority (%d) advert from %s - discarding",
                         name, priority, _address_text(src))  # fmt: skip
        elif machine.state == MASTER and priority > machine.effective_priority:
            log.info("(%s) Master received advert from %s with higher priority %d, ours %d",
                     name, _address_text(src), priority, machine.effective_priority)  # fmt: skip
        out: list[Effect] = []
        ours = machine.effective_priority
        if machine.state == MASTER and priority > 0 and (priority, src) < (ours, machine.params.primary_ip):
            out.append(InstanceEvent(name, "MASTER_RX_LOWER_PRI", ours))
        self._apply(inst, machine.on_advert(now, *heard), now, out)
        return out

    def steady_advert(self, name: str, now: float, heard: Heard) -> float | list[Effect]:
        """An exact repeat of ``heard``, which :meth:`rearms_only` approved: just the
        Master_Down_Timer's new deadline, or the effects of :meth:`hear` when a timer was due first."""
        inst = self.instances[name]
        deadline = inst.machine.steady_advert(now)
        if deadline is None:
            return self.hear(name, now, heard)
        inst.adverts_received += 1
        return deadline

    def rearms_only(self, name: str, heard: Heard) -> bool:
        """Whether a repeat of ``heard`` would only restart ``name``'s Master_Down_Timer."""
        return self.instances[name].machine.rearms_only(*heard)

    # ------------------------------------------------------------------ timers

    def deadline(self, name: str) -> float | None:
        inst = self.instances.get(name)
        if inst is None:
            return None
        deferred = self._deferred.get(name) if self._deferred else None
        return deferred[0] if deferred is not None else inst.machine.next_deadline

    def state(self, name: str) -> int:
        inst = self.instances.get(name)
        return inst.machine.state if inst is not None else STOP

    def is_master(self, name: str) -> bool:
        return self.state(name) == MASTER

    def timer(self, name: str, now: float) -> list[Effect]:
        """Run ``name``'s expired timers (or its start, held back by vrrp_startup_delay)."""
        inst = self.instances[name]
        deferred = self._deferred.get(name) if self._deferred else None
        if deferred is not None:
            return self.start(name, now, deferred[1]) if now >= deferred[0] else [ArmTimer(name, deferred[0])]
        out: list[Effect] = []
        self._apply(inst, inst.extra_if.after_adverts(inst.config, inst.machine.on_timer(now), now), now, out)
        return out

    def set_maintenance(self, name: str, on: bool, now: float) -> list[Effect]:
        """Operator maintenance on or off (``VrrpMachine.set_maintenance``); a master's hand-over
        ripples through its sync group like any other change."""
        inst = self.instances[name]
        out: list[Effect] = []
        self._apply(inst, inst.machine.set_maintenance(now, on), now, out)
        return out

    def advert_due(self, name: str, now: float, align_window: float) -> tuple[int, float | None] | None:
        """The master fast path: when the Adver_Timer is the only timer due, restart it, moved
        up to ``align_window`` earlier onto the shared phase grid (``VrrpMachine.align_advert``),
        and return the priority to advertise and the next deadline. None, with nothing done,
        when :meth:`timer` must run instead."""
        inst = self.instances[name]
        if inst.listening is None:
            return None
        machine = inst.machine
        if inst.extra_if.due(now):  # its GARPs go with the advert: the slow way
            return None
        priority = machine.advert_due(now)
        if priority is None:
            return None
        if align_window:
            machine.align_advert(align_window)
        return priority, machine.next_deadline

    # ------------------------------------------------------------------ tracking

    def script_result(self, script: str, ok: bool, now: float) -> list[Effect]:
        """One run of a vrrp_script; tracking changes once rise/fall says so."""
        definition = self.config.script(script)
        out: list[Effect] = []
        if definition is None:
            return out
        tracker = self.script_trackers.get(script)
        if tracker is None:
            tracker = self.script_trackers[script] = ScriptTracker(definition)
        if not tracker.result(ok):
            return out
        log.info("Script `%s` now returning %s", script, "success" if tracker.up else "failure")
        for inst in list(self.instances.values()):
            if inst.tracking.update("script", script, tracker.up):
                self._apply_tracking(inst, now, out)
        return out

    def tracked_changed(self, kind: TrackKind, name: str, status: Status, now: float) -> list[Effect]:
        """A tracked file's value, process's or BFD session's up/down changed (as its watcher
        reports it); every instance tracking it re-evaluates priority and fault."""
        out: list[Effect] = []
        self.tracked_status[(kind, name)] = status
        for inst in list(self.instances.values()):
            if inst.tracking.update(kind, name, status):
                self._apply_tracking(inst, now, out)
        return out

    def link_changed(self, ifname: str, up: bool, now: float) -> list[Effect]:
        """An interface went up or down (after the role re-bound the instances on it)."""
        out: list[Effect] = []
        for inst in list(self.instances.values()):
            if inst.tracking.update("interface", ifname, up) or inst.config.interface == ifname:
                self._apply_tracking(inst, now, out)
        return out

    def _tracking(self, cfg: VrrpInstance) -> PriorityCalculator:
        return PriorityCalculator(cfg, track_definitions(self.config), _sync_group_of(self.config, cfg.name))

    def _params(self, cfg: VrrpInstance, primary_ip: bytes) -> MachineParams:
        """The machine's settings; sync-group members wait for their group to take over."""
        in_group = _sync_group_of(self.config, cfg.name) is not None
        return MachineParams.from_instance(cfg, primary_ip, group_hold=in_group)

    def _refresh_tracking_inputs(self, inst: InstanceCore) -> None:
        """Feed the instance's calculator the current state of everything it tracks."""
        for item in inst.tracking.items:
            if item.kind == "interface":
                inst.tracking.update("interface", item.name, self.link_states.get(item.name, False))
            elif item.kind == "script":
                if item.name in self.script_trackers:
                    inst.tracking.update("script", item.name, self.script_trackers[item.name].up)
            elif (item.kind, item.name) in self.tracked_status:
                inst.tracking.update(item.kind, item.name, self.tracked_status[(item.kind, item.name)])

    @staticmethod
    def _own_fault(inst: InstanceCore) -> bool:
        """Tracking, no socket, unicast_fault_no_peer without a peer, or a config keepalived faults."""
        cfg = inst.config
        if cfg.config_fault is not None:
            return True
        return inst.tracking.faulted or inst.listening is None or (cfg.unicast_fault_no_peer and not cfg.unicast_peers)

    def _apply_tracking(self, inst: InstanceCore, now: float, out: list[Effect], initial: bool = False) -> None:
        """Push the calculator's priority and fault flag into the machine (and the sync group)."""
        before = inst.machine.effective_priority
        actions = inst.machine.set_priority(now, inst.tracking.effective_priority)
        after = inst.machine.effective_priority
        if after != before and inst.machine.state in (MASTER, BACKUP) and not initial:
            event = "MASTER_PRIORITY" if inst.machine.state == MASTER else "BACKUP_PRIORITY"
            out.append(InstanceEvent(inst.name, event, after))
        self._apply(inst, actions, now, out)
        group = self._group_for(inst.name)
        if group is None:
            self._apply(inst, inst.machine.set_fault(now, self._own_fault(inst)), now, out)
            return
        if group.set_member_fault(inst.name, self._own_fault(inst)) or initial:
            for member in self._members(group):
                self._apply(member, member.machine.set_fault(now, group.faulted), now, out)

    # ------------------------------------------------------------------ actions and sync groups

    def _apply(self, inst: InstanceCore, actions: list[Action], now: float, out: list[Effect], depth: int = 0) -> None:
        """Turn one machine's actions into effects, in order; state changes ripple through the
        instance's sync group. Ends with the machine's next deadline."""
        name = inst.name
        for action in actions:
            if isinstance(action, Notify):
                self._entered(inst, action, now, out, depth)
            elif isinstance(action, WantMaster):
                self._group_wants(inst, action.wants, now, out, depth)
            else:
                if isinstance(action, SendAdvert) and action.priority == 0:
                    inst.priority_zero_sent += 1
                out.append(InstanceAction(name, action))
        out.append(ArmTimer(name, self.deadline(name) if self._deferred else inst.machine.next_deadline))

    def _entered(self, inst: InstanceCore, notify: Notify, now: float, out: list[Effect], depth: int) -> None:
        state = notify.state
        old, inst.last_state = inst.last_state, state
        inst.became_master += state == MASTER and not notify.adopted
        inst.extra_if.entered(inst.config, state, now)
        if state == MASTER:
            inst.ah_seq.entering_master()
        inst.released_master += old == MASTER
        out.append(StateChanged(inst.name, old, state, inst.machine.effective_priority, notify.adopted))
        if state != STOP:
            self._sync(inst, state, now, out, depth, notify.adopted)

    def _group_for(self, name: str) -> SyncGroup | None:
        return next((g for g in self.sync_groups.values() if name in g.states), None)

    def _members(self, group: SyncGroup) -> list[InstanceCore]:
        return [self.instances[m] for m in group.group.group if m in self.instances]

    def _force(self, forced: list[tuple[str, int]], now: float, out: list[Effect], depth: int) -> None:
        for member_name, target in forced:
            member = self.instances.get(member_name)
            if member is not None and depth < MAX_SYNC_DEPTH:
                self._apply(member, member.machine.sync_to(now, target), now, out, depth + 1)

    def _sync(
        self, inst: InstanceCore, state: int, now: float, out: list[Effect], depth: int, adopted: bool = False
    ) -> None:
        group = self._group_for(inst.name)
        if group is None:
            return
        self._force(group.member_changed(inst.name, state, now), now, out, depth)
        after = group.state
        if after != self._group_announced.get(group.group.name, INIT) and after in (BACKUP, MASTER, FAULT):
            self._group_announced[group.group.name] = after
            log.info("VRRP_Group(%s) Syncing instances to %s state", group.group.name, STATE_NAMES[after])
            out.append(GroupChanged(group.group.name, after, adopted))

    def _group_wants(self, inst: InstanceCore, wants: bool, now: float, out: list[Effect], depth: int) -> None:
        """A sync-group member's down timer expired (or it heard a master again): the group goes
        MASTER once every member wants it."""
        group = self._group_for(inst.name)
        if group is None:  # not (or no longer) in a group: take over alone
            if wants:
                self._apply(inst, inst.machine.sync_to(now, MASTER), now, out, depth + 1)
            return
        self._force(group.member_wants_master(inst.name, wants), now, out, depth)

    def _count_drop(self, listener: Listener, inst: InstanceCore | None, reason: wire.Drop | ah.AhDrop) -> None:
        key = (listener.ifname, listener.family)
        counter = self.interface_drops.get(key)
        if counter is None:
            counter = self.interface_drops[key] = Counter()
        counter[reason.name] += 1
        if inst is not None:
            inst.drops[reason.name] += 1
