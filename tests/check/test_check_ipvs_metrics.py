"""What each IPVS pass did reaches /metrics: operations by kind and result, and pass durations."""

from __future__ import annotations

import asyncio
import enum
from collections import Counter
from dataclasses import dataclass, field

from fastalived.check.process import CheckRole, NoIpvs
from fastalived.check.state import CheckState
from fastalived.config.model import Config


class Kind(enum.Enum):
    ADD_DEST = 1
    SET_DEST = 2


@dataclass
class Op:
    kind: Kind


@dataclass
class Report:
    applied: Counter[Kind] = field(default_factory=lambda: Counter({Kind.ADD_DEST: 3}))
    failed: list[tuple[Op, int]] = field(default_factory=lambda: [(Op(Kind.SET_DEST), 2)])
    seconds: float = 0.004


class ReportingSink:
    async def apply(self, config: Config, check_state: CheckState, *, repair: bool = False) -> Report:
        return Report()

    async def close(self, remove: bool, *, flush: bool = False) -> None:
        """Nothing to release."""


def _samples(role: CheckRole) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(m.name, m.labels): m.value for m in role.metrics()}


def test_a_pass_counts_operations_and_its_duration() -> None:
    role = CheckRole(ipvs=ReportingSink())

    async def one_pass() -> None:
        await role.start(Config())
        role._push_ipvs()  # what any check result does
        await asyncio.sleep(0.05)
        await role.stop()

    asyncio.run(one_pass())
    samples = _samples(role)
    assert samples[("fastalived_ipvs_available", ())] == 1
    assert samples[("fastalived_ipvs_operations_total", (("op", "add_dest"), ("result", "ok")))] == 3
    assert samples[("fastalived_ipvs_operations_total", (("op", "set_dest"), ("result", "failed")))] == 1
    assert samples[("fastalived_ipvs_reconcile_duration_seconds", ())] == 1  # one pass observed


def test_without_ipvs_the_gauge_says_so() -> None:
    assert _samples(CheckRole(ipvs=NoIpvs()))[("fastalived_ipvs_available", ())] == 0
