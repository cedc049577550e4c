"""A checker child that dies abnormally hands its successor the IPVS table it left (``adopt_ipvs``):
no ``lvs_flush``, real servers seeded from the kernel (``check.seed``). A clean exit hands nothing.
Real supervisor, network-free fake roles; tests/vm/guest/test_check_respawn_guest.py has the kernel."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import FakeDaemon, vrrp_config, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeDaemon]:
    made = FakeDaemon(tmp_path, vrrp_config(("VI_1", 100), servers=2))
    yield made
    made.close()


def starts(daemon: FakeDaemon) -> list[dict]:
    return daemon.events("start", "check")


@pytest.mark.parametrize(("signum", "adopt"), [(signal.SIGKILL, True), (signal.SIGTERM, False)])
def test_only_an_abnormal_exit_hands_the_table_over(daemon: FakeDaemon, signum: int, adopt: bool) -> None:
    daemon.start()
    daemon.wait_started("vrrp", "check")
    assert starts(daemon)[0]["adopt_ipvs"] is False  # a first start is keepalived's
    os.kill(daemon.child_pid("check"), signum)
    wait_until(lambda: len(starts(daemon)) == 2, timeout=20)
    assert starts(daemon)[1]["adopt_ipvs"] is adopt
    assert daemon.events("start", "vrrp")[-1]["adopt_ipvs"] is False
