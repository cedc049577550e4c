"""Parser: every keyword family of fixtures/full.conf lands in the model with the right value."""

from __future__ import annotations

import json
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path

import pytest

from fastalived.config import dump_json, load_config, parse_string
from fastalived.config import model as m

FULL = Path(__file__).parent / "fixtures" / "full.conf"


@pytest.fixture(scope="module")
def config() -> m.Config:
    result = load_config(str(FULL), config_id="lb1")
    assert result.diagnostics == []
    assert [d.keyword for d in result.notices] == ["vrrp_no_swap"]
    return result.config


def test_global_defs(config: m.Config) -> None:
    g = config.global_defs
    assert g.notification_email == ("ops@example.com", "noc@example.com")
    assert g.notification_email_from == "keepalived@example.com"
    assert (g.smtp_server, g.smtp_port, g.smtp_helo_name, g.smtp_connect_timeout) == (
        "203.0.113.25",
        2525,
        "lb1.example.com",
        15.0,
    )
    assert (g.router_id, g.enable_script_security, g.script_user, g.script_group) == ("LB_1", True, "nobody", "nogroup")
    assert (g.vrrp_version, g.vrrp_strict, g.vrrp_skip_check_adv_addr) == (2, False, True)
    assert (g.vrrp_mcast_group4, g.vrrp_mcast_group6) == (ip_address("224.0.0.19"), ip_address("ff02::13"))
    assert (g.vrrp_garp_master_delay, g.vrrp_garp_master_repeat) == (3.0, 2)
    assert (g.vrrp_garp_master_refresh, g.vrrp_garp_master_refresh_repeat) == (60.0, 4)
    assert g.lvs_sync_daemon == m.LvsSyncDaemon("eth1", "VI_1", 7, 1400, 8848, 2, ip_address("224.0.0.81"))
    assert g.lvs_flush and not g.lvs_flush_onstop
    assert g.lvs_timeouts == m.LvsTimeouts(tcp=900, tcpfin=30, udp=300)
    assert g.status_listen == ("127.0.0.1", 9180)
    assert str(g.where) == f"{FULL}:2:1"


def test_static_addresses_and_routes(config: m.Config) -> None:
    assert config.static_ipaddress == (
        m.IPAddressSpec(
            ip_interface("198.51.100.10/24"),
            dev="eth0",
            brd=ip_address("198.51.100.255"),
            scope="global",
            label="eth0:1",
        ),
        m.IPAddressSpec(ip_interface("2001:db8::10/64"), dev="eth1"),
    )
    assert config.static_ipaddress[1].family == 6
    assert config.static_routes == (
        m.RouteSpec(ip_network("198.51.100.0/25"), via=ip_address("203.0.113.1"), dev="eth0", metric=5, table=100),
        m.RouteSpec(ip_network("203.0.113.128/25"), type="blackhole"),
        m.RouteSpec(None, via=ip_address("203.0.113.254"), dev="eth0"),
        m.RouteSpec(ip_network("203.0.113.0/26"), src=ip_address("198.51.100.10"), dev="eth1", scope="link"),
    )


def test_vrrp_scripts(config: m.Config) -> None:
    haproxy, api = config.vrrp_scripts
    assert haproxy == m.VrrpScript(
        "chk_haproxy",
        "/usr/bin/killall -0 haproxy",
        interval=2.0,
        timeout=3.0,
        weight=-20,
        weight_reverse=True,
        rise=2,
        fall=3,
        user="haproxy",
        group="haproxy",
        init_fail=True,
    )
    assert api == m.VrrpScript("chk_api", "/usr/local/bin/check_api")
    assert (api.interval, api.timeout, api.weight, api.rise, api.fall) == (1.0, None, 0, 1, 1)


def test_sync_group(config: m.Config) -> None:
    (group,) = config.vrrp_sync_groups
    assert group.name == "VG_1" and group.group == ("VI_1", "VI_6")
    assert group.notify == m.NotifyScripts(
        notify_master=m.Command("/etc/keepalived/group.sh master"),
        notify_backup=m.Command("/etc/keepalived/group_backup.sh"),
    )
    assert group.track_script == (m.TrackScript("chk_api"),)
    assert group.global_tracking


