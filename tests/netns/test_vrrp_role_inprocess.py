"""VrrpRole driven directly on a uvloop loop inside one node namespace: snapshot, metrics,
transition log, reload semantics, wire format of what it sends, and a clean stop."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import uvloop

from fastalived.config import parse_string
from fastalived.config.model import Config
from fastalived.options import RunOptions
from fastalived.vrrp.process import VrrpRole
from tests.support.aio import until
from tests.support.netns import Testbed
from tests.support.testbed import in_netns, vrrp_instance_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

VIP, VIP2, VIP3 = "198.51.100.100", "198.51.100.101", "198.51.100.102"
STATIC = "203.0.113.5"


def config(*instances: str, static: str = "") -> Config:
    result = parse_string(static + "".join(instances))
    assert result.ok, result.diagnostics
    return result.config


def v3(name: str, vrid: int, priority: int, vips: list[str], **kw) -> str:
    return vrrp_instance_config(name, vrid, priority, vips, version=3, advert_int=0.05, **kw)


def run_in(bed: Testbed, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run ``scenario`` on a fresh uvloop loop with this thread inside node 1's namespace.

    The role switches its thread to SCHED_RR while it runs; it must hand the test back as it was.
    """
    policy = os.sched_getscheduler(0)
    with in_netns(bed.node(1).netns):
        uvloop.run(scenario())
    assert os.sched_getscheduler(0) == policy


def state_of(role: VrrpRole, name: str) -> str:
    return next(i["state"] for i in role.snapshot()["instances"] if i["name"] == name)


def test_role_lifecycle_snapshot_metrics_and_reload(testbed, tmp_path: Path) -> None:
    bed = testbed(1)
    node = bed.node(1)
    sniffer = bed.sniffer()
    static = f"static_ipaddress {{\n    {STATIC}/32 dev eth0\n}}\n"
    states = tmp_path / "states"
    notify = tmp_path / "notify.sh"
    policies = tmp_path / "policies"  # scheduling policy of each script run: field 41 of stat
    notify.write_text(f"#!/bin/sh\necho \"$*\" >> {states}\nawk '{{print $41}}' /proc/$$/stat >> {policies}\n")
    notify.chmod(0o755)
    vi1 = v3("VI_1", 11, 150, [f"{VIP}/24"], extra=f"    notify {notify}\n    garp_master_delay 0.5")
    first = config(vi1, v3("VI_2", 12, 150, [f"{VIP2}/24"]), static=static)

    async def scenario() -> None:
        role = VrrpRole(RunOptions())
        await role.start(first)
        assert os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR
        assert node.has_address(STATIC)
        assert await until(lambda: state_of(role, "VI_1") == "MASTER" == state_of(role, "VI_2"), 2)
        assert await until(lambda: node.has_address(VIP) and node.has_address(VIP2), 1)

        snap = {i["name"]: i for i in role.snapshot()["instances"]}
        assert snap["VI_1"]["vrid"] == 11 and snap["VI_1"]["master_ip"] == node.ipv4
        assert snap["VI_1"]["adverts_sent"] > 0 and snap["VI_1"]["transitions"] == 2
        metrics = {(m.name, dict(m.labels).get("vrrp_instance")): m.value for m in role.metrics()}
        assert metrics[("fastalived_vrrp_state", "VI_1")] == 2
        assert metrics[("fastalived_vrrp_effective_priority", "VI_1")] == 150
        assert metrics[("fastalived_vrrp_adverts_sent_total", "VI_2")] > 0

        # Reload: VI_1 unchanged, VI_2 swaps its VIP; neither changes state.
        transitions = len(role.transitions)
        await role.reload(config(vi1, v3("VI_2", 12, 140, [f"{VIP3}/24"]), static=static))
        assert await until(lambda: node.has_address(VIP3) and not node.has_address(VIP2), 1)
        await asyncio.sleep(0.3)
        assert len(role.transitions) == transitions
        assert node.has_address(VIP)
        assert {i["name"]: i["effective_priority"] for i in role.snapshot()["instances"]}["VI_2"] == 140

        def garp_count() -> int:
            return sum(1 for f in sniffer.frames("arp") if f.target == VIP and f.gratuitous)

        assert await until(lambda: garp_count() >= 10, 3)  # the second burst, garp_master_delay later
        await role.stop()
        assert [t.new for t in list(role.transitions)[-2:]] == ["STOP", "STOP"]

    run_in(bed, scenario)
    assert not any(node.has_address(a) for a in (VIP, VIP2, VIP3, STATIC))
    assert states.read_text().splitlines() == [
        "INSTANCE VI_1 BACKUP 150", "INSTANCE VI_1 MASTER 150", "INSTANCE VI_1 STOP 150",
    ]
    assert set(policies.read_text().split()) == {"0"}  # scripts run on the normal scheduler

    adverts = sniffer.adverts(src_ip=node.ipv4, vrid=11)
    assert adverts and adverts[-1].priority == 0  # the stop's release
    raw = adverts[0].raw
    assert raw[15] == 0xC0 and raw[22] == 255  # TOS and TTL of keepalived's own IP header
    ids = [int.from_bytes(f.raw[18:20], "big") for f in adverts]
    assert ids[0] == 1 and ids == list(range(1, len(ids) + 1))
    garps = [f for f in sniffer.frames("arp") if f.target == VIP and f.gratuitous]
    assert len(garps) == 10
    assert garps[4].timestamp - garps[0].timestamp < 0.05  # a burst of five, back to back
    assert 0.4 < garps[5].timestamp - garps[4].timestamp < 1.5  # then five more after the delay


