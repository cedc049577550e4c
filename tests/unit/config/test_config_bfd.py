"""``bfd_instance`` and ``track_bfd``: keepalived 2.2.7's keywords, ranges, defaults and
end-of-block checks, and how a tracked session bears on an instance before its first report."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from fastalived.config import parse_string
from fastalived.vrrp.tracking import PriorityCalculator, track_definitions

INSTANCE = """\
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 1
    priority 100
    virtual_ipaddress {{
        198.51.100.100
    }}
    track_bfd {{
{tracks}
    }}
}}
"""


def test_bfd_instance_settings_and_defaults() -> None:
    result = parse_string("""\
bfd_instance b1 {
    neighbor_ip 198.51.100.12
    source_ip 198.51.100.11
    min_rx 100
    min_tx 3.312
    idle_tx 2000
    multiplier 3
    passive
    max_hops 2
    weight -20 reverse
}
bfd_instance b6 {
    neighbour_ip 2001:db8::12
}
""")
    assert result.diagnostics == []
    b1, b6 = result.config.bfd_instances
    assert (b1.neighbor_ip, b1.source_ip) == (ip_address("198.51.100.12"), ip_address("198.51.100.11"))
    assert (b1.min_rx, b1.min_tx, b1.idle_tx) == (0.1, 0.003312, 2.0)
    assert (b1.multiplier, b1.passive, b1.ttl, b1.max_hops) == (3, True, 255, 2)
    assert (b1.weight, b1.weight_reverse, b1.vrrp, b1.checker) == (-20, True, True, True)
    assert (b6.min_rx, b6.min_tx, b6.idle_tx, b6.multiplier) == (0.01, 0.01, 1.0, 5)
    assert (b6.ttl, b6.weight, b6.source_ip) == (64, 0, None)  # keepalived: IPv6 hoplimit 64


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("source_ip 198.51.100.11", "no neighbor_ip address set, disabling instance"),
        ("neighbor_ip 198.51.100.12\n source_ip 2001:db8::1", "are not of the same family"),
    ],
)
def test_bfd_instance_errors_drop_the_instance(body: str, message: str) -> None:
    result = parse_string(f"bfd_instance b1 {{\n {body}\n}}\n")
    assert result.config.bfd_instances == ()
    assert [message in str(d) for d in result.errors] == [True], result.diagnostics


def test_duplicate_neighbor_and_bad_values() -> None:
    result = parse_string("""\
bfd_instance b1 {
    neighbor_ip 198.51.100.12
}
bfd_instance b2 {
    neighbor_ip 198.51.100.12
}
bfd_instance b3 {
    neighbor_ip 198.51.100.13
    min_rx 0
    idle_tx 999
    multiplier 256
    ttl 10
    max_hops 20
    weight 10 sideways
}
""")
    assert [b.name for b in result.config.bfd_instances] == ["b1", "b3"]
    errors = [str(d) for d in result.errors]
    assert "duplicate source/neighbor address -/198.51.100.12" in errors[0]
    assert ["min_rx" in errors[1], "idle_tx" in errors[2], "multiplier" in errors[3]] == [True] * 3
    assert "unknown weight option 'sideways'" in errors[4]
    assert "max_hops exceeds ttl/hoplimit" in errors[5]
    b3 = result.config.bfd_instances[1]
    assert (b3.min_rx, b3.idle_tx, b3.multiplier, b3.ttl, b3.max_hops, b3.weight) == (0.01, 1.0, 5, 10, 10, 10)


def test_track_bfd_names_must_be_vrrp_bfd_instances() -> None:
    result = parse_string(
        "bfd_instance b1 {\n neighbor_ip 198.51.100.12\n}\n"
        "bfd_instance only_checker {\n neighbor_ip 198.51.100.13\n checker\n}\n"
        + INSTANCE.format(tracks="        b1 weight 30\n        only_checker\n        missing")
        + "vrrp_sync_group G {\n group {\n  VI_1\n }\n track_bfd {\n  b1\n }\n}\n"
    )
    (vi,) = result.config.vrrp_instances
    assert [(t.name, t.weight) for t in vi.track_bfd] == [("b1", 30)]
    assert [t.name for t in result.config.vrrp_sync_groups[0].track_bfd] == ["b1"]
    assert [d.keyword for d in result.errors] == ["track_bfd", "track_bfd"]
    checker_only = result.config.bfd_instances[1]
    assert (checker_only.vrrp, checker_only.checker) == (False, True)


@pytest.mark.parametrize(
    ("tracks", "faulted", "priority"),
    [
        ("        b1", True, 100),  # the instance's weight 0: FAULT until the session is up
        ("        b1 weight -20", False, 80),
        ("        b1 weight 20", False, 100),
        ("        b1 weight 0 reverse", False, 100),
    ],
)
def test_a_tracked_session_starts_down(tracks: str, faulted: bool, priority: int) -> None:
    config = parse_string("bfd_instance b1 {\n neighbor_ip 198.51.100.12\n}\n" + INSTANCE.format(tracks=tracks)).config
    calc = PriorityCalculator(config.vrrp_instances[0], track_definitions(config))
    assert (calc.faulted, calc.effective_priority) == (faulted, priority)
    calc.update("bfd", "b1", True)
    assert calc.faulted == ("reverse" in tracks)
    assert calc.effective_priority == (120 if "weight 20" in tracks else 100)