def test_vrrp_instance_v2(config: m.Config) -> None:
    vi = config.instance("VI_1")
    assert vi is not None
    assert (vi.state, vi.interface, vi.virtual_router_id, vi.priority, vi.advert_int, vi.version, vi.family) == (
        "MASTER",
        "eth0",
        51,
        150,
        2.0,
        2,
        4,
    )
    assert vi.dont_track_primary
    assert vi.track_interface == (m.TrackInterface("eth1"), m.TrackInterface("eth2", weight=-30))
    assert vi.track_script == (m.TrackScript("chk_haproxy"), m.TrackScript("chk_api", weight=10))
    assert vi.mcast_src_ip == ip_address("198.51.100.2")
    # instance garp_master_delay overrides global; the rest inherit global_defs
    assert (vi.garp_master_delay, vi.garp_master_repeat, vi.garp_master_refresh, vi.garp_master_refresh_repeat) == (
        1.0,
        2,
        60.0,
        4,
    )
    assert (vi.auth_type, vi.auth_pass) == ("PASS", b"s3cret")
    assert vi.virtual_ipaddresses == (
        m.IPAddressSpec(
            ip_interface("198.51.100.100/24"),
            dev="eth0",
            brd=ip_address("198.51.100.255"),
            scope="global",
            label="eth0:vip",
        ),
        m.IPAddressSpec(ip_interface("198.51.100.101/32")),
    )
    assert vi.virtual_ipaddresses_excluded == (m.IPAddressSpec(ip_interface("2001:db8::100/64")),)
    assert vi.virtual_routes == (m.RouteSpec(ip_network("203.0.113.0/24"), via=ip_address("198.51.100.1"), dev="eth0"),)
    assert (vi.nopreempt, vi.preempt_delay, vi.accept) == (False, 0.0, False)
    assert vi.notify == m.NotifyScripts(
        notify_master=m.Command("/etc/keepalived/notify.sh master VI_1"),
        notify_backup=m.Command("/etc/keepalived/backup.sh"),
        notify_fault=m.Command("/etc/keepalived/fault.sh"),
        notify_stop=m.Command("/etc/keepalived/stop.sh"),
        notify=m.Command("/etc/keepalived/notify_any.sh"),
        smtp_alert=True,
    )
    assert (vi.debug, vi.use_vmac) == (2, "vrrp.51")


def test_vrrp_instance_v3_ipv6_unicast(config: m.Config) -> None:
    vi = config.instance("VI_6")
    assert vi is not None
    assert (vi.version, vi.advert_int, vi.family, vi.state, vi.priority) == (3, 0.25, 6, "BACKUP", 100)
    assert vi.unicast_src_ip == ip_address("2001:db8::2")
    assert vi.unicast_peers == (ip_address("2001:db8::3"), ip_address("2001:db8::4"))
    assert vi.accept and vi.use_vmac == "vrrp6" and vi.vmac_xmit_base
    assert (vi.nopreempt, vi.preempt_delay) == (False, 30.0)


def test_virtual_server_group(config: m.Config) -> None:
    group = config.server_group("web_group")
    assert group is not None
    assert group.members == (
        m.VsgMember(ip_address("198.51.100.50"), port=80),
        m.VsgMember(ip_address("198.51.100.60"), ip_address("198.51.100.63"), port=8080),
        m.VsgMember(fwmark=7),
    )
    assert len(group.members[1].addresses()) == 4


