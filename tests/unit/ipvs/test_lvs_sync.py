"""lvs_sync_daemon: the sans-IO policy (instance state -> sync daemon commands), its driver, and
VrrpRole calling it (in a namespace, ``root``) on start, transitions, reload and stop."""

from __future__ import annotations

import asyncio
import logging
import os
from ipaddress import ip_address

import pytest
import uvloop

from fastalived.config import parse_string
from fastalived.config.model import Config, LvsSyncDaemon
from fastalived.ipvs import syncd
from fastalived.ipvs.lvs_sync import (
    StartDaemon,
    StopDaemon,
    SyncDaemonPolicy,
    SyncTarget,
    resolve_target,
    wanted_daemon,
)
from fastalived.ipvs.netlink import IpvsClient, IpvsUnavailable, NetlinkError
from fastalived.options import RunOptions
from fastalived.vrrp.machine import BACKUP, FAULT, INIT, MASTER, STOP
from fastalived.vrrp.process import VrrpRole
from tests.support.aio import until
from tests.support.testbed import in_netns, vrrp_instance_config

pytestmark = pytest.mark.timeout(30)


def config(global_extra: str = "", vi1_extra: str = "", vi2_extra: str = "", vrid1: int = 51) -> Config:
    text = f"""
global_defs {{
    router_id test
    {global_extra}
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id {vrid1}
    priority 100
    {vi1_extra}
}}
vrrp_instance VI_2 {{
    interface eth0
    virtual_router_id 52
    priority 100
    {vi2_extra}
}}
"""
    result = parse_string(text)
    assert result.config is not None
    return result.config


def started(state: str, commands: list) -> LvsSyncDaemon:
    starts = [c for c in commands if isinstance(c, StartDaemon)]
    assert [c.state for c in starts] == [state], commands
    return starts[0].settings


# ---------------------------------------------------------------------------------- resolution


def test_global_setting_defaults_the_sync_id_to_the_instances_vrid():
    target, problem = resolve_target(config("lvs_sync_daemon eth1 VI_1"))
    assert problem is None
    assert target == SyncTarget("VI_1", LvsSyncDaemon("eth1", "VI_1", sync_id=51))


def test_global_setting_keeps_every_option():
    target, _ = resolve_target(config("lvs_sync_daemon eth1 VI_2 id 7 maxlen 1400 port 8848 ttl 2 group 224.0.0.81"))
    assert target == SyncTarget("VI_2", LvsSyncDaemon("eth1", "VI_2", 7, 1400, 8848, 2, ip_address("224.0.0.81")))


def test_deprecated_per_instance_interface_follows_that_instance():
    target, problem = resolve_target(config(vi2_extra="lvs_sync_daemon_interface eth3"))
    assert problem is None
    assert target == SyncTarget("VI_2", LvsSyncDaemon("eth3", "VI_2", sync_id=52))


def test_global_setting_wins_over_the_deprecated_one():
    target, _ = resolve_target(config("lvs_sync_daemon eth1 VI_1", vi2_extra="lvs_sync_daemon_interface eth3"))
    assert target is not None and target.instance == "VI_1" and target.settings.interface == "eth1"


def test_first_deprecated_setting_wins():
    target, _ = resolve_target(config(vi1_extra="lvs_sync_daemon_interface eth5",
                                      vi2_extra="lvs_sync_daemon_interface eth3"))  # fmt: skip
    assert target is not None and (target.instance, target.settings.interface) == ("VI_1", "eth5")


def test_unknown_or_missing_instance_disables_with_a_reason():
    target, problem = resolve_target(config("lvs_sync_daemon eth1 VI_9"))
    assert target is None and problem is not None and "VI_9 not found" in problem
    target, problem = resolve_target(config("lvs_sync_daemon eth1"))
    assert target is None and problem is not None and "no VRRP instance" in problem
    assert resolve_target(config()) == (None, None)


@pytest.mark.parametrize(("state", "daemon"), [
    (None, "backup"), (INIT, "backup"), (BACKUP, "backup"), (FAULT, "backup"), (MASTER, "master"),
])  # fmt: skip
def test_master_daemon_only_while_master(state, daemon):
    assert wanted_daemon(state) == daemon


