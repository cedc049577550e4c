"""The checker's sans-IO core on an injected clock: retries, alpha, AND of checkers, quorum, reload."""

from __future__ import annotations

from dataclasses import replace

from fastalived.check.events import WEIGHT_CHANGED, RealServerChange, VirtualServerChange
from fastalived.check.scheduler import TimerHeap
from fastalived.check.state import CheckResult, CheckState
from fastalived.config.model import MiscCheck, SorryServer
from tests.check.builders import common, config, ipvs_weights, real_server, tcp_check, virtual_server

OK = CheckResult(True)
FAIL = CheckResult(False, "connection refused")


def load(*vss):
    state = CheckState()
    events, started = state.load(config(*vss), 0.0)
    return state, events, [checker for _, checker in started]


def test_up_server_is_retried_before_it_goes_down() -> None:
    vs = virtual_server(real_server(8001, tcp_check(8001, retry=2, delay_before_retry=3.0, delay_loop=10.0)))
    state, _, (checker,) = load(vs)
    now = 100.0
    events, due = state.record(checker, FAIL, now)
    assert (events, due) == ([], now + 3.0)  # retry 1 of 2
    events, due = state.record(checker, FAIL, due)
    assert (events, due) == ([], now + 6.0)  # retry 2 of 2
    events, due = state.record(checker, FAIL, due)
    assert due == now + 6.0 + 10.0  # declared down: back to delay_loop
    assert events[0] == RealServerChange(vs.key, vs.real_servers[0].key, False, 0, "connection refused")
    assert events[1] == VirtualServerChange(vs.key, False)
    # a down server is not retried: every failure waits delay_loop
    assert state.record(checker, FAIL, 200.0) == ([], 210.0)


def test_one_success_brings_a_server_up_and_resets_the_retries() -> None:
    vs = virtual_server(real_server(8001, tcp_check(8001, retry=1, delay_before_retry=2.0, delay_loop=5.0)))
    state, _, (checker,) = load(vs)
    assert state.record(checker, FAIL, 0.0) == ([], 2.0)
    assert state.record(checker, OK, 2.0) == ([], 7.0)  # recovered within the retries: no change
    assert state.record(checker, FAIL, 7.0) == ([], 9.0)  # a fresh retry budget
    events, _ = state.record(checker, FAIL, 9.0)
    assert [type(e) for e in events] == [RealServerChange, VirtualServerChange]
    events, due = state.record(checker, OK, 14.0)
    assert due == 19.0
    assert events == [
        RealServerChange(vs.key, vs.real_servers[0].key, True, 1, "success"),
        VirtualServerChange(vs.key, True),
    ]


def test_alpha_starts_down_and_quorum_is_lost_at_start() -> None:
    vs = virtual_server(real_server(8001, tcp_check(8001, alpha=True)))
    state, events, (checker,) = load(vs)
    assert events == [
        RealServerChange(vs.key, vs.real_servers[0].key, False, 0, "initial"),
        VirtualServerChange(vs.key, False),
    ]
    events, _ = state.record(checker, OK, 1.0)
    assert [getattr(e, "up", getattr(e, "quorum_up", None)) for e in events] == [True, True]


def test_without_alpha_servers_start_up_and_a_server_without_checkers_is_always_up() -> None:
    vs = virtual_server(real_server(8001, tcp_check(8001)), real_server(8002))
    state, events, started = load(vs)
    assert [e.up for e in events if isinstance(e, RealServerChange)] == [True, True]
    assert len(started) == 1
    assert ipvs_weights(config(vs), state) == {"TCP 192.0.2.10:80": {("127.0.0.1", 8001): 1, ("127.0.0.1", 8002): 1}}


def test_a_server_is_up_only_while_all_its_checkers_pass() -> None:
    vs = virtual_server(real_server(8001, tcp_check(8001), tcp_check(8002)))
    state, _, (first, second) = load(vs)
    events, _ = state.record(second, FAIL, 0.0)
    assert events[0].up is False
    assert state.record(first, OK, 0.0)[0] == []  # still down: the second checker fails
    events, _ = state.record(second, OK, 1.0)
    assert events[0].up is True


