"""Property tests: script hysteresis equals keepalived's result counter; priorities stay in range."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fastalived.config.model import TrackInterface, TrackScript, VrrpInstance, VrrpScript
from fastalived.vrrp.tracking import PriorityCalculator, ScriptTracker, script_defaults


def _calculator(inst: VrrpInstance, scripts: dict[str, VrrpScript]) -> PriorityCalculator:
    return PriorityCalculator(inst, {"script": script_defaults(scripts.values())})


class CounterModel:
    """keepalived's single-counter formulation of rise/fall: up while ``result >= rise``."""

    def __init__(self, rise: int, fall: int, init_fail: bool) -> None:
        self.rise, self.fall = rise, fall
        self.result = 0 if init_fail else rise - 1

    def feed(self, ok: bool) -> bool:
        top = self.rise + self.fall - 1
        if ok:
            self.result = self.result + 1 if self.result < self.rise - 1 else top
        else:
            self.result = self.result - 1 if self.result > self.rise else 0
        return self.result >= self.rise


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.booleans(), st.lists(st.booleans(), max_size=40))
def test_script_tracker_matches_counter_model(rise: int, fall: int, init_fail: bool, results: list[bool]) -> None:
    tracker = ScriptTracker(VrrpScript(name="s", script="/bin/true", rise=rise, fall=fall, init_fail=init_fail))
    model = CounterModel(rise, fall, init_fail)
    for ok in results:
        before = tracker.up
        changed = tracker.result(ok)
        assert tracker.up == model.feed(ok)
        assert changed == (before != tracker.up)


weights = st.one_of(st.none(), st.integers(-253, 253))


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 255),
    st.lists(st.tuples(weights, st.booleans()), max_size=4),
    st.lists(st.tuples(st.integers(-253, 253), st.booleans()), max_size=4),
    st.lists(st.tuples(st.booleans(), st.integers(0, 7), st.one_of(st.none(), st.booleans())), max_size=30),
)
def test_priority_stays_in_range_and_matches_fresh_computation(
    priority: int,
    interface_weights: list[tuple[int | None, bool]],
    script_weights: list[tuple[int, bool]],
    updates: list[tuple[bool, int, bool | None]],
) -> None:
    scripts = {
        f"s{i}": VrrpScript(name=f"s{i}", script="/bin/true", weight=w, weight_reverse=r)
        for i, (w, r) in enumerate(script_weights)
    }
    inst = VrrpInstance(
        name="VI_1",
        interface="eth0",
        virtual_router_id=1,
        priority=priority,
        track_interface=tuple(TrackInterface(f"if{i}", w, r) for i, (w, r) in enumerate(interface_weights)),
        track_script=tuple(TrackScript(name) for name in scripts),
    )
    calc = _calculator(inst, scripts)
    status: dict[tuple[str, str], bool | None] = {}
    for is_script, index, up in updates:
        if is_script:
            calc.update("script", f"s{index}", up)
            status[("script", f"s{index}")] = up
        else:
            calc.update("interface", f"if{index}", bool(up))
            status[("interface", f"if{index}")] = bool(up)
        if priority == 255:
            assert calc.effective_priority == 255
        else:
            assert 1 <= calc.effective_priority <= 254
    fresh = _calculator(inst, scripts)  # the result depends on the final states only
    for (kind, name), value in status.items():
        if kind == "script":
            fresh.update("script", name, value)
        else:
            fresh.update("interface", name, bool(value))
    assert (fresh.effective_priority, fresh.faulted) == (calc.effective_priority, calc.faulted)
