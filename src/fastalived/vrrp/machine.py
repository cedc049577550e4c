"""The per-instance VRRP state machine (RFC 3768 §6.4 / RFC 5798 §6.4, plus FAULT and STOP), sans-IO.

The machine never touches a socket or a clock: the router (:mod:`fastalived.vrrp.router`) feeds
it already-validated advertisements, tracking results and the current monotonic time, carries out
the returned actions in order, and calls :meth:`VrrpMachine.on_timer` when ``next_deadline`` is
reached.

Actions are typed values, one class per kind:

* :class:`SendAdvert` - an advert at ``priority`` (0 = release mastership)
* :class:`AddVips` / :class:`RemoveVips` - VIPs are added on entering MASTER and removed on
  leaving it, never otherwise
* :class:`SendGarp` - one GARP / NA burst: ``GARP_ON_MASTER`` right after the transition,
  ``GARP_DELAYED`` after ``garp_master_delay``, ``GARP_REFRESH`` every ``garp_master_refresh``
* :class:`Notify` - the machine entered ``state`` (notify scripts, ``Entering X STATE``)
* :class:`WantMaster` - a sync-group member's Master_Down_Timer expired and it waits in BACKUP
  for the group (``MachineParams.group_hold``), or it stopped wanting (it heard a master again);
  the router asks the :class:`~fastalived.vrrp.tracking.SyncGroup` and forces MASTER with
  :meth:`VrrpMachine.sync_to` once every member wants it

Every state change goes through :data:`TRANSITIONS` (state -> event -> new state, after h11's
``_state.py``): a move that is not in the table is a bug and raises.

Deviations from the RFC follow keepalived: a master hearing a lower priority advertisement answers
at once (so a stale peer learns quickly), ``preempt_delay`` and ``nopreempt`` only take effect
when the configured initial state is BACKUP, and the address owner (priority 255) is never
lowered by tracking. An instance in operator maintenance (:meth:`VrrpMachine.set_maintenance`)
never becomes MASTER. Sync groups force members with :meth:`VrrpMachine.sync_to` (see
:class:`fastalived.vrrp.tracking.SyncGroup`); a group's shared fault arrives through ``set_fault``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from fastalived.vrrp.actions import (
    ADD_VIPS,
    GARP_DELAYED,
    GARP_LOWER_PRIO,
    GARP_ON_MASTER,
    GARP_REFRESH,
    REMOVE_VIPS,
    Action,
    AdoptMaster,
    Notify,
    SendAdvert,
    SendGarp,
    WantMaster,
)

if TYPE_CHECKING:
    from fastalived.config.model import VrrpInstance

INIT, BACKUP, MASTER, FAULT, STOP = 0, 1, 2, 3, 4
STATE_NAMES = ("INIT", "BACKUP", "MASTER", "FAULT", "STOP")

OWNER_PRIORITY = 255
RELEASE_PRIORITY = 0
ALIGNED = 1e-6  # an Adver_Timer this close to a multiple of advert_int is on the grid (align_advert)


class Event(Enum):
    """Why the state changes; the keys of :data:`TRANSITIONS`."""

    COME_UP = "come up"  # start, or the last fault cleared
    TAKE_OVER = "take over"  # Master_Down_Timer, address owner, sync group
    YIELD = "yield"  # a better master, or the sync group
    FAULT = "fault"  # interface down or a tracked fault
    SHUTDOWN = "shutdown"  # stop(), or the instance leaves the configuration
    ADOPT = "adopt"  # a respawned child carries on its predecessor's MASTER state (AdoptMaster)


_FROM_DOWN = {Event.COME_UP: BACKUP, Event.TAKE_OVER: MASTER, Event.FAULT: FAULT, Event.SHUTDOWN: STOP}
TRANSITIONS: dict[int, dict[Event, int]] = {
    INIT: {**_FROM_DOWN, Event.ADOPT: MASTER},
    STOP: _FROM_DOWN,
    FAULT: {Event.COME_UP: BACKUP, Event.TAKE_OVER: MASTER, Event.SHUTDOWN: STOP},
    BACKUP: {Event.TAKE_OVER: MASTER, Event.FAULT: FAULT, Event.SHUTDOWN: STOP},
    MASTER: {Event.YIELD: BACKUP, Event.FAULT: FAULT, Event.SHUTDOWN: STOP},
}


@dataclass(frozen=True, slots=True)
class MachineParams:
    """Everything the machine needs from the configuration; durations in seconds."""

    name: str
    vrid: int
    version: int
    priority: int
    advert_int: float
    primary_ip: bytes  # this node's packed address, for the equal-priority tie break
    nopreempt: bool = False
    preempt_delay: float = 0.0
    initial_state: int = BACKUP
    garp_master_delay: float = 5.0
    garp_master_repeat: int = 5
    garp_master_refresh: float = 0.0
    down_timer_adverts: int = 3
    # keepalived's answers of a master to another master's advert (see _master_hears)
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    garp_lower_prio_repeat: int = 0  # 0: no GARP burst on hearing a lower priority
    garp_lower_prio_delay: float = 0.0
    # In a sync group (keepalived 2.x): an expired down timer does not make the instance MASTER
    # on its own; it reports WANT_MASTER and waits for the group.
    group_hold: bool = False

    @classmethod
    def from_instance(cls, inst: VrrpInstance, primary_ip: bytes, group_hold: bool = False) -> MachineParams:
        return cls(
            name=inst.name,
            vrid=inst.virtual_router_id,
            version=inst.version,
            priority=inst.priority,
            advert_int=inst.advert_int,
            primary_ip=primary_ip,
            nopreempt=inst.nopreempt,
            preempt_delay=inst.preempt_delay,
            initial_state=MASTER if inst.state == "MASTER" else BACKUP,
            garp_master_delay=inst.garp_master_delay,
            garp_master_repeat=inst.garp_master_repeat,
            garp_master_refresh=inst.garp_master_refresh,
            down_timer_adverts=inst.down_timer_adverts,
            lower_prio_no_advert=inst.lower_prio_no_advert,
            higher_prio_send_advert=inst.higher_prio_send_advert,
            garp_lower_prio_repeat=inst.garp_lower_prio_repeat,
            garp_lower_prio_delay=inst.garp_lower_prio_delay,
            group_hold=group_hold,
        )

    @property
    def owner(self) -> bool:
        return self.priority == OWNER_PRIORITY

    @property
    def preempts(self) -> bool:
        """keepalived ignores ``nopreempt`` when the initial state is MASTER."""
        return not self.nopreempt or self.initial_state == MASTER

    @property
    def effective_preempt_delay(self) -> float:
        """keepalived ignores ``preempt_delay`` when the initial state is MASTER."""
        return self.preempt_delay if self.initial_state == BACKUP else 0.0


def vrrp_interval_field(version: int, advert_int: float) -> int:
    """The advert's interval field: whole seconds (v2, rounded half-up) or centiseconds (v3)."""
    if version == 2:
        return max(1, int(advert_int + 0.5))
    return max(1, min(0xFFF, int(advert_int * 100 + 0.5)))


