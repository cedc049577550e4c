"""keepalived's advert-policy knobs in the sans-IO core, on a fake clock: lower_prio_no_advert,
higher_prio_send_advert, garp_lower_prio_*, down_timer_adverts, vrrp_startup_delay,
unicast_fault_no_peer, skip_check_adv_addr per instance; and the VMAC/unicast/group helpers."""

from __future__ import annotations

import socket
from ipaddress import ip_address
from pathlib import Path

from fastalived.config.model import GlobalDefs, VrrpInstance
from fastalived.vrrp.actions import GARP_LOWER_PRIO, Notify, RemoveVips, SendAdvert, SendGarp
from fastalived.vrrp.ah import SeqCounter
from fastalived.vrrp.binding import advert_group, advert_sender, ipv6_sender, sends_on_vmac
from fastalived.vrrp.effects import ArmTimer
from fastalived.vrrp.machine import BACKUP, FAULT, INIT, MASTER
from fastalived.vrrp.router import VrrpRouter
from fastalived.vrrp.sysctl import PromoteSecondaries
from tests.unit.vrrp.test_machine import HIGHER_IP, LOWER_IP, master, started
from tests.unit.vrrp.test_router import ETH0, LOW_PEER, ME, actions, config, instance, packet, router_for, states

# --------------------------------------------------------------------------- a master hearing another


def test_by_default_a_master_answers_a_lower_priority_and_restarts_its_timer() -> None:
    machine = master(10.0)
    assert machine.on_advert(10.4, LOWER_IP, 50, 1.0) == [SendAdvert(100)]
    assert machine.next_deadline == 11.4


def test_lower_prio_no_advert_keeps_quiet_and_keeps_the_advert_timer() -> None:
    machine = master(10.0, lower_prio_no_advert=True)
    assert machine.on_advert(10.4, LOWER_IP, 50, 1.0) == []
    assert machine.next_deadline == 11.0  # keepalived does not restart it either
    assert machine.on_advert(10.5, LOWER_IP, 0, 1.0) == [SendAdvert(100)]  # a release is still answered
    assert machine.next_deadline == 11.0


def test_garp_lower_prio_sends_a_burst_now_and_one_after_the_delay() -> None:
    machine = master(10.0, garp_master_delay=0.0, garp_lower_prio_repeat=2, garp_lower_prio_delay=3.0)
    assert machine.on_advert(10.4, LOWER_IP, 50, 1.0) == [SendAdvert(100), SendGarp(GARP_LOWER_PRIO)]
    assert machine.on_advert(10.6, LOWER_IP, 50, 1.0)[-1] == SendGarp(GARP_LOWER_PRIO)
    assert machine.on_timer(13.39) == [SendAdvert(100)]  # the advert (late, skipping ahead); no burst yet
    assert machine.on_timer(13.4) == [SendGarp(GARP_LOWER_PRIO)]  # one delayed burst, from the first
    assert machine.on_timer(20.0).count(SendGarp(GARP_LOWER_PRIO)) == 0


def test_equal_priority_with_a_lower_address_counts_as_lower() -> None:
    machine = master(10.0, garp_lower_prio_repeat=1, lower_prio_no_advert=True)
    assert machine.on_advert(10.4, LOWER_IP, 100, 1.0) == [SendGarp(GARP_LOWER_PRIO)]


def test_leaving_master_drops_the_delayed_lower_prio_burst() -> None:
    machine = master(10.0, garp_master_delay=0.0, garp_lower_prio_repeat=1, garp_lower_prio_delay=3.0)
    machine.on_advert(10.4, LOWER_IP, 50, 1.0)
    machine.on_advert(10.5, HIGHER_IP, 200, 1.0)
    assert machine.state == BACKUP
    assert GARP_LOWER_PRIO not in [a.burst for a in machine.on_timer(13.5) if isinstance(a, SendGarp)]


