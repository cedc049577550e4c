"""build_desired: keepalived's table rules, from the model straight to kernel terms."""

from ipaddress import ip_address

from fastalived.config import LoadResult, parse_string
from fastalived.config.model import (
    Config,
    GlobalDefs,
    LvsTimeouts,
    RealServer,
    SorryServer,
    VirtualServer,
    VirtualServerGroup,
    VsgMember,
)
from fastalived.ipvs.desired import (
    AF_INET,
    AF_INET6,
    FORWARD_MASQ,
    FORWARD_ROUTE,
    FORWARD_TUNNEL,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    SVC_F_SCHED1,
    SVC_F_SCHED2,
    DestKey,
    DestSpec,
    ServiceKey,
    build_desired,
)

VIP = ip_address("198.51.100.1")
RS1, RS2, SORRY = (ip_address(f"203.0.113.{n}") for n in (1, 2, 99))
TCP_KEY = ServiceKey(AF_INET, 6, "198.51.100.1", 80, 0)


def web(**kw) -> VirtualServer:
    defaults = dict(
        address=VIP,
        port=80,
        real_servers=(RealServer(RS1, 8080, weight=3), RealServer(RS2, 8080, weight=2, lvs_method="DR")),
    )
    return VirtualServer(**{**defaults, **kw})


def dests(config: Config, rs_state=None, quorum=None, key=TCP_KEY) -> dict[DestKey, DestSpec]:
    return build_desired(config, rs_state or {}, quorum or {}).services[key].dests


def test_live_servers_at_configured_weight_with_their_forwarding_method():
    table = build_desired(Config(virtual_servers=(web(lvs_sched="wrr"),)), {}, {})
    entry = table.services[TCP_KEY]
    assert entry.spec.scheduler == "wrr"
    assert entry.dests == {
        DestKey("203.0.113.1", 8080): DestSpec(AF_INET, FORWARD_MASQ, 3),
        DestKey("203.0.113.2", 8080): DestSpec(AF_INET, FORWARD_ROUTE, 2),
    }


def test_checker_state_sets_weight_and_removes_dead_servers():
    vs = web()
    state = {(vs.key, (RS1, 8080)): (True, 7), (vs.key, (RS2, 8080)): (False, 0)}
    assert dests(Config(virtual_servers=(vs,)), state) == {DestKey("203.0.113.1", 8080): DestSpec(AF_INET, 0, 7)}


def test_alpha_server_without_a_verdict_starts_down():
    vs = web(real_servers=(RealServer(RS1, 8080, alpha=True),))
    assert dests(Config(virtual_servers=(vs,))) == {}


def test_inhibit_on_failure_keeps_a_dead_server_at_weight_zero():
    vs = web(real_servers=(RealServer(RS1, 8080, weight=3, inhibit_on_failure=True, uthreshold=9, lthreshold=4),))
    state = {(vs.key, (RS1, 8080)): (False, 0)}
    assert dests(Config(virtual_servers=(vs,)), state, {vs.key: True}) == {
        DestKey("203.0.113.1", 8080): DestSpec(AF_INET, FORWARD_MASQ, 0, 9, 4)
    }


def test_sorry_server_replaces_the_pool_when_quorum_is_lost():
    inhibited = RealServer(RS2, 8080, weight=2, inhibit_on_failure=True)
    vs = web(real_servers=(RealServer(RS1, 8080, weight=3), inhibited), sorry_server=SorryServer(SORRY, None, "DR"))
    config = Config(virtual_servers=(vs,))
    lost = dests(config, {}, {vs.key: False})
    assert lost == {
        DestKey("203.0.113.2", 8080): DestSpec(AF_INET, FORWARD_MASQ, 0),  # inhibited: kept at 0
        DestKey("203.0.113.99", 80): DestSpec(AF_INET, FORWARD_ROUTE, 1),  # port defaults to the VS's
    }
    held = dests(config, {}, {vs.key: True})
    assert DestKey("203.0.113.99", 80) not in held and len(held) == 2


def test_sorry_server_inhibit_keeps_it_at_weight_zero_while_unused():
    vs = web(sorry_server=SorryServer(SORRY, 80), sorry_server_inhibit=True)
    assert dests(Config(virtual_servers=(vs,)), {}, {vs.key: True})[DestKey("203.0.113.99", 80)].weight == 0


def test_quorum_is_computed_from_live_weight_when_the_checker_gave_none():
    vs = web(quorum=4, sorry_server=SorryServer(SORRY, 80))
    state = {(vs.key, (RS2, 8080)): (False, 0)}  # live weight 3 < quorum 4
    assert list(dests(Config(virtual_servers=(vs,)), state)) == [DestKey("203.0.113.99", 80)]


def test_service_flags_persistence_and_granularity():
    vs = web(
        protocol="UDP",
        lvs_sched="sh",
        sched_flags=("sh-fallback", "sh-port"),
        persistence_timeout=300,
        persistence_granularity=ip_address("255.255.255.0"),
        persistence_engine="sip",
        ops=True,
    )
    spec = build_desired(Config(virtual_servers=(vs,)), {}, {}).services[TCP_KEY._replace(protocol=17)].spec
    assert spec.flags == SVC_F_PERSISTENT | SVC_F_ONEPACKET | SVC_F_SCHED1 | SVC_F_SCHED2
    assert (spec.timeout, spec.netmask, spec.pe_name) == (300, 0xFFFFFF00, "sip")


