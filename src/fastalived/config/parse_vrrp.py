"""``vrrp_script``, ``vrrp_sync_group`` and ``vrrp_instance``: keyword tables, handlers, and the
final pass that applies global_defs defaults and checks cross-references (scripts, members, VRIDs)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from fastalived.config import model as m
from fastalived.config.keywords import ignored_at
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import (
    INVALID,
    POSITIVE_COUNT,
    POSITIVE_TIMER,
    TIMER,
    Blocks,
    ParseState,
    Table,
    address,
    choice,
    flag,
    integer,
    last_line,
    negated_flag,
    number,
    rest,
    run_as,
    script,
    suggest,
    word,
)
from fastalived.config.parse_links import LINK_BLOCKS, LINK_SETTINGS, finish_links
from fastalived.config.parse_rules import rule_list
from fastalived.config.parse_static import address_list, route_list
from fastalived.config.parse_vrrp_knobs import KNOB_BLOCKS, KNOB_SETTINGS, finish_knobs

INSTANCE_IGNORED = ignored_at("vrrp_instance")
SYNC_GROUP_IGNORED = ignored_at("vrrp_sync_group")


# =========================================================================== handlers


def _weight(p: ParseState, st: Stmt, ctx: str, index: int, limit: int) -> tuple[int | None, bool]:
    """``N [reverse|noreverse]`` starting at ``index``."""
    value = p.parse_int(st, ctx, index, -limit, limit, name="weight")
    if value is INVALID:
        return None, False
    direction = st.words[index + 1] if len(st.words) > index + 1 else None
    given = direction in ("reverse", "noreverse")
    p.extra_words(st, ctx, index + 1 + given)
    return value, direction == "reverse"


def _script_weight(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    weight, reverse = _weight(p, st, ctx, 1, 253)
    if weight is not None:
        values["weight"] = weight
        values["weight_reverse"] = reverse


def _tracked(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``track_interface``/``track_script``/``track_file``/``track_process``/``track_bfd`` lists:
    ``NAME [weight N [reverse|noreverse]]`` per line."""
    keyword = st.words[0]
    make, limit = _TRACKED_KINDS[keyword]
    tracked = list(values.get(keyword, ()))
    for line in p.block_lines(st, ctx):
        weight, reverse = None, False
        if len(line.words) > 1:
            if line.words[1] != "weight":
                p.error(line, 1, ctx, f"{keyword} {line.words[0]}: expected 'weight N', got '{line.words[1]}'")
                continue
            weight, reverse = _weight(p, line, ctx, 2, limit)
            if weight is None:
                continue
        tracked.append(make(line.words[0], weight, reverse, where=line.where()))
    values[keyword] = tuple(tracked)


