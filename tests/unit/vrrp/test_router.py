"""The sans-IO VRRP router on a fake clock: election, preemption, sync groups, tracking, drops."""

from __future__ import annotations

import ast
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from fastalived.config import parse_string
from fastalived.config.model import Config
from fastalived.vrrp import wire
from fastalived.vrrp.actions import GARP_ON_MASTER, AddVips, RemoveVips, SendAdvert, SendGarp
from fastalived.vrrp.effects import ArmTimer, Effect, GroupChanged, InstanceAction, InstanceEvent, StateChanged
from fastalived.vrrp.machine import BACKUP, FAULT, MASTER
from fastalived.vrrp.router import VrrpRouter
from tests.support.testbed import vrrp_instance_config

ME = socket.inet_aton("192.0.2.10")
PEER = socket.inet_aton("192.0.2.20")
LOW_PEER = socket.inet_aton("192.0.2.5")
GROUP = socket.inet_aton("224.0.0.18")
VIP = socket.inet_aton("198.51.100.1")


@dataclass
class Socket:
    """What the router needs to know about the receiving socket."""

    ifname: str = "eth0"
    family: int = socket.AF_INET
    group_packed: bytes = GROUP


ETH0 = Socket()


def config(*blocks: str) -> Config:
    result = parse_string("".join(blocks))
    assert result.ok, result.diagnostics
    return result.config


def instance(name: str = "VI_1", vrid: int = 51, priority: int = 100, extra: str = "", **kw: object) -> str:
    return vrrp_instance_config(name, vrid, priority, ["198.51.100.1/24"], extra=extra, **kw)  # type: ignore[arg-type]


def router_for(cfg: Config, now: float = 0.0, links_up: bool = True) -> tuple[VrrpRouter, list[Effect]]:
    """A router with every instance added, bound to eth0 and started at ``now``."""
    router = VrrpRouter()
    router.configure(cfg)
    effects: list[Effect] = []
    for inst in cfg.vrrp_instances:
        router.add(inst)
        effects += router.bind(inst.name, "eth0", socket.AF_INET, ME, now)
        for ifname in router.links_to_learn(inst.name):
            router.learn_link(ifname, links_up)
    for inst in cfg.vrrp_instances:
        effects += router.start(inst.name, now)
    return router, effects


def packet(vrid: int = 51, priority: int = 150, src: bytes = PEER, *, interval: int = 1, ttl: int = 255,
           auth: tuple[int, bytes] = (0, b""), addresses: tuple[bytes, ...] = (VIP,), version: int = 2) -> bytes:
    """An IPv4 advert as the raw socket delivers it (IP header included)."""
    payload = wire.build_advert(version, vrid, priority, interval, list(addresses), auth_type=auth[0],
                                auth_data=auth[1], src=src, dst=GROUP)  # fmt: skip
    return wire.build_ipv4_header(src, GROUP, len(payload), 1, ttl) + payload


def actions(effects: list[Effect], name: str = "VI_1") -> list[object]:
    return [e.action for e in effects if isinstance(e, InstanceAction) and e.instance == name]


def states(effects: list[Effect]) -> list[tuple[str, int]]:
    return [(e.instance, e.new) for e in effects if isinstance(e, StateChanged)]


def run_timers(router: VrrpRouter, until: float) -> list[Effect]:
    """Fire every instance's timers in deadline order up to ``until`` (the fake clock)."""
    effects: list[Effect] = []
    while True:
        due = [(d, n) for n in router.instances if (d := router.deadline(n)) is not None and d <= until]
        if not due:
            return effects
        deadline, name = min(due)
        effects += router.timer(name, deadline)


# --------------------------------------------------------------------------- election


def test_start_enters_backup_and_arms_the_down_timer() -> None:
    router, effects = router_for(config(instance()))
    assert states(effects) == [("VI_1", BACKUP)]
    assert effects[-1] == ArmTimer("VI_1", router.deadline("VI_1"))
    assert router.deadline("VI_1") == 3 + (256 - 100) / 256


def test_silence_makes_a_backup_master_in_keepalived_order() -> None:
    router, _ = router_for(config(instance()))
    down = router.deadline("VI_1")
    assert down is not None
    effects = router.timer("VI_1", down)
    assert actions(effects) == [SendAdvert(100), AddVips(), SendGarp(GARP_ON_MASTER)]
    assert states(effects) == [("VI_1", MASTER)]
    assert effects[-1] == ArmTimer("VI_1", down + 1.0)
    assert router.is_master("VI_1")


