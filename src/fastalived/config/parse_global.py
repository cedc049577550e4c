"""``global_defs`` and ``SSL``: keyword tables and the handlers for settings with their own grammar."""

from __future__ import annotations

from typing import Any

from fastalived.config import model as m
from fastalived.config.keywords import ignored_at
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import (
    INVALID,
    POSITIVE_COUNT,
    TIMER,
    Blocks,
    ParseState,
    Table,
    address,
    flag,
    integer,
    user_and_group,
    word,
)

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
    "lvs_flush": ("lvs_flush", flag),
    "checker_log_all_failures": ("checker_log_all_failures", flag),
    "rs_init_notifies": ("rs_init_notifies", flag),
    "lvs_flush_onstop": ("lvs_flush_onstop", _flush_on_stop),
    "lvs_flush_on_stop": ("lvs_flush_onstop", _flush_on_stop),
    "fastalived_announce_table": ("announce_table", _announce_table),
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
