"""Malformed configs: each problem is reported once, at file:line:col, with an exact message."""

from __future__ import annotations

import pytest

from fastalived.config import parse_string
from fastalived.config.diagnostics import Diagnostic
from fastalived.config.model import Where

VI = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n"

CASES: dict[str, tuple[str, list[str]]] = {
    "priority_range": (
        VI + "    priority 300\n}\n",
        ["keepalived.conf:4:14: error: vrrp_instance VI_1: priority '300' outside range [1, 255]"],
    ),
    "priority_not_int": (
        VI + "    priority high\n}\n",
        ["keepalived.conf:4:14: error: vrrp_instance VI_1: priority 'high' is not an integer"],
    ),
    "vrid_range": (
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 256\n}\n",
        [
            "keepalived.conf:3:23: error: vrrp_instance VI_1: virtual_router_id '256' outside range [1, 255]",
        ],
    ),
    "auth_pass_typo": (
        VI + "    authentication {\n        auth_type PASS\n        autp_pass secret\n    }\n}\n",
        [
            (
                "keepalived.conf:6:9: warning: vrrp_instance VI_1: authentication: unknown keyword 'autp_pass' "
                "(did you mean 'auth_pass'?)"
            ),
            "keepalived.conf:4:5: warning: vrrp_instance VI_1: authentication has auth_type but no auth_pass; ignored",
        ],
    ),
    "smtp_typo": (
        "global_defs {\n    stmp_connect_timeout 30\n}\n",
        [
            "keepalived.conf:2:5: warning: global_defs: unknown keyword 'stmp_connect_timeout' "
            "(did you mean 'smtp_connect_timeout'?)"
        ],
    ),
    "unknown_no_suggestion": (
        "frobnicate {\n    x 1\n}\n",
        ["keepalived.conf:1:1: warning: unknown keyword 'frobnicate'"],
    ),
    "bad_vip": (
        VI + "    virtual_ipaddress {\n        198.51.100.300/24\n    }\n}\n",
        [
            "keepalived.conf:5:9: error: vrrp_instance VI_1: virtual_ipaddress: invalid IP address/prefix "
            "'198.51.100.300/24'"
        ],
    ),
    "bad_prefix": (
        VI + "    virtual_ipaddress {\n        198.51.100.1/33 dev eth0\n    }\n}\n",
        [
            "keepalived.conf:5:9: error: vrrp_instance VI_1: virtual_ipaddress: invalid IP address/prefix"
            " '198.51.100.1/33'"
        ],
    ),
    "bad_unicast_peer": (
        VI + "    unicast_peer {\n        203.0.113.x\n    }\n}\n",
        ["keepalived.conf:5:9: error: vrrp_instance VI_1: unicast_peer: invalid IP address '203.0.113.x'"],
    ),
    "v2_subsecond_advert": (
        VI + "    advert_int 0.5\n}\n",
        [
            "keepalived.conf:4:16: error: vrrp_instance VI_1: advert_int '0.5' must be a whole number of seconds "
            "in [1, 255] with VRRPv2"
        ],
    ),
    "v3_advert_range": (
        VI + "    version 3\n    advert_int 41\n}\n",
        ["keepalived.conf:5:16: error: vrrp_instance VI_1: advert_int '41' outside range [0.01, 40.95] for VRRPv3"],
    ),
    "duplicate_vrid": (
        VI + "}\nvrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 51\n}\n",
        [
            "keepalived.conf:7:23: error: vrrp_instance VI_2: virtual_router_id 51 (IPv4) on eth0 is already used "
            "by vrrp_instance VI_1"
        ],
    ),
    "undefined_track_script": (
        "vrrp_script chk_web {\n    script /bin/true\n}\n" + VI + "    track_script {\n        chk_wbe\n    }\n}\n",
        [
            "keepalived.conf:8:9: error: vrrp_instance VI_1: track_script 'chk_wbe' is not a defined vrrp_script "
            "(did you mean 'chk_web'?)"
        ],
    ),
    "unknown_lb_algo": (
        "virtual_server 198.51.100.1 80 {\n    lb_algo wrrr\n    protocol TCP\n}\n",
        [
            "keepalived.conf:2:13: error: virtual_server 198.51.100.1 80: lb_algo 'wrrr' is not one of "
            "rr|wrr|lc|wlc|lblc|lblcr|sh|dh|sed|nq|mh|fo|ovf (did you mean 'wrr'?)"
        ],
    ),
    "unknown_lb_kind": (
        "virtual_server 198.51.100.1 80 {\n    lb_kind NATT\n    protocol TCP\n}\n",
        [
            "keepalived.conf:2:13: error: virtual_server 198.51.100.1 80: lb_kind 'NATT' is not one of NAT|DR|TUN "
            "(did you mean 'NAT'?)"
        ],
    ),
    "unclosed_block": (
        "global_defs {\n    router_id a\n}\n" + VI + "    virtual_ipaddress {\n        198.51.100.1\n}\n",
        ["keepalived.conf:7:5: error: missing '}': block 'virtual_ipaddress' is never closed"],
    ),
    "unclosed_before_next_section": (
        VI + "\nvrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 52\n}\n",
        [
            "keepalived.conf:1:1: error: missing '}': block 'vrrp_instance VI_1' is still open at 'vrrp_instance' on"
            " line 5"
        ],
    ),
    "unclosed_inner_block_before_next_section": (
        VI
        + "    virtual_ipaddress {\n        198.51.100.1\n}\nvrrp_instance VI_2 {\n    interface eth0\n"
        "    virtual_router_id 52\n}\n",
        [
            "keepalived.conf:4:5: error: missing '}': block 'virtual_ipaddress' is still open at 'vrrp_instance' on "
            "line 7"
        ],
    ),
    "extra_close_brace": (
        "global_defs {\n    router_id a\n}\n}\n",
        ["keepalived.conf:4:1: error: unexpected '}' with no block open"],
    ),
    "missing_include": (
        "include /nonexistent/fastalived-test.conf\n",
        ["keepalived.conf:1:1: error: config file '/nonexistent/fastalived-test.conf' not found"],
    ),
    "sync_group_unknown_instance": (
        "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_9\n    }\n}\n" + VI + "}\n",
        ["keepalived.conf:4:9: error: vrrp_sync_group G: unknown vrrp_instance 'VI_9' (did you mean 'VI_1'?)"],
    ),
    "bad_state": (
        VI + "    state PRIMARY\n}\n",
        ["keepalived.conf:4:11: error: vrrp_instance VI_1: state 'PRIMARY' is not one of MASTER|BACKUP"],
    ),
    "bad_port": (
        "virtual_server 198.51.100.1 70000 {\n    protocol TCP\n}\n",
        ["keepalived.conf:1:29: error: virtual_server 198.51.100.1 70000: port '70000' outside range [0, 65535]"],
    ),
    "bad_status_code": (
        (
            "virtual_server 198.51.100.1 80 {\n  real_server 203.0.113.1 80 {\n    HTTP_GET {\n      url {\n"
            "        path /\n        status_code 200-2x9\n      }\n    }\n  }\n  protocol TCP\n}\n"
        ),
        [
            "keepalived.conf:6:21: error: virtual_server 198.51.100.1 80: real_server 203.0.113.1 80: HTTP_GET: url: "
            "status_code '200-2x9' is not a code or range"
        ],
    ),
    "duplicate_instance": (
        VI + "}\n" + VI.replace("51", "52") + "}\n",
        ["keepalived.conf:5:15: error: vrrp_instance VI_1 is already defined at keepalived.conf:1:1"],
    ),
    "bad_bool": (
        VI + "    nopreempt maybe\n}\n",
        ["keepalived.conf:4:15: error: vrrp_instance VI_1: nopreempt 'maybe' is not one of on|off|true|false|yes|no"],
    ),
    "missing_vrid_and_interface": (
        "vrrp_instance VI_1 {\n    priority 10\n}\n",
        [
            "keepalived.conf:1:1: error: vrrp_instance VI_1: no interface set",
            "keepalived.conf:1:1: error: vrrp_instance VI_1: no virtual_router_id set",
        ],
    ),
    "auth_with_vrrp_v3": (
        VI + "    version 3\n    authentication {\n        auth_pass abc\n    }\n}\n",
        ["keepalived.conf:5:5: warning: vrrp_instance VI_1: authentication ignored: VRRPv3 has no authentication"],
    ),
    "notify_unknown_user": (
        VI + "    notify_master /etc/keepalived/master.sh nosuchuser\n}\n",
        [
            "keepalived.conf:4:45: error: vrrp_instance VI_1: Invalid user/group for notify_master script "
            "/etc/keepalived/master.sh - ignoring"
        ],
    ),
    "value_missing": (
        VI + "    priority\n}\n",
        ["keepalived.conf:4:5: error: vrrp_instance VI_1: priority needs a value"],
    ),
    "unknown_vs_group": (
        "virtual_server group nope {\n    protocol TCP\n}\n",
        ["keepalived.conf:1:22: error: virtual_server group nope: unknown virtual_server_group 'nope'"],
    ),
    "bad_digest": (
        (
            "virtual_server 198.51.100.1 80 {\n  real_server 203.0.113.1 80 {\n    HTTP_GET {\n      url {\n"
            "        path /\n        digest xyz\n      }\n    }\n  }\n  protocol TCP\n}\n"
        ),
        [
            "keepalived.conf:6:16: error: virtual_server 198.51.100.1 80: real_server 203.0.113.1 80: HTTP_GET: url: "
            "digest 'xyz' is not a 32-digit hex MD5"
        ],
    ),
    "mcast_group_not_multicast": (
        "global_defs {\n    vrrp_mcast_group4 198.51.100.1\n}\n",
        ["keepalived.conf:1:1: error: global_defs: vrrp_mcast_group4 '198.51.100.1' is not an IPv4 multicast address"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_config_messages(name: str) -> None:
    text, expected = CASES[name]
    result = parse_string(text, filename="keepalived.conf", config_id="main")
    assert [str(d) for d in result.diagnostics] == expected
    assert result.ok == (not any(": error: " in line for line in expected))


def test_every_problem_reported_once_and_parsing_continues() -> None:
    text = (
        VI
        + "    priority 0\n    advert_int x\n    bogus_keyword 1\n}\n"
        + "virtual_server 198.51.100.1 80 {\n    lb_algo nope\n    real_server 203.0.113.1 80 {\n        weight -1\n   "
        " }\n    protocol TCP\n}\n"
    )
    result = parse_string(text, filename="keepalived.conf")
    assert [(d.where.line, d.severity, d.keyword) for d in result.diagnostics] == [
        (4, "error", "priority"),
        (5, "error", "advert_int"),
        (6, "warning", "bogus_keyword"),
        (9, "error", "lb_algo"),
        (11, "error", "weight"),
    ]
    assert len(result.errors) == 4 and len(result.warnings) == 1 and not result.ok
    # Parsing went on: both sections exist with defaults where values were bad.
    assert result.config.vrrp_instances[0].priority == 100
    assert result.config.virtual_servers[0].lvs_sched == "wlc"
    assert result.config.virtual_servers[0].real_servers[0].weight == 1


def test_diagnostic_str_format() -> None:
    d = Diagnostic("error", Where("keepalived.conf", 12, 5), "priority", "vrrp_instance VI_1: bad")
    assert str(d) == "keepalived.conf:12:5: error: vrrp_instance VI_1: bad"