def test_a_higher_priority_advert_keeps_a_backup_and_makes_a_master_yield() -> None:
    router, _ = router_for(config(instance()))
    received = router.receive(ETH0, packet(priority=150), b"", -1, 1.0)
    assert received.instance == "VI_1" and received.heard == (PEER, 150, 1.0)
    assert router.deadline("VI_1") == 1.0 + 3 + (256 - 100) / 256  # the down timer restarted
    run_timers(router, 10.0)
    assert router.is_master("VI_1")
    effects = router.receive(ETH0, packet(priority=150), b"", -1, 10.5).effects
    assert actions(effects) == [RemoveVips()]
    assert states(effects) == [("VI_1", BACKUP)]


def test_preempt_lower_priority_master_is_ignored_by_a_preempting_backup() -> None:
    router, _ = router_for(config(instance()))
    router.receive(ETH0, packet(priority=50, src=LOW_PEER), b"", -1, 1.0)
    assert router.deadline("VI_1") == 3 + (256 - 100) / 256  # not restarted: it will preempt
    run_timers(router, 4.0)
    assert router.is_master("VI_1")


def test_nopreempt_backup_keeps_a_lower_priority_master() -> None:
    router, _ = router_for(config(instance(extra="    nopreempt")))
    for t in (1.0, 2.0, 3.0, 4.0, 5.0):
        router.receive(ETH0, packet(priority=50, src=LOW_PEER), b"", -1, t)
        run_timers(router, t + 0.5)
    assert router.state("VI_1") == BACKUP


def test_steady_repeat_only_rearms_and_falls_back_when_a_timer_is_due() -> None:
    router, _ = router_for(config(instance()))
    heard = router.receive(ETH0, packet(priority=150), b"", -1, 1.0).heard
    assert heard is not None and router.rearms_only("VI_1", heard)
    assert router.steady_advert("VI_1", 2.0, heard) == router.deadline("VI_1")
    late = router.steady_advert("VI_1", 100.0, heard)  # the down timer fired first: the full path,
    assert isinstance(late, list) and states(late) == [("VI_1", MASTER), ("VI_1", BACKUP)]  # then the advert
    assert router.instances["VI_1"].adverts_received == 3


# --------------------------------------------------------------------------- tracking


def test_tracked_script_weight_changes_the_advertised_priority() -> None:
    cfg = config(
        "vrrp_script chk {\n    script /bin/true\n    weight -60\n    fall 1\n    rise 1\n}\n",
        instance(extra="    track_script {\n        chk\n    }"),
    )
    router, _ = router_for(cfg)
    run_timers(router, 10.0)
    router.script_result("chk", True, 10.0)
    effects = router.script_result("chk", False, 10.2)
    assert router.instances["VI_1"].machine.effective_priority == 40
    assert effects[-1] == ArmTimer("VI_1", router.deadline("VI_1"))
    assert actions(run_timers(router, 11.5)) == [SendAdvert(40)]


def test_tracked_interface_down_faults_and_up_recovers() -> None:
    router, _ = router_for(config(instance(extra="    track_interface {\n        eth1\n    }")))
    run_timers(router, 10.0)
    effects = router.link_changed("eth1", False, 10.5)
    assert actions(effects) == [SendAdvert(0), RemoveVips()]
    assert states(effects) == [("VI_1", FAULT)]
    assert states(router.link_changed("eth1", True, 11.0)) == [("VI_1", BACKUP)]


def test_an_unbound_instance_is_in_fault() -> None:
    cfg = config(instance())
    router = VrrpRouter()
    router.configure(cfg)
    router.add(cfg.vrrp_instances[0])
    router.learn_link("eth0", True)
    assert states(router.start("VI_1", 0.0)) == [("VI_1", FAULT)]


# --------------------------------------------------------------------------- sync groups


GROUPED = (
    "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n    }\n}\n",
    instance("VI_1", 51),
    instance("VI_2", 52, 101),
)


def test_sync_group_members_take_over_together() -> None:
    router, _ = router_for(config(*GROUPED))
    effects = run_timers(router, 10.0)
    assert {name for name, state in states(effects) if state == MASTER} == {"VI_1", "VI_2"}
    assert GroupChanged("G", MASTER) in effects
    assert router.sync_groups["G"].state == MASTER


def test_sync_group_members_yield_together() -> None:
    router, _ = router_for(config(*GROUPED))
    run_timers(router, 10.0)
    effects = router.receive(ETH0, packet(vrid=51, priority=200), b"", -1, 10.5).effects
    assert ("VI_1", BACKUP) in states(effects) and ("VI_2", BACKUP) in states(effects)
    assert actions(effects, "VI_2") == [RemoveVips()]
    assert GroupChanged("G", BACKUP) in effects


