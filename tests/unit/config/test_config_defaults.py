"""keepalived's defaults and the inheritance chains the parser resolves for consumers."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from fastalived.config import model as m
from fastalived.config import parse_string


def load(text: str) -> m.Config:
    result = parse_string(text)
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    return result.config


def test_minimal_instance_defaults() -> None:
    vi = load("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n}\n").vrrp_instances[0]
    assert (vi.state, vi.priority, vi.advert_int, vi.version, vi.family) == ("BACKUP", 100, 1.0, 2, 4)
    assert (vi.garp_master_delay, vi.garp_master_repeat, vi.garp_master_refresh) == (5.0, 5, 0.0)
    assert (vi.nopreempt, vi.preempt_delay, vi.accept, vi.auth_type) == (False, 0.0, True, None)


def test_global_vrrp_version_and_strict_flow_into_instances() -> None:
    config = load(
        "global_defs {\n vrrp_version 3\n vrrp_strict\n vrrp_garp_master_repeat 9\n}\n"
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 0.5\n}\n"
        "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n version 2\n garp_master_repeat 1\n}\n"
        "vrrp_instance C {\n interface eth0\n virtual_router_id 3\n accept\n}\n"
    )
    a, b, c = config.vrrp_instances
    assert (a.version, a.advert_int, a.accept, a.garp_master_repeat) == (3, 0.5, False, 9)
    assert (b.version, b.accept, b.garp_master_repeat) == (2, False, 1)
    assert (c.version, c.accept) == (3, True)  # strict VRRPv2 resets accept (vrrp/test_firewall.py)


def test_v3_advert_int_is_rounded_to_centiseconds() -> None:
    vi = load("vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 3\n advert_int 0.123\n}\n")
    assert vi.vrrp_instances[0].advert_int == 0.12


def test_ipv6_family_from_first_vip_and_mixed_family_moves_to_excluded() -> None:
    result = parse_string(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n"
        " virtual_ipaddress {\n  2001:db8::1/64\n  198.51.100.1\n }\n}\n"
    )
    vi = result.config.vrrp_instances[0]
    assert vi.family == 6
    assert [str(s.address) for s in vi.virtual_ipaddresses] == ["2001:db8::1/64"]
    assert [str(s.address) for s in vi.virtual_ipaddresses_excluded] == ["198.51.100.1/32"]
    assert [d.severity for d in result.diagnostics] == ["warning"]


def test_same_vrid_different_family_or_interface_is_fine() -> None:
    config = load(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\n"
        "vrrp_instance B {\n interface eth1\n virtual_router_id 1\n}\n"
        "vrrp_instance C {\n interface eth0\n virtual_router_id 1\n native_ipv6\n}\n"
    )
    assert [i.family for i in config.vrrp_instances] == [4, 4, 6]


VS_DEFAULTS = "virtual_server 198.51.100.1 80 {\n real_server 203.0.113.1 8080 {\n  %s {\n%s  }\n }\n protocol TCP\n}\n"


@pytest.mark.parametrize(
    ("kind", "body", "retry", "delay_before_retry", "port"),
    [
        ("TCP_CHECK", "", 1, 1.0, 8080),
        ("HTTP_GET", "   url {\n    path /\n   }\n", 1, 3.0, 8080),
        ("SSL_GET", "   url {\n    path /\n   }\n", 1, 3.0, 8080),
        ("SMTP_CHECK", "", 1, 1.0, 8080),
        ("DNS_CHECK", "", 3, 60.0, 8080),
        ("MISC_CHECK", "   misc_path /bin/true\n", 0, 1.0, 8080),
    ],
)
def test_checker_defaults_per_kind(kind: str, body: str, retry: int, delay_before_retry: float, port: int) -> None:
    config = load(VS_DEFAULTS % (kind, body))
    vs = config.virtual_servers[0]
    assert (vs.delay_loop, vs.lvs_sched, vs.lvs_method, vs.protocol, vs.quorum, vs.hysteresis) == (
        60.0,
        "wlc",
        "NAT",
        "TCP",
        1,
        0,
    )
    rs = vs.real_servers[0]
    assert (rs.weight, rs.inhibit_on_failure, rs.alpha) == (1, False, False)
    common = rs.checkers[0].common
    assert (common.connect_ip, common.connect_port, common.connect_timeout) == (ip_address("203.0.113.1"), port, 5.0)
    assert (common.retry, common.delay_before_retry, common.delay_loop, common.warmup) == (
        retry,
        delay_before_retry,
        60.0,
        None,
    )


def test_inheritance_virtual_server_to_real_server_to_checker() -> None:
    config = load("""\
