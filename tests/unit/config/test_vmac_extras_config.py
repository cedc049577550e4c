"""vrrp_garp_extra_if / garp_extra_if (and their deprecated spellings) parse as keepalived 2.2.7's
global_parser.c / vrrp_parser.c: ranges, ``all`` in any order, inheritance, errors that ignore."""

from __future__ import annotations

from fastalived.config import parse_string
from fastalived.config.model import Config

INSTANCE = """vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {{
        198.51.100.1/24
    }}
{body}}}
"""


def load(global_defs: str = "", body: str = "") -> tuple[Config, list[str]]:
    text = (f"global_defs {{\n{global_defs}}}\n" if global_defs else "") + INSTANCE.format(body=body)
    result = parse_string(text)
    return result.config, [f"{d.severity}:{d.keyword}:{d.message}" for d in result.diagnostics]


def test_global_default_and_all_are_inherited() -> None:
    config, problems = load("    vrrp_garp_extra_if all 30\n")
    assert problems == []
    assert (config.global_defs.vrrp_garp_extra_if, config.global_defs.vrrp_garp_extra_if_all) == (30, True)
    inst = config.vrrp_instances[0]
    assert (inst.garp_extra_if, inst.garp_extra_if_all) == (30, True)


def test_instance_time_overrides_the_global_and_its_all() -> None:
    config, _ = load("    vrrp_garp_extra_if 30 all\n", "    garp_extra_if 0\n")
    inst = config.vrrp_instances[0]
    assert (inst.garp_extra_if, inst.garp_extra_if_all) == (0, False)  # 0 turns it off here


def test_instance_all_without_time_is_an_error_but_keeps_all() -> None:
    config, problems = load("    vrrp_garp_extra_if 20\n", "    garp_extra_if all\n")
    assert any("specified without time - ignoring" in p for p in problems)
    inst = config.vrrp_instances[0]
    assert (inst.garp_extra_if, inst.garp_extra_if_all) == (20, True)  # as keepalived's flag stays set


def test_ranges_and_bad_words() -> None:
    _, problems = load("    vrrp_garp_extra_if 0\n")
    assert problems and "'0' invalid - ignoring" in problems[0]  # the global one needs 1..86400
    config, problems = load("", "    garp_extra_if 86401\n")
    assert "'86401' invalid - ignoring" in problems[0] and config.vrrp_instances[0].garp_extra_if == 0
    _, problems = load("", "    garp_extra_if 5 sometimes\n")
    assert "'sometimes' invalid" in problems[0]


def test_deprecated_spellings_warn_and_work() -> None:
    config, problems = load("    vrrp_vmac_garp_intvl 10\n", "    vmac_garp_intvl 5 all\n")
    assert [p.split(":")[0] for p in problems] == ["warning", "warning"]
    assert 'please use "vrrp_garp_extra_if"' in problems[0] and 'please use "garp_extra_if"' in problems[1]
    assert config.global_defs.vrrp_garp_extra_if == 10
    inst = config.vrrp_instances[0]
    assert (inst.garp_extra_if, inst.garp_extra_if_all) == (5, True)


VMAC_ADDR = """global_defs {{
{prefix}}}
vrrp_instance A {{
    interface eth0
    virtual_router_id 5
    priority 100
{body}    virtual_ipaddress {{
        198.51.100.5/24
        198.51.100.6/24 dev eth1
        198.51.100.7/24 dev eth1
    }}
    virtual_ipaddress_excluded {{
        2001:db8::5/64
        2001:db8::6/64 dev eth0 use_vmac
        198.51.100.9 use_vmac
    }}
}}
vrrp_instance B {{
    interface eth2
    virtual_router_id 5
    priority 100
    virtual_ipaddress {{
        198.51.100.15/24 dev eth1 use_vmac
        198.51.100.16/24 dev eth3 use_vmac
    }}
}}
"""


def vips_and_vmacs(prefix: str = "", body: str = "") -> tuple[list[list[tuple[str, str | None]]], list[str]]:
    result = parse_string(VMAC_ADDR.format(prefix=prefix, body=body))
    placed = [
        [(str(s.address.ip), s.dev) for s in i.virtual_ipaddresses + i.virtual_ipaddresses_excluded]
        for i in result.config.vrrp_instances
    ]
    vmacs = [f"{v.name}@{v.base}={v.mac.hex(':')}" for i in result.config.vrrp_instances for v in i.vmac_addrs]
    return placed, vmacs + [d.message for d in result.diagnostics]


def test_use_vmac_addr_and_a_vips_use_vmac_as_keepalived_places_them() -> None:
    placed, rest = vips_and_vmacs("    vmac_addr_prefix vx\n", "    use_vmac\n    use_vmac_addr\n")
    assert placed[0] == [
        ("198.51.100.5", None),  # the instance's VMAC (vrrp.5)
        ("198.51.100.6", "vx.5"),  # use_vmac_addr: another interface
        ("198.51.100.7", "vx.5"),
        ("2001:db8::5", "vx6.5"),  # the other family, on the instance's interface: IPv6 names try 6 first
        ("2001:db8::6", "vx6.5"),
        ("198.51.100.9", None),  # use_vmac without dev: an error, and the instance's VMAC
    ]
    assert placed[1] == [("198.51.100.15", "vx.5"), ("198.51.100.16", "vx1.5")]  # same VRID, MAC, base: shared
    assert rest == [
        "vx.5@eth1=00:00:5e:00:01:05",
        "vx6.5@eth0=00:00:5e:00:02:05",
        "vx.5@eth1=00:00:5e:00:01:05",
        "vx1.5@eth3=00:00:5e:00:01:05",
        "vrrp_instance A: use_vmac for a address requires an interface",
    ]


def test_without_use_vmac_addr_only_flagged_vips_get_vmacs_and_the_first_prefix_counts() -> None:
    placed, rest = vips_and_vmacs("    vmac_prefix vm\n    vmac_addr_prefix vx\n    vmac_addr_prefix vy\n")
    assert placed[0][1:5] == [
        ("198.51.100.6", "eth1"),
        ("198.51.100.7", "eth1"),
        ("2001:db8::5", None),
        ("2001:db8::6", "vx.5"),  # the first name is free here: PREFIX.VRID whatever the family
    ]
    assert "vmac_addr prefix has already been specified - ignoring vy" in rest[-2]
