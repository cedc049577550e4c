"""``global_defs`` and ``SSL``: keyword tables and the handlers for settings with their own grammar."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from fastalived.config import model as m
from fastalived.config.keywords import ignored_at
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import (
    COUNT,
    INVALID,
    POSITIVE_COUNT,
    TIMER,
    Blocks,
    ParseState,
    Table,
    address,
    flag,
    integer,
    number,
    user_and_group,
    word,
)
from fastalived.config.parse_vmac_extras import GLOBAL_EXTRA_BLOCKS

RESERVED_TABLES = frozenset({253, 254, 255})  # default, main, local (rtnetlink.h)

GLOBAL_IGNORED = ignored_at("global_defs")


# =========================================================================== handlers


def _notification_email(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    if st.block is None and len(st.words) > 1:
        emails = st.words[1:]
    else:
        emails = [w for line in p.block_lines(st, ctx) for w in line.words]
    values["notification_email"] = values.get("notification_email", ()) + tuple(emails)


def _smtp_server(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    if len(st.words) < 2:
        p.missing(st, ctx, "a host")
        return
    values["smtp_server"] = st.words[1]
    if len(st.words) > 2:
        port = p.parse_port(st, ctx, 2)
        if port is not INVALID:
            values["smtp_port"] = port


# lvs_sync_daemon option -> (LvsSyncDaemon field, lowest, highest)
_SYNC_DAEMON_LIMITS = {
    "id": ("sync_id", 0, 255),
    "maxlen": ("maxlen", 1, 65507),
    "port": ("port", 1, 65535),
    "ttl": ("ttl", 1, 255),
}


def _lvs_sync_daemon(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    if len(st.words) < 2:
        p.missing(st, ctx, "an interface")
        return
    fields: dict[str, Any] = {"interface": st.words[1], "vrrp_instance": None}
    i = 2
    if i < len(st.words) and st.words[i] not in ("id", "maxlen", "port", "ttl", "group"):
        fields["vrrp_instance"] = st.words[i]
        i += 1
    while i < len(st.words):
        option = st.words[i]
        if i + 1 >= len(st.words):
            p.error(st, i, ctx, f"lvs_sync_daemon: '{option}' needs a value")
            break
        if option in _SYNC_DAEMON_LIMITS:
            field_name, lo, hi = _SYNC_DAEMON_LIMITS[option]
            value = p.parse_int(st, ctx, i + 1, lo, hi, name=f"lvs_sync_daemon {option}")
        elif option == "group":
            field_name, value = "group", p.parse_address(st, ctx, i + 1)
        else:
            p.warning(st, i, ctx, f"lvs_sync_daemon: unknown option '{option}'")
            i += 1
            continue
        if value is not INVALID:
            fields[field_name] = value
        i += 2
    values["lvs_sync_daemon"] = m.LvsSyncDaemon(**fields, where=st.where())


def _lvs_timeouts(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    fields: dict[str, Any] = {}
    i = 1
    while i < len(st.words):
        option = st.words[i]
        if option not in ("tcp", "tcpfin", "udp") or i + 1 >= len(st.words):
            p.error(st, i, ctx, f"lvs_timeouts: expected 'tcp|tcpfin|udp SECONDS', got '{option}'")
            break
        value = p.parse_int(st, ctx, i + 1, 0, 2147483647, name=f"lvs_timeouts {option}")
        if value is not INVALID:
            fields[option] = value
        i += 2
    values["lvs_timeouts"] = m.LvsTimeouts(**fields, where=st.where())


def _smtp_alert_default(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """Global ``smtp_alert[_checker|_vrrp]``: not GlobalDefs fields but the sections' defaults."""
    enabled = flag(p, st, ctx)
    if enabled is not INVALID:
        p.alert_defaults[st.words[0]] = enabled


