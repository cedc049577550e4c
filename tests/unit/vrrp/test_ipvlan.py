"""use_ipvlan: keepalived's syntax and rules in the parser, its RTM_NEWLINK request (checked with
pyroute2's decoder, which knows every attribute but IFLA_IPVLAN_FLAGS), and the FAULT an IPv4
ipvlan without an address is kept in."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from fastalived.config import parse_string
from fastalived.config.model import IPAddressSpec, VrrpInstance
from fastalived.runtime.netlink import parse_attrs
from fastalived.vrrp.ipvlan import IFLA_INFO_DATA, IFLA_IPVLAN_FLAGS, IFLA_LINKINFO, ipvlan_address, ipvlan_link_request
from fastalived.vrrp.machine import FAULT
from tests.unit.vrrp.test_router import instance, router_for, states


def load(body: str, vip: str = "198.51.100.1/24") -> tuple[VrrpInstance, list[str]]:
    text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n"
    text += f" virtual_ipaddress {{\n  {vip}\n }}\n{body}\n}}\n"
    result = parse_string(text)
    return result.config.vrrp_instances[0], [d.message.split(": ", 1)[1] for d in result.diagnostics]


def test_words_in_any_order_and_the_address_is_the_advert_source() -> None:
    inst, problems = load(" use_ipvlan private 198.51.100.50/24 ipv51")
    assert problems == []
    assert (inst.use_vmac, inst.ipvlan, inst.ipvlan_mode) == ("ipv51", True, "private")
    assert inst.ipvlan_address == ipaddress.ip_interface("198.51.100.50/24")
    assert inst.mcast_src_ip == ipaddress.ip_address("198.51.100.50")
    assert ipvlan_address(inst) == IPAddressSpec(ipaddress.ip_interface("198.51.100.50/24"), dev="ipv51")


def test_defaults_a_configured_source_and_repeated_words() -> None:
    inst, problems = load(" use_ipvlan 198.51.100.50 bridge vepa 198.51.100.4 x\n mcast_src_ip 198.51.100.2")
    assert problems == [
        "ipvlan type already specified - ignoring 'vepa'",
        "ipvlan address already specified - ignoring '198.51.100.4'",
    ]
    assert (inst.use_vmac, inst.ipvlan_mode, str(inst.mcast_src_ip)) == ("x", "bridge", "198.51.100.2")
    inst, _ = load(" use_ipvlan", vip="2001:db8::1/64")  # IPv6 needs no address; the VMAC's name
    assert (inst.use_vmac, inst.ipvlan_address, inst.config_fault) == ("vrrp.51", None, None)


def test_an_ipvlan_never_keeps_vmac_xmit_base() -> None:
    inst, problems = load(" use_ipvlan 198.51.100.50\n unicast_peer {\n  198.51.100.9\n }")
    assert problems == [
        "unicast with use_vmac requires vmac_xmit_base - setting",
        "vmac_xmit_base is only valid with a vmac",
    ]
    assert not inst.vmac_xmit_base


def test_ipv4_without_address_or_of_the_wrong_family_is_a_fault() -> None:
    inst, problems = load(" use_ipvlan ipv51")
    assert inst.config_fault is not None and problems == [inst.config_fault]
    inst, problems = load(" use_ipvlan 2001:db8::9")
    assert inst.config_fault is not None and inst.ipvlan_address is None and "family" in problems[0]
    router, effects = router_for(parse_string(instance(priority=255, extra=" use_ipvlan ipv51\n")).config)
    assert states(effects) == [("VI_1", FAULT)]  # even the address owner
    assert not router.is_master("VI_1")


@pytest.mark.parametrize(("mode", "flags"), [("bridge", 0), ("private", 1), ("vepa", 2)])
def test_the_link_request(mode: str, flags: int) -> None:
    request = ipvlan_link_request("ipv51", 7, mode)
    msg = ifinfmsg(request)
    msg.decode()
    assert msg["header"]["type"] == 16 and msg["header"]["length"] == len(request)  # RTM_NEWLINK
    assert (msg.get_attr("IFLA_IFNAME"), msg.get_attr("IFLA_LINK"), msg["flags"] & 1) == ("ipv51", 7, 1)
    linkinfo = msg.get_attr("IFLA_LINKINFO")
    assert linkinfo.get_attr("IFLA_INFO_KIND") == "ipvlan"
    assert linkinfo.get_attr("IFLA_INFO_DATA").get_attr("IFLA_IPVLAN_MODE") == 0  # L2
    data = parse_attrs(parse_attrs(parse_attrs(request, 32)[IFLA_LINKINFO])[IFLA_INFO_DATA])
    assert struct.unpack("=H", data[IFLA_IPVLAN_FLAGS]) == (flags,)
