"""Scale-out behind ECMP with real FRR: announcements follow health and fail closed.

Three directors announce the VIP through zebra's ``ip import-table`` and bgpd (the shipped
``contrib/frr`` configs) to a router with multipath. Shown on the router's kernel FIB: three next
hops and a client spread over them; one director's real server failing removes that director
only; its checker child killed with SIGKILL withdraws at once and the respawned child re-announces
after its first round of checks; a reload dropping the announcement withdraws it; SIGTERM
withdraws while the director still runs (the drain), and only then does fastalived exit; a
SIGKILLed parent's checker child empties the table on its way out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.support.ecmp import EcmpBed, kill_check_child, running_bed
from tests.support.testbed import wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

DRAIN = 1.5


@pytest.fixture
def bed() -> Iterator[EcmpBed]:
    yield from running_bed(directors=3, drain=DRAIN)


def _announcement(status: dict) -> dict:
    (row,) = status["announcements"]
    return row


def test_announcements_follow_health_and_fail_closed(bed: EcmpBed) -> None:
    everyone = bed.director_addresses(0, 1, 2)
    first, second = bed.fleet[:2]
    for director in bed.fleet:
        director.start()
    assert bed.wait_next_hops(everyone, 30) is not None, bed.next_hops()
    answers = {bed.get() for _ in range(60)}
    assert answers == {"director1", "director2", "director3"}  # the router spreads new flows over all

    row = _announcement(first.status())
    assert (row["prefix"], row["state"], row["table"]) == ("198.51.100.80/32", "announced", 201)

    # A real server failing withdraws that director's route only; recovery announces it again.
    bed.stop_real_server(0)
    assert bed.wait_next_hops(bed.director_addresses(1, 2), 10) is not None, bed.next_hops()
    row = _announcement(first.status())
    assert (row["state"], row["reason"]) == ("withdrawn", "TCP:198.51.100.80:80: quorum lost")
    assert {bed.get() for _ in range(20)} == {"director2", "director3"}
    bed.start_real_server(0)
    assert bed.wait_next_hops(everyone, 10) is not None, bed.next_hops()

    # Fail closed: the checker child dies -> the parent withdraws; the respawned child re-announces.
    old_child = kill_check_child(second)
    assert bed.wait_next_hops(bed.director_addresses(0, 2), 10) is not None, bed.next_hops()
    assert wait_for(lambda: second.check_pid() not in (None, old_child), 10)
    assert bed.wait_next_hops(everyone, 15) is not None, bed.next_hops()

    # A reload that drops the announcement withdraws it; putting it back announces again.
    bed.reconfigure(2, announce=False)
    assert bed.wait_next_hops(bed.director_addresses(0, 1), 10) is not None, bed.next_hops()
    bed.reconfigure(2, announce=True)
    assert bed.wait_next_hops(everyone, 10) is not None, bed.next_hops()

    # SIGTERM: withdrawn while the checker child (which tears IPVS down) still runs, then a drain.
    daemon = first.daemon
    assert daemon is not None
    check_child = first.check_pid()
    signalled = time.time()
    daemon.terminate()
    withdrawn = bed.wait_next_hops(bed.director_addresses(1, 2), 10)
    assert withdrawn is not None, bed.next_hops()
    assert check_child is not None and os.path.exists(f"/proc/{check_child}")
    daemon.wait(15)
    exited = time.time()
    assert daemon.returncode == 0
    assert exited - signalled >= DRAIN, (signalled, withdrawn, exited)
    assert withdrawn < exited
    log = first.log_text()
    assert "announce: withdrawing 198.51.100.80/32 (stopping)" in log
    assert "draining for 1.5 s" in log

    # The parent SIGKILLed: its checker child stops and empties the table on its way out.
    assert second.daemon is not None
    second.daemon.kill()
    assert bed.wait_next_hops(bed.director_addresses(2), 10) is not None, bed.next_hops()