def test_virtual_server_fields(config: m.Config) -> None:
    vs = config.virtual_servers[0]
    assert vs.key == "TCP:198.51.100.100:80"
    assert (vs.delay_loop, vs.lvs_sched, vs.lvs_method, vs.protocol) == (10.0, "rr", "DR", "TCP")
    assert (vs.persistence_timeout, vs.persistence_granularity) == (120, ip_address("255.255.255.0"))
    assert (vs.ha_suspend, vs.virtualhost, vs.sorry_server_inhibit) == (True, "www.example.com", True)
    assert vs.sorry_server == m.SorryServer(ip_address("203.0.113.99"), 80)  # DR: the service's port
    assert (vs.quorum, vs.hysteresis) == (2, 1)
    assert (vs.quorum_up, vs.quorum_down) == (
        m.Command("/etc/keepalived/quorum.sh up"),
        m.Command("/etc/keepalived/quorum.sh down"),
    )
    assert (vs.alpha, vs.omega, vs.inhibit_on_failure, vs.sched_flags) == (True, True, True, ("sh-port",))


def test_real_server_with_http_get(config: m.Config) -> None:
    rs = config.virtual_servers[0].real_servers[0]
    assert rs.key == (ip_address("203.0.113.11"), 80)
    assert (rs.weight, rs.notify_up, rs.notify_down, rs.uthreshold, rs.lthreshold) == (
        3,
        m.Command("/etc/keepalived/rs_up.sh"),
        m.Command("/etc/keepalived/rs_down.sh"),
        1000,
        10,
    )
    assert (rs.inhibit_on_failure, rs.alpha, rs.lvs_method) == (True, True, None)  # inherited from the VS
    (http,) = rs.checkers
    assert isinstance(http, m.HttpCheck)
    assert http.kind == "HTTP_GET" and http.http_protocol == "1.1"
    assert http.virtualhost == "www.example.com"  # from the virtual server
    health, root = http.urls
    assert health == m.UrlSpec(
        "/health",
        digest="9b3a0c85a887a256d6939da88aabd8cd",
        status_codes=(m.StatusCodeRange(200, 200), m.StatusCodeRange(300, 399)),
        virtualhost="health.example.com",
    )
    assert 301 in health.status_codes[1] and 200 in root.status_codes[0] and 300 not in root.status_codes[0]
    assert http.common == m.CheckerCommon(
        connect_ip=ip_address("203.0.113.11"),
        connect_port=8081,
        bindto=ip_address("203.0.113.2"),
        bind_port=40000,
        connect_timeout=3.0,
        retry=5,
        delay_before_retry=2.0,
        delay_loop=10.0,
        warmup=5.0,
        alpha=True,
    )


def test_real_server_ssl_and_tcp(config: m.Config) -> None:
    rs = config.virtual_servers[0].real_servers[1]
    assert rs.port == 80  # no port: the virtual server's
    assert rs.lvs_method == "TUN"
    ssl, tcp = rs.checkers
    assert isinstance(ssl, m.HttpCheck) and ssl.kind == "SSL_GET" and ssl.enable_sni
    assert (ssl.common.connect_port, ssl.common.retry, ssl.common.connect_timeout) == (80, 2, 7.0)
    assert isinstance(tcp, m.TcpCheck)
    assert (tcp.common.connect_ip, tcp.common.connect_port, tcp.common.delay_loop) == (
        ip_address("203.0.113.112"),
        80,
        3.0,
    )


def test_fwmark_service_with_misc_check(config: m.Config) -> None:
    vs = config.virtual_servers[1]
    assert (vs.key, vs.lvs_sched, vs.lvs_method) == ("FWM:4:7", "wlc", "NAT")
    rs = vs.real_servers[0]
    assert rs.port is None
    (misc,) = rs.checkers
    assert misc == m.MiscCheck(
        "MISC_CHECK",
        misc.common,
        misc_path="/usr/local/bin/check.sh 203.0.113.21",
        misc_timeout=5.0,
        misc_dynamic=True,
        user="nobody",
    )
    assert (misc.common.retry, misc.common.delay_before_retry, misc.common.connect_port) == (0, 1.0, 0)


