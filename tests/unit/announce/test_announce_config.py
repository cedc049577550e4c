"""``fastalived_announce_table`` and ``fastalived_announce``: defaults, derived prefixes, errors."""

from __future__ import annotations

import ipaddress

from fastalived.config import LoadResult, parse_string

VRRP = (
    "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 5\n priority 100\n virtual_ipaddress { 198.51.100.9 }\n}\n"
)


def _errors(text: str) -> list[str]:
    return _errors_of(parse_string(text))


def _errors_of(result: LoadResult) -> list[str]:
    return [d.message for d in result.diagnostics if d.severity == "error"]


def test_defaults_announce_the_service_address_in_table_201() -> None:
    config = parse_string("virtual_server 198.51.100.80 80 {\n protocol TCP\n fastalived_announce {\n }\n}\n").config
    announce = config.virtual_servers[0].announce
    assert config.global_defs.announce_table == 201
    assert announce is not None
    assert announce.prefixes == (ipaddress.ip_network("198.51.100.80/32"),)
    assert (announce.require_master, announce.metric, announce.drain) == (None, 0, 1.0)


def test_every_option_and_a_v6_service() -> None:
    config = parse_string(
        "global_defs {\n fastalived_announce_table 1000\n}\n" + VRRP + "virtual_server 2001:db8::80 443 {\n"
        " protocol TCP\n fastalived_announce {\n  prefix 2001:db8::/64\n  prefix 198.51.100.64/28\n"
        "  require_master VI_1\n  metric 100\n  drain 5\n }\n}\n"
    ).config
    announce = config.virtual_servers[0].announce
    assert config.global_defs.announce_table == 1000
    assert announce is not None
    assert [str(p) for p in announce.prefixes] == ["2001:db8::/64", "198.51.100.64/28"]
    assert (announce.require_master, announce.metric, announce.drain) == ("VI_1", 100, 5.0)


def test_group_members_announce_their_addresses_and_fwmark_needs_a_prefix() -> None:
    result = parse_string(
        "virtual_server_group web {\n 198.51.100.10-11 80\n 2001:db8::5 80\n fwmark 3\n}\n"
        "virtual_server group web {\n protocol TCP\n fastalived_announce {\n }\n}\n"
        "virtual_server fwmark 7 {\n fastalived_announce {\n  prefix 198.51.100.96/27\n }\n}\n"
        "virtual_server fwmark 8 {\n fastalived_announce {\n }\n}\n"
    )
    group, marked, bare = result.config.virtual_servers
    assert group.announce is not None and marked.announce is not None
    assert [str(p) for p in group.announce.prefixes] == ["198.51.100.10/31", "2001:db8::5/128"]
    assert [str(p) for p in marked.announce.prefixes] == ["198.51.100.96/27"]
    assert bare.announce is None
    assert any("needs a prefix" in e for e in _errors_of(result))


def test_bad_values_are_errors() -> None:
    assert any(
        "unknown vrrp_instance 'VI_9'" in e
        for e in _errors("virtual_server 198.51.100.80 80 {\n fastalived_announce {\n  require_master VI_9\n }\n}\n")
    )
    assert any(
        "not a network prefix" in e
        for e in _errors("virtual_server 198.51.100.80 80 {\n fastalived_announce {\n  prefix 198.51.100.1/24\n }\n}\n")
    )
    assert any("kernel's own" in e for e in _errors("global_defs {\n fastalived_announce_table 254\n}\n"))
