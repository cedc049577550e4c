"""Script hysteresis, weights -> effective priority, faults, and sync groups."""

from __future__ import annotations

import ipaddress

import pytest

from fastalived.config.model import TrackInterface, TrackScript, VrrpInstance, VrrpScript, VrrpSyncGroup
from fastalived.vrrp.actions import Notify, SendAdvert
from fastalived.vrrp.machine import BACKUP, FAULT, INIT, MASTER, MachineParams, VrrpMachine
from fastalived.vrrp.tracking import (
    PriorityCalculator,
    ScriptTracker,
    SyncGroup,
    TrackDefault,
    TrackedItem,
    script_defaults,
    tracked_items,
)


def _calculator(
    inst: VrrpInstance, scripts: dict[str, VrrpScript], group: VrrpSyncGroup | None = None
) -> PriorityCalculator:
    return PriorityCalculator(inst, {"script": script_defaults(scripts.values())}, group)


def script(name: str = "chk", **kw: object) -> VrrpScript:
    return VrrpScript(name=name, script=f"/bin/{name}", **kw)  # type: ignore[arg-type]


def instance(**kw: object) -> VrrpInstance:
    base: dict[str, object] = dict(name="VI_1", interface="eth0", virtual_router_id=51, priority=100)
    base.update(kw)
    return VrrpInstance(**base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- ScriptTracker


def test_script_pending_until_first_result_which_decides() -> None:
    tracker = ScriptTracker(script(rise=3, fall=3))
    assert tracker.up is None
    assert tracker.result(False) is True
    assert tracker.up is False
    other = ScriptTracker(script(rise=3, fall=3))
    assert other.result(True) is True
    assert other.up is True


def test_script_needs_fall_consecutive_failures() -> None:
    tracker = ScriptTracker(script(rise=2, fall=3))
    tracker.result(True)
    assert [tracker.result(False) for _ in range(2)] == [False, False]
    assert tracker.result(True) is False  # streak broken
    assert [tracker.result(False) for _ in range(3)] == [False, False, True]
    assert tracker.up is False


def test_script_needs_rise_consecutive_successes() -> None:
    tracker = ScriptTracker(script(rise=2, fall=1))
    tracker.result(False)
    assert tracker.result(True) is False
    assert tracker.result(False) is False
    assert [tracker.result(True) for _ in range(2)] == [False, True]
    assert tracker.up is True


def test_init_fail_starts_down_and_needs_rise() -> None:
    tracker = ScriptTracker(script(rise=2, init_fail=True))
    assert tracker.up is False
    assert [tracker.result(True) for _ in range(2)] == [False, True]


# --------------------------------------------------------------------------- weights


@pytest.mark.parametrize(
    ("weight", "reverse", "up", "delta"),
    [
        (10, False, True, 10),
        (10, False, False, 0),
        (-10, False, True, 0),
        (-10, False, False, -10),
        (10, True, True, -10),
        (10, True, False, 0),
        (-10, True, True, 0),
        (-10, True, False, 10),
        (10, False, None, 0),
    ],
)
def test_weight_sign_semantics(weight: int, reverse: bool, up: bool | None, delta: int) -> None:
    assert TrackedItem("script", "s", weight, reverse).contribution(up) == delta


@pytest.mark.parametrize(
    ("reverse", "up", "faults"), [(False, False, True), (False, True, False), (True, True, True), (True, False, False)]
)
def test_weight_zero_faults(reverse: bool, up: bool, faults: bool) -> None:
    assert TrackedItem("script", "s", 0, reverse).faults(up) is faults
    assert TrackedItem("script", "s", 0, reverse).faults(None) is False


def test_positive_script_weight_added_when_up() -> None:
    calc = _calculator(instance(track_script=(TrackScript("chk"),)), {"chk": script(weight=20)})
    assert calc.effective_priority == 100  # pending counts nothing
    assert calc.update("script", "chk", True) is True
    assert calc.effective_priority == 120
    assert calc.update("script", "chk", False) is True
    assert (calc.effective_priority, calc.faulted) == (100, False)


def test_negative_script_weight_subtracted_when_down() -> None:
    calc = _calculator(instance(track_script=(TrackScript("chk", weight=-30),)), {"chk": script(weight=5)})
    calc.update("script", "chk", True)
    assert calc.effective_priority == 100
    calc.update("script", "chk", False)
    assert calc.effective_priority == 70


def test_track_script_uses_script_reverse_unless_overridden() -> None:
    scripts = {"chk": script(weight=10, weight_reverse=True)}
    calc = _calculator(instance(track_script=(TrackScript("chk"),)), scripts)
    calc.update("script", "chk", True)
    assert calc.effective_priority == 90
    calc = _calculator(instance(track_script=(TrackScript("chk", weight=10),)), scripts)
    calc.update("script", "chk", True)
    assert calc.effective_priority == 110


def test_unweighted_script_failure_faults() -> None:
    calc = _calculator(instance(track_script=(TrackScript("chk"),)), {"chk": script()})
    assert calc.faulted is False
    assert calc.update("script", "chk", False) is True
    assert calc.faulted is True
    assert calc.update("script", "chk", False) is False
    calc.update("script", "chk", True)
    assert calc.faulted is False


def test_init_fail_script_faults_from_the_start() -> None:
    calc = _calculator(instance(track_script=(TrackScript("chk"),)), {"chk": script(init_fail=True)})
    assert calc.faulted is True


def test_primary_interface_down_faults_unless_dont_track_primary() -> None:
    calc = _calculator(instance(), {})
    calc.update("interface", "eth0", False)
    assert calc.faulted is True
    calc = _calculator(instance(dont_track_primary=True), {})
    assert calc.update("interface", "eth0", False) is False
    assert calc.faulted is False


def test_track_interface_unweighted_faults_weighted_adjusts() -> None:
    inst = instance(
        track_interface=(TrackInterface("eth1"), TrackInterface("eth2", weight=-15), TrackInterface("eth3", weight=5))
    )
    calc = _calculator(inst, {})
    assert calc.effective_priority == 105  # interfaces start up
    calc.update("interface", "eth2", False)
    calc.update("interface", "eth3", False)
    assert (calc.effective_priority, calc.faulted) == (85, False)
    calc.update("interface", "eth1", False)
    assert calc.faulted is True


def test_reverse_unweighted_interface_faults_while_up() -> None:
    calc = _calculator(instance(track_interface=(TrackInterface("eth1", weight=0, reverse=True),)), {})
    assert calc.faulted is True
    calc.update("interface", "eth1", False)
    assert calc.faulted is False


def test_effective_priority_clamped() -> None:
    scripts = {"up": script("up", weight=200), "down": script("down", weight=-200)}
    high = _calculator(instance(track_script=(TrackScript("up"),)), scripts)
    high.update("script", "up", True)
    assert high.effective_priority == 254
    low = _calculator(instance(track_script=(TrackScript("down"),)), scripts)
    low.update("script", "down", False)
    assert low.effective_priority == 1


def test_owner_never_reduced_but_can_fault() -> None:
    scripts = {"w": script("w", weight=-50), "f": script("f")}
    calc = _calculator(instance(priority=255, track_script=(TrackScript("w"), TrackScript("f"))), scripts)
    calc.update("script", "w", False)
    assert calc.effective_priority == 255
    calc.update("script", "f", False)
    assert calc.faulted is True


def test_unknown_names_are_ignored() -> None:
    calc = _calculator(instance(track_script=(TrackScript("missing"),)), {})
    assert calc.update("script", "missing", False) is False
    assert calc.update("interface", "nope", False) is False
    assert calc.faulted is False


def test_shared_name_updates_every_entry() -> None:
    inst = instance(track_interface=(TrackInterface("eth0", weight=-10),))
    calc = _calculator(inst, {})
    calc.update("interface", "eth0", False)
    assert (calc.effective_priority, calc.faulted) == (90, True)


def test_sync_group_zeroes_member_weights_and_adds_group_tracking() -> None:
    inst = instance(track_script=(TrackScript("own", weight=20),), dont_track_primary=True)
    group = VrrpSyncGroup(
        name="G",
        group=("VI_1",),
        track_script=(TrackScript("grp", weight=-40),),
        track_interface=(TrackInterface("eth9"),),
    )
    scripts = {"own": script("own"), "grp": script("grp")}
    assert tracked_items(inst, {"script": script_defaults(scripts.values())}, group) == (
        TrackedItem("script", "own", 0, False),
        TrackedItem("interface", "eth9", 0, False),
        TrackedItem("script", "grp", -40, False),
    )
    calc = _calculator(inst, scripts, group)
    calc.update("script", "grp", False)
    assert (calc.effective_priority, calc.faulted) == (60, False)
    calc.update("script", "own", False)
    assert calc.faulted is True


def test_sync_group_tracking_weight_keeps_the_members_own_weights() -> None:
    inst = instance(track_script=(TrackScript("own", weight=20),), dont_track_primary=True)
    group = VrrpSyncGroup(name="G", group=("VI_1",), sync_group_tracking_weight=True)
    defaults = {"script": script_defaults([script("own")])}
    assert tracked_items(inst, defaults, group) == (TrackedItem("script", "own", 20, False),)


def test_sync_group_keeps_explicit_weight_zero_reverse() -> None:
    inst = instance(
        track_script=(TrackScript("a", weight=10, reverse=True), TrackScript("b", weight=0, reverse=True)),
        dont_track_primary=True,
    )
    group = VrrpSyncGroup(name="G", group=("VI_1",))
    scripts = {"a": script("a"), "b": script("b")}
    assert tracked_items(inst, {"script": script_defaults(scripts.values())}, group) == (
        TrackedItem("script", "a", 0, False),
        TrackedItem("script", "b", 0, True),
    )


def test_calculator_drives_machine() -> None:
    calc = _calculator(instance(track_script=(TrackScript("chk", weight=-60),)), {"chk": script()})
    machine = VrrpMachine(
        MachineParams(name="VI_1", vrid=51, version=2, priority=100, advert_int=1.0, primary_ip=b"\x0a\0\0\1")
    )
    machine.start(0.0)
    machine.on_timer(10.0)
    calc.update("script", "chk", False)
    machine.set_priority(10.5, calc.effective_priority)
    assert machine.on_timer(11.0) == [SendAdvert(40)]


# --------------------------------------------------------------------------- sync groups


def group_of(*names: str) -> SyncGroup:
    return SyncGroup(VrrpSyncGroup(name="G", group=names))


def test_member_winning_takes_backups_to_master() -> None:
    group = group_of("A", "B", "C")
    for name in "ABC":
        assert group.member_changed(name, BACKUP, 0.0) == []
    assert group.member_changed("A", MASTER, 1.0) == [("B", MASTER), ("C", MASTER)]
    # C has not reported yet, so it is named again; forcing a MASTER to MASTER is a no-op
    assert group.member_changed("B", MASTER, 1.0) == [("C", MASTER)]
    assert group.member_changed("C", MASTER, 1.0) == []
    assert group.state == MASTER


def test_member_losing_takes_masters_to_backup() -> None:
    group = group_of("A", "B")
    group.member_changed("A", MASTER, 0.0)
    group.member_changed("B", MASTER, 0.0)
    assert group.member_changed("B", BACKUP, 1.0) == [("A", BACKUP)]
    assert group.member_changed("A", BACKUP, 1.0) == []
    assert group.state == BACKUP


def test_member_cannot_win_while_another_is_faulted() -> None:
    group = group_of("A", "B")
    group.member_changed("A", BACKUP, 0.0)
    group.member_changed("B", FAULT, 0.0)
    assert group.member_changed("A", MASTER, 1.0) == [("A", BACKUP)]
    assert group.state == FAULT


def test_late_member_joins_masters() -> None:
    group = group_of("A", "B")
    group.member_changed("A", MASTER, 0.0)
    assert group.member_changed("B", BACKUP, 1.0) == [("B", MASTER)]


def test_unknown_member_ignored_and_state_init() -> None:
    group = group_of("A")
    assert group.state == INIT
    assert group.member_changed("Z", MASTER, 0.0) == []


def test_faults_are_shared() -> None:
    group = group_of("A", "B")
    assert group.set_member_fault("A", True) is True
    assert group.set_member_fault("B", True) is False
    assert group.set_member_fault("A", False) is False
    assert group.faulted is True
    assert group.set_member_fault("B", False) is True
    assert group.faulted is False


def test_group_last_change_records_time() -> None:
    group = group_of("A")
    group.member_changed("A", BACKUP, 3.0)
    group.member_changed("A", BACKUP, 4.0)
    assert group.last_change == 3.0


def test_group_keeps_machines_together_end_to_end() -> None:
    """Drive two real machines the way the I/O layer does: apply forced states until quiet."""
    names = ("A", "B")
    machines = {
        name: VrrpMachine(
            MachineParams(
                name=name, vrid=i + 1, version=2, priority=100 + i, advert_int=1.0, primary_ip=bytes([10, 0, 0, 1])
            )
        )
        for i, name in enumerate(names)
    }
    group = SyncGroup(VrrpSyncGroup(name="G", group=names))

    def settle(name: str, actions: list) -> None:
        for action in actions:
            if isinstance(action, Notify):
                for other, state in group.member_changed(name, action.state, now):
                    settle(other, machines[other].sync_to(now, state))

    now = 0.0
    for name in names:
        settle(name, machines[name].start(now))
    now = machines["B"].next_deadline  # B (higher priority, shorter skew) times out first
    settle("B", machines["B"].on_timer(now))
    assert {m.state for m in machines.values()} == {MASTER}
    peer = ipaddress.IPv4Address("10.0.0.200").packed
    now += 0.5
    settle("A", machines["A"].on_advert(now, peer, 250, 1.0))
    assert {m.state for m in machines.values()} == {BACKUP}


def test_group_goes_master_only_when_every_member_wants_it() -> None:
    group = group_of("A", "B", "C")
    for name in "ABC":
        group.member_changed(name, BACKUP, 0.0)
    assert group.member_wants_master("A", True) == []
    assert group.member_wants_master("C", True) == []
    assert group.member_wants_master("B", True) == [("A", MASTER), ("B", MASTER), ("C", MASTER)]


def test_group_wish_withdrawn_holds_the_group() -> None:
    group = group_of("A", "B")
    for name in "AB":
        group.member_changed(name, BACKUP, 0.0)
    group.member_wants_master("A", True)
    assert group.member_wants_master("A", False) == []
    assert group.member_wants_master("B", True) == []
    assert group.member_wants_master("A", True) == [("A", MASTER), ("B", MASTER)]


def test_group_wish_counts_masters_and_respects_faults() -> None:
    group = group_of("A", "B")
    group.member_changed("A", MASTER, 0.0)
    group.member_changed("B", BACKUP, 0.0)
    assert group.member_wants_master("B", True) == [("B", MASTER)]
    group.member_changed("B", MASTER, 1.0)
    assert group.wanting == set()
    faulty = group_of("A", "B")
    faulty.member_changed("A", BACKUP, 0.0)
    faulty.member_changed("B", FAULT, 0.0)
    assert faulty.member_wants_master("A", True) == []
    assert faulty.member_wants_master("Z", True) == []


# --------------------------------------------------------------------------- track_file


def _file_calculator(weight: int | None = None, reverse: bool = False, default_weight: int = 1) -> PriorityCalculator:
    inst = instance(track_file=(TrackScript("tf", weight=weight, reverse=reverse),))
    return PriorityCalculator(inst, {"file": {"tf": TrackDefault(default_weight, False)}})


def test_track_file_value_times_weight_moves_priority_within_keepalived_limits() -> None:
    calc = _file_calculator()
    assert (calc.effective_priority, calc.faulted) == (100, False)  # not read yet: no effect
    assert calc.update("file", "tf", 20) is True
    assert calc.effective_priority == 120
    calc.update("file", "tf", -3)
    assert calc.effective_priority == 97
    calc.update("file", "tf", 10_000)  # clamped to 253, then to 254 by the priority limit
    assert (calc.effective_priority, calc.faulted) == (254, False)
    calc.update("file", "tf", -10_000)  # -254 and below: FAULT, contributing nothing
    assert (calc.effective_priority, calc.faulted) == (100, True)


def test_track_file_weight_override_reverse_and_weight_zero() -> None:
    calc = _file_calculator(weight=-5, default_weight=7)
    calc.update("file", "tf", 2)
    assert calc.effective_priority == 90
    reversed_calc = _file_calculator(weight=5, reverse=True)
    reversed_calc.update("file", "tf", 2)
    assert reversed_calc.effective_priority == 90
    gate = _file_calculator(weight=0)
    gate.update("file", "tf", 1)
    assert gate.faulted is True
    gate.update("file", "tf", 0)
    assert gate.faulted is False
    inverted = _file_calculator(weight=0, reverse=True)
    inverted.update("file", "tf", 0)
    assert inverted.faulted is True