# ---------------------------------------------------------------------------------- policy


def test_start_runs_the_backup_daemon_and_stops_a_leftover_master():
    policy = SyncDaemonPolicy()
    commands = policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
    assert commands == [StopDaemon("master"), StartDaemon("backup", LvsSyncDaemon("eth1", "VI_1", sync_id=51))]


def test_every_transition_of_the_followed_instance_is_followed():
    policy = SyncDaemonPolicy()
    policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
    settings = LvsSyncDaemon("eth1", "VI_1", sync_id=51)
    assert policy.instance_changed("VI_1", BACKUP) == []  # backup already runs
    assert policy.instance_changed("VI_1", MASTER) == [StopDaemon("backup"), StartDaemon("master", settings)]
    assert policy.instance_changed("VI_1", MASTER) == []
    assert policy.instance_changed("VI_1", FAULT) == [StopDaemon("master"), StartDaemon("backup", settings)]
    assert policy.instance_changed("VI_1", BACKUP) == []
    assert policy.instance_changed("VI_1", MASTER) == [StopDaemon("backup"), StartDaemon("master", settings)]
    assert policy.instance_changed("VI_1", BACKUP) == [StopDaemon("master"), StartDaemon("backup", settings)]


def test_other_instances_do_not_matter():
    policy = SyncDaemonPolicy()
    policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
    assert policy.instance_changed("VI_2", MASTER) == []
    assert policy.desired() == ("backup", LvsSyncDaemon("eth1", "VI_1", sync_id=51))


def test_stop_stops_both_and_ignores_the_instances_going_away():
    policy = SyncDaemonPolicy()
    policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
    policy.instance_changed("VI_1", MASTER)
    assert policy.instance_changed("VI_1", STOP) == []  # a stopping master does not start the backup daemon
    assert policy.stop() == [StopDaemon("master"), StopDaemon("backup")]
    assert policy.instance_changed("VI_1", BACKUP) == []
    assert policy.stop() == []


def test_nothing_configured_means_no_commands_ever():
    policy = SyncDaemonPolicy()
    assert policy.configure(config(), {"VI_1": MASTER}) == []
    assert policy.instance_changed("VI_1", MASTER) == []
    assert policy.stop() == []


def test_reload_that_keeps_the_setting_changes_nothing():
    policy = SyncDaemonPolicy()
    policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
    policy.instance_changed("VI_1", MASTER)
    assert policy.configure(config("lvs_sync_daemon eth1 VI_1", vi2_extra="nopreempt"), {"VI_1": MASTER}) == []


def test_reload_with_new_settings_restarts_the_running_daemon():
    policy = SyncDaemonPolicy()
    policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
    policy.instance_changed("VI_1", MASTER)
    commands = policy.configure(config("lvs_sync_daemon eth1 VI_1 id 9"), {"VI_1": MASTER})
    assert commands == [StopDaemon("backup"), StopDaemon("master"),
                        StartDaemon("master", LvsSyncDaemon("eth1", "VI_1", sync_id=9))]  # fmt: skip


def test_reload_to_another_instance_takes_that_instances_state():
    policy = SyncDaemonPolicy()
    policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
    policy.instance_changed("VI_1", MASTER)
    commands = policy.configure(config("lvs_sync_daemon eth1 VI_2"), {"VI_1": MASTER, "VI_2": BACKUP})
    assert started("backup", commands).sync_id == 52
    assert commands[0] == StopDaemon("master")


def test_reload_restarting_the_followed_instance_follows_its_new_state():
    """A restarted instance reports STOP (ignored), then its new first state."""
    policy = SyncDaemonPolicy()
    policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
    policy.instance_changed("VI_1", MASTER)
    assert policy.instance_changed("VI_1", STOP) == []
    assert started("backup", policy.instance_changed("VI_1", BACKUP)).sync_id == 51
    assert policy.configure(config("lvs_sync_daemon eth1 VI_1"), {"VI_1": BACKUP}) == []


