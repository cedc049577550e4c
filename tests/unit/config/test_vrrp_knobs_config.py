"""Parsing keepalived's VMAC, unicast and advert-policy keywords, with keepalived's diagnostics."""

from __future__ import annotations

from ipaddress import ip_address

from fastalived.config import parse_string
from fastalived.config.model import Config, VrrpInstance

PEER = "    unicast_peer {\n        198.51.100.2\n    }\n"


def load(body: str, global_defs: str = "", rest: str = "") -> tuple[Config, list[str]]:
    text = f"global_defs {{\n{global_defs}}}\n" if global_defs else ""
    text += "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n" + body
    text += "    virtual_ipaddress {\n        198.51.100.100/24\n    }\n}\n" + rest
    result = parse_string(text)
    return result.config, [f"{d.severity}: {d.message}" for d in result.diagnostics]


def inst(body: str, global_defs: str = "") -> VrrpInstance:
    config, diagnostics = load(body, global_defs)
    assert diagnostics == []
    return config.vrrp_instances[0]


def test_use_vmac_name_and_mac_in_either_order() -> None:
    vi = inst("    use_vmac vmac1 02:00:00:00:00:07\n")
    assert (vi.use_vmac, vi.vmac_mac) == ("vmac1", bytes.fromhex("020000000007"))
    vi = inst("    use_vmac 02:00:00:00:01:\n")
    assert (vi.use_vmac, vi.vmac_mac) == ("vrrp.51", bytes.fromhex("020000000133"))  # five octets + VRID
    assert inst("    use_vmac\n").vmac_mac is None


def test_use_vmac_refuses_bad_multicast_and_rfc5798_macs() -> None:
    for mac, why in (
        ("02:00:zz:00:00:01", "invalid MAC address"),
        ("01:00:00:00:00:01", "is multicast"),
        ("00:00:5e:00:01:33", "is an RFC 5798 address"),
    ):
        config, diagnostics = load(f"    use_vmac {mac}\n")
        assert len(diagnostics) == 1 and why in diagnostics[0], diagnostics
        assert config.vrrp_instances[0].vmac_mac is None and config.vrrp_instances[0].use_vmac == "vrrp.51"


def test_vmac_prefix_names_generated_vmacs_within_ifnamsiz() -> None:
    assert inst("    use_vmac\n", "    vmac_prefix vm\n").use_vmac == "vm.51"
    assert inst("    use_vmac\n", "    vmac_prefix abcdefghijklmnop\n").use_vmac == "abcdefghijkl.51"


def test_vmac_xmit_base_rules() -> None:
    assert inst("    use_vmac\n    vmac_xmit_base\n").vmac_xmit_base
    config, diagnostics = load("    vmac_xmit_base\n")
    assert diagnostics == ["error: vrrp_instance VI_1: vmac_xmit_base is only valid with a vmac - ignored"]
    assert not config.vrrp_instances[0].vmac_xmit_base
    config, diagnostics = load("    use_vmac\n" + PEER)  # keepalived turns it on for unicast
    assert diagnostics == ["error: vrrp_instance VI_1: unicast with use_vmac requires vmac_xmit_base - setting"]
    assert config.vrrp_instances[0].vmac_xmit_base


def test_unicast_ttl_needs_peers_and_mcast_dst_ip_needs_multicast() -> None:
    assert inst("    unicast_ttl 3\n" + PEER).unicast_ttl == 3
    config, diagnostics = load("    unicast_ttl 3\n")
    assert diagnostics == ["error: vrrp_instance VI_1: cannot use unicast_ttl without unicast peers - resetting"]
    assert config.vrrp_instances[0].unicast_ttl is None
    assert inst("    mcast_dst_ip 224.0.0.99\n").mcast_dst_ip == ip_address("224.0.0.99")
    assert inst("", "    vrrp_mcast_group4 224.0.0.88\n").mcast_dst_ip == ip_address("224.0.0.88")
    assert inst(PEER).mcast_dst_ip is None
    for value, why in (("198.51.100.9", "is not multicast"), ("ff02::99", "must match the instance's family")):
        config, diagnostics = load(f"    mcast_dst_ip {value}\n")
        assert len(diagnostics) == 1 and why in diagnostics[0], diagnostics
        assert config.vrrp_instances[0].mcast_dst_ip == ip_address("224.0.0.18")
    config, diagnostics = load("    mcast_dst_ip 224.0.0.99\n" + PEER)
    assert diagnostics == ["error: vrrp_instance VI_1: multicast destination specified with unicast - ignoring"]