def test_one_faulted_member_faults_the_group() -> None:
    cfg = config(GROUPED[0], instance("VI_1", 51, extra="    track_interface {\n        eth1\n    }"), GROUPED[2])
    router, _ = router_for(cfg)
    run_timers(router, 10.0)
    effects = router.link_changed("eth1", False, 10.5)
    assert sorted(states(effects)) == [("VI_1", FAULT), ("VI_2", FAULT)]
    assert GroupChanged("G", FAULT) in effects


# --------------------------------------------------------------------------- validation and drops


def test_drops_are_counted_by_reason_per_instance_and_interface() -> None:
    cfg = config(instance(auth_pass="secret"))
    router, _ = router_for(cfg)
    good_auth = (1, b"secret")
    cases = [
        (packet(auth=good_auth)[:20], "TRUNCATED"),  # packet checks (codec) first
        (packet(auth=good_auth, ttl=64), "BAD_TTL"),
        (packet(vrid=99, auth=good_auth), "BAD_VRID"),  # then this router's instances
        (packet(), "BAD_AUTH_TYPE"),
        (packet(auth=(1, b"wrong")), "BAD_AUTH_PASS"),
        (packet(auth=good_auth, interval=2), "BAD_INTERVAL"),
        (packet(auth=good_auth, addresses=()), "BAD_ADDR_COUNT"),
    ]
    for data, reason in cases:
        received = router.receive(ETH0, data, b"", -1, 1.0)
        assert received.instance is None and received.effects == [], reason
    assert router.interface_drops[("eth0", socket.AF_INET)] == {reason: 1 for _, reason in cases}
    instance_reasons = {reason for _, reason in cases} - {"TRUNCATED", "BAD_VRID"}
    assert set(router.instances["VI_1"].drops) == instance_reasons
    assert router.instances["VI_1"].adverts_received == 0
    assert router.receive(ETH0, packet(auth=good_auth), b"", -1, 1.0).instance == "VI_1"


def test_an_unbound_instance_hears_nothing() -> None:
    router, _ = router_for(config(instance()))
    router.unbind("VI_1")
    assert router.receive(ETH0, packet(), b"", -1, 1.0).instance is None
    assert router.interface_drops[("eth0", socket.AF_INET)]["BAD_VRID"] == 1


def test_removing_a_master_releases_and_stops_its_timer() -> None:
    router, _ = router_for(config(instance()))
    run_timers(router, 10.0)
    effects = router.remove("VI_1", 10.5)
    assert actions(effects) == [SendAdvert(0), RemoveVips()]
    assert effects[-1] == ArmTimer("VI_1", None)
    assert "VI_1" not in router.instances


def test_a_fresh_router_knows_nothing() -> None:
    router = VrrpRouter()
    assert router.state("VI_1") != MASTER and router.deadline("VI_1") is None
    assert router.receive(ETH0, packet(), b"", -1, 0.0).instance is None