def test_higher_prio_send_advert_advertises_once_before_yielding() -> None:
    machine = master(10.0, higher_prio_send_advert=True)
    assert machine.on_advert(10.4, HIGHER_IP, 200, 1.0) == [SendAdvert(100), RemoveVips(), Notify(BACKUP)]
    plain = master(10.0)
    assert plain.on_advert(10.4, HIGHER_IP, 200, 1.0) == [RemoveVips(), Notify(BACKUP)]


def test_down_timer_adverts_sets_the_master_down_interval() -> None:
    machine = started(0.0, down_timer_adverts=5)
    skew = (256 - 100) / 256
    assert machine.next_deadline == 5 * 1.0 + skew
    machine.on_advert(1.0, HIGHER_IP, 200, 1.0)
    assert machine.next_deadline == 1.0 + 5 + skew


# --------------------------------------------------------------------------- the router


def test_config_reaches_the_machine_and_strict_mode_overrides() -> None:
    knobs = "\n".join(
        [
            "    lower_prio_no_advert",
            "    higher_prio_send_advert on",
            "    garp_lower_prio_repeat 2",
            "    garp_lower_prio_delay 7",
            "    down_timer_adverts 4",
        ]
    )
    router, _ = router_for(config(instance(extra=knobs)))
    p = router.instances["VI_1"].machine.params
    assert (p.lower_prio_no_advert, p.higher_prio_send_advert, p.garp_lower_prio_repeat) == (True, True, 2)
    assert (p.garp_lower_prio_delay, p.down_timer_adverts) == (7.0, 4)
    strict, _ = router_for(config(instance(extra="    strict_mode\n    advert_int 1")))
    p = strict.instances["VI_1"].machine.params
    assert (p.lower_prio_no_advert, p.higher_prio_send_advert, p.garp_lower_prio_repeat) == (True, False, 0)


def test_a_master_hearing_a_lower_priority_advert_sends_the_lower_prio_garps_by_default() -> None:
    router, _ = router_for(config(instance(priority=200)))
    router.timer("VI_1", 10.0)
    assert router.is_master("VI_1")
    received = router.receive(ETH0, packet(priority=50, src=LOW_PEER), b"", -1, 10.5)
    assert actions(received.effects) == [SendAdvert(200), SendGarp(GARP_LOWER_PRIO)]


def test_vrrp_startup_delay_holds_instances_in_init_then_starts_them() -> None:
    cfg = config(instance())
    router = VrrpRouter()
    router.configure(cfg)
    router.startup_until = 5.0
    router.add(cfg.vrrp_instances[0])
    router.bind("VI_1", "eth0", socket.AF_INET, ME, 0.0)
    router.learn_link("eth0", True)
    assert router.start("VI_1", 0.0) == [ArmTimer("VI_1", 5.0)]
    assert router.state("VI_1") == INIT and router.deadline("VI_1") == 5.0
    assert router.timer("VI_1", 4.0) == [ArmTimer("VI_1", 5.0)]
    effects = router.timer("VI_1", 5.0)
    assert states(effects) == [("VI_1", BACKUP)]
    assert router.deadline("VI_1") == 5.0 + 3 + (256 - 100) / 256


def test_unicast_fault_no_peer_faults_an_instance_without_peers() -> None:
    _, effects = router_for(config(instance(extra="    unicast_fault_no_peer")))
    assert states(effects) == [("VI_1", FAULT)]
    peers = "    unicast_fault_no_peer\n    unicast_peer {\n        192.0.2.20\n    }"
    _, effects = router_for(config(instance(extra=peers)))
    assert states(effects) == [("VI_1", BACKUP)]


def test_skip_check_adv_addr_per_instance_overrides_the_global() -> None:
    two_vips = packet(addresses=(b"\xc6\x33\x64\x01", b"\xc6\x33\x64\x02"))
    router, _ = router_for(config(instance(extra="    skip_check_adv_addr")))
    assert router.receive(ETH0, two_vips, b"", -1, 1.0).instance == "VI_1"
    glob = "global_defs {\n    vrrp_skip_check_adv_addr\n}\n"
    router, _ = router_for(config(glob, instance(extra="    skip_check_adv_addr off")))
    assert router.receive(ETH0, two_vips, b"", -1, 1.0).instance is None


