"""Tracking for VRRP instances, pure: script hysteresis, effective priority, sync groups.

The role runs the scripts and watches links, and the router (:mod:`fastalived.vrrp.router`)
feeds the results here; these classes turn them into what the state machines need:
:class:`ScriptTracker` applies ``rise``/``fall``, :class:`PriorityCalculator` folds tracked items
into an effective priority and a fault flag (``VrrpMachine.set_priority`` / ``set_fault``), and
:class:`SyncGroup` keeps the members of a ``vrrp_sync_group`` moving together.

Weights follow ``man keepalived.conf``: a positive weight is added while the item is up, a
negative one subtracted while it is down, ``reverse`` flips the direction, and weight 0 (or an
unweighted ``track_interface``) means FAULT while the item is down (up, with ``reverse``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from fastalived.config.model import Config, TrackScript, VrrpInstance, VrrpScript, VrrpSyncGroup
from fastalived.vrrp.machine import BACKUP, FAULT, INIT, MASTER, clamp_priority


class ScriptTracker:
    """One ``vrrp_script``: consecutive-result hysteresis as keepalived counts it.

    ``up`` is None until the first result (keepalived's INIT state, where one result decides),
    False from the start with ``init_fail``; afterwards ``fall`` consecutive failures take it
    down and ``rise`` consecutive successes bring it back."""

    def __init__(self, script: VrrpScript) -> None:
        self.script = script
        self.up: bool | None = False if script.init_fail else None
        self._streak = 0  # consecutive results disagreeing with ``up``

    def result(self, ok: bool) -> bool:
        """Record one run's outcome; True when ``up`` changed."""
        if self.up is None:
            self.up = ok
            return True
        if ok == self.up:
            self._streak = 0
            return False
        self._streak += 1
        if self._streak < (self.script.fall if self.up else self.script.rise):
            return False
        self.up = ok
        self._streak = 0
        return True


TrackKind = Literal["interface", "script", "file", "process", "bfd", "src_ip"]
Status = bool | int | None  # up/down (None: not known yet); a tracked file's value
FILE_FAULT = -254  # keepalived's track_file level that means FAULT


@dataclass(frozen=True, slots=True)
class TrackDefault:
    """What a tracked object brings when an entry names it without ``weight``: its own weight
    and direction, and its status before the first report (``init_fail`` scripts start down)."""

    weight: int
    reverse: bool
    initial: Status = None


TrackDefinitions = dict[TrackKind, dict[str, TrackDefault]]


def script_defaults(scripts: Iterable[VrrpScript]) -> dict[str, TrackDefault]:
    return {s.name: TrackDefault(s.weight, s.weight_reverse, False if s.init_fail else None) for s in scripts}


def track_definitions(config: Config) -> TrackDefinitions:
    """Every object an instance may track by name, with its defaults."""
    return {
        "script": script_defaults(config.vrrp_scripts),
        "file": {f.name: TrackDefault(f.weight, f.weight_reverse) for f in config.track_files},
        # a process's status comes from the role's /proc scan, done before any instance starts
        "process": {t.name: TrackDefault(t.weight, t.weight_reverse) for t in config.track_processes},
        # a BFD session is down until its handshake completes (keepalived starts such instances in FAULT)
        "bfd": {b.name: TrackDefault(b.weight, b.weight_reverse, False) for b in config.bfd_instances if b.vrrp},
    }


@dataclass(frozen=True, slots=True)
class TrackedItem:
    """One tracked object as it bears on one instance; weight 0 = FAULT item."""

    kind: TrackKind
    name: str
    weight: int
    reverse: bool

    def file_level(self, value: int) -> int:
        """keepalived's track_file status: ``value * weight`` (negated by ``reverse``) within
        -254..253, where -254 means FAULT; with weight 0 a non-zero value (zero, with
        ``reverse``) is FAULT."""
        if self.weight == 0:
            return FILE_FAULT if (value != 0) != self.reverse else 0
        return max(FILE_FAULT, min(253, value * self.weight * (-1 if self.reverse else 1)))

    def contribution(self, status: Status) -> int:
        """Priority change in this state: positive weights count while up, negative ones while
        down, ``reverse`` flips the sign; a file adds its level; unknown counts nothing."""
        if status is None:
            return 0
        if self.kind == "file":
            level = self.file_level(int(status))
            return 0 if level == FILE_FAULT else level
        if self.weight == 0 or (self.weight > 0) != status:
            return 0
        return -self.weight if self.reverse else self.weight

    def faults(self, status: Status) -> bool:
        """Weight-0 items fault while down (while up with ``reverse``), never while unknown; a
        file faults at level -254."""
        if status is None:
            return False
        if self.kind == "file":
            return self.file_level(int(status)) == FILE_FAULT
        return self.weight == 0 and status == self.reverse


_LISTS: tuple[tuple[TrackKind, str], ...] = (
    ("script", "track_script"),
    ("file", "track_file"),
    ("process", "track_process"),
    ("bfd", "track_bfd"),
)


def tracked_items(
    inst: VrrpInstance, definitions: TrackDefinitions, sync_group: VrrpSyncGroup | None = None
) -> tuple[TrackedItem, ...]:
    """Everything ``inst`` tracks: its own interface (unless ``dont_track_primary``), its
    track_* entries, and its sync group's. Inside a sync group the instance's own weights are
    forced to 0, as keepalived does, so members agree on priority (unless the group says
    ``sync_group_tracking_weight``)."""
    items: list[TrackedItem] = []
    if not inst.dont_track_primary:
        items.append(TrackedItem("interface", inst.interface, 0, False))
    if inst.track_src_ip:  # its configured source address, named after the instance (vrrp/linkwatch.py)
        items.append(TrackedItem("src_ip", inst.name, 0, False))
    items += _entries(inst, definitions, keep_weights=sync_group is None or sync_group.sync_group_tracking_weight)
    if sync_group is not None:
        items += _entries(sync_group, definitions, keep_weights=True)
    return tuple(items)


def _entries(
    owner: VrrpInstance | VrrpSyncGroup, definitions: TrackDefinitions, keep_weights: bool
) -> Iterator[TrackedItem]:
    """TrackedItems for one owner's tracking blocks; without ``keep_weights`` a weighted entry
    becomes a plain fault item (down -> FAULT), while an explicit ``weight 0 reverse`` stays
    reversed."""

    def item(kind: TrackKind, name: str, weight: int, reverse: bool) -> TrackedItem:
        if keep_weights or weight == 0:
            return TrackedItem(kind, name, weight, reverse)
        return TrackedItem(kind, name, 0, False)

    for ti in owner.track_interface:
        yield item("interface", ti.name, ti.weight or 0, ti.reverse)
    for kind, attribute in _LISTS:
        known = definitions.get(kind, {})
        entries: Iterable[TrackScript] = getattr(owner, attribute)
        for entry in entries:
            default = known.get(entry.name)
            if default is None:
                continue  # the parser reports unknown names; nothing to track here
            if entry.weight is None:
                yield item(kind, entry.name, default.weight, default.reverse)
            else:
                yield item(kind, entry.name, entry.weight, entry.reverse)


class PriorityCalculator:
    """Base priority plus tracked weights -> effective priority (1..254, the owner keeps 255),
    and whether any weight-0 item puts the instance in FAULT."""

    def __init__(
        self, inst: VrrpInstance, definitions: TrackDefinitions, sync_group: VrrpSyncGroup | None = None
    ) -> None:
        self.base_priority = inst.priority
        self.items = tracked_items(inst, definitions, sync_group)
        self._status: dict[tuple[TrackKind, str], Status] = {}
        for item in self.items:
            default = definitions.get(item.kind, {}).get(item.name)
            initial = default.initial if default is not None else None
            self._status[(item.kind, item.name)] = True if item.kind == "interface" else initial
        self.effective_priority, self.faulted = self._compute()

    def update(self, kind: TrackKind, name: str, status: Status) -> bool:
        """A tracked object's new status (a script's ``ScriptTracker.up``, a link's operational
        state, a file's value ...); True if priority or fault changed."""
        key = (kind, name)
        if key not in self._status or self._status[key] == status:
            return False
        self._status[key] = status
        before = (self.effective_priority, self.faulted)
        self.effective_priority, self.faulted = self._compute()
        return before != (self.effective_priority, self.faulted)

    def _compute(self) -> tuple[int, bool]:
        faulted = any(item.faults(self._status[(item.kind, item.name)]) for item in self.items)
        total = self.base_priority + sum(item.contribution(self._status[(item.kind, item.name)]) for item in self.items)
        return clamp_priority(self.base_priority, total), faulted


class SyncGroup:
    """A ``vrrp_sync_group``: its members are all MASTER, or all BACKUP/FAULT.

    Faults are shared: the router reports each member's own fault with
    :meth:`set_member_fault` and applies ``faulted`` to every member (keepalived puts the whole
    group in FAULT). Elections are shared through :meth:`member_changed`, which answers with the
    members to force via ``VrrpMachine.sync_to``.

    As in keepalived 2.x, a member whose Master_Down_Timer expires does not take the group to
    MASTER on its own: its machine (``group_hold``) reports WANT_MASTER, and
    :meth:`member_wants_master` answers with the members to force only once every member wants
    MASTER or already is."""

    def __init__(self, group: VrrpSyncGroup) -> None:
        self.group = group
        self.states: dict[str, int] = dict.fromkeys(group.group, INIT)
        self._own_faults: set[str] = set()
        self.wanting: set[str] = set()  # BACKUP members whose down timer expired
        self.last_change: float | None = None

    @property
    def faulted(self) -> bool:
        return bool(self._own_faults)

    @property
    def state(self) -> int:
        """The group's state for GROUP notifies: FAULT if any member is, MASTER once all are."""
        states = set(self.states.values())
        if FAULT in states:
            return FAULT
        if states == {MASTER}:
            return MASTER
        return BACKUP if BACKUP in states or MASTER in states else INIT

    def set_member_fault(self, name: str, fault: bool) -> bool:
        """One member's own fault changed; True when the group's ``faulted`` flipped."""
        before = self.faulted
        if fault:
            self._own_faults.add(name)
        else:
            self._own_faults.discard(name)
        return before != self.faulted

    def member_changed(self, name: str, new_state: int, now: float) -> list[tuple[str, int]]:
        """Member ``name`` entered ``new_state``; returns ``(member, state)`` pairs to force.

        A member losing mastership takes the other masters to BACKUP; a member winning takes
        the backups to MASTER, unless some member is in FAULT and cannot follow, in which case
        the winner itself is sent back to BACKUP."""
        if name not in self.states:
            return []
        previous, self.states[name] = self.states[name], new_state
        if new_state != BACKUP:
            self.wanting.discard(name)
        if previous != new_state:
            self.last_change = now
        others = {member: state for member, state in self.states.items() if member != name}
        if new_state == MASTER:
            if FAULT in others.values():
                return [(name, BACKUP)]
            return [(member, MASTER) for member, state in others.items() if state == BACKUP]
        if new_state == BACKUP and previous == MASTER:
            return [(member, BACKUP) for member, state in others.items() if state == MASTER]
        if new_state == BACKUP and MASTER in others.values() and FAULT not in others.values():
            return [(name, MASTER)]
        return []

    def member_wants_master(self, name: str, wants: bool) -> list[tuple[str, int]]:
        """Member ``name`` (in BACKUP) wants MASTER, or no longer does; returns the members to
        force to MASTER: the waiting ones, once every member wants it or is MASTER already and
        none is in FAULT."""
        if name not in self.states:
            return []
        if not wants:
            self.wanting.discard(name)
            return []
        self.wanting.add(name)
        ready = all(member in self.wanting or state == MASTER for member, state in self.states.items())
        if not ready or FAULT in self.states.values():
            return []
        return [(member, MASTER) for member in self.group.group if member in self.wanting]
