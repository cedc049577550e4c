"""The operator's drain overlay (``fastalived ctl drain``): weight 0 in the desired table, then removal."""

from __future__ import annotations

import asyncio

from fastalived.check.drain import Drainer, DrainTable, parse_drains, rs_text
from fastalived.check.state import CheckState
from fastalived.config.model import Config, SorryServer
from fastalived.ipvs.desired import DestKey, build_desired
from fastalived.ipvs.director import desired_from_check_state
from tests.unit.ipvs.test_ipvs_desired import RS1, RS2, SORRY, TCP_KEY, dests, web

CONFIG = Config(virtual_servers=(web(),))
VS_KEY = web().key
RS1_KEY = (VS_KEY, (RS1, 8080))
RS2_KEY = (VS_KEY, (RS2, 8080))


def drained_dests(drained, rs_state=None, quorum=None, config=CONFIG):
    return build_desired(config, rs_state or {}, quorum or {}, drained).services[TCP_KEY].dests


def test_a_drained_server_stays_at_weight_0_and_leaves_once_its_timeout_passed():
    assert {k.address: d.weight for k, d in drained_dests({RS1_KEY: False}).items()} == {
        "203.0.113.1": 0,
        "203.0.113.2": 2,
    }
    assert set(drained_dests({RS1_KEY: True})) == {DestKey("203.0.113.2", 8080)}
    assert drained_dests({}) == dests(CONFIG)


def test_drain_overrides_the_checker_weight_but_a_down_server_stays_absent():
    up_heavy = {RS1_KEY: (True, 7)}
    assert drained_dests({RS1_KEY: False}, up_heavy)[DestKey("203.0.113.1", 8080)].weight == 0
    assert DestKey("203.0.113.1", 8080) not in drained_dests({RS1_KEY: False}, {RS1_KEY: (False, 3)})


def test_lost_quorum_still_brings_the_sorry_server_when_servers_are_drained():
    config = Config(virtual_servers=(web(sorry_server=SorryServer(SORRY, 8080)),))
    table = drained_dests({RS1_KEY: False}, quorum={VS_KEY: False}, config=config)
    assert set(table) == {DestKey("203.0.113.99", 8080)}


def test_the_director_reads_the_overlay_from_the_check_state():
    state = CheckState()
    state.load(CONFIG, 0.0)
    state.drained = {RS2_KEY: False}
    table = desired_from_check_state(CONFIG, state)
    assert table.services[TCP_KEY].dests[DestKey("203.0.113.2", 8080)].weight == 0


def test_drain_table_replaces_sets_and_names_the_changes():
    table = DrainTable()
    wire = [{"vs": VS_KEY, "rs": "203.0.113.1", "port": 8080, "until": 100.0}]
    changed, restored = table.replace(parse_drains(wire))
    assert (changed, restored) == ([RS1_KEY], [])
    assert table.replace(parse_drains(wire)) == ([], [])
    assert table.overlay(99.0) == {RS1_KEY: False} and table.overlay(100.0) == {RS1_KEY: True}
    assert table.next_deadline(50.0) == 100.0 and table.next_deadline(100.0) is None
    assert table.replace({}) == ([], [RS1_KEY])
    assert rs_text((RS1, 8080)) == "203.0.113.1:8080"


def test_drainer_pushes_on_change_and_removes_at_the_timeout():
    async def scenario() -> tuple[list[str], int, dict, dict, dict]:
        state = CheckState()
        state.load(CONFIG, 0.0)
        pushes = []
        clock = [1000.0]
        drainer = Drainer(state, lambda: pushes.append(dict(state.drained)), lambda: clock[0])
        lines = drainer.steer({"drains": [{"vs": VS_KEY, "rs": "203.0.113.1", "port": 8080, "until": 1000.05}]})
        first = dict(state.drained)
        clock[0] = 1000.1
        await asyncio.sleep(0.2)  # the loop timer fires refresh()
        after_timeout = dict(state.drained)
        lines += drainer.steer({"drains": []})
        drainer.close()
        return lines, len(pushes), first, after_timeout, dict(state.drained)

    lines, pushes, first, after_timeout, restored = asyncio.run(scenario())
    assert first == {RS1_KEY: False}
    assert after_timeout == {RS1_KEY: True}
    assert restored == {}
    assert pushes == 3
    assert lines[0].startswith(f"{VS_KEY} 203.0.113.1:8080: drained, weight 3 -> 0, removed from IPVS at ")
    assert lines[1] == f"{VS_KEY} 203.0.113.1:8080: restored, weight 0 -> 3"