def test_group_service_with_dns_and_smtp(config: m.Config) -> None:
    vs = config.virtual_servers[2]
    assert (vs.key, vs.protocol) == ("GRP:web_group:UDP", "UDP")
    dns, smtp = vs.real_servers[0].checkers
    assert isinstance(dns, m.DnsCheck) and (dns.type, dns.name) == ("A", "www.example.com")
    assert (dns.common.retry, dns.common.delay_before_retry, dns.common.connect_port) == (3, 60.0, 53)
    assert isinstance(smtp, m.SmtpCheck) and smtp.helo_name == "probe.example.com"
    (host,) = smtp.hosts
    assert (host.connect_ip, host.connect_port, host.connect_timeout) == (ip_address("203.0.113.41"), 587, 5.0)


def test_ssl_block(config: m.Config) -> None:
    assert config.ssl == m.SslDefs("/etc/ssl/ca.pem", "/etc/ssl/cert.pem", "/etc/ssl/key.pem", "hunter2")


def test_dump_json_round_trips_through_json(config: m.Config) -> None:
    data = json.loads(dump_json(config))
    assert data["vrrp_instances"][0]["virtual_ipaddresses"][0]["address"] == "198.51.100.100/24"
    assert data["vrrp_instances"][0]["auth_pass"] == "s3cret"
    assert data["global_defs"]["where"] == f"{FULL}:2:1"


def test_deprecated_aliases() -> None:
    result = parse_string("""\
virtual_server 198.51.100.1 80 {
    lb_algo sh
    lb_kind TUN
    real_server 203.0.113.1 80 {
        HTTP_GET {
            url {
                path /
            }
            nb_get_retry 9
        }
    }
    protocol TCP
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    preempt
    lvs_sync_daemon_interface eth1
}
""")
    vs = result.config.virtual_servers[0]
    assert (vs.lvs_sched, vs.lvs_method, vs.real_servers[0].checkers[0].common.retry) == ("sh", "TUN", 9)
    vi = result.config.vrrp_instances[0]
    assert (vi.nopreempt, vi.lvs_sync_daemon_interface) == (False, "eth1")
    assert [str(d) for d in result.diagnostics] == [  # keepalived warns about both as well
        "<string>:9:13: warning: virtual_server 198.51.100.1 80: real_server 203.0.113.1 80: HTTP_GET: nb_get_retry"
        " is deprecated - please use 'retry'",
        "<string>:18:5: warning: vrrp_instance VI_1: lvs_sync_daemon_interface is deprecated; use global_defs "
        "lvs_sync_daemon",
    ]


def test_unsupported_keywords_and_blocks_warn_and_noop_ones_load_quietly() -> None:
    result = parse_string("""\
global_defs {
    enable_snmp_vrrp
    vrrp_iptables
    vrrp_no_swap
}
bfd_instance bfd1 {
    neighbor_ip 198.51.100.9
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    old_unicast_checksum
}
virtual_server 198.51.100.1 80 {
    real_server 203.0.113.1 80 {
        BFD_CHECK {
            name bfd1
        }
    }
    protocol TCP
}
""")
    assert result.ok
    assert [d.keyword for d in result.warnings] == [
        "enable_snmp_vrrp",
        "vrrp_iptables",
        "old_unicast_checksum",
        "BFD_CHECK",
    ]
    assert str(result.warnings[-1]) == (
        "<string>:16:9: warning: virtual_server 198.51.100.1 80: real_server 203.0.113.1 80: 'BFD_CHECK' is not"
        " supported by fastalived; ignored (BFD_CHECK is not implemented; VRRP track_bfd is)"
    )
    assert [str(d) for d in result.notices] == [
        "<string>:4:5: info: global_defs: 'vrrp_no_swap' has no effect in fastalived: process scheduling/memory"
        " tuning; set it for the fastalived unit (systemd Nice=, CPUAffinity=...)"
    ]


def test_routes_grammar_variants() -> None:
    result = parse_string("""\
static_routes {
    unreachable 198.51.100.0/24 table main
    2001:db8:1::/48 via 2001:db8::1 dev eth0 metric 10 proto static
    default via 2001:db8::fe
    198.51.100.128/25 gw 203.0.113.1 no_track onlink
}
""")
    assert result.diagnostics == []
    r0, r1, r2, r3 = result.config.static_routes
    assert (r0.type, r0.table) == ("unreachable", 254)
    assert (r1.family, r1.metric, r1.proto) == (6, 10, "static")
    assert (r2.dst, r2.family, r2.via) == (None, 6, ip_address("2001:db8::fe"))
    assert (r3.via, r3.no_track) == (ip_address("203.0.113.1"), True)


