"""interface_up_down_delays, linkbeat and track_src_ip: parsing, the pure debounce decisions on a
fake clock, which interfaces linkbeat polls, and track_src_ip's FAULT through the router."""

from __future__ import annotations

from fastalived.config import parse_string
from fastalived.config.model import Config, InterfaceDelay, LinkbeatInterface
from fastalived.vrrp.linkbeat import LinkProbe
from fastalived.vrrp.linkstate import DelayLimit, LinkDebounce, clamp_delay, interface_delays, polled_interfaces
from fastalived.vrrp.machine import BACKUP, FAULT
from fastalived.vrrp.router import VrrpRouter

INSTANCE = """\
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
{body}    virtual_ipaddress {{
        198.51.100.100/24
    }}
}}
"""


def load(text: str) -> tuple[Config, list[str]]:
    result = parse_string(text)
    return result.config, [f"{d.where.line}:{d.where.col} {d.severity}: {d.message}" for d in result.diagnostics]


# ------------------------------------------------------------------ parsing


def test_interface_up_down_delays_parse_with_keepalived_rules() -> None:
    config, diagnostics = load("""\
interface_up_down_delays {
    eth0 1.5 2
    eth1 0.25
    eth2 256
    eth3 x 1
    eth4
    eth1 0.5 0.000001
}
""")
    assert config.global_defs.interface_delays == (
        InterfaceDelay("eth0", 1.5, 2.0),
        InterfaceDelay("eth1", 0.5, 0.000001),  # the later line for eth1 wins
    )
    assert diagnostics == [
        "4:10 error: interface_up_down_delays: Invalid down delay 256 for eth2 (0..255 seconds)",
        "5:10 error: interface_up_down_delays: Invalid down delay x for eth3 (0..255 seconds)",
        "6:5 error: interface_up_down_delays: No timeouts specified for eth4 up/down delays",
    ]
    # keepalived 2.2.7's parser: an omitted up delay is 0
    config, _ = load("interface_up_down_delays {\n    eth1 0.25\n}\n")
    assert config.global_defs.interface_delays == (InterfaceDelay("eth1", 0.25, 0.0),)


def test_linkbeat_keywords_parse() -> None:
    text = "linkbeat_use_polling\nlinkbeat_interfaces {\n    eth0\n    eth1 ETHTOOL\n    eth2 FOO\n}\n"
    config, diagnostics = load(text + INSTANCE.format(body="    linkbeat_use_polling\n"))
    g = config.global_defs
    assert g.linkbeat_use_polling
    assert g.linkbeat_interfaces == (
        LinkbeatInterface("eth0"),
        LinkbeatInterface("eth1", "ETHTOOL"),
        LinkbeatInterface("eth2"),
    )
    assert config.vrrp_instances[0].linkbeat_use_polling
    assert diagnostics == [
        "5:10 error: linkbeat_interfaces: extra characters FOO in linkbeat interface (MII|ETHTOOL|IOCTL)",
        "10:5 warning: vrrp_instance VI_1: 'linkbeat_use_polling' in vrrp instance deprecated"
        " - use linkbeat_interfaces block",
    ]


def test_track_src_ip_needs_a_configured_source() -> None:
    config, diagnostics = load(INSTANCE.format(body="    track_src_ip\n    unicast_src_ip 198.51.100.1\n"))
    assert config.vrrp_instances[0].track_src_ip and diagnostics == []
    result = parse_string(INSTANCE.format(body="    track_src_ip\n"))
    assert not result.config.vrrp_instances[0].track_src_ip  # keepalived clears it
    assert [f"{d.where.line}:{d.where.col} {d.message}" for d in result.notices] == [
        "4:5 vrrp_instance VI_1: track_src_ip has no effect without unicast_src_ip/mcast_src_ip"
    ]


# ------------------------------------------------------------------ debounce on a fake clock


def debounce(down: float = 2.0, up: float = 1.0) -> LinkDebounce:
    d = LinkDebounce()
    d.configure({"eth0": (down, up)})
    return d


def test_flap_shorter_than_the_delay_never_reaches_the_instances() -> None:
    d = debounce()
    assert d.change("eth0", False, True, 10.0) == 12.0  # held for the down delay
    assert d.due("eth0", 11.0) is None
    assert d.change("eth0", True, True, 11.5) is False  # back before 12: cancelled
    assert d.pending == {} and d.due("eth0", 20.0) is None


def test_change_lasting_the_delay_is_delivered_then_the_up_delay_applies() -> None:
    d = debounce()
    assert d.change("eth0", False, True, 10.0) == 12.0
    assert d.change("eth0", False, True, 10.5) is False  # the same change again: still pending for 12
    assert d.due("eth0", 12.0) is False
    assert d.change("eth0", True, False, 13.0) == 14.0  # up waits the up delay
    assert d.due("eth0", 14.0) is True