virtual_server 198.51.100.1 80 {
    delay_loop 20
    connect_timeout 9
    retry 4
    delay_before_retry 6
    warmup 2
    alpha
    virtualhost vs.example.com
    inhibit_on_failure
    lvs_method DR
    real_server 203.0.113.1 80 {
        connect_timeout 8
        virtualhost rs.example.com
        HTTP_GET {
            url {
                path /
            }
            retry 3
        }
        TCP_CHECK {
        }
    }
    real_server 203.0.113.2 80 {
        alpha no
        inhibit_on_failure off
        delay_loop 5
        HTTP_GET {
            url {
                path /
            }
            virtualhost ck.example.com
            warmup 0
        }
    }
    protocol TCP
}
""")
    rs1, rs2 = config.virtual_servers[0].real_servers
    http1, tcp1 = rs1.checkers
    assert isinstance(http1, m.HttpCheck)
    assert http1.virtualhost == "rs.example.com"
    assert (http1.common.connect_timeout, http1.common.retry, http1.common.delay_before_retry) == (8.0, 3, 6.0)
    assert (http1.common.delay_loop, http1.common.warmup, http1.common.alpha) == (20.0, 2.0, True)
    assert (tcp1.common.connect_timeout, tcp1.common.retry) == (8.0, 4)
    assert (rs1.alpha, rs1.inhibit_on_failure, rs1.lvs_method) == (True, True, None)
    (http2,) = rs2.checkers
    assert isinstance(http2, m.HttpCheck)
    assert http2.virtualhost == "ck.example.com"
    assert (http2.common.delay_loop, http2.common.warmup, http2.common.alpha) == (5.0, 0.0, False)
    assert (rs2.alpha, rs2.inhibit_on_failure) == (False, False)
    assert config.virtual_servers[0].delay_loop == 20.0


def test_persistence_timeout_without_value_is_six_minutes() -> None:
    vs = load("virtual_server 198.51.100.1 80 {\n persistence_timeout\n protocol TCP\n}\n").virtual_servers[0]
    assert vs.persistence_timeout == 360


def test_smtp_helo_default_and_hosts_inherit() -> None:
    config = load(
        "virtual_server 198.51.100.1 25 {\n real_server 203.0.113.1 25 {\n  SMTP_CHECK {\n   connect_timeout 3\n"
        "   host {\n    connect_ip 203.0.113.9\n   }\n  }\n }\n protocol TCP\n}\n"
    )
    smtp = config.virtual_servers[0].real_servers[0].checkers[0]
    assert isinstance(smtp, m.SmtpCheck)
    assert smtp.helo_name == "smtpchecker.keepalived.org"
    (host,) = smtp.hosts
    assert (host.connect_ip, host.connect_port, host.connect_timeout) == (ip_address("203.0.113.9"), 25, 3.0)


def test_global_defaults() -> None:
    g = load("").global_defs
    assert g == m.GlobalDefs()
    assert (g.smtp_connect_timeout, g.vrrp_version, g.router_id, g.status_listen) == (30.0, 2, None, None)


def test_ports_follow_keepalived_forwarding_rules() -> None:
    result = parse_string("""\
