"""garp_group blocks parse as keepalived 2.2.7's vrrp_parser.c: intervals in seconds (µs
resolution), one group per interface, no group without a delay."""

from __future__ import annotations

from fastalived.config import parse_string
from fastalived.config.model import GarpGroup


def load(text: str) -> tuple[tuple[GarpGroup, ...], list[str]]:
    result = parse_string(text)
    return result.config.global_defs.garp_groups, [f"{d.severity}:{d.message}" for d in result.diagnostics]


def test_interface_and_interfaces_form_one_group() -> None:
    groups, problems = load(
        "garp_group {\n garp_interval 0.0015\n gna_interval 0.5\n interface eth0\n"
        " interfaces {\n  eth1 eth2\n  eth3\n }\n}\n"
    )
    assert problems == []
    assert [(g.garp_interval, g.gna_interval, g.interfaces) for g in groups] == [
        (0.0015, 0.5, ("eth0", "eth1", "eth2", "eth3"))
    ]


def test_one_group_per_interface_and_one_interval_is_enough() -> None:
    groups, problems = load(
        "garp_group {\n gna_interval 1\n interface eth0\n}\n"
        "garp_group {\n garp_interval 1\n interface eth0\n interface eth1\n}\n"
    )
    assert problems == ["error:garp_group: garp_group already specified for eth0 - ignoring"]
    assert [(g.garp_interval, g.gna_interval, g.interfaces) for g in groups] == [
        (None, 1.0, ("eth0",)),
        (1.0, None, ("eth1",)),
    ]


def test_bad_values_empty_blocks_and_groups_without_delay() -> None:
    groups, problems = load("garp_group {\n garp_interval -1\n gna_interval x\n interfaces {\n }\n interface eth0\n}\n")
    assert groups == ()
    assert problems == [
        "error:garp_group: garp_group garp_interval '-1' invalid",
        "error:garp_group: garp_group gna_interval 'x' invalid",
        "error:garp_group: Warning - empty garp_group interfaces block",
        "error:garp_group: garp group 1 does not have any delay set - removing",
    ]