def test_no_delay_before_the_interface_was_seen_up_on_deletion_or_without_a_delay() -> None:
    d = debounce()
    assert d.change("eth0", True, False, 0.0) is True  # never seen up: at once
    assert d.change("eth0", False, True, 1.0) == 3.0
    assert d.change("eth0", False, True, 1.5, deleted=True) is True  # deleted: at once, pending dropped
    assert d.pending == {}
    assert d.change("eth0", True, False, 2.0) is True  # re-created: seen up anew
    assert d.change("eth1", False, True, 0.0) is True  # no delay configured
    assert d.change("eth0", True, True, 5.0) is False  # nothing changed
    assert d.change("eth0", False, None, 5.0) is True  # not known yet: at once


def test_up_delay_zero_acts_at_once() -> None:
    d = debounce(down=1.0, up=0.0)
    assert d.change("eth0", False, True, 0.0) == 1.0
    assert d.due("eth0", 1.0) is False
    assert d.change("eth0", True, False, 2.0) is True


def test_delay_is_kept_below_the_instances_down_interval() -> None:
    assert clamp_delay(1.0, [DelayLimit(3, 1.0)]) == 1.0
    assert clamp_delay(2.0, [DelayLimit(3, 1.0)]) == 2.0 - 1 / 256
    assert clamp_delay(5.0, [DelayLimit(3, 1.0), DelayLimit(3, 0.5)]) == 1.0 - 0.5 / 256  # lower interval wins
    assert clamp_delay(0.5, [DelayLimit(1, 1.0)]) == 0.0  # down_timer_adverts 1: no debounce
    d = debounce(down=5.0)
    assert d.change("eth0", False, True, 0.0, [DelayLimit(3, 1.0)]) == 2.0 - 1 / 256


def test_vmac_inherits_its_interface_delays() -> None:
    config, _ = load("interface_up_down_delays {\n    eth0 1 2\n}\n" + INSTANCE.format(body="    use_vmac vrrp.51\n"))
    assert interface_delays(config) == {"eth0": (1.0, 2.0), "vrrp.51": (1.0, 2.0)}


# ------------------------------------------------------------------ linkbeat


def test_polled_interfaces_are_only_those_in_use() -> None:
    config, _ = load(
        "linkbeat_interfaces {\n    eth1 ETHTOOL\n    eth9\n}\n"
        + INSTANCE.format(body="    track_interface {\n        eth1\n    }\n")
    )
    assert polled_interfaces(config) == {"eth1": "ETHTOOL"}  # eth9 is used by no instance
    config, _ = load("linkbeat_use_polling\n" + INSTANCE.format(body=""))
    assert polled_interfaces(config) == {"eth0": None}
    config, _ = load(INSTANCE.format(body="    linkbeat_use_polling\n"))
    assert polled_interfaces(config) == {"eth0": None}
    config, _ = load("linkbeat_interfaces {\n    vm1\n}\n" + INSTANCE.format(body="    use_vmac vm1\n"))
    assert polled_interfaces(config) == {}  # netlink works for VMACs


def test_linkbeat_probe_reads_loopback_and_a_missing_interface() -> None:
    probe = LinkProbe()
    try:
        assert probe.up("lo", None) is True  # lo answers neither MII nor ethtool: flags decide
        assert probe.kinds["lo"] in ("ETHTOOL", "IOCTL")
        assert probe.up("lo", "IOCTL") is True
        assert probe.up("fa-missing0", None) is False
    finally:
        probe.close()


# ------------------------------------------------------------------ track_src_ip in the router


def test_track_src_ip_faults_the_instance_while_the_source_is_missing() -> None:
    config, _ = load(INSTANCE.format(body="    track_src_ip\n    unicast_src_ip 198.51.100.1\n"))
    router = VrrpRouter()
    router.configure(config)
    inst = router.add(config.vrrp_instances[0])
    router.learn_link("eth0", True)
    router.bind("VI_1", "eth0", 4, bytes([198, 51, 100, 1]), 0.0)
    router.tracked_changed("src_ip", "VI_1", False, 0.0)  # before start: starts in FAULT
    router.start("VI_1", 0.0)
    assert inst.machine.state == FAULT
    router.tracked_changed("src_ip", "VI_1", True, 1.0)
    assert inst.machine.state == BACKUP
    router.tracked_changed("src_ip", "VI_1", False, 2.0)
    assert inst.machine.state == FAULT