virtual_server 198.51.100.1 80 {
    lb_kind DR
    sorry_server 203.0.113.9 8080
    real_server 203.0.113.1 8080 {
        TCP_CHECK {
        }
    }
    real_server 203.0.113.2 {
        lb_kind NAT
    }
    real_server 203.0.113.3 {
        lvs_method NAT
    }
    protocol TCP
}
virtual_server fwmark 3 {
    lvs_method TUN
    real_server 203.0.113.4 443 {
        TCP_CHECK {
        }
    }
}
virtual_server 198.51.100.2 {
    persistence_timeout 60
    protocol TCP
}
virtual_server 198.51.100.3 {
    protocol TCP
}
""")
    vs_dr, vs_fwmark, vs_persistent, vs_portless = result.config.virtual_servers
    rs1, _rs2, rs3 = vs_dr.real_servers
    assert (rs1.port, rs1.checkers[0].common.connect_port) == (80, 8080)  # IPVS: service port; check: as written
    assert vs_dr.sorry_server == m.SorryServer(ip_address("203.0.113.9"), 80)
    assert (rs3.port, rs3.lvs_method) == (80, "NAT")
    (rs4,) = vs_fwmark.real_servers
    assert (rs4.port, rs4.checkers[0].common.connect_port) == (None, 443)
    assert (vs_persistent.port, vs_persistent.persistence_timeout) == (None, 60)
    assert vs_portless.persistence_timeout == 360
    assert [str(d) for d in result.diagnostics] == [
        "<string>:9:9: warning: virtual_server 198.51.100.1 80: real_server 203.0.113.2: unknown keyword 'lb_kind'",
        (
            "<string>:4:5: warning: virtual_server 198.51.100.1 80: real_server 203.0.113.1 port 8080 differs from the "
            "service port with DR; using 80"
        ),
        (
            "<string>:1:1: warning: virtual_server 198.51.100.1 80: sorry_server port 8080 differs from the service"
            " port with DR; using 80"
        ),
        (
            "<string>:18:5: warning: virtual_server fwmark 3: real_server 203.0.113.4 port 443 is ignored for a fwmark "
            "service with TUN"
        ),
        (
            "<string>:27:1: warning: virtual_server 198.51.100.3: port 0 is only valid for persistent services; "
            "persistence_timeout set to 360"
        ),
    ]


def test_sorry_server_lvs_method_keeps_its_port_with_nat() -> None:
    vs = load(
        "virtual_server 198.51.100.1 80 {\n lvs_method DR\n sorry_server 203.0.113.9 8080\n"
        " sorry_server_lvs_method NAT\n protocol TCP\n}\n"
    ).virtual_servers[0]
    assert vs.sorry_server == m.SorryServer(ip_address("203.0.113.9"), 8080, lvs_method="NAT")


def test_quorum_and_hysteresis_are_clamped_like_keepalived() -> None:
    result = parse_string(
        "virtual_server 198.51.100.1 80 {\n quorum 5\n hysteresis 4\n real_server 203.0.113.1 80 {\n  weight 3\n }\n"
        " protocol TCP\n}\n"
    )
    vs = result.config.virtual_servers[0]
    assert (vs.quorum, vs.hysteresis) == (3, 2)
    assert [d.message for d in result.diagnostics] == [
        "virtual_server 198.51.100.1 80: quorum 5 exceeds the real servers' total weight 3; reduced",
        "virtual_server 198.51.100.1 80: hysteresis 4 >= quorum 3; set to 2",
    ]


def test_smtp_alert_defaults_and_global_overrides() -> None:
    body = (
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\n"
        "virtual_server 198.51.100.1 80 {\n real_server 203.0.113.1 80 {\n }\n protocol TCP\n}\n"
    )
    config = load(body)
    assert (config.vrrp_instances[0].notify.smtp_alert, config.virtual_servers[0].smtp_alert) == (False, False)
    assert config.virtual_servers[0].real_servers[0].smtp_alert is True  # keepalived's backwards-compatible default
    config = load("global_defs {\n smtp_alert\n smtp_alert_checker off\n}\n" + body)
    assert config.vrrp_instances[0].notify.smtp_alert is True
    assert (config.virtual_servers[0].smtp_alert, config.virtual_servers[0].real_servers[0].smtp_alert) == (
        False,
        False,
    )


def test_v3_checksum_as_v2_global_default_and_instance_override() -> None:
    config = load(
        "global_defs {\n v3_checksum_as_v2\n}\n"
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 3\n}\n"
        "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n version 3\n v3_checksum_as_v2 false\n}\n"
    )
    assert config.global_defs.v3_checksum_as_v2
    assert [i.v3_checksum_as_v2 for i in config.vrrp_instances] == [True, False]


NO_PROTOCOL_WARNING = "no protocol set - defaulting to UDP"


def test_address_virtual_server_without_protocol_defaults_to_udp_like_keepalived() -> None:
    # keepalived 2.2.7 `-t`: "Virtual server [198.51.100.1]:none:80: no protocol set - defaulting to UDP"
    # (IPVS itself treats protocol 0 as UDP, so keepalived sets it explicitly and warns).
    result = parse_string(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\n"
        "virtual_server 198.51.100.1 80 {\n real_server 203.0.113.1 80 {\n  TCP_CHECK {\n  }\n }\n}\n"
        "  virtual_server 2001:db8::1 443 {\n  real_server 2001:db8::2 443 {\n  }\n  }\n",
        filename="keepalived.conf",
    )
    assert [vs.protocol for vs in result.config.virtual_servers] == ["UDP", "UDP"]
    assert [str(d) for d in result.diagnostics] == [
        f"keepalived.conf:5:1: warning: virtual_server 198.51.100.1 80: {NO_PROTOCOL_WARNING}",
        f"keepalived.conf:11:3: warning: virtual_server 2001:db8::1 443: {NO_PROTOCOL_WARNING}",
    ]
    assert [(d.severity, d.keyword) for d in result.diagnostics] == [("warning", "virtual_server")] * 2
    assert result.ok and not result.errors
    assert result.config.virtual_servers[0].key.startswith("UDP:")


@pytest.mark.parametrize(("written", "protocol"), [("TCP", "TCP"), ("tcp", "TCP"), ("UDP", "UDP"), ("SCTP", "SCTP")])
def test_explicit_protocol_gives_no_default_warning(written: str, protocol: str) -> None:
    config = load(
        f"virtual_server 198.51.100.1 80 {{\n protocol {written}\n real_server 203.0.113.1 80 {{\n }}\n}}\n"
    )
    assert config.virtual_servers[0].protocol == protocol


def test_portless_persistent_address_service_also_defaults_to_udp() -> None:
    result = parse_string("virtual_server 198.51.100.2 {\n persistence_timeout 60\n}\n")
    assert result.config.virtual_servers[0].protocol == "UDP"
    assert [str(d) for d in result.diagnostics] == [
        f"<string>:1:1: warning: virtual_server 198.51.100.2: {NO_PROTOCOL_WARNING}"
    ]


def test_fwmark_service_without_protocol_has_no_default_warning() -> None:
    config = load("virtual_server fwmark 3 {\n real_server 203.0.113.1 80 {\n  TCP_CHECK {\n  }\n }\n}\n")
    assert config.virtual_servers[0].fwmark == 3


def test_fwmark_service_with_protocol_still_warns_it_is_ignored() -> None:
    result = parse_string("virtual_server fwmark 3 {\n protocol TCP\n}\n")
    assert [d.message for d in result.diagnostics] == [
        "virtual_server fwmark 3: protocol is ignored for fwmark services"
    ]


def test_address_group_service_without_protocol_defaults_to_udp() -> None:
    # keepalived applies the default when the group has address ranges.
    result = parse_string(
        "virtual_server_group g {\n 198.51.100.1 80\n}\n"
        "virtual_server group g {\n real_server 203.0.113.1 80 {\n }\n}\n"
    )
    assert result.config.virtual_servers[0].protocol == "UDP"
    assert [str(d) for d in result.diagnostics] == [
        f"<string>:4:1: warning: virtual_server group g: {NO_PROTOCOL_WARNING}"
    ]


def test_fwmark_only_group_service_without_protocol_has_no_default_warning() -> None:
    load("virtual_server_group g {\n fwmark 5\n}\nvirtual_server group g {\n real_server 203.0.113.1 80 {\n }\n}\n")


@pytest.mark.parametrize(
    ("text", "value"),
    [("0077", 0o077), ("0x12", 0x12), ("18", 18), ("IWGRP|IWOTH", 0o022), ("IRWXO", None), ("IWGRP | IRWXU", None)],
)
def test_umask_as_keepalived_reads_it(text: str, value: int | None) -> None:
    result = parse_string(f"global_defs {{\n    umask {text}\n}}\n")
    assert result.config.global_defs.umask == value
    assert result.ok is (value is not None)