def test_auth_pass_longer_than_8_is_truncated() -> None:
    result = parse_string(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n"
        " authentication {\n  auth_type AH\n  auth_pass 0123456789\n }\n}\n"
    )
    vi = result.config.vrrp_instances[0]
    assert (vi.auth_type, vi.auth_pass) == ("AH", b"01234567")
    assert [str(d) for d in result.diagnostics] == [
        "<string>:6:13: warning: vrrp_instance VI_1: auth_pass is longer than 8 characters; truncated"
    ]


def test_vsg_ranges_and_cidr() -> None:
    result = parse_string(
        "virtual_server_group g {\n  198.51.100.1-198.51.100.3 80\n  203.0.113.8/30\n  2001:db8::1-3 443\n}\n"
    )
    assert result.diagnostics == []
    a, b, c = result.config.virtual_server_groups[0].members
    assert (len(a.addresses()), len(b.addresses()), b.port, len(c.addresses())) == (3, 4, None, 3)


def test_legacy_sync_group_members_outside_group_block() -> None:
    result = parse_string(
        "vrrp_sync_group VG {\n    VI_1\n    global_trackin\n}\n"
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n}\n"
    )
    assert result.config.vrrp_sync_groups[0].group == ("VI_1",)
    assert [str(d) for d in result.diagnostics] == [
        "<string>:3:5: warning: vrrp_sync_group VG: unknown keyword 'global_trackin' (did you mean 'global_tracking'?)"
    ]
    assert [d.message for d in result.notices] == [
        "vrrp_sync_group VG: listing 'VI_1' outside 'group { }' is deprecated"
    ]


def test_keepalived_vrrp_instance_warnings() -> None:
    """keepalived -t warns about these (and so exits 5); the settings are kept, the VRRP machine
    ignores them as keepalived does."""
    result = parse_string("""\
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 1
    nopreempt
    preempt_delay 5
    track_interface {
        eth0 weight 10
        eth1
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 2
    nopreempt
    preempt_delay 5
}
""")
    assert [str(d) for d in result.diagnostics] == [
        "<string>:5:5: warning: vrrp_instance VI_1: nopreempt will not work with initial state MASTER; ignored",
        "<string>:6:5: warning: vrrp_instance VI_1: preempt_delay will not work with initial state MASTER; ignored",
        "<string>:8:9: warning: vrrp_instance VI_1: ignoring track_interface eth0 since own interface",
        "<string>:16:5: warning: vrrp_instance VI_2: preempt_delay is incompatible with nopreempt; ignored",
    ]
    vi1, vi2 = result.config.vrrp_instances
    assert vi1.track_interface == (m.TrackInterface("eth1"),)
    assert (vi1.nopreempt, vi1.preempt_delay, vi2.nopreempt, vi2.preempt_delay) == (True, 5.0, True, 5.0)


def test_keepalived_syntax_that_must_not_be_an_error() -> None:
    result = parse_string("""\
global_defs {
    lvs_flush_on_stop VS
}
track_group TG {
    group {
        VI_1
    }
}
interface_up_down_delays {
    eth0 1 2
}
static_ipaddress {
    198.51.100.10/24 brd + dev eth0
    203.0.113.10/24 brd - dev eth0
    2001:db8::10/64 brd + dev eth0
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    vrf red
}
""")
    assert result.ok
    assert [d.keyword for d in result.warnings] == ["track_group", "vrf"]
    assert result.config.global_defs.interface_delays == (m.InterfaceDelay("eth0", 1.0, 2.0),)
    assert result.config.global_defs.lvs_flush_onstop is False
    assert [a.brd for a in result.config.static_ipaddress] == [
        ip_address("198.51.100.255"),
        ip_address("203.0.113.0"),
        None,
    ]