def test_reload_removing_the_setting_or_its_instance_stops_both():
    for new in (config(), config("lvs_sync_daemon eth1 VI_9")):
        policy = SyncDaemonPolicy()
        policy.configure(config("lvs_sync_daemon eth1 VI_1"), {})
        assert policy.configure(new, {"VI_1": BACKUP}) == [StopDaemon("master"), StopDaemon("backup")]
        assert policy.stop() == []


def test_reload_adding_the_setting_starts_on_the_current_state():
    policy = SyncDaemonPolicy()
    policy.configure(config(), {})
    commands = policy.configure(config("lvs_sync_daemon eth1 VI_1"), {"VI_1": MASTER})
    assert commands == [StopDaemon("backup"), StartDaemon("master", LvsSyncDaemon("eth1", "VI_1", sync_id=51))]


# ---------------------------------------------------------------------------------- driver


class FakeKernel:
    """Stands in for syncd.start_daemon / stop_daemon; records calls, can fail or be absent."""

    def __init__(self, available: bool = True, refuse: int | None = None) -> None:
        self.available = available
        self.refuse = refuse
        self.calls: list[tuple] = []

    async def start(self, state, ifname, syncid, **options) -> bool:
        await asyncio.sleep(0)
        if not self.available:
            return False
        self.calls.append(("start", state, ifname, syncid, options))
        if self.refuse is not None:
            raise NetlinkError(self.refuse)
        return True

    async def stop(self, state) -> bool:
        await asyncio.sleep(0)
        if not self.available:
            return False
        self.calls.append(("stop", state))
        return True


@pytest.fixture
def kernel(monkeypatch) -> FakeKernel:
    fake = FakeKernel()
    monkeypatch.setattr(syncd, "start_daemon", fake.start)
    monkeypatch.setattr(syncd, "stop_daemon", fake.stop)
    return fake


def test_driver_carries_commands_out_in_order(kernel):
    async def scenario() -> None:
        driver = syncd.SyncDaemonDriver()
        driver.configure(config("lvs_sync_daemon eth1 VI_1 maxlen 1400 group 224.0.0.81"), {})
        driver.instance_changed("VI_1", BACKUP)
        driver.instance_changed("VI_1", MASTER)
        await driver.drain()
        driver.instance_changed("VI_1", STOP)
        await driver.stop()

    asyncio.run(scenario())
    options = {"maxlen": 1400, "port": None, "ttl": None, "group": "224.0.0.81"}
    assert kernel.calls == [
        ("stop", "master"), ("start", "backup", "eth1", 51, options),
        ("stop", "backup"), ("start", "master", "eth1", 51, options),
        ("stop", "master"), ("stop", "backup"),
    ]  # fmt: skip


def test_driver_without_ipvs_logs_once_and_never_raises(kernel, caplog):
    kernel.available = False

    async def scenario() -> None:
        driver = syncd.SyncDaemonDriver()
        driver.configure(config("lvs_sync_daemon eth1 VI_1"), {})
        for state in (MASTER, BACKUP, MASTER, FAULT):
            driver.instance_changed("VI_1", state)
        await driver.stop()

    with caplog.at_level(logging.DEBUG, logger="fastalived.ipvs"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "IPVS: kernel has no IPVS support; lvs_sync_daemon ignored (VRRP carries on)"
    ]


def test_driver_logs_a_kernel_refusal_and_tries_again_on_the_next_transition(kernel, caplog):
    kernel.refuse = 19  # ENODEV: no such interface

    async def scenario() -> None:
        driver = syncd.SyncDaemonDriver()
        driver.configure(config("lvs_sync_daemon eth9 VI_1"), {})
        await driver.drain()
        driver.instance_changed("VI_1", MASTER)
        await driver.stop()

    asyncio.run(scenario())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and errors[0].startswith("IPVS: cannot start the backup sync daemon on eth9")
    assert [c[:2] for c in kernel.calls] == [("stop", "master"), ("start", "backup"), ("stop", "backup"),
                                             ("start", "master"), ("stop", "master"), ("stop", "backup")]  # fmt: skip