def clamp_priority(base_priority: int, priority: int) -> int:
    """The owner (base 255) keeps 255; anyone else stays within 1..254 whatever tracking adds."""
    if base_priority == OWNER_PRIORITY:
        return OWNER_PRIORITY
    return min(max(priority, 1), OWNER_PRIORITY - 1)


class VrrpMachine:
    """One VRRP instance. Every public method returns the actions to carry out, in order."""

    def __init__(self, params: MachineParams) -> None:
        self.params = params
        self.state = INIT
        self.effective_priority = clamp_priority(params.priority, params.priority)
        self.master_adver_int = params.advert_int
        self.master_ip: bytes | None = None
        self.transitions = 0
        self.wants_master = False  # group_hold: down timer expired, waiting for the sync group
        self.maintenance = False  # ``fastalived ctl maintenance``: BACKUP at most, until resumed
        self._faulted = False
        self._adver_deadline: float | None = None
        self._master_down_deadline: float | None = None
        self._garp_delayed_deadline: float | None = None
        self._garp_refresh_deadline: float | None = None
        self._garp_lower_deadline: float | None = None  # the delayed GARP_LOWER_PRIO burst
        # While set and in the future, lower-priority adverts still count as a live master.
        self._preempt_until: float | None = None

    # ------------------------------------------------------------------ derived timing

    @property
    def skew_time(self) -> float:
        """RFC 3768: (256-prio)/256 s; RFC 5798 scales it by Master_Adver_Interval."""
        skew = (256 - self.effective_priority) / 256
        return skew * self.master_adver_int if self.params.version == 3 else skew

    @property
    def master_down_interval(self) -> float:
        return self.params.down_timer_adverts * self.master_adver_int + self.skew_time

    @property
    def next_deadline(self) -> float | None:
        """The earliest time :meth:`on_timer` must run, or None when nothing is pending."""
        earliest = self._adver_deadline
        for d in (self._master_down_deadline, self._garp_delayed_deadline, self._garp_refresh_deadline,
                  self._garp_lower_deadline):  # fmt: skip
            if d is not None and (earliest is None or d < earliest):
                earliest = d
        return earliest

    # ------------------------------------------------------------------ events

    def start(self, now: float, adopt: AdoptMaster | None = None) -> list[Action]:
        """RFC 5798 §6.4.1: the owner becomes MASTER at once, everyone else waits as BACKUP;
        with ``adopt`` (see :class:`AdoptMaster`) a first start may carry on as MASTER instead."""
        if self.state not in (INIT, STOP):
            return self._fire_due_timers(now)
        if adopt is not None and self.state == INIT and not self._faulted and self._may_adopt(now, adopt):
            return self._adopt_master(now)
        return self._come_up(now)

    def on_advert(self, now: float, src_ip: bytes, priority: int, interval: float) -> list[Action]:
        """An advertisement that already passed validation; ``interval`` in seconds."""
        actions = self._fire_due_timers(now)
        if self.state == BACKUP:
            self._backup_hears(now, src_ip, priority, interval)
            if self.wants_master and self._master_down_deadline is not None:
                self.wants_master = False  # a live master again: the down timer runs anew
                actions.append(WantMaster(False))
        elif self.state == MASTER and src_ip != self.params.primary_ip:
            actions += self._master_hears(now, src_ip, priority, interval)
        return actions

    def rearms_only(self, src_ip: bytes, priority: int, interval: float) -> bool:
        """Whether ``on_advert(now, src_ip, priority, interval)`` at any ``now`` before
        ``next_deadline`` would do nothing but move the Master_Down_Timer to
        ``now + master_down_interval``: a backup hearing its current master again, unchanged.

        The role may then take the shortcut :meth:`steady_advert` for exact repeats of
        that advert, until the machine changes in any other way."""
        return (
            self.down_timer_only()
            and self._preempt_until is None
            and not self.wants_master
            and priority != RELEASE_PRIORITY
            and src_ip == self.master_ip
            and (priority >= self.effective_priority or not self.params.preempts)
            and (self.params.version != 3 or interval == self.master_adver_int)
        )

    def steady_advert(self, now: float) -> float | None:
        """The shortcut for an advert :meth:`rearms_only` approved: restart the
        Master_Down_Timer and return its new deadline. None, with nothing done, when that
        timer is already due (the caller then uses :meth:`on_advert`, which fires it first).
        ``wire.Watch.hear`` repeats it in C while nothing it reads has changed: keep the two alike."""
        deadline = self._master_down_deadline
        if deadline is None or deadline <= now or self.state != BACKUP:
            return None
        params = self.params
        interval = self.master_adver_int
        skew = (256 - self.effective_priority) / 256  # master_down_interval, inlined: per advert
        self._master_down_deadline = deadline = now + (
            params.down_timer_adverts * interval + (skew * interval if params.version == 3 else skew)
        )
        return deadline

    def advert_due(self, now: float) -> int | None:
        """Fast form of :meth:`on_timer` for a master whose only due timer is the Adver_Timer:
        restart it and return the priority to advertise (what ``on_timer`` would return as its
        single SEND_ADVERT action). None, with nothing done, in every other case.
        ``wire.Pacer.tick`` repeats it in C while nothing it reads has changed: keep the two alike."""
        deadline = self._adver_deadline
        if self.state != MASTER or deadline is None or deadline > now:
            return None
        for other in (self._master_down_deadline, self._garp_delayed_deadline, self._garp_refresh_deadline,
                      self._garp_lower_deadline):  # fmt: skip
            if other is not None and other <= now:
                return None
        self._adver_deadline = _rearm(deadline, self.params.advert_int, now)
        return self.effective_priority

    def adverts_only(self) -> bool:
        """Whether a master's Adver_Timer is its only pending timer: until something else changes
        the machine, :meth:`advert_due` at each expiry is all it needs (``vrrp/pacing.py``)."""
        return (
            self.state == MASTER
            and self._adver_deadline is not None
            and self._master_down_deadline is None
            and self._garp_delayed_deadline is None
            and self._garp_refresh_deadline is None
            and self._garp_lower_deadline is None
        )

    def down_timer_only(self) -> bool:
        """Whether a backup's Master_Down_Timer is its only pending timer: until something else
        changes the machine, :meth:`steady_advert` is all its master's repeats need (``vrrp/pacing.py``)."""
        return (
            self.state == BACKUP
            and self._master_down_deadline is not None
            and self._adver_deadline is None
            and self._garp_delayed_deadline is None
            and self._garp_refresh_deadline is None
            and self._garp_lower_deadline is None
        )

    def align_advert(self, window: float) -> None:
        """Move a master's next Adver_Timer expiry up to ``window`` earlier, toward the nearest
        earlier multiple of advert_int on the clock (no-op when on it, or not a master).

        The router calls it for masters that share an advert_int with other masters: each
        walks toward the same grid, at most ``window`` per advert, until all leave in one
        wakeup. An early advert only restarts the backups' timers early."""
        deadline = self._adver_deadline
        if self.state != MASTER or deadline is None or window <= 0:
            return
        period = self.params.advert_int
        phase = math.fmod(deadline, period)
        if phase <= ALIGNED or period - phase <= ALIGNED:
            return
        self._adver_deadline = deadline - min(phase, window)

    def on_timer(self, now: float) -> list[Action]:
        """Run every timer that expired at or before ``now``; extra calls do nothing."""
        return self._fire_due_timers(now)

    def set_priority(self, now: float, effective_priority: int) -> list[Action]:
        """New effective priority from tracking. A backup's running down timer shrinks with
        the smaller skew when the priority rises, as keepalived does."""
        actions = self._fire_due_timers(now)
        new_priority = clamp_priority(self.params.priority, effective_priority)
        if new_priority == self.effective_priority:
            return actions
        old_down_interval = self.master_down_interval
        self.effective_priority = new_priority
        if self.state == BACKUP and self._master_down_deadline is not None:
            shrink = old_down_interval - self.master_down_interval
            if shrink > 0:
                self._master_down_deadline = max(now, self._master_down_deadline - shrink)
        return actions

    def set_fault(self, now: float, fault: bool) -> list[Action]:
        """Interface down or a tracked fault: a master releases (priority 0) before leaving;
        clearing the last fault brings the instance back up as at start."""
        actions = self._fire_due_timers(now)
        if fault == self._faulted:
            return actions
        self._faulted = fault
        if fault and self.state in (BACKUP, MASTER):
            actions += self._leave(Event.FAULT, release=True)
        elif not fault and self.state == FAULT:
            actions += self._come_up(now)
        return actions

    def sync_to(self, now: float, state: int) -> list[Action]:
        """Forced by the sync group: BACKUP->MASTER or MASTER->BACKUP; anything else is ignored
        (group faults go through :meth:`set_fault`)."""
        actions = self._fire_due_timers(now)
        if state == MASTER and self.state == BACKUP and not self.maintenance:
            actions += self._become_master(now)
        elif state == BACKUP and self.state == MASTER:
            actions += self._leave(Event.YIELD, release=False)
            self._enter_backup(now, preempt_window=False)
        return actions

    def set_maintenance(self, now: float, on: bool) -> list[Action]:
        """Operator maintenance (``fastalived ctl``): a master hands over at once with one
        priority 0 advert and waits as BACKUP, never taking MASTER (not even as the address
        owner or for its sync group) until resumed; resuming restarts the Master_Down_Timer, so
        a preempting instance takes MASTER back from a lower priority master, and an owner at once."""
        actions = self._fire_due_timers(now)
        if on == self.maintenance:
            return actions
        self.maintenance = on
        if on:
            if self.state == MASTER:
                actions += self._leave(Event.YIELD, release=True)
                self._enter_backup(now, preempt_window=False)
                self.master_ip = None
            if self.wants_master:
                self.wants_master = False
                actions.append(WantMaster(False))
        elif self.state == BACKUP:
            if self.params.owner:
                return actions + self._become_master(now)
            self._master_down_deadline = _earliest(self._master_down_deadline, now + self.master_down_interval)
        return actions

    def stop(self, now: float) -> list[Action]:
        """Graceful shutdown: a master hands over at once with a priority 0 advertisement."""
        if self.state in (INIT, STOP):
            self.state = TRANSITIONS[self.state][Event.SHUTDOWN]  # never came up: nothing to notify
            self._clear_timers()
            return []
        return self._leave(Event.SHUTDOWN, release=True)

    def reconfigure(self, now: float, params: MachineParams) -> list[Action]:
        """Reload: keep the state and apply the new settings without a re-election.

        A changed base priority resets the effective priority to it; the caller re-applies
        tracking with :meth:`set_priority` afterwards."""
        actions = self._fire_due_timers(now)
        old = self.params
        self.params = params
        if params.priority != old.priority:
            self.effective_priority = clamp_priority(params.priority, params.priority)
        adopted_from_master = self.state == BACKUP and params.version == old.version == 3 and self.master_ip is not None
        if not adopted_from_master:
            self.master_adver_int = params.advert_int
        if self.state == MASTER:
            self._adver_deadline = _earliest(self._adver_deadline, now + params.advert_int)
            self._garp_refresh_deadline = (
                _earliest(self._garp_refresh_deadline, now + params.garp_master_refresh)
                if params.garp_master_refresh > 0
                else None
            )
            if params.garp_master_delay <= 0:
                self._garp_delayed_deadline = None
            if params.garp_lower_prio_delay <= 0 or params.garp_lower_prio_repeat <= 0:
                self._garp_lower_deadline = None
        elif self.state == BACKUP:
            if not self.maintenance and (params.owner or (self.wants_master and not params.group_hold)):
                return actions + self._become_master(now)
            self._master_down_deadline = _earliest(self._master_down_deadline, now + self.master_down_interval)
        return actions

    # ------------------------------------------------------------------ state handlers

    def _backup_hears(self, now: float, src_ip: bytes, priority: int, interval: float) -> None:
        """RFC 5798 §6.4.2 with keepalived's preempt_delay window."""
        if priority == RELEASE_PRIORITY:
            self.master_ip = None
            self._master_down_deadline = now + self.skew_time
            return
        if priority >= self.effective_priority:
            self._preempt_until = None
        elif self.params.preempts and not self._within_preempt_delay(now):
            return  # "received lower priority advert ... discarding": the down timer runs on
        if self.params.version == 3:
            self.master_adver_int = interval
        self.master_ip = src_ip
        self._master_down_deadline = now + self.master_down_interval

    def _within_preempt_delay(self, now: float) -> bool:
        """A lower-priority master is tolerated for preempt_delay from the first time it is
        seen (or from start-up), so preemption is delayed rather than suppressed."""
        delay = self.params.effective_preempt_delay
        if delay <= 0:
            return False
        if self._preempt_until is None:
            self._preempt_until = now + delay
        return now < self._preempt_until

    def _master_hears(self, now: float, src_ip: bytes, priority: int, interval: float) -> list[Action]:
        """RFC 5798 §6.4.3: yield to a higher priority (or equal with a higher address).

        keepalived's additions: a release (priority 0) is answered at once; so is a lower
        priority unless ``lower_prio_no_advert``, and it also gets a GARP burst now and one
        ``garp_lower_prio_delay`` later (``garp_lower_prio_repeat`` each, so the network learns
        our MAC again after a split); with ``higher_prio_send_advert`` a master advertises
        once before yielding. An answer restarts the Adver_Timer except under lower_prio_no_advert."""
        params = self.params
        ours = self.effective_priority
        higher = priority > ours or (priority == ours and src_ip > params.primary_ip)
        if priority == RELEASE_PRIORITY:
            return self._answer(now)
        if not higher:
            actions = [] if params.lower_prio_no_advert else self._answer(now)
            if params.garp_lower_prio_repeat > 0:
                actions.append(SendGarp(GARP_LOWER_PRIO))
                if params.garp_lower_prio_delay > 0 and self._garp_lower_deadline is None:
                    self._garp_lower_deadline = now + params.garp_lower_prio_delay
            return actions
        actions = [SendAdvert(self.effective_priority)] if params.higher_prio_send_advert else []
        actions += self._leave(Event.YIELD, release=False)
        if self.params.version == 3:
            self.master_adver_int = interval
        self._enter_backup(now, preempt_window=False)
        self.master_ip = src_ip
        return actions

    def _answer(self, now: float) -> list[Action]:
        """A master's immediate advert; it restarts the Adver_Timer unless lower_prio_no_advert
        (keepalived resets its timer only when it does not keep to the RFC there)."""
        if self.params.lower_prio_no_advert:
            return [SendAdvert(self.effective_priority)]
        return self._advertise(now + self.params.advert_int)

    # ------------------------------------------------------------------ timers

    def _fire_due_timers(self, now: float) -> list[Action]:
        """Run expired timers in deadline order until none is due."""
        actions: list[Action] = []
        while (deadline := self.next_deadline) is not None and deadline <= now:
            if deadline == self._master_down_deadline:
                self._master_down_deadline = None
                if self.maintenance:
                    continue  # no master heard: still nobody to take over from us
                if self.params.group_hold and self.state == BACKUP:
                    if not self.wants_master:
                        self.wants_master = True
                        actions.append(WantMaster(True))
                else:
                    actions += self._become_master(now)
            elif deadline == self._adver_deadline:
                actions += self._advertise(_rearm(deadline, self.params.advert_int, now))
            elif deadline == self._garp_delayed_deadline:
                self._garp_delayed_deadline = None
                actions.append(SendGarp(GARP_DELAYED))
            elif deadline == self._garp_lower_deadline:
                self._garp_lower_deadline = None
                actions.append(SendGarp(GARP_LOWER_PRIO))
            else:
                self._garp_refresh_deadline = _rearm(deadline, self.params.garp_master_refresh, now)
                actions.append(SendGarp(GARP_REFRESH))
        return actions

    def _advertise(self, next_advert_at: float) -> list[Action]:
        """Advertise at the effective priority and restart the Adver_Timer."""
        self._adver_deadline = next_advert_at
        return [SendAdvert(self.effective_priority)]

    def _clear_timers(self) -> None:
        self._adver_deadline = None
        self._master_down_deadline = None
        self._garp_delayed_deadline = None
        self._garp_refresh_deadline = None
        self._garp_lower_deadline = None

    # ------------------------------------------------------------------ transitions

    def _come_up(self, now: float) -> list[Action]:
        """Start or recovery from FAULT: FAULT if still faulted, the owner straight to MASTER,
        anyone else BACKUP for Master_Down_Interval (plus preempt_delay)."""
        if self._faulted:
            return self._set_state(Event.FAULT)
        if self.params.owner and not self.maintenance:
            return self._become_master(now)
        actions = self._set_state(Event.COME_UP)
        self._enter_backup(now, preempt_window=True)
        return actions

    def _may_adopt(self, now: float, adopt: AdoptMaster) -> bool:
        """No peer can have taken over yet, or we would preempt it at once anyway."""
        params = self.params
        silent_for = now - adopt.silent_since + params.advert_int  # since the predecessor's last advert
        if silent_for < params.down_timer_adverts * params.advert_int:  # below every peer's down interval
            return True
        return params.preempts and params.effective_preempt_delay <= 0

    def _adopt_master(self, now: float) -> list[Action]:
        """Carry on as MASTER: an advert now (it restarts the peers' down timers), the VIPs
        re-asserted (they are in place: no change), no GARP burst (no cache moved), GARP
        refresh as configured."""
        params = self.params
        self.master_adver_int = params.advert_int
        self.master_ip = params.primary_ip
        self._garp_refresh_deadline = now + params.garp_master_refresh if params.garp_master_refresh > 0 else None
        actions = self._advertise(now + params.advert_int)
        actions.append(ADD_VIPS)
        return actions + self._set_state(Event.ADOPT)

    def _enter_backup(self, now: float, preempt_window: bool) -> None:
        """Arm the Master_Down_Timer; coming up also opens the preempt_delay window."""
        delay = self.params.effective_preempt_delay if preempt_window else 0.0
        self._preempt_until = now + delay if delay > 0 else None
        self._master_down_deadline = now + delay + self.master_down_interval

    def _become_master(self, now: float) -> list[Action]:
        """keepalived's order: advert, VIPs, first GARP burst, notify."""
        params = self.params
        self.master_adver_int = params.advert_int
        self.master_ip = params.primary_ip
        self.wants_master = False
        self._preempt_until = None
        self._master_down_deadline = None
        self._garp_delayed_deadline = now + params.garp_master_delay if params.garp_master_delay > 0 else None
        self._garp_refresh_deadline = now + params.garp_master_refresh if params.garp_master_refresh > 0 else None
        actions = self._advertise(now + params.advert_int)
        actions += [ADD_VIPS, SendGarp(GARP_ON_MASTER)]
        return actions + self._set_state(Event.TAKE_OVER)

    def _leave(self, event: Event, release: bool) -> list[Action]:
        """Leave the current state for BACKUP, FAULT or STOP; a master drops its VIPs, and
        sends a priority 0 advert first when ``release`` so a backup takes over within Skew_Time."""
        actions: list[Action] = []
        if self.state == MASTER:
            if release:
                actions.append(SendAdvert(RELEASE_PRIORITY))
            actions.append(REMOVE_VIPS)
        self._clear_timers()
        self._preempt_until = None
        self.wants_master = False
        if event is not Event.YIELD:
            self.master_ip = None
        return actions + self._set_state(event)

    def _set_state(self, event: Event) -> list[Action]:
        """Move along :data:`TRANSITIONS`; a KeyError here means the machine itself is wrong."""
        self.state = state = TRANSITIONS[self.state][event]
        self.transitions += 1
        return [Notify(state, adopted=event is Event.ADOPT)]


def _earliest(deadline: float | None, candidate: float) -> float:
    return candidate if deadline is None else min(deadline, candidate)


def _rearm(deadline: float, period: float, now: float) -> float:
    """Next periodic deadline without drift; after a stall, skip ahead instead of bursting."""
    following = deadline + period
    return following if following > now else now + period
