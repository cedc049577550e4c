"""``ip rule`` requests (our encoder) and multipath routes (RTA_MULTIPATH through pyroute2) decode as
iproute2 would send them."""

from __future__ import annotations

import socket
import struct
from typing import Any

from pyroute2.iproute.linux import get_arguments_processor
from pyroute2.netlink.rtnl.fibmsg import fibmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from fastalived.config import parse_string
from fastalived.config.model import RouteSpec, RuleSpec
from fastalived.runtime.netlink import NLMSGHDR, parse_attrs
from fastalived.vrrp.addresses import RTNH_F_ONLINK, route_devices, route_request
from fastalived.vrrp.rtnl import ADD_FLAGS, DEL_FLAGS, RTM_DELRULE, RTM_NEWRULE, describe_rule, rule_message

RTA_MULTIPATH, RTA_GATEWAY = 9, 5
_RTNEXTHOP = struct.Struct("=HBBi")  # len, flags, hops, ifindex


def rules(text: str) -> tuple[RuleSpec, ...]:
    result = parse_string(f"static_rules {{\n{text}\n}}\n")
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    return result.config.static_rules


def routes(text: str) -> tuple[RouteSpec, ...]:
    result = parse_string(f"static_routes {{\n{text}\n}}\n")
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    return result.config.static_routes


def decode_rule(data: bytes) -> fibmsg:
    msg = fibmsg(data)
    msg.decode()
    return msg


def test_rule_add_and_del_decode_like_ip_rule() -> None:
    (rule,) = rules(
        "not from 198.51.100.0/24 to 203.0.113.7 iif eth0 oif eth1 tos 0x10 fwmark 0x10/0xff table 100 preference 50"
    )
    add, remove = rule_message(True, rule), rule_message(False, rule)
    assert NLMSGHDR.unpack_from(add)[:3] == (len(add), RTM_NEWRULE, ADD_FLAGS)
    assert NLMSGHDR.unpack_from(remove)[:3] == (len(remove), RTM_DELRULE, DEL_FLAGS)
    assert add[16:] == remove[16:]  # the kernel matches a delete on the same attributes
    msg = decode_rule(add)
    header = (msg["family"], msg["src_len"], msg["dst_len"], msg["tos"], msg["table"], msg["action"], msg["flags"])
    assert header == (socket.AF_INET, 24, 32, 0x10, 100, 1, 0x2)  # FR_ACT_TO_TBL, FIB_RULE_INVERT
    assert msg.get_attr("FRA_SRC") == "198.51.100.0"
    assert msg.get_attr("FRA_DST") == "203.0.113.7"
    assert (msg.get_attr("FRA_IIFNAME"), msg.get_attr("FRA_OIFNAME")) == ("eth0", "eth1")
    assert (msg.get_attr("FRA_FWMARK"), msg.get_attr("FRA_FWMASK")) == (0x10, 0xFF)
    assert msg.get_attr("FRA_PRIORITY") == 50
    assert msg.get_attr("FRA_TABLE") is None
    assert msg.get_attr("FRA_PROTOCOL") == 18  # tracked: keepalived's protocol


def test_large_tables_goto_and_actions() -> None:
    big, goto, blackhole = rules(
        "from 198.51.100.1 lookup 1000 priority 10\n"
        "from 198.51.100.2 goto 500 priority 20 no_track\n"
        "to 198.51.100.3 blackhole priority 30"
    )
    msg = decode_rule(rule_message(True, big))
    assert (msg["table"], msg.get_attr("FRA_TABLE")) == (0, 1000)  # above 255: an attribute, as iproute2
    msg = decode_rule(rule_message(True, goto))
    assert (msg["action"], msg.get_attr("FRA_GOTO"), msg.get_attr("FRA_PROTOCOL")) == (2, 500, None)
    assert decode_rule(rule_message(True, blackhole))["action"] == 6


def test_rule_port_uid_and_protocol_ranges() -> None:
    (rule,) = rules(
        "inet6 table 5 priority 40 suppress_prefixlength 0 sport 1000-2000 dport 53 ipproto tcp uidrange 10-20"
    )
    attrs = parse_attrs(rule_message(True, rule), 16 + 12)
    assert decode_rule(rule_message(True, rule))["family"] == socket.AF_INET6
    assert struct.unpack("=I", attrs[14]) == (0,)  # FRA_SUPPRESS_PREFIXLEN
    assert struct.unpack("=HH", attrs[23]) == (1000, 2000)  # FRA_SPORT_RANGE
    assert struct.unpack("=HH", attrs[24]) == (53, 53)  # FRA_DPORT_RANGE
    assert struct.unpack("=II", attrs[20]) == (10, 20)  # FRA_UID_RANGE
    assert attrs[22] == bytes((socket.IPPROTO_TCP,))  # FRA_IP_PROTO


def test_describe_rule_reads_like_ip_rule() -> None:
    plain, goto = rules("from 198.51.100.0/24 table 100 priority 5\nnot iif eth0 goto 90 priority 10")
    assert describe_rule(plain) == "from 198.51.100.0/24 pref 5 lookup 100"
    assert describe_rule(goto) == "not iif eth0 pref 10 goto 90"


def _encoded(request: dict[str, Any]) -> bytes:
    """The RTM_NEWROUTE body pyroute2 sends for ``ipr.route("replace", **request)``."""
    processor = get_arguments_processor("route", "replace", dict(request), {"strict_check": False})
    msg = rtmsg()
    for name, *_ in msg.fields:
        msg[name] = processor.get_value(name, default=0, mode="field")
    msg["attrs"] = [[rtmsg.name2nla(k), v] for k, v in processor.items() if msg.valid_nla(rtmsg.name2nla(k))]
    msg.encode()
    return bytes(msg.data)


def test_nexthops_go_as_rta_multipath_with_weight_less_one() -> None:
    (route,) = routes("203.0.113.0/24 nexthop via 198.51.100.1 dev eth0 weight 2 nexthop via 198.51.100.2 onlink")
    assert route_devices(route, "eth9") == ["eth0"]  # no instance default for a multipath route
    request = route_request(route, {"eth0": 7}, "eth9")
    assert "oif" not in request and "gateway" not in request
    attrs = parse_attrs(_encoded(request), 16 + 12)  # after the netlink and rtmsg headers
    payload = attrs[RTA_MULTIPATH]
    hops = []
    offset = 0
    while offset < len(payload):
        length, flags, weight, index = _RTNEXTHOP.unpack_from(payload, offset)
        gateway = parse_attrs(payload[offset + _RTNEXTHOP.size : offset + length])[RTA_GATEWAY]
        hops.append((flags, weight, index, socket.inet_ntoa(gateway)))
        offset += (length + 3) & ~3
    assert hops == [(0, 1, 7, "198.51.100.1"), (RTNH_F_ONLINK, 0, 0, "198.51.100.2")]


def test_plain_routes_keep_their_device_and_default() -> None:
    explicit, default = routes("203.0.113.0/24 dev eth1 nexthop via 198.51.100.1\n198.51.100.0/25")
    assert route_request(explicit, {"eth1": 3}, None)["oif"] == 3
    assert route_devices(default, "eth9") == ["eth9"]
    assert route_request(default, {"eth9": 4}, "eth9")["oif"] == 4
