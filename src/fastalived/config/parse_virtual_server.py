"""``virtual_server_group``, ``virtual_server`` and ``real_server``: keyword tables, handlers, and the
final pass that applies inheritance (virtual_server -> real_server -> checker), keepalived's port
corrections and quorum checks. The checkers and ``track_file`` are in ``parse_checkers``,
``fastalived_announce`` in ``parse_announce``."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from fastalived.config import model as m
from fastalived.config.keywords import ignored_at
from fastalived.config.lexer import Stmt
from fastalived.config.parse_announce import fastalived_announce, finish_announce
from fastalived.config.parse_checkers import CHECKER_BLOCKS, INHERITABLE, INHERITED, finish_checker
from fastalived.config.parse_core import (
    INVALID,
    Blocks,
    Handler,
    ParseState,
    Table,
    address,
    choice,
    flag,
    integer,
    script,
    suggest,
    word,
)

_IP_FAMILIES = choice(("inet", "inet6"))
SCHED_FLAGS = ("flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback")
SCHED_FLAG_ALIASES = {"hashed": "flag-1"}

VS_IGNORED = ignored_at("virtual_server")
RS_IGNORED = ignored_at("virtual_server/real_server")


# =========================================================================== handlers


def _lvs_method(p: ParseState, st: Stmt, ctx: str) -> Any:
    if len(st.words) < 2:
        return p.missing(st, ctx)
    method = st.words[1].upper()
    if method not in m.LVS_METHODS:
        p.error(st, 1, ctx, f"{st.words[0]} '{st.words[1]}' is not one of NAT|DR|TUN" + suggest(method, m.LVS_METHODS))
        return INVALID
    return method


TUNNEL_TYPES = ("ipip", "gue", "gre")
TUNNEL_CHECKSUMS = ("nocsum", "csum", "remcsum")


def _tunnel(p: ParseState, st: Stmt, ctx: str) -> Any:
    """The options after ``TUN``: ``[type ipip|gue|gre] [port N] [nocsum|csum|remcsum]``, with keepalived's
    checks (gue needs a port and only gue has one; ipip has no checksum option; gre no remcsum)."""
    values: dict[str, Any] = {}
    index = 2
    while index < len(st.words):
        option = st.words[index]
        if option in ("type", "port") and index + 1 == len(st.words):
            p.error(st, index, ctx, f"tunnel {option} needs a value")
            return INVALID
        if option == "type":
            if st.words[index + 1] not in TUNNEL_TYPES:
                p.error(st, index + 1, ctx, f"unknown tunnel type '{st.words[index + 1]}' (ipip|gue|gre)")
                return INVALID
            values["type"] = st.words[index + 1]
            index += 2
        elif option == "port":
            port = p.parse_int(st, ctx, index + 1, 1, 65535, name="tunnel port")
            if port is INVALID:
                return INVALID
            values["port"] = port
            index += 2
        elif option in TUNNEL_CHECKSUMS:
            values["checksum"] = option
            index += 1
        else:
            p.error(st, index, ctx, f"invalid tunnel option '{option}'")
            return INVALID
    tunnel = m.Tunnel(**values)
    problem = None
    if (tunnel.type == "gue") != (tunnel.port != 0):
        problem = "gue tunnels require port, otherwise cannot have port"
    elif tunnel.type == "ipip" and tunnel.checksum != "nocsum":
        problem = "ipip tunnels do not support checksum option"
    elif tunnel.type == "gre" and tunnel.checksum == "remcsum":
        problem = "gre tunnels do not support remote checksum option"
    if problem is not None:
        p.error(st, 2, ctx, problem)
        return INVALID
    return tunnel


def _forwarding(method_field: str, tunnel_field: str) -> Handler:
    """``lvs_method``/``lb_kind NAT|DR|TUN [tunnel options]``: the method and, for TUN, its tunnel."""

    def handle(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        method = _lvs_method(p, st, ctx)
        tunnel = _tunnel(p, st, ctx) if method is not INVALID else INVALID
        if tunnel is not INVALID:
            values[method_field] = method
            values[tunnel_field] = tunnel if method == "TUN" else None

    return handle


def _ip_family(p: ParseState, st: Stmt, ctx: str) -> Any:
    family = _IP_FAMILIES(p, st, ctx)
    return family if family is INVALID else (6 if family == "inet6" else 4)


def _persistence_timeout(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    if len(st.words) == 1:
        values["persistence_timeout"] = 360
        return
    timeout = p.parse_int(st, ctx, 1, 1, 2678400)
    if timeout is not INVALID:
        values["persistence_timeout"] = timeout


def _sched_flag(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    sched_flag = SCHED_FLAG_ALIASES.get(st.words[0], st.words[0])
    if sched_flag not in values.get("sched_flags", ()):
        values["sched_flags"] = values.get("sched_flags", ()) + (sched_flag,)


def _server_address(p: ParseState, st: Stmt, ctx: str) -> tuple[m.IPAddress, int | None] | None:
    if len(st.words) < 2:
        p.missing(st, ctx, "an IP address")
        return None
    server = p.parse_address(st, ctx, 1)
    if server is INVALID:
        return None
    port = None
    if len(st.words) > 2:
        port = p.parse_port(st, ctx, 2)
        if port is INVALID:
            return None
    p.extra_words(st, ctx, 3)
    return server, port


def _sorry_server(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    target = _server_address(p, st, ctx)
    if target is not None:
        values["sorry_server"] = m.SorryServer(target[0], target[1], where=st.where())


def _real_server(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    target = _server_address(p, st, ctx)
    if target is None:
        return
    rs_ctx = f"{ctx}: real_server {' '.join(st.words[1:])}"
    rs: dict[str, Any] = {"_address": target[0], "_port": target[1], "_checkers": []}
    p.walk(st, rs_ctx, rs, RS_SETTINGS, RS_BLOCKS, RS_IGNORED)
    values["_real_servers"].append((st, rs))


# =========================================================================== keyword tables
VS_SETTINGS: Table = {
    **INHERITABLE,
    "lvs_sched": ("lvs_sched", choice(m.SCHEDULERS)),
    "lb_algo": ("lvs_sched", choice(m.SCHEDULERS)),
    "persistence_granularity": ("persistence_granularity", address),
    "persistence_engine": ("persistence_engine", word),
    "protocol": ("protocol", choice(("TCP", "UDP", "SCTP"), upper=True)),
    "ha_suspend": ("ha_suspend", flag),
    "ops": ("ops", flag),
    "virtualhost": ("virtualhost", word),
    "sorry_server_inhibit": ("sorry_server_inhibit", flag),
    "quorum": ("quorum", integer(0, 2147483647)),
    "hysteresis": ("hysteresis", integer(0, 2147483647)),
    "quorum_up": ("quorum_up", script),
    "quorum_down": ("quorum_down", script),
    "omega": ("omega", flag),
    "inhibit_on_failure": ("inhibit_on_failure", flag),
    "smtp_alert": ("smtp_alert", flag),
    "ip_family": ("family", _ip_family),
    "weight": ("_rs_weight", integer(1, 2147483647)),  # the default weight of its real servers
}
VS_BLOCKS: Blocks = {
    "real_server": _real_server,
    "sorry_server": _sorry_server,
    "sorry_server_lvs_method": _forwarding("_sorry_method", "_sorry_tunnel"),
    "lvs_method": _forwarding("lvs_method", "tunnel"),
    "lb_kind": _forwarding("lvs_method", "tunnel"),
    "persistence_timeout": _persistence_timeout,
    **{sched_flag: _sched_flag for sched_flag in (*SCHED_FLAGS, *SCHED_FLAG_ALIASES)},
    "fastalived_announce": fastalived_announce,
}
RS_SETTINGS: Table = {
    **INHERITABLE,
    "weight": ("weight", integer(0, 2147483647)),
    "notify_up": ("notify_up", script),
    "notify_down": ("notify_down", script),
    "uthreshold": ("uthreshold", integer(0, 2147483647)),
    "lthreshold": ("lthreshold", integer(0, 2147483647)),
    "smtp_alert": ("smtp_alert", flag),
    "virtualhost": ("virtualhost", word),
    "inhibit_on_failure": ("inhibit_on_failure", flag),
}
RS_BLOCKS: Blocks = {"lvs_method": _forwarding("lvs_method", "tunnel"), **CHECKER_BLOCKS}


# =========================================================================== sections


def virtual_server_group(p: ParseState, st: Stmt) -> None:
    name = p.named(st, p.vs_groups, "virtual_server_group")
    if name is None:
        return
    ctx = f"virtual_server_group {name}"
    members = []
    for line in p.block_lines(st, ctx, header_words=2):
        member = _vsg_member(p, line, ctx)
        if member is not None:
            members.append(member)
    p.vs_groups[name] = m.VirtualServerGroup(name, tuple(members), where=st.where())


def _vsg_member(p: ParseState, line: Stmt, ctx: str) -> m.VsgMember | None:
    words = line.words
    if words[0] == "fwmark":
        mark = p.parse_int(line, ctx, 1, 1, 4294967295, name="fwmark")
        return None if mark is INVALID else m.VsgMember(fwmark=mark, where=line.where())
    text = words[0]
    first_text, _, last_text = text.partition("-")
    end = None
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=False)
            first, end = network[0], network[-1]
        else:
            first = ipaddress.ip_address(first_text)
            if last_text:
                if ("." in last_text and first.version == 4) or (":" in last_text and first.version == 6):
                    end = ipaddress.ip_address(last_text)
                else:
                    sep = "." if first.version == 4 else ":"
                    head = first_text.rsplit(sep, 1)[0]
                    end = ipaddress.ip_address(f"{head}{sep}{last_text}")
                if end.version != first.version or int(end) < int(first):
                    raise ValueError(text)
    except ValueError:
        p.error(line, 0, ctx, f"invalid address or range '{text}'")
        return None
    port = None
    if len(words) > 1:
        port = p.parse_port(line, ctx, 1)
        if port is INVALID:
            return None
    return m.VsgMember(address=first, range_end=end if end != first else None, port=port, where=line.where())


def virtual_server(p: ParseState, st: Stmt) -> None:
    words = st.words
    head = " ".join(words[1:])
    ctx = f"virtual_server {head}"
    values: dict[str, Any] = {"_real_servers": []}
    if len(words) < 2:
        p.error(st, 0, "", "virtual_server needs IP PORT, 'fwmark N' or 'group NAME'")
        return
    if words[1] == "fwmark":
        mark = p.parse_int(st, ctx, 2, 1, 4294967295, name="fwmark")
        if mark is INVALID:
            return
        values["fwmark"] = mark
    elif words[1] == "group":
        if len(words) < 3:
            p.error(st, 1, "", "virtual_server group needs a name")
            return
        if words[2] not in p.vs_groups:
            p.error(st, 2, ctx, f"unknown virtual_server_group '{words[2]}'" + suggest(words[2], p.vs_groups))
        values["group"] = words[2]
    else:
        service = p.parse_address(st, ctx, 1)
        if service is INVALID:
            return
        values["address"] = service
        values["family"] = service.version
        if len(words) > 2:
            port = p.parse_port(st, ctx, 2)
            if port is not INVALID:
                values["port"] = port
    p.walk(st, ctx, values, VS_SETTINGS, VS_BLOCKS, VS_IGNORED)
    p.virtual_servers.append((st, values))


# =========================================================================== final pass


def finish_virtual_server(p: ParseState, st: Stmt, values: dict[str, Any]) -> m.VirtualServer:
    ctx = "virtual_server " + " ".join(st.words[1:])
    inherited = {key: values[key] for key in INHERITED if key in values}
    for key in ("connect_timeout", "retry", "delay_before_retry", "warmup"):  # checker-only settings
        values.pop(key, None)
    values.setdefault("smtp_alert", p.smtp_alert_default("smtp_alert_checker", False))
    group_name = values.get("group")
    group = p.vs_groups.get(group_name) if group_name is not None else None
    fwmark_only = values.get("fwmark") is not None or (
        group is not None and all(member.address is None for member in group.members)
    )
    if fwmark_only and "protocol" in values:
        p.warning(st, 0, ctx, "protocol is ignored for fwmark services")
    elif not fwmark_only and "protocol" not in values and (group_name is None or group is not None):
        # keepalived 2.2 does this (with the same warning), so the IPVS tables stay identical.
        p.warning(st, 0, ctx, "no protocol set - defaulting to UDP")
        values["protocol"] = "UDP"
    is_address = values.get("address") is not None
    port_missing = len(st.words) < 3 or values.get("port") == 0  # (an invalid port was reported already)
    if is_address and port_missing and not values.get("persistence_timeout"):
        p.warning(st, 0, ctx, "port 0 is only valid for persistent services; persistence_timeout set to 360")
        values["persistence_timeout"] = 360
    real_servers = tuple(
        _finish_real_server(p, rs_st, rs, values, inherited, ctx) for rs_st, rs in values.pop("_real_servers")
    )
    values.pop("_rs_weight", None)
    sorry, sorry_method = values.get("sorry_server"), values.pop("_sorry_method", None)
    sorry_tunnel = values.pop("_sorry_tunnel", None)
    if sorry is not None:
        method = sorry_method or values.get("lvs_method", "NAT")
        port = _forwarded_port(p, st, ctx, "sorry_server", sorry.port, method, values)
        values["sorry_server"] = dataclasses.replace(sorry, port=port, lvs_method=sorry_method, tunnel=sorry_tunnel)
    if real_servers:
        _check_quorum(p, st, ctx, values, sum(rs.weight for rs in real_servers))
    finish_announce(p, ctx, values)
    return m.VirtualServer(**values, real_servers=real_servers, where=st.where())


def _forwarded_port(
    p: ParseState,
    st: Stmt,
    ctx: str,
    what: str,
    port: int | None,
    method: str,
    vs: dict[str, Any],
    address: m.IPAddress | None = None,
) -> int | None:
    """The port IPVS will use for a real/sorry server, as keepalived corrects it.

    With NAT the server's own port counts (default: the service's). DR and TUN cannot change
    the port: it is the service's (none for fwmark services), so a different one is reset.
    ``address`` completes ``what`` in a warning (formatted only then: 10,000 real servers).
    """
    if vs.get("group") is not None:
        return port
    service_port = vs.get("port")
    if method == "NAT":
        return port if port is not None or vs.get("fwmark") is not None else service_port
    if vs.get("fwmark") is not None:
        if port:
            what = what if address is None else f"{what} {address}"
            p.warning(st, 0, ctx, f"{what} port {port} is ignored for a fwmark service with {method}")
        return None
    if port is not None and port != service_port:
        what = what if address is None else f"{what} {address}"
        p.warning(st, 0, ctx, f"{what} port {port} differs from the service port with {method}; using {service_port}")
    return service_port


def _check_quorum(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any], weight_sum: int) -> None:
    quorum = values.get("quorum", 1)
    if quorum > weight_sum:
        p.warning(st, 0, ctx, f"quorum {quorum} exceeds the real servers' total weight {weight_sum}; reduced")
        values["quorum"] = quorum = weight_sum
    hysteresis = values.get("hysteresis", 0)
    if hysteresis and hysteresis >= quorum:
        p.warning(st, 0, ctx, f"hysteresis {hysteresis} >= quorum {quorum}; set to {max(quorum - 1, 0)}")
        values["hysteresis"] = max(quorum - 1, 0)


def _finish_real_server(
    p: ParseState, st: Stmt, rs: dict[str, Any], vs: dict[str, Any], vs_inherited: dict[str, Any], vs_ctx: str
) -> m.RealServer:
    address, configured_port = rs.pop("_address"), rs.pop("_port")
    method = rs.get("lvs_method") or vs.get("lvs_method", "NAT")
    port = _forwarded_port(p, st, vs_ctx, "real_server", configured_port, method, vs, address)
    check_port = configured_port if configured_port is not None else port
    inherited = vs_inherited.copy()
    for key in INHERITED:
        if key in rs:
            inherited[key] = rs.pop(key)
    virtualhost = rs.pop("virtualhost", None) or vs.get("virtualhost")
    rs.setdefault("inhibit_on_failure", vs.get("inhibit_on_failure", False))
    rs.setdefault("weight", vs.get("_rs_weight", 1))
    rs.setdefault("smtp_alert", p.smtp_alert_default("smtp_alert_checker", True))
    checkers = tuple(
        checker
        for checker_st, kind, values in rs.pop("_checkers")
        if (checker := finish_checker(p, checker_st, kind, values, address, check_port, inherited, virtualhost))
        is not None
    )
    return m.RealServer(
        address=address, port=port, alpha=inherited.get("alpha", False), checkers=checkers, where=st.where(), **rs
    )