def test_misc_dynamic_weight_follows_the_exit_status() -> None:
    misc = MiscCheck("MISC_CHECK", common(0), misc_path="/bin/true", misc_dynamic=True)
    vs = virtual_server(real_server(8001, misc, weight=3))
    state, _, (checker,) = load(vs)
    events, _ = state.record(checker, CheckResult(True, weight=5), 0.0)  # exit 7
    assert events == [RealServerChange(vs.key, vs.real_servers[0].key, True, 5, WEIGHT_CHANGED)]
    assert state.record(checker, CheckResult(True), 1.0)[0] == []  # exit 0: weight unchanged
    events, _ = state.record(checker, CheckResult(True, weight=0), 2.0)  # exit 2: weight 0
    assert events[0].weight == 0


def test_quorum_with_hysteresis() -> None:
    servers = [real_server(8000 + i, tcp_check(8000 + i), weight=1) for i in range(5)]
    vs = virtual_server(*servers, quorum=3, hysteresis=1)
    state, events, checkers = load(vs)
    assert not [e for e in events if isinstance(e, VirtualServerChange)]  # 5 >= 3: keeps quorum

    def quorum_events(index: int, result: CheckResult) -> list[bool]:
        events, _ = state.record(checkers[index], result, 0.0)
        return [e.quorum_up for e in events if isinstance(e, VirtualServerChange)]

    assert quorum_events(0, FAIL) == []  # 4
    assert quorum_events(1, FAIL) == []  # 3
    assert quorum_events(2, FAIL) == []  # 2: not below quorum - hysteresis = 2
    assert quorum_events(3, FAIL) == [False]  # 1 < 2: lost
    assert quorum_events(3, OK) == []  # 2
    assert quorum_events(2, OK) == []  # 3: not yet quorum + hysteresis = 4
    assert quorum_events(1, OK) == [True]  # 4: gained


def test_the_ipvs_table_built_from_the_state_honours_inhibit_and_the_sorry_server() -> None:
    up = real_server(8001, tcp_check(8001))
    inhibited = real_server(8002, tcp_check(8002), inhibit_on_failure=True)
    sorry = SorryServer(up.address, 9000)
    vs = virtual_server(up, inhibited, sorry_server=sorry)
    state, _, (first, second) = load(vs)

    def table() -> dict:
        return ipvs_weights(config(vs), state)["TCP 192.0.2.10:80"]

    state.record(second, FAIL, 0.0)
    assert table() == {("127.0.0.1", 8001): 1, ("127.0.0.1", 8002): 0}
    state.record(first, FAIL, 0.0)  # nothing live: quorum lost, the sorry server takes over
    assert table() == {("127.0.0.1", 8002): 0, ("127.0.0.1", 9000): 1}
    state.record(first, OK, 1.0)
    assert table() == {("127.0.0.1", 8001): 1, ("127.0.0.1", 8002): 0}


def test_reload_keeps_untouched_servers_and_starts_new_ones() -> None:
    kept = real_server(8001, tcp_check(8001))
    dropped = real_server(8002, tcp_check(8002))
    vs = virtual_server(kept, dropped)
    state, _, (kept_checker, dropped_checker) = load(vs)
    state.record(kept_checker, FAIL, 0.0)
    assert state.real_server(vs.key, kept.key).up is False
    added = real_server(8003, tcp_check(8003, alpha=True))
    new_vs = replace(vs, real_servers=(kept, added), quorum=1)
    events, started = state.load(config(new_vs), 50.0)
    assert [c.server.key for _, c in started] == [added.key]  # only the new server starts checking
    assert state.real_server(vs.key, kept.key).checkers[0] is kept_checker  # state kept
    assert kept_checker.live and not dropped_checker.live
    assert state.real_server(vs.key, dropped.key) is None
    assert events == [  # nothing live any more: the quorum goes too
        RealServerChange(vs.key, added.key, False, 0, "initial"),
        VirtualServerChange(vs.key, False),
    ]