def _status_listen(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    if len(st.words) != 3:
        p.error(st, 0, ctx, "fastalived_status_listen needs ADDRESS PORT")
        return
    listen_address = p.parse_address(st, ctx, 1)
    port = p.parse_int(st, ctx, 2, 1, 65535, name="port")
    if listen_address is not INVALID and port is not INVALID:
        values["status_listen"] = (str(listen_address), port)


def _announce_table(p: ParseState, st: Stmt, ctx: str) -> Any:
    """A routing table id; not one of the kernel's own (253 default, 254 main, 255 local)."""
    table = p.parse_int(st, ctx, 1, 1, 4294967295, name="fastalived_announce_table")
    if table in RESERVED_TABLES:
        p.error(st, 1, ctx, f"fastalived_announce_table {table} is a table of the kernel's own")
        return INVALID
    return table


def _flush_on_stop(p: ParseState, st: Stmt, ctx: str) -> Any:
    """``lvs_flush_on_stop [VS]``: bare, flush the whole IPVS table at stop; ``VS``, remove just the
    configured services, which fastalived's stop does anyway (so: no full flush)."""
    if len(st.words) == 2 and st.words[1] == "VS":
        return False
    return flag(p, st, ctx)


NFT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9/_.-]*")  # nft's identifier (quoted names are not accepted)


def _nftables_table(p: ParseState, st: Stmt, ctx: str) -> Any:
    """``nftables [NAME]``: the accept-mode table's name; bare, fastalived's own default."""
    if len(st.words) < 2:
        return None
    p.extra_words(st, ctx, 2)
    name = st.words[1]
    if len(name) > 255 or not NFT_NAME.fullmatch(name):
        p.error(st, 1, ctx, f"nftables table name '{name}' is not an nft identifier of at most 255 characters")
        return INVALID
    return name