def test_the_cores_do_no_io() -> None:
    """router, machine and tracking stay sans-IO: no socket, asyncio, netlink or subprocess."""
    forbidden = {"socket", "asyncio", "pyroute2", "subprocess", "fastalived.vrrp.io", "fastalived.vrrp.process"}
    package = Path(__file__).resolve().parents[3] / "src" / "fastalived" / "vrrp"
    for module in ("router.py", "machine.py", "tracking.py"):
        tree = ast.parse((package / module).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {name.split(".")[0] for name in imported} & forbidden, module
        assert not imported & forbidden, module


def test_master_fast_path_matches_the_timer_and_declines_when_unbound() -> None:
    router, _ = router_for(config(instance()))
    down = router.deadline("VI_1")
    assert down is not None
    router.timer("VI_1", down)
    assert router.advert_due("VI_1", down + 0.5, 0.0) is None  # not due yet
    assert router.advert_due("VI_1", down + 1.0, 0.0) == (100, down + 2.0)
    router.unbind("VI_1")
    assert router.advert_due("VI_1", down + 2.0, 0.0) is None
    assert actions(router.timer("VI_1", down + 2.0)) == [SendAdvert(100)]


def test_unicast_hears_only_its_peers_and_skips_the_ttl_check() -> None:
    peers = "    unicast_peer {\n        192.0.2.20\n    }"
    router, _ = router_for(config(instance(extra=peers)))
    assert router.receive(ETH0, packet(src=LOW_PEER), b"", -1, 1.0).instance is None
    assert router.instances["VI_1"].drops == {"NOT_A_PEER": 1}
    assert router.receive(ETH0, packet(ttl=64), b"", -1, 1.0).instance == "VI_1"  # routed unicast: any TTL


def test_v3_checksum_without_pseudo_header_needs_v3_checksum_as_v2() -> None:
    def rfc9568(vrid: int) -> bytes:
        payload = wire.build_advert(3, vrid, 150, 100, [VIP], src=PEER, dst=GROUP, pseudo_header=False)
        return wire.build_ipv4_header(PEER, GROUP, len(payload), 1) + payload

    cfg = config(instance("VI_1", 51, version=3), instance("VI_2", 52, version=3, extra="    v3_checksum_as_v2"))
    router, _ = router_for(cfg)
    assert router.receive(ETH0, rfc9568(51), b"", -1, 1.0).instance is None
    assert router.instances["VI_1"].drops == {"BAD_CHECKSUM": 1}
    assert router.receive(ETH0, rfc9568(52), b"", -1, 1.0).instance == "VI_2"


def test_ipv6_unicast_advert_is_checked_against_our_own_source_address() -> None:
    ours, theirs = socket.inet_pton(socket.AF_INET6, "2001:db8::1"), socket.inet_pton(socket.AF_INET6, "2001:db8::2")
    vip6 = socket.inet_pton(socket.AF_INET6, "2001:db8::100")
    block = vrrp_instance_config("VI_6", 61, 100, ["2001:db8::100/64"], version=3,
                                 extra="    unicast_peer {\n        2001:db8::2\n    }")  # fmt: skip
    cfg = config(block)
    router = VrrpRouter()
    router.configure(cfg)
    router.add(cfg.vrrp_instances[0])
    router.bind("VI_6", "eth0", socket.AF_INET6, ours, 0.0)
    router.learn_link("eth0", True)
    router.start("VI_6", 0.0)
    listener = Socket(family=socket.AF_INET6, group_packed=socket.inet_pton(socket.AF_INET6, "ff02::12"))
    payload = wire.build_advert(3, 61, 150, 100, [vip6], src=theirs, dst=ours)
    assert router.receive(listener, payload, theirs, 255, 1.0).instance == "VI_6"
    stranger = wire.build_advert(3, 61, 150, 100, [vip6], src=theirs, dst=theirs)
    assert router.receive(listener, stranger, theirs, 255, 1.0).instance is None
    assert router.interface_drops[("eth0", socket.AF_INET6)] == {"BAD_CHECKSUM": 1}


# --------------------------------------------------------------------------- event notifies


def events(effects: list[Effect]) -> list[tuple[str, str, int]]:
    return [(e.instance, e.event, e.priority) for e in effects if isinstance(e, InstanceEvent)]


def test_a_master_hearing_a_lower_priority_reports_master_rx_lower_pri() -> None:
    router, _ = router_for(config(instance()))
    run_timers(router, 10.0)
    assert router.is_master("VI_1")
    effects = router.receive(ETH0, packet(priority=50, src=LOW_PEER), b"", -1, 10.5).effects
    assert events(effects) == [("VI_1", "MASTER_RX_LOWER_PRI", 100)]
    assert events(router.receive(ETH0, packet(priority=150), b"", -1, 10.6).effects) == []


def test_tracking_priority_changes_are_reported_as_master_or_backup_priority() -> None:
    cfg = config(
        "vrrp_script chk {\n    script /bin/true\n    weight -60\n}\n",
        instance(extra="    track_script {\n        chk\n    }"),
    )
    router, _ = router_for(cfg)
    assert events(router.script_result("chk", False, 1.0)) == [("VI_1", "BACKUP_PRIORITY", 40)]
    run_timers(router, 10.0)
    assert events(router.script_result("chk", True, 10.1)) == [("VI_1", "MASTER_PRIORITY", 100)]


def test_log_unknown_vrids_names_the_vrid_interface_and_sender(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    quiet, _ = router_for(config(instance()))
    quiet.receive(ETH0, packet(vrid=77), b"", -1, 1.0)
    assert "Unknown VRID" not in caplog.text
    loud, _ = router_for(config("global_defs {\n    log_unknown_vrids\n}\n", instance()))
    loud.receive(ETH0, packet(vrid=77), b"", -1, 1.0)
    assert "Unknown VRID(77) received on interface(eth0) from 192.0.2.20. ignoring..." in caplog.text
    assert loud.interface_drops[("eth0", socket.AF_INET)]["BAD_VRID"] == 1
