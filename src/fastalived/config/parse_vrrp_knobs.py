"""vrrp_instance's VMAC, unicast and advert-policy keywords, and keepalived's rules resolving them.

Split from :mod:`parse_vrrp` (which merges :data:`KNOB_SETTINGS` / :data:`KNOB_BLOCKS` into its
tables and calls :func:`finish_knobs`): ``use_vmac [NAME] [MAC]``, ``vmac_xmit_base``,
``unicast_ttl``, ``mcast_dst_ip``, ``check_unicast_src``, ``unicast_fault_no_peer``,
``promote_secondaries``, ``skip_check_adv_addr``, ``strict_mode``, ``garp_lower_prio_*``,
``down_timer_adverts``, ``lower_prio_no_advert`` and ``higher_prio_send_advert``, with the
global_defs defaults and the strict-mode overrides of keepalived's ``vrrp_complete_instance``.
"""

from __future__ import annotations

from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import COUNT, ParseState, Table, address, flag, integer, last_line
from fastalived.config.parse_vmac_addr import IFNAMSIZ, RFC5798_MAC, finish_vmac_addrs, vmac_name
from fastalived.config.parse_vmac_extras import INSTANCE_EXTRA_BLOCKS, finish_extra_if, finish_ipvlan, ipvlan_xmit_base


def _mac(p: ParseState, st: Stmt, index: int, ctx: str) -> bytes | None:
    """``XX:XX:XX:XX:XX[:XX]``; five octets mean the VRID is the sixth."""
    text = st.words[index]
    octets = text[:-1].split(":") if text.endswith(":") else text.split(":")
    try:
        if len(octets) not in (5, 6) or any(not 1 <= len(o) <= 2 for o in octets):
            raise ValueError(text)
        mac = bytes(int(o, 16) for o in octets)
    except ValueError:
        p.error(st, index, ctx, f"use_vmac: invalid MAC address '{text}' - ignored")
        return None
    if mac[0] & 1:
        p.error(st, index, ctx, f"use_vmac: MAC address {text} is multicast - ignored")
        return None
    if mac[:4] == RFC5798_MAC and len(mac) > 4 and mac[4] in (1, 2):
        p.error(st, index, ctx, f"use_vmac: MAC address {text} is an RFC 5798 address - ignored")
        return None
    return mac


def _valid_ifname(name: str) -> bool:
    return bool(name) and len(name) < IFNAMSIZ and name not in (".", "..") and not any(c in name for c in "/ \t")