def test_driver_warns_once_about_an_unusable_setting(kernel, caplog):
    async def scenario() -> None:
        driver = syncd.SyncDaemonDriver()
        driver.configure(config("lvs_sync_daemon eth1 VI_9"), {})
        driver.configure(config("lvs_sync_daemon eth1 VI_9"), {})
        await driver.stop()

    asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "lvs_sync_daemon: VRRP instance VI_9 not found; sync daemon disabled"
    ]
    assert kernel.calls == []


def ipvs_available() -> bool:
    async def probe() -> bool:
        try:
            client = await IpvsClient.connect()
        except (IpvsUnavailable, OSError):
            return False
        client.close()
        return True

    return asyncio.run(probe())


def test_real_driver_on_a_kernel_without_ipvs_is_harmless(caplog):
    """The real calls where the kernel has no IPVS: one warning, nothing raised into the role."""
    if ipvs_available():
        pytest.skip("this kernel has IPVS: the driver would start a real sync daemon here")

    async def scenario() -> None:
        driver = syncd.SyncDaemonDriver()
        driver.configure(config("lvs_sync_daemon lo VI_1 id 200"), {})
        await driver.drain()
        await driver.stop()

    with caplog.at_level(logging.DEBUG, logger="fastalived.ipvs"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "IPVS: kernel has no IPVS support; lvs_sync_daemon ignored (VRRP carries on)"
    ]


# ---------------------------------------------------------------------------------- VrrpRole

VIP = "198.51.100.100"


def role_config(sync: str) -> Config:
    result = parse_string(f"global_defs {{\n    {sync}\n}}\n" + vrrp_instance_config(
        "VI_1", 51, 150, [f"{VIP}/24"], version=3, advert_int=0.05))  # fmt: skip
    assert result.ok, result.diagnostics
    return result.config


def run_role_in(bed, scenario) -> None:
    policy = os.sched_getscheduler(0)
    with in_netns(bed.node(1).netns):
        uvloop.run(scenario())
    assert os.sched_getscheduler(0) == policy  # the role leaves SCHED_RR behind it


@pytest.mark.root
def test_role_runs_backup_at_start_master_while_master_and_stops_both(testbed, kernel):
    bed = testbed(1)

    async def scenario() -> None:
        driver = syncd.SyncDaemonDriver()
        role = VrrpRole(RunOptions(), sync_daemon=driver)
        await role.start(role_config("lvs_sync_daemon eth0 VI_1"))
        assert await until(lambda: role.snapshot()["instances"][0]["state"] == "MASTER", 5)
        assert await until(lambda: len(kernel.calls) >= 4, 2)
        await role.reload(role_config("lvs_sync_daemon eth0 VI_1 id 9"))
        await driver.drain()
        await role.stop()

    run_role_in(bed, scenario)
    assert [c[:4] for c in kernel.calls] == [
        ("stop", "master"), ("start", "backup", "eth0", 51),  # at start, before any state
        ("stop", "backup"), ("start", "master", "eth0", 51),  # MASTER
        ("stop", "backup"), ("stop", "master"), ("start", "master", "eth0", 9),  # reload: new sync id
        ("stop", "master"), ("stop", "backup"),  # stop: both, no backup start for STOP
    ]  # fmt: skip


@pytest.mark.root
def test_role_on_this_kernel_reaches_master_whatever_ipvs_says(testbed, caplog):
    """Real syncd calls: without IPVS one warning, with it (inside our namespace) real daemons."""
    bed = testbed(1)
    node = bed.node(1)

    async def scenario() -> None:
        role = VrrpRole(RunOptions(), sync_daemon=syncd.SyncDaemonDriver())
        await role.start(role_config("lvs_sync_daemon eth0 VI_1"))
        assert await until(lambda: role.snapshot()["instances"][0]["state"] == "MASTER", 5)
        assert await until(lambda: node.has_address(VIP), 2)
        await role.stop()

    with caplog.at_level(logging.INFO, logger="fastalived"):
        run_role_in(bed, scenario)
    assert not node.has_address(VIP)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [w for w in warnings if "lvs_sync_daemon ignored" not in w], warnings
    if not ipvs_available():
        assert len(warnings) == 1, warnings