def test_dont_release_vrrp_leaves_vips_on_stop(testbed) -> None:
    bed = testbed(1)
    node = bed.node(1)

    async def scenario() -> None:
        role = VrrpRole(RunOptions(dont_release_vrrp=True))
        await role.start(config(v3("VI_1", 31, 150, [f"{VIP}/24"])))
        assert await until(lambda: node.has_address(VIP), 2)
        await role.stop()

    run_in(bed, scenario)
    assert node.has_address(VIP)  # -V: kept, and the next start removes it as a leftover


def test_missing_interface_is_fault_until_it_appears_with_an_address(testbed) -> None:
    bed = testbed(1)
    node = bed.node(1)
    late, peer = "fa" + secrets.token_hex(3), "fa" + secrets.token_hex(3)
    cfg = config(v3("VI_X", 21, 150, [f"{VIP}/24"], interface=late))

    async def scenario() -> None:
        role = VrrpRole(RunOptions())
        await role.start(cfg)
        assert state_of(role, "VI_X") == "FAULT"
        proc = await asyncio.create_subprocess_exec(
            "ip", "link", "add", late, "type", "veth", "peer", "name", peer)
        await proc.wait()
        for dev in (late, peer):
            await (await asyncio.create_subprocess_exec("ip", "link", "set", dev, "up")).wait()
        await asyncio.sleep(0.2)
        assert state_of(role, "VI_X") == "FAULT"  # up, but no address to send from yet
        await (await asyncio.create_subprocess_exec("ip", "addr", "add", "198.51.100.50/24", "dev", late)).wait()
        assert await until(lambda: state_of(role, "VI_X") == "MASTER", 3), role.snapshot()
        assert await until(lambda: node.has_address(VIP, late), 1)
        await role.stop()

    run_in(bed, scenario)
    assert not node.has_address(VIP, None)


def test_backup_takes_steady_shortcut_and_takes_over_through_rtnetlink(testbed) -> None:
    """A backup hearing the same advert again only restarts its down timer (the packet is its
    VRID's template); a different advert goes the full way and replaces it; on takeover the VIP
    arrives through the pre-built rtnetlink request and the shortcut ends."""
    from tests.support.testbed import VrrpDaemon, global_defs_config

    bed = testbed(2)
    node = bed.node(1)
    peer_config = global_defs_config("peer") + v3("VI_1", 31, 150, [f"{VIP}/24"])
    peer = VrrpDaemon(bed.node(2), peer_config, "fastalived", name="peer").start()
    ours = config(v3("VI_1", 31, 100, [f"{VIP}/24"]))

    async def scenario() -> None:
        role = VrrpRole(RunOptions())
        await role.start(ours)
        try:
            core, inst = role.router.instances["VI_1"], role.bindings["VI_1"]
            assert await until(lambda: core.machine.state == 1 and core.adverts_received > 5, 10)
            assert inst.vsock is not None and inst.vsock.steady is not None
            assert await until(lambda: inst.steady_key is not None, 2)
            assert inst.steady_key == (socket.inet_aton(bed.node(2).ipv4), 150, 0.05)
            assert inst.vsock.steady.get(31) is not None
            received = core.adverts_received
            assert await until(lambda: core.adverts_received >= received + 5, 5)  # counted on the shortcut too
            assert core.machine.state == 1 and not node.has_address(VIP)

            peer.config_path.write_text(peer_config.replace("priority 150", "priority 160"))
            assert peer.proc is not None
            os.kill(peer.proc.pid, signal.SIGHUP)  # the peer's adverts change: full path, new template
            assert await until(lambda: inst.steady_key is not None and inst.steady_key[1] == 160, 10)
            assert core.machine.state == 1

            peer.kill_group()
            assert await until(lambda: core.machine.state == 2, 5)
            assert await until(lambda: node.has_address(VIP), 1)
            assert inst.steady_key is None and inst.vsock.steady.get(31) is None
        finally:
            await role.stop()
        assert not node.has_address(VIP)

    try:
        run_in(bed, scenario)
    finally:
        peer.close()