def _min_garp(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``vrrp_min_garp [<BOOL>]``: one GARP, no delayed burst, no refresh; like keepalived it
    only changes the settings still at their defaults when it is read."""
    if flag(p, st, ctx) is not True:
        return
    for key, default, minimal in _MIN_GARP:
        if values.get(key, default) == default:
            values[key] = minimal


# global_defs key, its default, its value under vrrp_min_garp
_MIN_GARP = (
    ("vrrp_garp_master_repeat", 5, 1),
    ("vrrp_garp_master_delay", 5.0, 0.0),
)


def _startup_shutdown_script(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``startup_script|shutdown_script SCRIPT [username [groupname]]``: one of each, as keepalived."""
    keyword = st.words[0]
    if len(st.words) < 2:
        p.missing(st, ctx, "a script")
        return
    if keyword in values:
        p.error(st, 0, ctx, f"{keyword.split('_')[0]} script already specified")
        return
    values[keyword] = st.words[1]
    if len(st.words) > 2:
        values[f"{keyword}_user"] = st.words[2]
    if len(st.words) > 3:
        values[f"{keyword}_group"] = st.words[3]
    p.extra_words(st, ctx, 4)


def _notify_fifo(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``[vrrp_|lvs_]notify_fifo PATH [username [groupname]]`` and ``..._notify_fifo_script CMD
    [username [groupname]]``, in either order; the first of each wins, as in keepalived."""
    keyword = st.words[0]
    is_script = keyword.endswith("_script")
    key = keyword.removesuffix("_script")
    if len(st.words) < 2:
        p.missing(st, ctx, "a script" if is_script else "a FIFO path")
        return
    current = values.get(key) or m.NotifyFifo()
    if current.script if is_script else current.path:
        p.error(st, 1, ctx, f"{keyword} already specified - ignoring {st.words[1]}")
        return
    p.extra_words(st, ctx, 4)
    user = st.words[2] if len(st.words) > 2 else None
    group = st.words[3] if len(st.words) > 3 else None
    if is_script:
        values[key] = replace(current, script=st.words[1], script_user=user, script_group=group)
    else:
        values[key] = replace(current, path=st.words[1], user=user, group=group)


_UMASK_BITS = {
    f"I{perm}{who}": bit << shift
    for perm, bit in (("R", 4), ("W", 2), ("X", 1))
    for who, shift in (("USR", 6), ("GRP", 3), ("OTH", 0))
}


def _umask(p: ParseState, st: Stmt, ctx: str) -> Any:
    """``umask NUMBER|BITS``: a number in hex, octal or decimal (C ``strtol`` base 0), or
    ``I{R|W|X}{USR|GRP|OTH}`` names joined by ``|``."""
    text = "".join(st.words[1:])
    if not text:
        return p.missing(st, ctx)
    try:
        if text[0].isdigit():
            value = int(text, 16) if text.lower().startswith("0x") else int(text, 8 if text.startswith("0") else 10)
        else:
            value = 0
            for name in text.split("|"):
                value |= _UMASK_BITS[name]
    except (KeyError, ValueError):
        p.error(st, 1, ctx, f"invalid umask '{text}'")
        return INVALID
    if not 0 <= value <= 0o777:
        p.error(st, 1, ctx, f"umask '{text}' is out of range")
        return INVALID
    return value


# =========================================================================== keyword tables

GLOBAL_SETTINGS: Table = {
    "notification_email_from": ("notification_email_from", word),
    "smtp_helo_name": ("smtp_helo_name", word),
    "smtp_connect_timeout": ("smtp_connect_timeout", TIMER),
    "router_id": ("router_id", word),
    "lvs_id": ("router_id", word),
    "enable_script_security": ("enable_script_security", flag),
    "vrrp_version": ("vrrp_version", integer(2, 3)),
    "vrrp_strict": ("vrrp_strict", flag),
    "nftables": ("nftables_table", _nftables_table),
    "nftables_priority": ("nftables_priority", integer(-2147483648, 2147483647)),
    "nftables_ifindex": ("nftables_ifindex", flag),
    "nftables_counters": ("nftables_counters", flag),
    "vrrp_mcast_group4": ("vrrp_mcast_group4", address),
    "vrrp_mcast_group6": ("vrrp_mcast_group6", address),
    "vrrp_garp_master_delay": ("vrrp_garp_master_delay", TIMER),
    "vrrp_garp_master_repeat": ("vrrp_garp_master_repeat", POSITIVE_COUNT),
    "vrrp_garp_master_refresh": ("vrrp_garp_master_refresh", TIMER),
    "vrrp_garp_master_refresh_repeat": ("vrrp_garp_master_refresh_repeat", POSITIVE_COUNT),
    "vrrp_garp_interval": ("vrrp_garp_interval", TIMER),
    "vrrp_gna_interval": ("vrrp_gna_interval", TIMER),
    "vrrp_skip_check_adv_addr": ("vrrp_skip_check_adv_addr", flag),
    "vrrp_check_unicast_src": ("vrrp_check_unicast_src", flag),
    "v3_checksum_as_v2": ("v3_checksum_as_v2", flag),
    "vrrp_garp_lower_prio_delay": ("vrrp_garp_lower_prio_delay", integer(0, 4294)),
    "vrrp_garp_lower_prio_repeat": ("vrrp_garp_lower_prio_repeat", COUNT),
    "vrrp_down_timer_adverts": ("vrrp_down_timer_adverts", integer(1, 100)),
    "vrrp_lower_prio_no_advert": ("vrrp_lower_prio_no_advert", flag),
    "vrrp_higher_prio_send_advert": ("vrrp_higher_prio_send_advert", flag),
    "vrrp_startup_delay": ("vrrp_startup_delay", number(0.001, 4294967.0)),
    "default_interface": ("default_interface", word),
    "vmac_prefix": ("vmac_prefix", word),
    "lvs_flush": ("lvs_flush", flag),
    "checker_log_all_failures": ("checker_log_all_failures", flag),
    "rs_init_notifies": ("rs_init_notifies", flag),
    "lvs_flush_onstop": ("lvs_flush_onstop", _flush_on_stop),
    "lvs_flush_on_stop": ("lvs_flush_onstop", _flush_on_stop),
    "fastalived_announce_table": ("announce_table", _announce_table),
    "startup_script_timeout": ("startup_script_timeout", integer(1, 1000)),
    "shutdown_script_timeout": ("shutdown_script_timeout", integer(1, 1000)),
    "fifo_write_vrrp_states_on_reload": ("fifo_write_vrrp_states_on_reload", flag),
    "vrrp_notify_priority_changes": ("vrrp_notify_priority_changes", flag),
    "no_email_faults": ("no_email_faults", flag),
    "log_unknown_vrids": ("log_unknown_vrids", flag),
    "umask": ("umask", _umask),
    "disable_local_igmp": ("disable_local_igmp", flag),
}
GLOBAL_BLOCKS: Blocks = {
    "notification_email": _notification_email,
    "smtp_server": _smtp_server,
    "script_user": user_and_group("script_user", "script_group"),
    "lvs_sync_daemon": _lvs_sync_daemon,
    "lvs_timeouts": _lvs_timeouts,
    "fastalived_status_listen": _status_listen,
    "smtp_alert": _smtp_alert_default,
    "smtp_alert_checker": _smtp_alert_default,
    "smtp_alert_vrrp": _smtp_alert_default,
    "startup_script": _startup_shutdown_script,
    "shutdown_script": _startup_shutdown_script,
    "vrrp_min_garp": _min_garp,
    **GLOBAL_EXTRA_BLOCKS,
    **{f"{kind}notify_fifo{script}": _notify_fifo for kind in ("", "vrrp_", "lvs_") for script in ("", "_script")},
}
SSL_SETTINGS: Table = {
    "ca": ("ca", word),
    "certificate": ("certificate", word),
    "key": ("key", word),
    "password": ("password", word),
}


# =========================================================================== sections


def global_defs(p: ParseState, st: Stmt) -> None:
    p.global_where = st.where()
    p.walk(st, "global_defs", p.global_values, GLOBAL_SETTINGS, GLOBAL_BLOCKS, GLOBAL_IGNORED)


def _top_level_name(p: ParseState, st: Stmt, key: str, what: str) -> None:
    """``net_namespace NAME`` / ``instance NAME`` (keepalived reads them outside global_defs):
    the first one wins; NAME names a file, so no ``/``."""
    keyword = st.words[0]
    if len(st.words) < 2:
        p.error(st, 0, "", f"{keyword} name missing - ignoring")
    elif key in p.global_values:
        p.error(st, 1, "", f"Duplicate {keyword} definition {st.words[1]} - ignoring")
    elif "/" in st.words[1] or st.words[1] in (".", ".."):
        p.error(st, 1, "", f"{keyword} '{st.words[1]}' is not a {what}")
    else:
        p.extra_words(st, "", 2)
        p.global_values[key] = st.words[1]


def net_namespace(p: ParseState, st: Stmt) -> None:
    _top_level_name(p, st, "net_namespace", "namespace name")


def instance(p: ParseState, st: Stmt) -> None:
    """Top-level ``instance NAME``: several daemons in one namespace get pid files named after it."""
    _top_level_name(p, st, "instance_name", "file name")


def use_pid_dir(p: ParseState, st: Stmt) -> None:
    """Top-level ``use_pid_dir``: pid files in the run directory (/run/fastalived)."""
    p.extra_words(st, "", 1)
    p.global_values["use_pid_dir"] = True


def ssl(p: ParseState, st: Stmt) -> None:
    values: dict[str, Any] = {}
    p.walk(st, "SSL", values, SSL_SETTINGS)
    p.ssl = m.SslDefs(**values, where=st.where())


def finish_global_defs(p: ParseState) -> m.GlobalDefs:
    values = p.global_values
    for key, version in (("vrrp_mcast_group4", 4), ("vrrp_mcast_group6", 6)):
        group = values.get(key)
        if group is not None and (group.version != version or not group.is_multicast):
            p.report.error(
                p.global_where, key, f"global_defs: {key} '{group}' is not an IPv{version} multicast address"
            )
            del values[key]
    return m.GlobalDefs(**values, where=p.global_where)
