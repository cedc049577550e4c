"""``fastalived ctl maintenance`` / ``resume`` between two real daemons in network namespaces.

Node 1 (priority 200) is master, node 2 (150) its backup; both preempt. Maintenance on node 1 must
hand the VIP over with a priority-0 advert (seen on the bridge), node 2 must start advertising
within one advert interval of it, and node 1 must stay silent and BACKUP, across a reload and a
respawn of its VRRP child too, until ``resume`` lets it preempt back. The control socket is a
filesystem socket, so ``ctl`` runs from the root namespace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.netns.test_daemon_real_roles import Daemon, global_defs
from tests.support.netns import Testbed, wait_for
from tests.support.testbed import fastalived_executable, vrrp_instance_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]

ADVERT_INT = 1.0
VIP = "198.51.100.150"
VRID = 77


def config(router_id: str, priority: int) -> str:
    return global_defs(router_id) + vrrp_instance_config(
        "VI_1", VRID, priority, [f"{VIP}/24"], version=3, advert_int=ADVERT_INT
    )


def ctl(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [fastalived_executable(), "ctl", "--run-dir", str(daemon.dir / "run"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def state(daemon: Daemon) -> dict:
    """VI_1 as node's ``/status`` shows it ({} while its VRRP child is starting)."""
    instances = daemon.status()["roles"].get("vrrp", {}).get("instances", [])
    return instances[0] if instances else {}


@pytest.fixture
def pair(testbed: Callable[..., Testbed], tmp_path: Path) -> Iterator[tuple[Testbed, Daemon, Daemon]]:
    bed = testbed(2)
    daemons = []
    for index, priority in ((1, 200), (2, 150)):
        node = bed.node(index)
        workdir = tmp_path / f"node{index}"
        workdir.mkdir()
        daemon = Daemon(node, tmp_path, config(f"node{index}", priority), "-P", "--run-dir", str(workdir / "run"))
        daemons.append(daemon)
    try:
        first, second = (daemon.start() for daemon in daemons)
        yield bed, first, second
    finally:
        for daemon in daemons:
            daemon.close()


def test_maintenance_hands_over_with_priority_zero_survives_reload_and_resume_preempts(pair) -> None:
    bed, node1, node2 = pair
    assert wait_for(lambda: state(node1)["state"] == "MASTER" and node1.node.has_address(VIP), 20), node1.log_text()
    assert wait_for(lambda: state(node2)["state"] == "BACKUP" and state(node2)["adverts_received"] > 0, 20)
    sniffer = bed.sniffer()
    started = time.time()

    done = ctl(node1, "maintenance", "VI_1")
    assert done.returncode == 0, done.stderr
    assert "VI_1: maintenance on (VI_1 MASTER -> BACKUP, priority 0 advert sent)" in done.stdout

    assert wait_for(lambda: node2.node.has_address(VIP), 10), node2.log_text()[-3000:]
    assert not node1.node.has_address(VIP)
    released = sniffer.wait_for(
        lambda f: f.kind == "vrrp" and f.src_ip == node1.node.ipv4 and f.vrid == VRID and f.priority == 0, 5, started
    )
    assert released is not None
    taken = sniffer.wait_for(
        lambda f: f.kind == "vrrp" and f.src_ip == node2.node.ipv4 and f.vrid == VRID, 5, released.timestamp
    )
    assert taken is not None and taken.priority == 150
    assert taken.timestamp - released.timestamp < ADVERT_INT  # the backup's Skew_Time (0.41 s), not a timeout

    time.sleep(4 * ADVERT_INT)  # longer than Master_Down_Interval: node 1 must not come back by itself
    from_node1 = sniffer.adverts(node1.node.ipv4, VRID, since=started)
    assert [f.priority for f in from_node1][-1:] == [0] and all(f.priority in (200, 0) for f in from_node1)
    assert state(node1)["state"] == "BACKUP" and state(node1)["maintenance"] is True

    node1.reload(config("node1", 210))  # a reload keeps the maintenance (and the new priority waits)
    time.sleep(4 * ADVERT_INT)
    assert state(node1)["state"] == "BACKUP" and state(node1)["maintenance"] is True
    assert not node1.node.has_address(VIP)
    assert [row["instance"] for row in node1.status()["overrides"]["maintenance"]] == ["VI_1"]
    shown = ctl(node1, "status")
    assert shown.returncode == 0 and "ctl maintenance:" in shown.stdout and "VI_1" in shown.stdout

    killed_at = time.time()  # a respawned VRRP child is in maintenance from its first moment
    old_pid = node1.child_pid("vrrp")
    os.kill(old_pid, signal.SIGKILL)
    assert wait_for(lambda: node1.child_pid("vrrp") not in (None, old_pid) and state(node1).get("maintenance"), 30)
    time.sleep(4 * ADVERT_INT)
    assert state(node1)["state"] == "BACKUP" and not node1.node.has_address(VIP)
    assert [f.priority for f in sniffer.adverts(node1.node.ipv4, VRID, since=killed_at)] == []

    again = ctl(node1, "maintenance", "VI_1")
    assert again.returncode == 0 and "nothing changed: VI_1 is already in maintenance" in again.stdout
    unknown = ctl(node1, "maintenance", "VI_9")
    assert unknown.returncode == 1 and "no vrrp_instance 'VI_9'" in unknown.stderr

    resumed = ctl(node1, "resume", "VI_1")
    assert resumed.returncode == 0 and "VI_1: maintenance off (BACKUP; the election decides)" in resumed.stdout
    back = wait_for(lambda: node1.node.has_address(VIP) and state(node1)["state"] == "MASTER", 15)
    assert back, node1.log_text()[-3000:]
    assert wait_for(lambda: not node2.node.has_address(VIP), 10)
    assert "overrides" not in node1.status() or not node1.status()["overrides"]
