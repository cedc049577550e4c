"""Accept mode's sans-IO core (vrrp/firewall.py) and the config keywords it reads."""

from __future__ import annotations

import logging

import pytest
import uvloop

from fastalived.config import parse_string
from fastalived.config.model import Config, VrrpInstance
from fastalived.runtime.jobs import SerialTasks
from fastalived.vrrp import nft
from fastalived.vrrp.firewall import (
    DEFAULT_TABLE,
    Element,
    FirewallPlan,
    FirewallSettings,
    drops,
    elements,
    needed_families,
)
from tests.support.testbed import vrrp_instance_config


def load(text: str) -> Config:
    result = parse_string(text)
    assert result.ok, result.diagnostics
    return result.config


def one(
    extra: str = "", global_defs: str = "", priority: int = 100, version: int = 2, vips: tuple[str, ...] = ()
) -> VrrpInstance:
    block = vrrp_instance_config("VI_1", 51, priority, vips or ("198.51.100.100/24",), version=version, extra=extra)
    return load(f"global_defs {{\n{global_defs}\n}}\n" + block).vrrp_instances[0]


def members(cfg: VrrpInstance, settings: FirewallSettings | None = None) -> list[Element]:
    specs = cfg.virtual_ipaddresses + cfg.virtual_ipaddresses_excluded
    return list(elements(cfg, specs, cfg.interface, settings or FirewallSettings()))


# ------------------------------------------------------------------ who drops (keepalived's defaults)


def test_accept_is_the_default_without_vrrp_strict() -> None:
    assert not drops(one())
    assert drops(one("    no_accept"))


def test_vrrp_strict_defaults_to_no_accept_except_for_the_address_owner() -> None:
    assert drops(one(global_defs="vrrp_strict", version=3))
    assert not drops(one(global_defs="vrrp_strict", priority=255, version=3))
    assert not drops(one("    no_accept", priority=255))  # the owner always accepts


def test_explicit_accept_under_vrrp_strict() -> None:
    assert not drops(one("    accept", global_defs="vrrp_strict", version=3))  # VRRPv3 has accept mode
    result = parse_string(
        "global_defs {\n vrrp_strict\n}\n"
        + vrrp_instance_config("VI_1", 51, 100, ["198.51.100.100/24"], extra="    accept")
    )
    assert result.config.vrrp_instances[0].accept is False  # RFC 3768 has none: keepalived resets it
    assert any("does not comply with RFC3768" in str(d) for d in result.diagnostics)


# ------------------------------------------------------------------ set members


def test_members_are_vips_and_excluded_vips_of_a_dropping_instance() -> None:
    cfg = one("    no_accept\n    virtual_ipaddress_excluded {\n        198.51.100.200\n        2001:db8::200\n    }")
    assert members(cfg) == [Element(4, "198.51.100.100"), Element(4, "198.51.100.200"), Element(6, "2001:db8::200")]
    assert needed_families([cfg]) == {4, 6}
    assert members(one()) == [] and needed_families([one()]) == frozenset()


def test_link_local_vips_carry_their_interface() -> None:
    vips = ("fe80::1/64", "2001:db8::100/64")
    by_index = one("    no_accept", vips=vips, version=3)
    assert members(by_index) == [Element(6, "fe80::1", "eth0", by_name=False), Element(6, "2001:db8::100")]
    by_name = one("    no_accept\n    dont_track_primary", vips=vips, version=3)
    assert members(by_name)[0] == Element(6, "fe80::1", "eth0", by_name=True)
    forced = FirewallSettings(ifindex=True)  # nftables_ifindex
    assert members(by_name, forced)[0].by_name is False


# ------------------------------------------------------------------ the plan


def test_plan_renders_keepalived_rules_and_skips_unchanged_states() -> None:
    plan = FirewallPlan()
    settings = FirewallSettings()
    first = plan.update(settings, frozenset({4}), [])
    assert first is not None
    assert f"add table ip {DEFAULT_TABLE}\ndelete table ip {DEFAULT_TABLE}\n" in first  # leftovers go
    assert "type filter hook input priority -1; policy accept;" in first
    assert "ip daddr @vips drop" in first and "ip saddr @vips drop" in first
    assert "elements" not in first
    assert plan.update(settings, frozenset({4}), []) is None
    master = plan.update(settings, frozenset({4}), [Element(4, "198.51.100.100")])
    assert master is not None and "elements = { 198.51.100.100 }" in master
    assert plan.update(settings, frozenset({4}), [Element(4, "198.51.100.100")]) is None
    teardown = plan.teardown()
    assert teardown == f"add table ip {DEFAULT_TABLE}\ndelete table ip {DEFAULT_TABLE}\n"
    assert plan.teardown() is None


