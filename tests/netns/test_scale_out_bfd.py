"""A director that dies outright (link silent, fastalived and FRR killed) leaves the router's ECMP
set within BFD's detection time (100 ms x 3), long before BGP's hold timer would notice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.ecmp import EcmpBed, running_bed
from tests.support.testbed import wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

HOLD_TIME = 3.0  # contrib/frr: "timers 1 3"


@pytest.fixture
def bed() -> Iterator[EcmpBed]:
    yield from running_bed(directors=2, bfd=True)


def test_bfd_removes_a_crashed_director(bed: EcmpBed) -> None:
    for director in bed.fleet:
        director.start()
    assert bed.wait_next_hops(bed.director_addresses(0, 1), 30) is not None, bed.next_hops()
    assert wait_for(lambda: bed.router_frr.vtysh("show bfd peers brief").count(" up ") == 2, 10)
    crashed = bed.crash(0)
    gone = bed.wait_next_hops(bed.director_addresses(1), 5)
    assert gone is not None, bed.next_hops()
    assert gone - crashed < HOLD_TIME / 2, gone - crashed
    assert {bed.get() for _ in range(10)} == {"director2"}
