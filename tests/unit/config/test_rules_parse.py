"""``static_rules``/``virtual_rules``, multipath ``nexthop`` routes, ``net_namespace`` and the
start-up/shut-down scripts read as keepalived 2.2.7 reads them."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from fastalived.config import model as m
from fastalived.config import parse_string


def load(text: str) -> tuple[m.Config, list[str]]:
    result = parse_string(text)
    return result.config, [str(d) for d in result.diagnostics]


def static_rules(lines: str) -> tuple[tuple[m.RuleSpec, ...], list[str]]:
    config, problems = load(f"static_rules {{\n{lines}\n}}\n")
    return config.static_rules, problems


def test_rule_selectors_and_actions() -> None:
    rules, problems = static_rules(
        "    from 198.51.100.0/24 to 203.0.113.0/25 table 100 priority 10\n"
        "    not iif eth0 oif eth1 fwmark 0x10/0xff tos 0x08 lookup main order 20\n"
        "    from all goto 500 preference 30 no_track\n"
        "    inet6 type unreachable priority 40\n"
        "    to 198.51.100.9 table 7 suppress_prefixlength 0 sport 80 dport 1000-2000 ipproto udp uidrange 0-99"
        " priority 50\n"
        "    from 198.51.100.0/24 l3mdev priority 60 protocol 18"
    )
    assert problems == []
    table, invert, goto, v6, ranges, l3mdev = rules
    assert (table.src, table.dst, table.table, table.priority, table.action) == (
        ip_network("198.51.100.0/24"), ip_network("203.0.113.0/25"), 100, 10, "table",
    )  # fmt: skip
    assert (invert.invert, invert.iif, invert.oif, invert.fwmark, invert.fwmask, invert.tos, invert.table) == (
        True, "eth0", "eth1", 0x10, 0xFF, 8, 254,
    )  # fmt: skip
    assert (goto.action, goto.goto, goto.src, goto.no_track, goto.protocol) == ("goto", 500, None, True, None)
    assert (v6.family, v6.action, v6.protocol) == (6, "unreachable", 18)
    assert (ranges.sport, ranges.dport, ranges.uidrange, ranges.ipproto, ranges.suppress_prefixlength) == (
        (80, 80), (1000, 2000), (0, 99), 17, 0,
    )  # fmt: skip
    assert (l3mdev.l3mdev, l3mdev.table, l3mdev.action) == (True, None, "table")


def test_a_rule_without_preference_gets_keepalived_s_counting_down_per_family() -> None:
    rules, problems = static_rules("    from 198.51.100.1 table 1\n    to 198.51.100.2 table 1\n    inet6 table 1")
    assert [(r.family, r.priority) for r in rules] == [(4, 16384), (4, 16383), (6, 16384)]
    assert problems[0] == (
        "<string>:2:5: warning: static_rules: Rule has no preference specified - setting to 16384."
        " This is probably not what you want."
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("from 198.51.100.1 priority 5", "error: static_rules: No action specified for rule - ignoring"),
        ("from 198.51.100.1 table 1 goto 9 priority 5", "Cannot specify more than one of table/nop/goto"),
        ("from 198.51.100.1 goto 9", "Invalid rule - goto target 9 specified without preference"),
        ("from 198.51.100.1 goto 9 priority 9", "Invalid rule - preference 9 >= goto target 9"),
        ("from 198.51.100.1 to 2001:db8::1 table 1 priority 5", "rule specification has mixed IPv4 and IPv6"),
        ("from 198.51.100. table 1 priority 5", "Invalid rule from address 198.51.100."),
        ("table 0 priority 5", "Table 0 is not valid"),
        ("table nosuch priority 5", "Routing table nosuch not found for rule"),
        ("blackhole priority 5 suppress_prefixlength 1", "suppressor specified for non table action"),
        ("from 198.51.100.1 table 1 pref 5", "Unknown rule option pref"),  # no abbreviations, as keepalived
        ("from 198.51.100.1 table 1 priority", "rule option 'priority' needs a value"),
        ("table 1 fwmark 0x10/ priority 5", "Invalid rule fwmark mask"),
        ("table 1 sport 2-1 priority 5", "invalid sport 2-1"),
        (
            "from 198.51.100.1 realms 3 table 1 priority 5",
            "warning: static_rules: rule option 'realms' is not supported by fastalived"
            " (routing realms are not implemented); rule ignored",
        ),
    ],
)
def test_refused_rules_name_file_line_col(line: str, problem: str) -> None:
    rules, problems = static_rules(f"    {line}")
    assert rules == ()
    assert len(problems) == 1 and problems[0].startswith("<string>:2:") and problem in problems[0], problems


def test_a_tracked_rule_with_another_protocol_is_reset_to_keepalived_s() -> None:
    (rule,), problems = static_rules("    from 198.51.100.1 table 1 priority 5 protocol 4")
    assert rule.protocol == 18
    assert "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol" in problems[0]


def test_virtual_rules_belong_to_their_instance() -> None:
    config, problems = load(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.100\n }\n"
        " virtual_rules {\n  from 198.51.100.100 table 100 priority 100\n }\n}\n"
    )
    assert problems == []
    assert config.vrrp_instances[0].virtual_rules == (
        m.RuleSpec(priority=100, table=100, src=ip_network("198.51.100.100/32"), protocol=18),
    )


def test_multipath_routes() -> None:
    config, problems = load(
        "static_routes {\n"
        "    203.0.113.0/24 table 6909 nexthop via 198.51.100.1 dev eth0 onlink weight 1"
        " nexthop via inet 198.51.100.2 dev eth1 weight 256\n"
        "    2001:db8:2::/48 nexthop via 2001:db8::1 nexthop dev eth0\n"
        "}\n"
    )
    assert problems == []
    v4, v6 = config.static_routes
    assert (v4.table, v4.family, v4.nexthops) == (6909, 4, (
        m.NextHop(ip_address("198.51.100.1"), "eth0", 1, onlink=True),
        m.NextHop(ip_address("198.51.100.2"), "eth1", 256),
    ))  # fmt: skip
    assert (v6.family, v6.nexthops) == (6, (m.NextHop(ip_address("2001:db8::1")), m.NextHop(dev="eth0")))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("203.0.113.0/24 nexthop via 198.51.100.1 weight 0", "nexthop weight '0' outside range [1, 256]"),
        ("203.0.113.0/24 nexthop via 2001:db8::1", "nexthop address is not in the route's address family"),
        ("203.0.113.0/24 via 198.51.100.9 nexthop via 198.51.100.1", "either 'via' or 'nexthop's, not both"),
        ("203.0.113.0/24 nexthop weight 2", "nexthop needs 'via' or 'dev'"),
        ("203.0.113.0/24 nexthop via 198.51.100.1 mtu 1400", "unknown nexthop option 'mtu'"),
        ("203.0.113.0/24 nexthop via 198.51.100.1 encap mpls 200", "nexthop option 'encap'"),
    ],
)
def test_refused_nexthops(line: str, problem: str) -> None:
    config, problems = load(f"static_routes {{\n    {line}\n}}\n")
    assert config.static_routes == ()
    assert len(problems) == 1 and problems[0].startswith("<string>:2:") and problem in problems[0], problems


def test_net_namespace_is_a_top_level_keyword_and_the_first_one_wins() -> None:
    config, problems = load("net_namespace blue\nnet_namespace red\nnet_namespace\n")
    assert config.global_defs.net_namespace == "blue"
    assert problems == [
        "<string>:2:15: error: Duplicate net_namespace definition red - ignoring",
        "<string>:3:1: error: net_namespace name missing - ignoring",
    ]
    config, problems = load("net_namespace ../etc\n")
    assert config.global_defs.net_namespace is None and "is not a namespace name" in problems[0]


def test_startup_and_shutdown_scripts() -> None:
    config, problems = load(
        "global_defs {\n"
        '    startup_script "/usr/local/bin/fw up" nobody nogroup\n'
        "    startup_script_timeout 3\n"
        "    shutdown_script /usr/local/bin/fw-down\n"
        "    shutdown_script /other\n"
        "    shutdown_script_timeout 1001\n"
        "}\n"
    )
    g = config.global_defs
    assert (g.startup_script, g.startup_script_user, g.startup_script_group, g.startup_script_timeout) == (
        "/usr/local/bin/fw up", "nobody", "nogroup", 3,
    )  # fmt: skip
    assert (g.shutdown_script, g.shutdown_script_user, g.shutdown_script_timeout) == (
        "/usr/local/bin/fw-down",
        None,
        10,
    )
    assert problems == [
        "<string>:5:5: error: global_defs: shutdown script already specified",
        "<string>:6:29: error: global_defs: shutdown_script_timeout '1001' outside range [1, 1000]",
    ]