def test_ipv6_service_netmask_is_a_prefix_length():
    vs = VirtualServer(address=ip_address("2001:db8::1"), port=443, persistence_timeout=60,
                       persistence_granularity=ip_address("ffff:ffff:ffff:ffff::"),
                       real_servers=(RealServer(ip_address("2001:db8::10"), 443),))  # fmt: skip
    (key, entry), = build_desired(Config(virtual_servers=(vs,)), {}, {}).services.items()
    assert key == ServiceKey(AF_INET6, 6, "2001:db8::1", 443, 0)
    assert entry.spec.netmask == 64
    assert entry.dests == {DestKey("2001:db8::10", 443): DestSpec(AF_INET6, FORWARD_MASQ, 1)}


def test_fwmark_service_and_real_server_without_port():
    vs = VirtualServer(
        fwmark=7, family=6, lvs_method="TUN", real_servers=(RealServer(ip_address("2001:db8::9"), None),)
    )
    (key, entry), = build_desired(Config(virtual_servers=(vs,)), {}, {}).services.items()
    assert key == ServiceKey(AF_INET6, 0, "", 0, 7)
    assert entry.dests == {DestKey("2001:db8::9", 0): DestSpec(AF_INET6, FORWARD_TUNNEL, 1)}


def test_group_expands_ranges_and_fwmarks_and_shares_the_pool():
    group = VirtualServerGroup("G", (
        VsgMember(ip_address("198.51.100.10"), ip_address("198.51.100.12"), port=443),
        VsgMember(fwmark=5),
    ))  # fmt: skip
    vs = VirtualServer(group="G", protocol="UDP", real_servers=(RealServer(RS1, None, weight=4),))
    table = build_desired(Config(virtual_server_groups=(group,), virtual_servers=(vs,)), {}, {})
    assert list(table.services) == [
        ServiceKey(AF_INET, 17, "198.51.100.10", 443, 0),
        ServiceKey(AF_INET, 17, "198.51.100.11", 443, 0),
        ServiceKey(AF_INET, 17, "198.51.100.12", 443, 0),
        ServiceKey(AF_INET, 0, "", 0, 5),
    ]
    assert table.services[ServiceKey(AF_INET, 17, "198.51.100.11", 443, 0)].dests == {
        DestKey("203.0.113.1", 443): DestSpec(AF_INET, FORWARD_MASQ, 4)  # port from the member
    }


def test_timeouts_come_from_global_defs():
    config = Config(global_defs=GlobalDefs(lvs_timeouts=LvsTimeouts(tcp=900, udp=30)))
    assert build_desired(config, {}, {}).timeouts == LvsTimeouts(tcp=900, udp=30)


def test_persistence_engine_and_default_weight_from_the_config_file():
    result = parse_string(
        "virtual_server 198.51.100.1 5060 {\n protocol UDP\n persistence_timeout 60\n persistence_engine sip\n"
        " weight 5\n real_server 203.0.113.1 5060 {\n }\n real_server 203.0.113.2 5060 {\n weight 2\n }\n}\n"
    )
    assert result.ok and not result.warnings, [str(d) for d in result.diagnostics]
    (entry,) = build_desired(result.config, {}, {}).services.values()
    assert (entry.spec.timeout, entry.spec.pe_name) == (60, "sip")
    assert {dest.address: spec.weight for dest, spec in entry.dests.items()} == {"203.0.113.1": 5, "203.0.113.2": 2}


def test_tunnel_options_reach_the_destinations_and_bad_ones_are_errors():
    def parsed(method: str, rs_method: str = "") -> LoadResult:
        text = (
            f"virtual_server 198.51.100.1 80 {{\n protocol TCP\n lvs_method {method}\n"
            " real_server 203.0.113.1 80 {\n }\n"
            f" real_server 203.0.113.2 80 {{\n {rs_method}\n }}\n}}\n"
        )
        return parse_string(text)

    result = parsed("TUN type gue port 6080 csum", "lvs_method TUN type gre csum")
    assert result.ok and not result.warnings, [str(d) for d in result.diagnostics]
    (entry,) = build_desired(result.config, {}, {}).services.values()
    tunnels = {dest.address: spec[5:] for dest, spec in entry.dests.items()}
    assert tunnels == {"203.0.113.1": (1, 6080, 1), "203.0.113.2": (2, 0, 1)}  # inherited gue; its own gre
    (entry,) = build_desired(parsed("TUN type gue port 6080", "lvs_method DR").config, {}, {}).services.values()
    assert {dest.address: spec[5:] for dest, spec in entry.dests.items()}["203.0.113.2"] == (0, 0, 0)
    for bad in ("TUN type gue", "TUN port 80", "TUN type ipip csum", "TUN type gre remcsum", "TUN tun_type gue"):
        assert not parsed(bad).ok, bad
