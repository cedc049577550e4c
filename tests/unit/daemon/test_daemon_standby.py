"""The VRRP child's pre-imported standby and the adoption hand-over, with the real supervisor and
network-free fake roles (tests/netns/test_vrrp_adoption.py repeats it with the real VRRP role).

After the VRRP child is ready the parent starts a standby (``child --standby``: imports done,
waiting for ``start``). A killed child is replaced by promoting the standby at once, and a child
that died abnormally hands its successor the instances it last reported as MASTER.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import FakeDaemon, vrrp_config, wait_until

from fastalived.daemon.supervisor import STANDBY_DELAY
from tests.support.host import process_alive

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeDaemon]:
    made = FakeDaemon(tmp_path, vrrp_config(("VI_1", 100), ("VI_2", 100)))
    yield made
    made.close()


def standby_pids(daemon: FakeDaemon) -> list[int]:
    return [int(pid) for pid in re.findall(r"VRRP standby child process, pid=(\d+)", daemon.log_text())]


def starts(daemon: FakeDaemon) -> list[dict]:
    return daemon.events("start", "vrrp")


def test_a_killed_vrrp_child_is_replaced_by_its_standby_which_adopts_its_masters(daemon: FakeDaemon) -> None:
    daemon.start()
    daemon.wait_started("vrrp")
    assert starts(daemon)[0]["adopt"] == []  # a first start adopts nothing
    standby = wait_until(lambda: standby_pids(daemon))[0]
    first = daemon.child_pid("vrrp")
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: len(starts(daemon)) == 2)
    second = starts(daemon)[1]
    assert second["pid"] == standby == daemon.child_pid("vrrp")
    assert second["adopt"] == ["VI_1", "VI_2"]
    assert f"Starting VRRP child process, pid={standby} (standby)" in daemon.log_text()
    wait_until(lambda: len(standby_pids(daemon)) == 2)  # and a new standby for the next time


def test_a_cleanly_exited_child_hands_nothing_over(daemon: FakeDaemon) -> None:
    daemon.start()
    daemon.wait_started("vrrp")
    wait_until(lambda: standby_pids(daemon))
    os.kill(daemon.child_pid("vrrp"), signal.SIGTERM)  # stops gracefully: the masters were released
    wait_until(lambda: len(starts(daemon)) == 2)
    assert starts(daemon)[1]["adopt"] == []


def test_the_standby_goes_with_the_daemon(daemon: FakeDaemon) -> None:
    daemon.start()
    daemon.wait_started("vrrp")
    standby = wait_until(lambda: standby_pids(daemon))[0]
    assert daemon.stop() == 0
    assert not process_alive(standby)
    assert [e["pid"] for e in starts(daemon)] != [standby]  # it never ran a role


def test_the_standby_goes_when_the_parent_is_killed(daemon: FakeDaemon) -> None:
    daemon.start()
    daemon.wait_started("vrrp")
    standby = wait_until(lambda: standby_pids(daemon))[0]
    assert daemon.process is not None
    daemon.process.kill()
    daemon.process.wait()
    wait_until(lambda: not process_alive(standby))


def test_no_standby_without_respawn(tmp_path: Path) -> None:
    daemon = FakeDaemon(tmp_path, vrrp_config(("VI_1", 100)), dont_respawn=True)
    try:
        daemon.start()
        daemon.wait_started("vrrp")
        time.sleep(STANDBY_DELAY + 1.0)  # when one would have been started
        os.kill(daemon.child_pid("vrrp"), signal.SIGKILL)
        assert daemon.process is not None and daemon.process.wait(30) == 1
        assert standby_pids(daemon) == []
    finally:
        daemon.close()