def test_no_dropping_instance_means_no_table() -> None:
    plan = FirewallPlan()
    assert plan.update(FirewallSettings(), frozenset(), []) is None
    assert plan.teardown() is None


def test_reload_to_no_dropping_instance_removes_the_tables() -> None:
    plan = FirewallPlan()
    assert plan.update(FirewallSettings(), frozenset({4, 6}), [])
    gone = plan.update(FirewallSettings(), frozenset(), [])
    assert gone is not None and "delete table ip fastalived" in gone and "delete table ip6 fastalived" in gone
    assert "{" not in gone
    assert plan.teardown() is None


def test_renamed_table_deletes_the_old_one() -> None:
    plan = FirewallPlan()
    assert plan.update(FirewallSettings(), frozenset({4}), [])
    renamed = plan.update(FirewallSettings(table="vrrp", priority=-5, counters=True), frozenset({4}), [])
    assert renamed is not None
    assert "delete table ip fastalived" in renamed and "table ip vrrp {" in renamed
    assert "priority -5;" in renamed and "ip daddr @vips counter drop" in renamed


def test_failed_apply_is_retried_on_next_update() -> None:
    plan = FirewallPlan()
    assert plan.update(FirewallSettings(), frozenset({4}), [])
    plan.failed()
    assert plan.update(FirewallSettings(), frozenset({4}), []) is not None


def test_ipv6_table_lets_neighbour_discovery_through_and_splits_link_local() -> None:
    plan = FirewallPlan()
    script = plan.update(
        FirewallSettings(),
        frozenset({6}),
        [Element(6, "2001:db8::100"), Element(6, "fe80::1", "eth0"), Element(6, "fe80::2", "vrrp.51", by_name=True)],
    )
    assert script is not None
    assert "table ip6 fastalived {" in script and "table ip fastalived {" not in script
    assert "icmpv6 type @neighbor-discovery accept" in script
    assert "ip6 daddr fe80::/10 goto in_link_local" in script and "ip6 saddr fe80::/10 goto out_link_local" in script
    assert 'elements = { fe80::1 . "eth0" }' in script
    assert 'elements = { fe80::2 . "vrrp.51" }' in script
    assert "ip6 daddr . iif @vips_link_local drop" in script
    assert "ip6 saddr . oifname @vips_link_local_name drop" in script


# ------------------------------------------------------------------ global_defs keywords


def test_nftables_keywords() -> None:
    g = load(
        "global_defs {\n nftables vrrp_fw\n nftables_priority -10\n nftables_ifindex\n nftables_counters\n}\n"
    ).global_defs
    assert FirewallSettings.of(g) == FirewallSettings("vrrp_fw", -10, True, True)
    assert FirewallSettings.of(load("global_defs {\n nftables\n}\n").global_defs).table == DEFAULT_TABLE


def test_nftables_table_name_must_be_an_nft_identifier() -> None:
    result = parse_string('global_defs {\n nftables "bad name"\n}\n')
    assert not result.ok
    assert any("nft identifier" in str(d) for d in result.diagnostics)


# ------------------------------------------------------------------ the nft adapter without nft


def test_a_missing_nft_command_is_reported_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(nft.shutil, "which", lambda *_a, **_k: None)
    config = load(
        "global_defs {\n}\n" + vrrp_instance_config("VI_1", 51, 100, ["198.51.100.100/24"], extra="    no_accept")
    )

    async def scenario() -> None:
        firewall = nft.NftFirewall(SerialTasks())
        firewall.sync(config, [])
        firewall.sync(config, config.vrrp_instances)  # a failed apply is retried, but told once
        await firewall.close()

    with caplog.at_level(logging.ERROR, "fastalived.vrrp"):
        uvloop.run(scenario())
    told = [r.getMessage() for r in caplog.records if "nftables" in r.getMessage()]
    assert len(told) == 1 and "install the nftables package" in told[0]