def test_reload_with_a_changed_weight_reports_the_new_weight() -> None:
    rs = real_server(8001, tcp_check(8001))
    state, _, (checker,) = load(virtual_server(rs))
    events, started = state.load(config(virtual_server(replace(rs, weight=7))), 50.0)
    assert started == []
    assert state.real_server(virtual_server(rs).key, rs.key).checkers[0] is checker
    assert [(e.up, e.weight, e.reason) for e in events] == [(True, 7, WEIGHT_CHANGED)]


def test_first_runs_are_spread_over_warmup_from_now() -> None:
    servers = [real_server(8000 + i, tcp_check(8000 + i, warmup=4.0, delay_loop=10.0)) for i in range(200)]
    _, started = CheckState().load(config(virtual_server(*servers)), 1000.0)
    dues = [due for due, _ in started]
    assert all(1000.0 <= due < 1004.0 for due in dues)
    assert max(dues) - min(dues) > 3.0  # spread, not bunched
    no_warmup = [real_server(9000 + i, tcp_check(9000 + i, warmup=0.0)) for i in range(3)]
    _, started = CheckState().load(config(virtual_server(*no_warmup)), 1000.0)
    assert [due for due, _ in started] == [1000.0] * 3


def simulate(vs, outcomes: dict[float, CheckResult], until: float) -> list[tuple[float, str]]:
    """Drive the heap and the core on a fake clock; returns (time, what) for every check and change.

    ``outcomes`` maps check times to results (default: success); checks complete instantly.
    """
    state = CheckState()
    heap: TimerHeap = TimerHeap(lambda checker: checker.live)
    _, started = state.load(config(vs), 0.0)
    for due, checker in started:
        heap.push(due, checker)
    timeline: list[tuple[float, str]] = []
    while heap.next_deadline is not None and heap.next_deadline <= until:
        now = heap.next_deadline
        for _, checker in heap.pop_due(now):
            result = outcomes.get(now, OK)
            timeline.append((now, "ok" if result.ok else "fail"))
            events, due = state.record(checker, result, now)
            timeline.extend(
                (now, f"{type(e).__name__}:{getattr(e, 'up', getattr(e, 'quorum_up', None))}") for e in events
            )
            heap.push(due, checker)
    return timeline


def test_retry_sequencing_on_a_fake_clock() -> None:
    check = tcp_check(8001, warmup=0.0, delay_loop=10.0, retry=2, delay_before_retry=3.0)
    vs = virtual_server(real_server(8001, check))
    timeline = simulate(vs, {10.0: FAIL, 13.0: FAIL, 16.0: FAIL, 26.0: FAIL}, until=40.0)
    assert timeline == [
        (0.0, "ok"),
        (10.0, "fail"),  # up and failing: retried 3 s later ...
        (13.0, "fail"),  # ... twice (retry 2)
        (16.0, "fail"),  # the third failure in a row takes it down
        (16.0, "RealServerChange:False"),
        (16.0, "VirtualServerChange:False"),
        (26.0, "fail"),  # down: plain delay_loop, no retries
        (36.0, "ok"),  # one success brings it back
        (36.0, "RealServerChange:True"),
        (36.0, "VirtualServerChange:True"),
    ]


def test_alpha_server_comes_up_on_its_first_success_after_warmup() -> None:
    check = tcp_check(8001, warmup=0.0, delay_loop=5.0, alpha=True)
    timeline = simulate(virtual_server(real_server(8001, check)), {0.0: FAIL}, until=6.0)
    assert timeline == [(0.0, "fail"), (5.0, "ok"), (5.0, "RealServerChange:True"), (5.0, "VirtualServerChange:True")]


def test_a_duplicate_real_server_is_ignored_not_fatal() -> None:
    first = real_server(8001, tcp_check(8001), weight=2)
    state, _, started = load(virtual_server(first, real_server(8001, tcp_check(8002))))
    assert [c.checker.common.connect_port for c in started] == [8001]
    assert state.real_server(virtual_server(first).key, first.key).config is first
