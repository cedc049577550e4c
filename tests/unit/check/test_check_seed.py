"""A checker replacing a crashed one starts from the kernel's IPVS table (``check.seed``): the pure
seeding rules, the retry/alpha rules from there, and the round trip table -> seeds -> same table
(the first reconcile plans nothing). The kernel itself: tests/vm/guest/test_check_respawn_guest.py."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from fastalived.check.seed import Seed, initial_states
from fastalived.check.state import CheckResult, CheckState
from fastalived.config.model import Config, MiscCheck, SorryServer
from fastalived.ipvs.desired import IpvsTable
from fastalived.ipvs.director import IpvsDirector, desired_from_check_state
from fastalived.ipvs.reconciler import Reconciler
from tests.check.builders import common, config, real_server, tcp_check, virtual_server

OK = CheckResult(True)
FAIL = CheckResult(False, "connection refused")


class KernelClient:
    """Stands in for ``IpvsClient``: ``table()`` answers with a fixed kernel table."""

    def __init__(self, table: IpvsTable) -> None:
        self._table = table

    async def table(self, with_destinations: Any) -> IpvsTable:
        return {key: entry for key, entry in copy.deepcopy(self._table).items() if key in with_destinations}


def observe(cfg: Config, table: IpvsTable) -> dict:
    return asyncio.run(IpvsDirector(KernelClient(table)).observe(cfg))  # type: ignore[arg-type]


def test_present_is_up_absent_or_inhibited_at_zero_is_down() -> None:
    up, gone, drained = (real_server(port, tcp_check(port)) for port in (8000, 8001, 8003))
    inhibited = real_server(8002, tcp_check(8002), inhibit_on_failure=True)
    vs = virtual_server(up, gone, inhibited, drained)
    kernel = {vs.key: {up.key: 1, inhibited.key: 0, drained.key: 0}}
    assert initial_states(config(vs), kernel) == {
        (vs.key, up.key): Seed(True),
        (vs.key, gone.key): Seed(False),
        (vs.key, inhibited.key): Seed(False),
        (vs.key, drained.key): Seed(True),  # weight 0 without inhibit: a drain, not a dead server
    }


def test_a_virtual_server_missing_from_the_kernel_starts_as_on_a_first_start() -> None:
    vs = virtual_server(real_server(8001, tcp_check(8001)))
    assert initial_states(config(vs), {}) == {}


def test_a_dynamic_weight_is_kept_a_static_one_is_not() -> None:
    dynamic = real_server(8001, MiscCheck("MISC_CHECK", common(), "/bin/true", misc_dynamic=True), weight=5)
    static = real_server(8002, tcp_check(8002), weight=5)
    vs = virtual_server(dynamic, static)
    seeds = initial_states(config(vs), {vs.key: {dynamic.key: 3, static.key: 3}})
    assert seeds[(vs.key, dynamic.key)] == Seed(True, 3)
    assert seeds[(vs.key, static.key)] == Seed(True)


def test_seeds_override_alpha_and_keep_the_retry_rules() -> None:
    check = tcp_check(8001, alpha=True, retry=2, delay_before_retry=1.0, delay_loop=10.0)
    up, down = real_server(8001, check), real_server(8002, tcp_check(8002, retry=2, delay_loop=10.0))
    vs = virtual_server(up, down)
    state = CheckState()
    seeds = {(vs.key, up.key): Seed(True), (vs.key, down.key): Seed(False)}
    state.load(config(vs), 0.0, seeds)
    rs_up, rs_down = state.virtual_servers[vs.key].servers.values()
    assert (rs_up.up, rs_down.up) == (True, False)
    # up: a failure is retried before the server goes down; down: one success brings it back
    assert state.record(rs_up.checkers[0], FAIL, 5.0) == ([], 6.0)
    events, _ = state.record(rs_down.checkers[0], OK, 5.0)
    assert [(e.rs_key, e.up) for e in events] == [(down.key, True)]


def test_a_reload_keeps_running_servers_and_ignores_seeds() -> None:
    rs = real_server(8001, tcp_check(8001))
    vs = virtual_server(rs)
    state = CheckState()
    state.load(config(vs), 0.0)
    state.load(config(vs), 1.0, {(vs.key, rs.key): Seed(False)})
    assert state.virtual_servers[vs.key].servers[rs.key].up


def test_the_table_a_dead_checker_left_is_what_its_successor_asks_for() -> None:
    """Round trip: state -> kernel table -> observe -> seeds -> new state -> the same table, zero ops."""
    inhibited = real_server(8003, tcp_check(8003, retry=0), inhibit_on_failure=True)
    alpha = real_server(8004, tcp_check(8004, alpha=True))
    dynamic = real_server(8005, MiscCheck("MISC_CHECK", common(), "/bin/true", misc_dynamic=True), weight=4)
    servers = [real_server(8000 + n, tcp_check(8000 + n, retry=0)) for n in range(3)]
    vs = virtual_server(*servers, inhibited, alpha, dynamic)
    sorry_vs = virtual_server(
        real_server(9001, tcp_check(9001, retry=0)),
        address="198.51.100.11",
        sorry_server=SorryServer(real_server(9100).address, 9100),
    )
    cfg = config(vs, sorry_vs)
    before = CheckState()
    before.load(cfg, 0.0)

    def checker_of(state: CheckState, vs_key: str, port: int) -> Any:
        return next(rs for rs in state.virtual_servers[vs_key].servers.values() if rs.config.port == port).checkers[0]

    before.record(checker_of(before, vs.key, 8001), FAIL, 1.0)  # down: leaves the table
    before.record(checker_of(before, vs.key, 8003), FAIL, 1.0)  # inhibited: weight 0
    before.record(checker_of(before, vs.key, 8005), CheckResult(True, weight=2), 1.0)
    before.record(checker_of(before, sorry_vs.key, 9001), FAIL, 1.0)  # quorum lost: the sorry server
    kernel = desired_from_check_state(cfg, before).services

    after = CheckState()
    after.load(cfg, 2.0, initial_states(cfg, observe(cfg, kernel)))
    assert Reconciler().plan(desired_from_check_state(cfg, after).services, copy.deepcopy(kernel)) == []
    # without the seeds (today's start) the dead server would be re-added and the alpha one pulled
    fresh = CheckState()
    fresh.load(cfg, 2.0)
    assert Reconciler().plan(desired_from_check_state(cfg, fresh).services, copy.deepcopy(kernel)) != []


def test_observe_skips_virtual_servers_whose_service_is_gone() -> None:
    vs = virtual_server(real_server(8001, tcp_check(8001)))
    cfg = config(vs)
    state = CheckState()
    state.load(cfg, 0.0)
    assert observe(cfg, desired_from_check_state(cfg, state).services) == {vs.key: {vs.real_servers[0].key: 1}}
    assert observe(cfg, {}) == {}


class ObservedSink:
    """An IPVS sink holding a kernel table: counts the reads and keeps the first state applied."""

    def __init__(self, kernel: dict) -> None:
        self.kernel = kernel
        self.observed = 0
        self.applied: list[dict] = []

    async def apply(self, config: Config, check_state: CheckState, *, repair: bool = False) -> None:
        self.applied.append({k: (rs.up, rs.weight) for k, rs in check_state.virtual_servers[VS.key].servers.items()})

    async def close(self, remove: bool, *, flush: bool = False) -> None:
        """Nothing to release."""

    async def observe(self, config: Config) -> dict:
        self.observed += 1
        return self.kernel


VS = virtual_server(*(real_server(port, tcp_check(port, warmup=3600.0, alpha=True)) for port in (8001, 8002)))


def run_role(adopt: bool) -> ObservedSink:
    from fastalived.check.process import CheckRole
    from fastalived.options import RunOptions

    sink = ObservedSink({VS.key: {VS.real_servers[0].key: 1}})

    async def main() -> None:
        role = CheckRole(RunOptions(adopt_ipvs=adopt), ipvs=sink)
        await role.start(config(VS))
        await asyncio.sleep(0.05)
        await role.stop()

    asyncio.run(main())
    return sink


def test_only_a_successor_reads_the_kernel_and_starts_from_it() -> None:
    first, second = VS.real_servers[0].key, VS.real_servers[1].key
    cold = run_role(adopt=False)
    assert cold.observed == 0 and cold.applied[0] == {first: (False, 0), second: (False, 0)}  # alpha
    warm = run_role(adopt=True)
    assert warm.observed == 1 and warm.applied[0] == {first: (True, 1), second: (False, 0)}