def use_vmac(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``use_vmac [NAME] [MAC]`` in either order (a MAC has colons, a name cannot)."""
    values.setdefault("use_vmac", "")
    for index in range(1, min(len(st.words), 3)):
        text = st.words[index]
        if ":" in text:
            if "vmac_mac" in values:
                p.error(st, index, ctx, "use_vmac: MAC address already specified")
            elif (mac := _mac(p, st, index, ctx)) is not None:
                values["vmac_mac"] = mac
        elif values["use_vmac"]:
            p.error(st, index, ctx, "use_vmac: interface name already specified")
        elif not _valid_ifname(text):
            p.error(st, index, ctx, f"use_vmac: interface name '{text}' too long or invalid - ignored")
        else:
            values["use_vmac"] = text
    p.extra_words(st, ctx, 3)


KNOB_SETTINGS: Table = {
    "vmac_xmit_base": ("vmac_xmit_base", flag),
    "use_vmac_addr": ("use_vmac_addr", flag),
    "unicast_ttl": ("unicast_ttl", integer(0, 255)),
    "mcast_dst_ip": ("mcast_dst_ip", address),
    "promote_secondaries": ("promote_secondaries", flag),
    "skip_check_adv_addr": ("skip_check_adv_addr", flag),
    "strict_mode": ("strict_mode", flag),
    "garp_lower_prio_delay": ("garp_lower_prio_delay", integer(0, 4294)),
    "garp_lower_prio_repeat": ("garp_lower_prio_repeat", COUNT),
    "down_timer_adverts": ("down_timer_adverts", integer(1, 100)),
    "lower_prio_no_advert": ("lower_prio_no_advert", flag),
    "higher_prio_send_advert": ("higher_prio_send_advert", flag),
    "check_unicast_src": ("check_unicast_src", flag),
    "unicast_fault_no_peer": ("unicast_fault_no_peer", flag),
}
KNOB_BLOCKS = {"use_vmac": use_vmac, **INSTANCE_EXTRA_BLOCKS}


def finish_knobs(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str, g: m.GlobalDefs) -> None:
    """Apply global defaults and keepalived's consistency rules; call once ``family``,
    ``virtual_router_id``, ``unicast_peers`` and ``strict_mode`` are final."""
    strict = values["strict_mode"]
    unicast = bool(values.get("unicast_peers"))
    vrid = values["virtual_router_id"]
    finish_ipvlan(p, st, values, ctx)
    if values.get("use_vmac") == "":
        values["use_vmac"] = vmac_name(g.vmac_prefix, vrid)
    mac = values.get("vmac_mac")
    if mac is not None and len(mac) == 5:
        values["vmac_mac"] = mac + bytes((vrid,))
    if mac is not None and "use_vmac" not in values:
        del values["vmac_mac"]
    if values.get("vmac_xmit_base"):
        if "use_vmac" not in values:
            p.error(last_line(st, "vmac_xmit_base"), 0, ctx, "vmac_xmit_base is only valid with a vmac - ignored")
            values["vmac_xmit_base"] = False
        elif strict:
            p.error(last_line(st, "vmac_xmit_base"), 0, ctx, "strict mode does not support vmac_xmit_base - clearing")
            values["vmac_xmit_base"] = False
    elif unicast and "use_vmac" in values:
        p.error(last_line(st, "use_vmac"), 0, ctx, "unicast with use_vmac requires vmac_xmit_base - setting")
        values["vmac_xmit_base"] = True
    if values.get("promote_secondaries") and "use_vmac" in values:
        line = last_line(st, "promote_secondaries")
        p.error(line, 0, ctx, "promote_secondaries is automatically set for vmacs - ignoring")
        values["promote_secondaries"] = False
    if "unicast_ttl" in values and not unicast:
        p.error(last_line(st, "unicast_ttl"), 0, ctx, "cannot use unicast_ttl without unicast peers - resetting")
        del values["unicast_ttl"]
    ipvlan_xmit_base(p, st, values, ctx)
    finish_vmac_addrs(p, values, ctx, g)
    _mcast_group(p, st, values, ctx, g, unicast)
    finish_extra_if(values, g)
    values.setdefault("check_unicast_src", g.vrrp_check_unicast_src)
    values.setdefault("skip_check_adv_addr", g.vrrp_skip_check_adv_addr)
    values.setdefault("down_timer_adverts", g.vrrp_down_timer_adverts)
    if strict and values["down_timer_adverts"] != 3:
        line = last_line(st, "down_timer_adverts")
        p.error(line, 0, ctx, "down_timer_adverts is incompatible with strict mode - resetting")
        values["down_timer_adverts"] = 3
    _advert_policy(p, st, values, ctx, g, strict)


def _mcast_group(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str, g: m.GlobalDefs, unicast: bool) -> None:
    """The instance's group: ``mcast_dst_ip`` (multicast, of the family; link-local for IPv6),
    else vrrp_mcast_group4/6; none for unicast."""
    group = values.pop("mcast_dst_ip", None)
    if group is not None:
        line = last_line(st, "mcast_dst_ip")
        if unicast:
            p.error(line, 1, ctx, "multicast destination specified with unicast - ignoring")
            group = None
        elif group.version != values["family"]:
            p.error(line, 1, ctx, f"mcast_dst_ip {group} must match the instance's family - skipping")
            group = None
        elif not group.is_multicast or (group.version == 6 and group.packed[1] & 0x0F != 2):
            kind = "link-local multicast" if group.version == 6 else "multicast"
            p.error(line, 1, ctx, f"mcast_dst_ip {group} is not {kind} - skipping")
            group = None
    if group is None and not unicast:
        group = g.vrrp_mcast_group6 if values["family"] == 6 else g.vrrp_mcast_group4
    if group is not None:
        values["mcast_dst_ip"] = group


def _advert_policy(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str, g: m.GlobalDefs, strict: bool) -> None:
    """garp_lower_prio_*, lower_prio_no_advert, higher_prio_send_advert: the global default,
    overridden (with an error when set otherwise) by strict mode."""
    repeat = g.vrrp_garp_lower_prio_repeat
    delay = g.vrrp_garp_lower_prio_delay
    # key, global default, the value strict mode forces, keepalived's words when it must
    rules: tuple[tuple[str, Any, Any, str], ...] = (
        ("garp_lower_prio_repeat", g.vrrp_garp_master_repeat if repeat is None else repeat, 0, "no repeat garps"),
        ("garp_lower_prio_delay", g.vrrp_garp_master_delay if delay is None else delay, 0, "no repeat garp delay"),
        ("lower_prio_no_advert", g.vrrp_lower_prio_no_advert, True, "no lower priority advert"),
        ("higher_prio_send_advert", g.vrrp_higher_prio_send_advert, False, "higher_prio_send_advert to be clear"),
    )
    for key, default, strict_value, requirement in rules:
        if key not in values:
            values[key] = strict_value if strict else default
        elif strict and values[key] != strict_value:
            p.error(last_line(st, key), 0, ctx, f"strict mode requires {requirement} - resetting")
            values[key] = strict_value