def test_master_state_is_reached_after_down_timer_adverts() -> None:
    router, _ = router_for(config(instance(extra="    down_timer_adverts 1")))
    router.timer("VI_1", 1.0 + (256 - 100) / 256)
    assert router.state("VI_1") == MASTER


# --------------------------------------------------------------------------- the I/O side's rules


def test_vmac_xmit_base_sends_on_the_interface_and_mcast_dst_ip_gets_its_own_socket() -> None:
    vmac = config(instance(extra="    use_vmac\n    vmac_xmit_base")).vrrp_instances[0]
    assert vmac.use_vmac == "vrrp.51" and not sends_on_vmac(vmac)
    assert sends_on_vmac(config(instance(extra="    use_vmac")).vrrp_instances[0])
    own = config(instance(extra="    mcast_dst_ip 224.0.0.99")).vrrp_instances[0]
    assert advert_group(own, GlobalDefs()) == ("224.0.0.99", True)
    plain = config(instance()).vrrp_instances[0]
    assert advert_group(plain, GlobalDefs()) == ("224.0.0.18", False)


class _Tx:
    family = socket.AF_INET

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def destination(self, address: str) -> tuple[str, int]:
        return (address, 0)

    def queue(self, packet: bytes, dest: object) -> None:
        self.sent.append(packet)


def test_unicast_ttl_sets_the_ipv4_ttl_of_unicast_adverts() -> None:
    peers = "    unicast_ttl 7\n    unicast_peer {\n        192.0.2.20\n    }"
    cfg = config(instance(extra=peers)).vrrp_instances[0]
    tx = _Tx()
    advert_sender(cfg, tx, ME, "224.0.0.18", SeqCounter()).queue(100)  # type: ignore[arg-type]
    assert tx.sent[0][8] == 7
    tx = _Tx()
    advert_sender(config(instance()).vrrp_instances[0], tx, ME, "224.0.0.18", SeqCounter()).queue(100)  # type: ignore[arg-type]
    assert tx.sent[0][8] == 255


def test_ipv6_instances_with_a_configured_source_or_unicast_ttl_get_a_send_socket_of_their_own() -> None:
    def v6(extra: str) -> VrrpInstance:
        block = instance(extra=f"    native_ipv6\n{extra}").replace("198.51.100.1/24", "2001:db8::100/64")
        return config(block).vrrp_instances[0]

    src = ip_address("2001:db8::f11")
    peers = "    unicast_peer {\n        2001:db8::12\n    }\n"
    assert ipv6_sender(v6(""), src) is None
    assert ipv6_sender(v6(f"    unicast_src_ip {src}\n" + peers), src) == ("2001:db8::f11", 255)
    assert ipv6_sender(v6("    unicast_ttl 4\n" + peers), src) == ("", 4)  # the kernel keeps picking the source
    assert ipv6_sender(config(instance(extra="    unicast_ttl 4\n" + PEERS4)).vrrp_instances[0], src) is None


PEERS4 = "    unicast_peer {\n        192.0.2.20\n    }"


def test_promote_secondaries_sets_only_what_is_off_and_puts_it_back(tmp_path: Path) -> None:
    for ifname, value in (("eth0", "0"), ("eth1", "1")):
        (tmp_path / ifname).mkdir()
        (tmp_path / ifname / "promote_secondaries").write_text(f"{value}\n")
    promote = PromoteSecondaries(tmp_path)
    for ifname in ("eth0", "eth1", "missing"):
        promote.want(ifname)
    assert [(tmp_path / i / "promote_secondaries").read_text() for i in ("eth0", "eth1")] == ["1\n", "1\n"]
    promote.restore()
    assert [(tmp_path / i / "promote_secondaries").read_text() for i in ("eth0", "eth1")] == ["0\n", "1\n"]
