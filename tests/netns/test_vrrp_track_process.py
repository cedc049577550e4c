"""``vrrp_track_process`` end to end: real processes on the host, seen through the kernel's process
event connector (the daemon runs in a network namespace and still hears them), move the VIP by
weight or, without quorum, put the instances in FAULT, as keepalived does."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns.test_vrrp_scenarios import VIP, cluster, holders, instance, master_down, wait_holder
from tests.support.netns import wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

__all__ = ["cluster"]  # the fixture, shared with the scenario tests


class StandIns:
    """Processes with a unique name (a symlink to sleep), killed at teardown."""

    def __init__(self, directory: Path) -> None:
        self.name = "fatp" + secrets.token_hex(4)  # within the kernel's 15-character comm
        self.path = directory / self.name
        self.path.symlink_to("/bin/sleep")
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([str(self.path), "300"])
        self.running.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        proc.wait()
        self.running.remove(proc)

    def close(self) -> None:
        for proc in list(self.running):
            self.kill(proc)


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[StandIns]:
    procs = StandIns(tmp_path)
    try:
        yield procs
    finally:
        procs.close()


def test_weighted_process_moves_the_vip_when_it_dies_and_back_when_it_returns(cluster, stand_ins) -> None:
    first = stand_ins.start()
    definition = f"vrrp_track_process server {{\n    process {stand_ins.name}\n}}\n"
    track = "    track_process {\n        server weight -60\n    }"
    bed, (n1, _) = cluster(
        [
            definition + instance("VI_1", 81, 150, [f"{VIP}/24"], extra=track),
            instance("VI_1", 81, 100, [f"{VIP}/24"]),
        ]
    )
    assert wait_holder(bed, 1, 5), holders(bed)

    # The process exits: priority 90 < 100, the peer preempts.
    stand_ins.kill(first)
    assert wait_holder(bed, 2, master_down(100) + 3), holders(bed)
    assert "Quorum lost for tracked process server" in n1.log_text()
    assert n1.states()[-1] == "BACKUP"

    # It runs again (fork + exec): priority 150, node 1 preempts back.
    stand_ins.start()
    assert wait_holder(bed, 1, master_down(150) + 3), holders(bed)
    assert "Quorum gained for tracked process server" in n1.log_text()

    # A reload that asks for two of them re-reads /proc: one is not enough any more.
    n1.reload(
        n1.config_path.read_text().replace(f"process {stand_ins.name}\n", f"process {stand_ins.name}\n    quorum 2\n")
    )
    assert wait_holder(bed, 2, master_down(100) + 3), holders(bed)


def test_sync_group_without_quorum_is_in_fault_until_a_second_process_runs(cluster, stand_ins) -> None:
    vip2 = "198.51.100.101"
    stand_ins.start()
    definition = f"vrrp_track_process pair {{\n    process {stand_ins.path} 300\n    quorum 2\n}}\n"
    group = "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_2\n    }\n    track_process {\n        pair\n"
    group += "    }\n}\n"

    def config(priority: int, tracked: bool) -> str:
        return (
            (definition + group if tracked else "")
            + instance("VI_1", 82, priority, [f"{VIP}/24"])
            + instance("VI_2", 83, priority, [f"{vip2}/24"])
        )

    bed, (n1, _) = cluster([config(150, tracked=True), config(100, tracked=False)])
    # One of two: weight 0 (the definition's default) means FAULT from the start.
    assert wait_for(lambda: holders(bed) == [2] and holders(bed, vip2) == [2], master_down(100) + 5), (
        holders(bed),
        holders(bed, vip2),
    )
    assert n1.states("VI_1")[-1] == "FAULT" and n1.states("VI_2")[-1] == "FAULT", n1.log_text()

    second = stand_ins.start()
    assert wait_for(lambda: holders(bed) == [1] and holders(bed, vip2) == [1], master_down(150) + 4), (
        holders(bed),
        holders(bed, vip2),
    )

    stand_ins.kill(second)
    assert wait_for(lambda: holders(bed) == [2] and holders(bed, vip2) == [2], master_down(100) + 4)
    assert n1.states("VI_1")[-1] == "FAULT"
