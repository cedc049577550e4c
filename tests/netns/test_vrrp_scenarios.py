"""VRRP role end to end: real child processes in network namespaces on a bridge.

Each node runs the generic child runner (``python -m fastalived.daemon.child vrrp``) hosting
:class:`fastalived.vrrp.process.VrrpRole`, exactly as the supervisor starts it. VRRPv3 with a
0.1 s advert interval keeps the suite fast; timing assertions are generous correctness bounds
(master_down + 1 s), not speed goals.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fastalived.daemon.dumps import SIGJSON
from tests.support.netns import Node, Testbed, wait_for
from tests.support.testbed import (
    global_defs_config,
    kill_process_group,
    stop_process_group,
    terminate_process,
    vrrp_instance_config,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

ADVERT_INT = 0.1


def master_down(priority: int, advert_int: float = ADVERT_INT) -> float:
    """RFC 5798 Master_Down_Interval of a backup with ``priority``."""
    return 3 * advert_int + (256 - priority) / 256 * advert_int


def instance(name: str, vrid: int, priority: int, vips: list[str], extra: str = "", **kw) -> str:
    kw.setdefault("version", 3)
    kw.setdefault("advert_int", ADVERT_INT)
    return vrrp_instance_config(name, vrid, priority, vips, extra=extra, **kw)


class VrrpNode:
    """One VRRP child process inside a testbed node, with its config, log and run directory."""

    def __init__(self, node: Node, workdir: Path, config: str) -> None:
        self.node = node
        self.dir = workdir / f"n{node.index}-{secrets.token_hex(3)}"
        self.dir.mkdir()
        self.config_path = self.dir / "keepalived.conf"
        self.log_path = self.dir / "vrrp.log"
        self.config_path.write_text(config)
        self.proc: subprocess.Popen | None = None

    def start(self) -> VrrpNode:
        log = self.log_path.open("ab")
        argv = [sys.executable, "-m", "fastalived.daemon.child", "vrrp", "-f", str(self.config_path),
                "-l", "-D", "--run-dir", str(self.dir)]
        self.proc = self.node.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        log.close()
        mark = self.log_text().count("Entering")
        assert wait_for(lambda: self.log_text().count("Entering") > mark or self.proc.poll() is not None, 15), \
            f"node {self.node.index} did not come up:\n{self.log_text()}"
        assert self.proc.poll() is None, self.log_text()
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def states(self, name: str = "VI_1") -> list[str]:
        return re.findall(rf"\({name}\) Entering (\w+) STATE", self.log_text())

    def kill9(self) -> float:
        assert self.proc is not None
        return kill_process_group(self.proc)

    def terminate(self) -> float:
        assert self.proc is not None
        return terminate_process(self.proc)

    def reload(self, config: str) -> None:
        assert self.proc is not None
        mark = self.log_text().count("Reload complete")
        self.config_path.write_text(config)
        self.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: self.log_text().count("Reload complete") > mark, 10), self.log_text()

    def snapshot(self) -> dict:
        """The role's snapshot, via the child's JSON dump signal."""
        assert self.proc is not None
        dump = self.dir / "fastalived.json"
        dump.unlink(missing_ok=True)
        self.proc.send_signal(SIGJSON)
        assert wait_for(lambda: dump.exists() and dump.stat().st_size > 0, 5)
        time.sleep(0.05)
        return json.loads(dump.read_text())

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)


@pytest.fixture
def cluster(testbed, tmp_path: Path) -> Iterator[Callable[..., tuple[Testbed, list[VrrpNode]]]]:
    """``cluster(configs)`` -> (testbed, nodes): node i runs configs[i]; all stopped at teardown."""
    started: list[VrrpNode] = []

    def make(configs: list[str], start: bool = True) -> tuple[Testbed, list[VrrpNode]]:
        bed = testbed(len(configs))
        nodes = [VrrpNode(bed.node(i + 1), tmp_path, global_defs_config(f"n{i + 1}") + cfg)
                 for i, cfg in enumerate(configs)]
        started.extend(nodes)
        if start:
            for node in nodes:
                node.start()
        return bed, nodes

    try:
        yield make
    finally:
        for node in started:
            node.stop()


VIP = "198.51.100.100"


def holders(bed: Testbed, vip: str = VIP) -> list[int]:
    return [n.index for n in bed.nodes if n.has_address(vip)]


def wait_holder(bed: Testbed, index: int, timeout: float, vip: str = VIP) -> bool:
    return bool(wait_for(lambda: holders(bed, vip) == [index], timeout))


def test_election_crash_failover_preempt_and_graceful_stop(cluster) -> None:
    bed, (n1, n2) = cluster([instance("VI_1", 51, 150, [f"{VIP}/24"]),
                             instance("VI_1", 51, 100, [f"{VIP}/24"])])
    assert wait_holder(bed, 1, 3), holders(bed)
    assert n2.states() == ["BACKUP"]
    sniffer = bed.sniffer()

    # Crash of the master: the backup takes over within Master_Down_Interval and sends GARPs.
    killed_at = n1.kill9()
    assert wait_for(lambda: bed.node(2).has_address(VIP), master_down(100) + 1.0)
    takeover = time.time() - killed_at
    garp = sniffer.wait_for(lambda f: f.kind == "arp" and f.gratuitous and f.target == VIP
                            and f.src_mac == bed.node(2).mac, 2, since=killed_at)
    assert garp is not None
    assert takeover < master_down(100) + 1.0
    assert bed.node(1).has_address(VIP)  # a kill -9 leaves the VIP behind, as keepalived does

    # The master comes back: it removes its stale VIP at start, then preempts.
    n1.start()
    assert wait_holder(bed, 1, master_down(150) + 2.0), holders(bed)
    assert "(VI_1) removing VIPs. (1 left over from a previous run)" in n1.log_text()
    assert n2.states()[-1] == "BACKUP"

    # Graceful stop: priority 0 on the wire, the backup takes over after about Skew_Time.
    stopped_at = n1.terminate()
    prio0 = sniffer.wait_for(lambda f: f.kind == "vrrp" and f.priority == 0 and f.src_ip == bed.node(1).ipv4,
                             2, since=stopped_at)
    assert prio0 is not None
    assert wait_for(lambda: bed.node(2).has_address(VIP), 2)
    assert time.time() - stopped_at < 1.0
    n1.proc.wait(5)
    assert not bed.node(1).has_address(VIP)
    assert "(VI_1) sent 0 priority" in n1.log_text() and "(VI_1) removing VIPs." in n1.log_text()


def test_nopreempt_keeps_the_current_master(cluster) -> None:
    bed, (n1, n2) = cluster([instance("VI_1", 52, 150, [f"{VIP}/24"], extra="    nopreempt"),
                             instance("VI_1", 52, 100, [f"{VIP}/24"])], start=False)
    n2.start()
    assert wait_holder(bed, 2, 3)
    n1.start()
    time.sleep(4 * master_down(150))
    assert holders(bed) == [2]
    assert n1.states() == ["BACKUP"]


def test_failing_track_script_moves_the_vip(cluster, tmp_path: Path) -> None:
    """The HAProxy scenario: the script checks a process; when it dies the VIP moves."""
    proc_name = "fahap" + secrets.token_hex(3)
    stand_in = tmp_path / proc_name
    stand_in.symlink_to("/bin/sleep")
    haproxy = subprocess.Popen([str(stand_in), "300"])
    try:
        script = (f"vrrp_script chk_haproxy {{\n    script \"/usr/bin/pgrep -x {proc_name}\"\n"
                  "    interval 0.2\n    weight -60\n    fall 1\n    rise 1\n}\n")
        track = "    track_script {\n        chk_haproxy\n    }"
        bed, (n1, _) = cluster([script + instance("VI_1", 53, 150, [f"{VIP}/24"], extra=track),
                                 instance("VI_1", 53, 100, [f"{VIP}/24"])])
        assert wait_holder(bed, 1, 3)
        haproxy.kill()
        haproxy.wait()
        assert wait_holder(bed, 2, 0.5 + master_down(100) + 2.0), holders(bed)
        assert "Script `chk_haproxy` now returning failure" in n1.log_text()
        assert n1.states()[-1] == "BACKUP"
    finally:
        haproxy.kill()
        haproxy.wait()


def test_interface_down_means_fault_and_recovery_preempts(cluster) -> None:
    bed, (n1, _) = cluster([instance("VI_1", 54, 150, [f"{VIP}/24"]),
                             instance("VI_1", 54, 100, [f"{VIP}/24"])])
    assert wait_holder(bed, 1, 3)
    bed.set_link(1, False)
    assert wait_for(lambda: "FAULT" in n1.states(), 3), n1.log_text()
    assert wait_for(lambda: bed.node(2).has_address(VIP), master_down(100) + 1.0)
    assert not bed.node(1).has_address(VIP)
    bed.set_link(1, True)
    assert wait_holder(bed, 1, master_down(150) + 3.0), holders(bed)
    assert n1.states()[-3:] == ["FAULT", "BACKUP", "MASTER"]


def test_sync_group_members_move_together(cluster, tmp_path: Path) -> None:
    vip2 = "198.51.100.101"
    flag = tmp_path / f"vi2-ok-{secrets.token_hex(3)}"
    flag.touch()

    def config(priority: int, tracked: bool) -> str:
        script = (f"vrrp_script chk_vi2 {{\n    script \"/bin/test -e {flag}\"\n    interval 0.2\n}}\n"
                  if tracked else "")
        track = "    track_script {\n        chk_vi2\n    }" if tracked else ""
        group = "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_2\n    }\n}\n"
        return (script + group + instance("VI_1", 61, priority, [f"{VIP}/24"])
                + instance("VI_2", 62, priority, [f"{vip2}/24"], extra=track))

    bed, (n1, _) = cluster([config(150, tracked=True), config(100, tracked=False)])
    assert wait_holder(bed, 1, 3) and wait_holder(bed, 1, 3, vip2)
    flag.unlink()  # only VI_2 fails on n1; VI_1 must follow it out
    assert wait_for(lambda: holders(bed) == [2] and holders(bed, vip2) == [2], 0.5 + master_down(100) + 2.0), \
        (holders(bed), holders(bed, vip2))
    assert "FAULT" in n1.states("VI_1") and "FAULT" in n1.states("VI_2")
    flag.touch()
    assert wait_for(lambda: holders(bed) == [1] and holders(bed, vip2) == [1], 0.5 + master_down(150) + 3.0)


def test_vrrpv3_over_ipv6_with_unsolicited_na(cluster) -> None:
    vip6 = "2001:db8::100"
    bed, (n1, _) = cluster([instance("VI_6", 71, 150, [f"{vip6}/64"]),
                             instance("VI_6", 71, 100, [f"{vip6}/64"])])
    assert wait_holder(bed, 1, 3, vip6)
    sniffer = bed.sniffer()
    advert = sniffer.wait_for(lambda f: f.kind == "vrrp" and f.vrid == 71, 2)
    assert advert is not None and advert.version == 3 and advert.src_ip.startswith("fe80::")
    killed_at = n1.kill9()
    assert wait_for(lambda: bed.node(2).has_address(vip6), master_down(100) + 1.0)
    na = sniffer.wait_for(lambda f: f.kind == "na" and f.target == vip6 and f.src_mac == bed.node(2).mac,
                          2, since=killed_at)
    assert na is not None


def test_unicast_peers_ignore_non_peers(cluster) -> None:
    def unicast(priority: int, me: int, peer: int) -> str:
        extra = (f"    unicast_src_ip 198.51.100.{10 + me}\n"
                 f"    unicast_peer {{\n        198.51.100.{10 + peer}\n    }}")
        return instance("VI_1", 81, priority, [f"{VIP}/24"], extra=extra)

    # Node 3 multicasts the same VRID at a higher priority but is nobody's peer.
    rogue_vip = "198.51.100.200"
    bed, (n1, _, _) = cluster([unicast(150, 1, 2), unicast(100, 2, 1),
                                 instance("VI_1", 81, 200, [f"{rogue_vip}/24"])])
    assert wait_holder(bed, 1, 3)
    assert wait_holder(bed, 3, 3, rogue_vip)
    time.sleep(0.5)
    assert holders(bed) == [1]
    snap = n1.snapshot()
    drops = next(i for i in snap["instances"] if i["name"] == "VI_1")["drops"]
    assert drops.get("NOT_A_PEER", 0) > 0
    n1.kill9()
    assert wait_for(lambda: bed.node(2).has_address(VIP), master_down(100) + 1.0)


def test_three_nodes_fail_over_in_priority_order(cluster) -> None:
    bed, nodes = cluster([instance("VI_1", 91, p, [f"{VIP}/24"]) for p in (150, 120, 100)])
    assert wait_holder(bed, 1, 3)
    nodes[0].kill9()
    bed.node(1).delete_address(f"{VIP}/24")  # the crashed node's leftover would confuse holders()
    assert wait_holder(bed, 2, master_down(120) + 1.5), holders(bed)
    nodes[1].kill9()
    bed.node(2).delete_address(f"{VIP}/24")
    assert wait_holder(bed, 3, master_down(100) + 1.5), holders(bed)
    assert nodes[2].states() == ["BACKUP", "MASTER"]


def test_reload_applies_changes_without_re_election(cluster) -> None:
    vip2, vip3 = "198.51.100.101", "198.51.100.102"
    before = instance("VI_1", 95, 150, [f"{VIP}/24"]) + instance("VI_2", 96, 150, [f"{vip2}/24"])
    bed, (n1, _) = cluster([before, instance("VI_1", 95, 100, [f"{VIP}/24"])
                             + instance("VI_2", 96, 100, [f"{vip2}/24"])])
    assert wait_holder(bed, 1, 3) and wait_holder(bed, 1, 3, vip2)
    states_before = (n1.states("VI_1"), n1.states("VI_2"))
    # VI_1 unchanged; VI_2 gets another VIP and priority; VI_3 is new.
    after = (instance("VI_1", 95, 150, [f"{VIP}/24"]) + instance("VI_2", 96, 160, [f"{vip3}/24"])
             + instance("VI_3", 97, 150, ["198.51.100.103/24"]))
    n1.reload(after)
    assert wait_for(lambda: bed.node(1).has_address(vip3) and not bed.node(1).has_address(vip2), 2)
    assert (n1.states("VI_1"), n1.states("VI_2")) == states_before
    assert bed.node(1).has_address(VIP)
    assert wait_for(lambda: bed.node(1).has_address("198.51.100.103"), master_down(150) + 2)
    snap = n1.snapshot()
    by_name = {i["name"]: i for i in snap["instances"]}
    assert by_name["VI_2"]["priority"] == 160 and by_name["VI_2"]["state"] == "MASTER"
    # Removing an instance stops it: priority 0 and its VIP gone.
    n1.reload(instance("VI_1", 95, 150, [f"{VIP}/24"]))
    assert wait_for(lambda: not bed.node(1).has_address(vip3), 2)
    assert n1.states("VI_1") == states_before[0]


def test_use_vmac_puts_the_vip_on_a_macvlan_with_the_virtual_mac(cluster) -> None:
    vmac_name, vmac = "vrrp.57", "00:00:5e:00:01:39"
    extra = "    use_vmac"
    bed, (n1, n2) = cluster([instance("VI_1", 57, 150, [f"{VIP}/24"], extra=extra),
                             instance("VI_1", 57, 100, [f"{VIP}/24"], extra=extra)])
    assert wait_for(lambda: bed.node(1).has_address(VIP, vmac_name), 3)
    assert not bed.node(2).has_address(VIP, None)
    sniffer = bed.sniffer()
    advert = sniffer.wait_for(lambda f: f.kind == "vrrp" and f.vrid == 57, 2)
    assert advert is not None and advert.src_mac == vmac and advert.src_ip == bed.node(1).ipv4
    n1.terminate()
    n1.proc.wait(5)
    assert wait_for(lambda: bed.node(2).has_address(VIP, vmac_name), 2)
    garp = sniffer.wait_for(lambda f: f.kind == "arp" and f.gratuitous and f.target == VIP, 2)
    assert garp is not None and garp.src_mac == vmac
    assert bed.node(1).addresses(vmac_name) == []  # a graceful stop removes the VMAC too
    n2.stop()
    assert bed.node(2).addresses(vmac_name) == []