def _sync_group_members(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    members = [(w, line) for line in p.block_lines(st, ctx) for w in line.words]
    values["group"] = values["group"] + tuple(w for w, _ in members)
    values.setdefault("_member_lines", []).extend(members)


def _unicast_peers(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    peers = list(values.get("unicast_peers", ()))
    ctx = f"{ctx}: unicast_peer"
    for line in p.block_lines(st, ctx):
        peer = p.parse_address(line, ctx, 0)
        if peer is not INVALID:
            peers.append(peer)
    values["unicast_peers"] = tuple(peers)


def _virtual_ipaddresses(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    key = "virtual_ipaddresses" if st.words[0] == "virtual_ipaddress" else "virtual_ipaddresses_excluded"
    values[key] = values.get(key, ()) + tuple(address_list(p, st, ctx))


def _virtual_routes(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    values["virtual_routes"] = values.get("virtual_routes", ()) + tuple(route_list(p, st, ctx))


def _virtual_rules(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    values["virtual_rules"] = values.get("virtual_rules", ()) + tuple(rule_list(p, st, ctx))


def _authentication(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    auth: dict[str, Any] = {}
    p.walk(st, f"{ctx}: authentication", auth, AUTHENTICATION_SETTINGS)
    if "auth_pass" in auth:
        password = auth["auth_pass"].encode()
        if len(password) > 8:
            line = next(c for c in st.block or () if c.words[0] == "auth_pass")
            p.warning(line, 1, ctx, "auth_pass is longer than 8 characters; truncated")
            password = password[:8]
        values["auth_pass"] = password
        values["auth_type"] = auth.get("auth_type", "PASS")
    elif "auth_type" in auth:
        p.warning(st, 0, ctx, "authentication has auth_type but no auth_pass; ignored")


def _instance_lvs_sync_daemon_interface(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    p.warning(st, 0, ctx, "lvs_sync_daemon_interface is deprecated; use global_defs lvs_sync_daemon")
    interface = word(p, st, ctx)
    if interface is not INVALID:
        values["lvs_sync_daemon_interface"] = interface


def _notify_deleted(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``notify_deleted [SCRIPT [username [groupname]]]``: a reload's deleted instance notifies
    DELETED (not FAULT), running SCRIPT if given."""
    values["deleted_state"] = True
    if len(st.words) > 1:
        command = script(p, st, ctx)
        if command is not INVALID:
            values["notify_deleted"] = command


# =========================================================================== keyword tables

# tracked-object lists -> (model entry, largest |weight|)
_TRACKED_KINDS: dict[str, tuple[Callable[..., Any], int]] = {
    "track_interface": (m.TrackInterface, 254),
    "track_script": (m.TrackScript, 253),
    "track_file": (m.TrackScript, 254),
    "track_process": (m.TrackScript, 254),
    "track_bfd": (m.TrackScript, 253),
}
SCRIPT_SETTINGS: Table = {
    "script": ("script", rest),
    "interval": ("interval", POSITIVE_TIMER),
    "timeout": ("timeout", POSITIVE_TIMER),
    "rise": ("rise", POSITIVE_COUNT),
    "fall": ("fall", POSITIVE_COUNT),
    "init_fail": ("init_fail", flag),
}
SCRIPT_BLOCKS: Blocks = {"weight": _script_weight, "user": run_as}
NOTIFY_SETTINGS: Table = {
    "notify_master": ("notify_master", script),
    "notify_backup": ("notify_backup", script),
    "notify_fault": ("notify_fault", script),
    "notify_stop": ("notify_stop", script),
    "notify": ("notify", script),
    "smtp_alert": ("smtp_alert", flag),
}
PRIORITY_CHANGES: Table = {"notify_priority_changes": ("priority_changes", flag)}
INSTANCE_NOTIFY_SETTINGS: Table = {
    **NOTIFY_SETTINGS,
    **PRIORITY_CHANGES,
    "notify_master_rx_lower_pri": ("notify_master_rx_lower_pri", script),
}
NOTIFY_FIELDS = (*(row[0] for row in INSTANCE_NOTIFY_SETTINGS.values()), "notify_deleted", "deleted_state")
SYNC_GROUP_SETTINGS: Table = {
    **NOTIFY_SETTINGS,
    **PRIORITY_CHANGES,
    "global_tracking": ("global_tracking", flag),
    "sync_group_tracking_weight": ("sync_group_tracking_weight", flag),
}
SYNC_GROUP_BLOCKS: Blocks = {
    "group": _sync_group_members,
    "track_interface": _tracked,
    "track_script": _tracked,
    "track_file": _tracked,
    "track_process": _tracked,
    "track_bfd": _tracked,
}
INSTANCE_SETTINGS: Table = {
    **INSTANCE_NOTIFY_SETTINGS,
    "state": ("state", choice(("MASTER", "BACKUP"), upper=True)),
    "interface": ("interface", word),
    "dont_track_primary": ("dont_track_primary", flag),
    "mcast_src_ip": ("mcast_src_ip", address),
    "unicast_src_ip": ("unicast_src_ip", address),
    **LINK_SETTINGS,
    "garp_master_delay": ("garp_master_delay", TIMER),
    "garp_master_repeat": ("garp_master_repeat", POSITIVE_COUNT),
    "garp_master_refresh": ("garp_master_refresh", TIMER),
    "garp_master_refresh_repeat": ("garp_master_refresh_repeat", POSITIVE_COUNT),
    "virtual_router_id": ("virtual_router_id", integer(1, 255)),
    "priority": ("priority", integer(1, 255)),
    "advert_int": ("advert_int", number(0.0, 255.0)),
    "version": ("version", integer(2, 3)),
    "nopreempt": ("nopreempt", flag),
    "preempt": ("nopreempt", negated_flag),
    "preempt_delay": ("preempt_delay", number(0, 1000)),
    "accept": ("accept", flag),
    "no_accept": ("accept", negated_flag),
    "debug": ("debug", integer(0, 4)),
    "native_ipv6": ("native_ipv6", flag),
    "v3_checksum_as_v2": ("v3_checksum_as_v2", flag),
    **KNOB_SETTINGS,
}
INSTANCE_BLOCKS: Blocks = {
    "notify_deleted": _notify_deleted,
    "track_interface": _tracked,
    "track_script": _tracked,
    "track_file": _tracked,
    "track_process": _tracked,
    "track_bfd": _tracked,
    "unicast_peer": _unicast_peers,
    "virtual_ipaddress": _virtual_ipaddresses,
    "virtual_ipaddress_excluded": _virtual_ipaddresses,
    "virtual_routes": _virtual_routes,
    "virtual_rules": _virtual_rules,
    "authentication": _authentication,
    **KNOB_BLOCKS,
    **LINK_BLOCKS,
    "lvs_sync_daemon_interface": _instance_lvs_sync_daemon_interface,
}
AUTHENTICATION_SETTINGS: Table = {
    "auth_type": ("auth_type", choice(("PASS", "AH"), upper=True)),
    "auth_pass": ("auth_pass", word),
}


# =========================================================================== sections


def vrrp_script(p: ParseState, st: Stmt) -> None:
    name = p.named(st, p.scripts, "vrrp_script")
    if name is None:
        return
    ctx = f"vrrp_script {name}"
    values: dict[str, Any] = {"name": name}
    p.walk(st, ctx, values, SCRIPT_SETTINGS, SCRIPT_BLOCKS)
    p.scripts[name] = (st, values)


def vrrp_sync_group(p: ParseState, st: Stmt) -> None:
    name = p.named(st, p.sync_groups, "vrrp_sync_group")
    if name is None:
        return
    values: dict[str, Any] = {"name": name, "group": ()}
    p.walk(
        st,
        f"vrrp_sync_group {name}",
        values,
        SYNC_GROUP_SETTINGS,
        SYNC_GROUP_BLOCKS,
        SYNC_GROUP_IGNORED,
        fallback=_legacy_sync_group_member,
    )
    p.sync_groups[name] = (st, values)


def _legacy_sync_group_member(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> bool:
    """Old samples list member instances directly in the group (no ``group { }``); accept a
    bare word that is not close to a real keyword as such a member."""
    keyword = st.words[0]
    if len(st.words) > 1 or st.block is not None:
        return False
    keywords = [*SYNC_GROUP_SETTINGS, *SYNC_GROUP_BLOCKS, *SYNC_GROUP_IGNORED]
    if suggest(keyword, keywords):
        return False
    p.info(st, ctx, f"listing '{keyword}' outside 'group {{ }}' is deprecated")
    values["group"] = values["group"] + (keyword,)
    values.setdefault("_member_lines", []).append((keyword, st))
    return True


def vrrp_instance(p: ParseState, st: Stmt) -> None:
    name = p.named(st, p.instances, "vrrp_instance")
    if name is None:
        return
    values: dict[str, Any] = {"name": name}
    p.walk(st, f"vrrp_instance {name}", values, INSTANCE_SETTINGS, INSTANCE_BLOCKS, INSTANCE_IGNORED)
    p.instances[name] = (st, values)


# =========================================================================== final pass


def finish_scripts(p: ParseState) -> tuple[m.VrrpScript, ...]:
    scripts = []
    for st, values in p.scripts.values():
        if "script" not in values:
            p.warning(st, 1, f"vrrp_script {values['name']}", "no script set; vrrp_script removed")
            continue
        scripts.append(m.VrrpScript(**values, where=st.where()))
    return tuple(scripts)


# tracked-object keyword -> (the definitions it names, what they are called)
_TRACKED_DEFINITIONS: dict[str, tuple[Callable[[ParseState], Collection[str]], str]] = {
    "track_file": (lambda p: p.track_files, "track_file"),
    "track_process": (lambda p: p.track_processes, "vrrp_track_process"),
    "track_bfd": (lambda p: {n for n, b in p.bfd_instances.items() if b.vrrp}, "bfd_instance"),
}


def _check_tracked(p: ParseState, values: dict[str, Any], ctx: str, scripts: set[str]) -> None:
    """Drop (with an error) track_script/track_file/track_process/track_bfd entries naming
    nothing defined, as keepalived ignores them."""
    kinds: dict[str, tuple[Collection[str], str]] = {"track_script": (scripts, "vrrp_script")}
    kinds.update({key: (known(p), what) for key, (known, what) in _TRACKED_DEFINITIONS.items()})
    for keyword, (known, what) in kinds.items():
        entries = values.get(keyword, ())
        for tracked in entries:
            if tracked.name not in known:
                message = f"{ctx}: {keyword} '{tracked.name}' is not a defined {what}" + suggest(tracked.name, known)
                p.report.error(tracked.where, keyword, message)
        if entries:
            values[keyword] = tuple(t for t in entries if t.name in known)


def _notify(p: ParseState, values: dict[str, Any]) -> m.NotifyScripts:
    return m.NotifyScripts(**{key: values.pop(key) for key in NOTIFY_FIELDS if key in values})


def finish_sync_groups(p: ParseState, instances: set[str], scripts: set[str]) -> tuple[m.VrrpSyncGroup, ...]:
    groups = []
    owner: dict[str, str] = {}
    for st, values in p.sync_groups.values():
        ctx = f"vrrp_sync_group {values['name']}"
        for member, line in values.pop("_member_lines", []):
            if member not in instances:
                index = line.words.index(member)
                p.error(line, index, ctx, f"unknown vrrp_instance '{member}'" + suggest(member, instances))
            elif member in owner:
                p.error(
                    line,
                    line.words.index(member),
                    ctx,
                    f"vrrp_instance {member} is already in vrrp_sync_group {owner[member]}",
                )
            else:
                owner[member] = values["name"]
        values["group"] = tuple(dict.fromkeys(g for g in values["group"] if owner.get(g) == values["name"]))
        if not values["group"]:
            p.warning(st, 0, ctx, "has no vrrp_instance members; ignored")
            continue
        _check_tracked(p, values, ctx, scripts)
        values.setdefault("smtp_alert", p.smtp_alert_default("smtp_alert_vrrp", False))
        values["notify"] = _notify(p, values)
        groups.append(m.VrrpSyncGroup(**values, where=st.where()))
    return tuple(groups)


def finish_instances(p: ParseState, global_defs: m.GlobalDefs, scripts: set[str]) -> tuple[m.VrrpInstance, ...]:
    instances = []
    vrid_owners: dict[tuple[str, int, int], str] = {}
    for st, values in p.instances.values():
        ctx = f"vrrp_instance {values['name']}"
        where = st.where()
        _check_tracked(p, values, ctx, scripts)
        values.setdefault("smtp_alert", p.smtp_alert_default("smtp_alert_vrrp", False))
        values["notify"] = _notify(p, values)
        values.setdefault("version", global_defs.vrrp_version)
        values.setdefault("garp_master_delay", global_defs.vrrp_garp_master_delay)
        values.setdefault("garp_master_repeat", global_defs.vrrp_garp_master_repeat)
        values.setdefault("garp_master_refresh", global_defs.vrrp_garp_master_refresh)
        values.setdefault("garp_master_refresh_repeat", global_defs.vrrp_garp_master_refresh_repeat)
        values.setdefault("strict_mode", global_defs.vrrp_strict)
        _accept_mode(p, st, values, ctx)
        values.setdefault("v3_checksum_as_v2", global_defs.v3_checksum_as_v2)
        _check_authentication(p, st, values, ctx, values["strict_mode"])
        if "interface" not in values and values.get("unicast_peers") and last_line(st, "interface") is st:
            values["interface"] = global_defs.default_interface  # keepalived: unicast needs no interface
        for key, placeholder in (("interface", ""), ("virtual_router_id", 0)):
            if key not in values:
                if last_line(st, key) is st:  # an invalid value was already reported
                    p.report.error(where, key, f"{ctx}: no {key} set")
                values[key] = placeholder
        native_ipv6 = values.pop("native_ipv6", False)
        addresses = values.get("virtual_ipaddresses", ())
        values["family"] = 6 if native_ipv6 or (addresses and addresses[0].family == 6) else 4
        _check_families(p, st, values, ctx)
        finish_links(p, st, values, ctx)
        _check_ah(p, st, values, ctx)
        _check_advert_int(p, st, values, ctx)
        _check_preemption(p, st, values, ctx)
        _drop_own_interface_tracking(p, values, ctx)
        finish_knobs(p, st, values, ctx, global_defs)
        owner_key = (values["interface"], values["virtual_router_id"], values["family"])
        if values["virtual_router_id"] and owner_key in vrid_owners:
            line = last_line(st, "virtual_router_id")
            p.error(
                line,
                1,
                ctx,
                f"virtual_router_id {owner_key[1]} (IPv{owner_key[2]}) on {owner_key[0]} is already used by"
                f" vrrp_instance {vrid_owners[owner_key]}",
            )
        vrid_owners.setdefault(owner_key, values["name"])
        instances.append(m.VrrpInstance(**values, where=where))
    return tuple(instances)


def _check_families(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str) -> None:
    family = values["family"]
    mixed = [a for a in values.get("virtual_ipaddresses", ()) if a.family != family]
    for spec in mixed:
        p.report.warning(
            spec.where,
            "virtual_ipaddress",
            f"{ctx}: {spec.address} is not IPv{family} like the instance; treated as virtual_ipaddress_excluded",
        )
    if mixed:
        values["virtual_ipaddresses"] = tuple(a for a in values["virtual_ipaddresses"] if a.family == family)
        values["virtual_ipaddresses_excluded"] = values.get("virtual_ipaddresses_excluded", ()) + tuple(mixed)
    for key in ("mcast_src_ip", "unicast_src_ip"):
        source = values.get(key)
        if source is not None and source.version != family:
            line = last_line(st, key)
            p.error(line, 1, ctx, f"{key} {source} is not IPv{family} like the instance")
            del values[key]
    peers = values.get("unicast_peers", ())
    wrong = [peer for peer in peers if peer.version != family]
    if wrong:
        p.error(last_line(st, "unicast_peer"), 0, ctx, f"unicast_peer {wrong[0]} is not IPv{family} like the instance")
        values["unicast_peers"] = tuple(peer for peer in peers if peer.version == family)


def _accept_mode(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str) -> None:
    """keepalived's accept mode: the address owner (priority 255) accepts, others unless strict;
    strict VRRPv2 (RFC 3768 has no accept mode) refuses an explicit ``accept`` with a warning."""
    owner = values.get("priority") == 255
    if "accept" not in values:
        values["accept"] = owner or not values["strict_mode"]
    elif values["accept"] and not owner and values["strict_mode"] and values["version"] == 2:
        message = "accept mode for VRRP version 2 does not comply with RFC3768 - resetting"
        p.warning(last_line(st, "accept"), 0, ctx, message)
        values["accept"] = False


def _check_authentication(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str, strict: bool) -> None:
    """VRRPv3 has no authentication and vrrp_strict forbids it: keepalived drops it with a warning."""
    if "auth_pass" not in values:
        return
    reason = "VRRPv3 has no authentication" if values["version"] == 3 else "vrrp_strict forbids it" if strict else ""
    if reason:
        p.warning(last_line(st, "authentication"), 0, ctx, f"authentication ignored: {reason}")
        del values["auth_pass"], values["auth_type"]


def _check_ah(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str) -> None:
    """keepalived's AH rules: IPv4 only; and a router that does not own the addresses must hear
    an advert (its sequence number) before taking over, so it cannot start as MASTER."""
    if values.get("auth_type") != "AH":
        return
    if values["family"] == 6:
        p.warning(last_line(st, "authentication"), 0, ctx, "authentication ignored: AH cannot be used with IPv6")
        del values["auth_pass"], values["auth_type"]
    elif values.get("state") == "MASTER" and values.get("priority", 255) != 255:
        p.warning(last_line(st, "state"), 1, ctx, "initial state MASTER is incompatible with AH authentication; BACKUP")
        values["state"] = "BACKUP"


def _check_advert_int(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str) -> None:
    advert = values.get("advert_int")
    if advert is None:
        return
    line = last_line(st, "advert_int")
    if values["version"] == 2:
        if advert < 1 or advert != int(advert):
            p.error(
                line,
                1,
                ctx,
                f"advert_int '{line.words[1]}' must be a whole number of seconds in [1, 255] with VRRPv2",
            )
            del values["advert_int"]
    elif not 0.01 <= advert <= 40.95:
        p.error(line, 1, ctx, f"advert_int '{line.words[1]}' outside range [0.01, 40.95] for VRRPv3")
        del values["advert_int"]
    else:
        values["advert_int"] = round(advert, 2)


def _check_preemption(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str) -> None:
    """keepalived's warnings: an instance starting as MASTER always preempts (the VRRP machine
    ignores these settings then), and preempt_delay means nothing without preemption."""
    if values.get("state") == "MASTER":
        for key in ("nopreempt", "preempt_delay"):
            if values.get(key):
                p.warning(last_line(st, key), 0, ctx, f"{key} will not work with initial state MASTER; ignored")
    elif values.get("nopreempt") and values.get("preempt_delay"):
        p.warning(last_line(st, "preempt_delay"), 0, ctx, "preempt_delay is incompatible with nopreempt; ignored")


def _drop_own_interface_tracking(p: ParseState, values: dict[str, Any], ctx: str) -> None:
    """An instance always tracks its own interface; keepalived drops an explicit entry for it."""
    tracked = values.get("track_interface", ())
    own = [entry for entry in tracked if entry.name == values["interface"]]
    for entry in own:
        p.report.warning(
            entry.where, "track_interface", f"{ctx}: ignoring track_interface {entry.name} since own interface"
        )
    if own:
        values["track_interface"] = tuple(entry for entry in tracked if entry.name != values["interface"])