def test_per_instance_forms_of_global_options() -> None:
    vi = inst("", "    vrrp_check_unicast_src\n    vrrp_skip_check_adv_addr\n")
    assert vi.check_unicast_src and vi.skip_check_adv_addr and not vi.strict_mode
    vi = inst("    check_unicast_src\n    skip_check_adv_addr yes\n    promote_secondaries\n")
    assert vi.check_unicast_src and vi.skip_check_adv_addr and vi.promote_secondaries
    assert not inst("    skip_check_adv_addr off\n", "    vrrp_skip_check_adv_addr\n").skip_check_adv_addr
    assert inst("    strict_mode\n").strict_mode and not inst("    strict_mode\n").accept
    _, diagnostics = load("    use_vmac\n    promote_secondaries\n")
    assert diagnostics == ["error: vrrp_instance VI_1: promote_secondaries is automatically set for vmacs - ignoring"]


def test_advert_policy_defaults_and_strict_mode() -> None:
    vi = inst("")
    assert (vi.garp_lower_prio_repeat, vi.garp_lower_prio_delay) == (5, 5.0)  # garp_master_* by default
    assert (vi.lower_prio_no_advert, vi.higher_prio_send_advert, vi.down_timer_adverts) == (False, False, 3)
    glob = (
        "    vrrp_garp_master_repeat 2\n    vrrp_garp_master_delay 9\n    vrrp_lower_prio_no_advert\n"
        "    vrrp_higher_prio_send_advert true\n    vrrp_down_timer_adverts 6\n"
    )
    vi = inst("", glob)
    assert (vi.garp_lower_prio_repeat, vi.garp_lower_prio_delay) == (2, 9.0)
    assert (vi.lower_prio_no_advert, vi.higher_prio_send_advert, vi.down_timer_adverts) == (True, True, 6)
    vi = inst(
        "    garp_lower_prio_repeat 0\n    lower_prio_no_advert off\n", glob + "    vrrp_garp_lower_prio_delay 4\n"
    )
    assert (vi.garp_lower_prio_repeat, vi.garp_lower_prio_delay, vi.lower_prio_no_advert) == (0, 4.0, False)
    config, diagnostics = load("    strict_mode\n    higher_prio_send_advert\n    down_timer_adverts 5\n")
    assert diagnostics == [
        "error: vrrp_instance VI_1: down_timer_adverts is incompatible with strict mode - resetting",
        "error: vrrp_instance VI_1: strict mode requires higher_prio_send_advert to be clear - resetting",
    ]
    vi = config.vrrp_instances[0]
    assert (vi.higher_prio_send_advert, vi.down_timer_adverts, vi.lower_prio_no_advert) == (False, 3, True)


def test_vrrp_min_garp_changes_only_defaults_already_in_place() -> None:
    vi = inst("", "    vrrp_min_garp\n")
    assert (vi.garp_master_repeat, vi.garp_master_delay, vi.garp_lower_prio_repeat) == (1, 0.0, 1)
    vi = inst("", "    vrrp_garp_master_repeat 3\n    vrrp_min_garp\n")
    assert (vi.garp_master_repeat, vi.garp_master_delay) == (3, 0.0)
    vi = inst("", "    vrrp_min_garp\n    vrrp_garp_master_repeat 5\n")  # set again afterwards
    assert vi.garp_master_repeat == 5
    assert inst("", "    vrrp_min_garp off\n").garp_master_repeat == 5


def test_default_interface_startup_delay_and_unicast_fault_no_peer() -> None:
    static = "static_ipaddress {\n    198.51.100.7/24\n    198.51.100.8/24 dev eth1\n}\n"
    config, diagnostics = load("", "    default_interface eth9\n    vrrp_startup_delay 2.5\n", static)
    assert diagnostics == []
    assert [a.dev for a in config.static_ipaddress] == ["eth9", "eth1"]
    assert config.global_defs.vrrp_startup_delay == 2.5
    unicast = parse_string("vrrp_instance U {\n    virtual_router_id 9\n" + PEER + "}\n")
    assert unicast.ok and unicast.config.vrrp_instances[0].interface == "eth0"  # keepalived's default_interface
    assert inst("    unicast_fault_no_peer\n").unicast_fault_no_peer
