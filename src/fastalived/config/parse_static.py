"""``static_ipaddress`` and ``static_routes``, and the address/route line grammar the VRRP
sections (``virtual_ipaddress``, ``virtual_routes``) share with them."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import INVALID, ParseState

# Route types ``ip route`` accepts, with their kernel numbers (``RTN_*``).
ROUTE_TYPES = {
    "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5,
    "blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10,
}  # fmt: skip
ROUTE_TABLES = {"main": 254, "local": 255, "default": 253}
# Address flags taken without a value; only no_track changes what fastalived does.
ADDRESS_FLAGS = ("no_track", "home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "use_vmac")
# Words that start a route option, so they cannot be the destination.
ROUTE_OPTIONS = ("src", "via", "gw", "dev", "oif", "table", "metric", "scope", "proto", "protocol")


def ip_address_spec(p: ParseState, st: Stmt, ctx: str) -> m.IPAddressSpec | None:
    """``ADDR[/PREFIX] [brd ADDR] [dev IF] [scope S] [label L] [peer ADDR] [no_track] ...``."""
    words = st.words
    interface = _interface(p, st, ctx, 0, words[0])
    if interface is None:
        return None
    fields: dict[str, Any] = {}
    i = 1
    n = len(words)
    while i < n:
        option = words[i]
        if option in ADDRESS_FLAGS:
            if option in ("no_track", "use_vmac"):
                fields[option] = True
            i += 1
            continue
        if i + 1 >= n:
            p.error(st, i, ctx, f"{option} needs a value")
            break
        value = words[i + 1]
        if option in ("brd", "broadcast"):
            brd = _broadcast(interface, value) if value in ("+", "-") else p.parse_address(st, ctx, i + 1, value)
            if brd is not INVALID and brd is not None:
                fields["brd"] = brd
        elif option == "dev":
            fields["dev"] = value
        elif option == "scope":
            fields["scope"] = value
        elif option == "label":
            fields["label"] = value
        elif option == "peer":
            peer = _interface(p, st, ctx, i + 1, value)
            if peer is not None:
                fields["peer"] = peer
        elif option == "preferred_lft":
            pass
        else:
            p.warning(st, i, ctx, f"unknown address option '{option}'")
            i += 1
            continue
        i += 2
    return m.IPAddressSpec(address=interface, where=st.where(), **fields)


def _broadcast(interface: m.IPInterface, sign: str) -> m.IPAddress | None:
    """``brd +``/``brd -`` as ``ip`` reads them: host bits all ones/zeros (IPv4 only)."""
    if interface.version != 4:
        return None
    return interface.network.broadcast_address if sign == "+" else interface.network.network_address


def _interface(p: ParseState, st: Stmt, ctx: str, index: int, text: str) -> m.IPInterface | None:
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        p.error(st, index, ctx, f"invalid IP address/prefix '{text}'")
        return None


def route_spec(p: ParseState, st: Stmt, ctx: str) -> m.RouteSpec | None:
    """``[TYPE] [src ADDR] DST|default [via|gw ADDR] [dev IF] [metric N] [table N] ...``."""
    words = st.words
    fields: dict[str, Any] = {}
    dst_seen = False
    i = 0
    n = len(words)
    while i < n:
        word = words[i]
        if not dst_seen and word in ROUTE_TYPES:
            fields["type"] = word
            i += 1
            continue
        if word in ("no_track", "onlink"):
            if word == "no_track":
                fields["no_track"] = True
            i += 1
            continue
        if word == "nexthop":
            nexthops = _nexthops(p, st, ctx, i)
            if nexthops is None:
                return None
            fields["nexthops"] = nexthops
            break
        if not dst_seen and word not in ROUTE_OPTIONS:
            if word == "default":
                fields["dst"] = None
            else:
                try:
                    fields["dst"] = ipaddress.ip_network(word, strict=False)
                except ValueError:
                    p.error(st, i, ctx, f"invalid route destination '{word}'")
                    return None
            dst_seen = True
            i += 1
            continue
        if i + 1 >= n:
            p.error(st, i, ctx, f"route option '{word}' needs a value")
            return None
        value = words[i + 1]
        if word in ("via", "gw", "src"):
            if word == "gw":
                p.info(st, ctx, "'gw' for routes is deprecated; use 'via'")
            address = p.parse_address(st, ctx, i + 1, value)
            if address is INVALID:
                return None
            fields["src" if word == "src" else "via"] = address
        elif word in ("dev", "oif"):
            fields["dev"] = value
        elif word in ("metric", "preference", "priority"):
            metric = p.parse_int(st, ctx, i + 1, 0, 4294967295, name="metric")
            if metric is not INVALID:
                fields["metric"] = metric
        elif word == "table":
            table = ROUTE_TABLES.get(value)
            if table is None:
                table = p.parse_int(st, ctx, i + 1, 0, 4294967295, name="table")
            if table is not INVALID:
                fields["table"] = table
        elif word == "scope":
            fields["scope"] = value
        elif word in ("proto", "protocol"):
            fields["proto"] = value
        elif word == "or":
            p.warning(st, i, ctx, "'or' for routes is deprecated and not supported; alternative ignored")
        else:
            p.info(st, ctx, f"route option '{word}' is not supported by fastalived; ignored")
        i += 2
    if not dst_seen:
        p.error(st, 0, ctx, "route has no destination")
        return None
    dst = fields.get("dst")
    hops = [hop.via for hop in fields.get("nexthops", ()) if hop.via is not None]
    family_from = dst or fields.get("via") or fields.get("src") or (hops[0] if hops else None)
    fields["family"] = family_from.version if family_from is not None else 4
    for key in ("via", "src"):
        if key in fields and fields[key].version != fields["family"]:
            p.error(st, 0, ctx, f"route {key} {fields[key]} is not in the destination's address family")
            return None
    if any(via.version != fields["family"] for via in hops):
        p.error(st, 0, ctx, "nexthop address is not in the route's address family")
        return None
    if hops and "via" in fields:
        p.error(st, 0, ctx, "a route takes either 'via' or 'nexthop's, not both")
        return None
    return m.RouteSpec(where=st.where(), **{"dst": None, **fields})


# Nexthop options of ``ip route`` that fastalived does not program.
_NEXTHOP_UNSUPPORTED = {"encap": "lightweight tunnel encapsulation", "realms": "realms", "as": "NAT"}


def _nexthops(p: ParseState, st: Stmt, ctx: str, i: int) -> tuple[m.NextHop, ...] | None:
    """``nexthop [via [inet|inet6] ADDR] [dev IF] [weight 1-256] [onlink] nexthop ...`` to the end of
    the line, as keepalived: anything after the first ``nexthop`` belongs to a nexthop."""
    words = st.words
    n = len(words)
    hops: list[m.NextHop] = []
    while i < n:
        if words[i] != "nexthop":
            p.error(st, i, ctx, f"route has trailing nonsense after nexthops - {words[i]}")
            return None
        i += 1
        hop: dict[str, Any] = {}
        while i < n and words[i] != "nexthop":
            option = words[i]
            if option == "onlink":
                hop["onlink"] = True
                i += 1
                continue
            if option in _NEXTHOP_UNSUPPORTED:
                p.warning(st, i, ctx, f"nexthop option '{option}' ({_NEXTHOP_UNSUPPORTED[option]}) is not"
                          " supported by fastalived; route ignored")  # fmt: skip
                return None
            if option not in ("via", "dev", "weight"):
                p.error(st, i, ctx, f"unknown nexthop option '{option}'")
                return None
            if option == "via" and i + 1 < n and words[i + 1] in ("inet", "inet6"):
                i += 1  # the family comes from the address itself
            if i + 1 >= n:
                p.error(st, i, ctx, f"nexthop option '{option}' needs a value")
                return None
            if option == "via":
                via = p.parse_address(st, ctx, i + 1)
                if via is INVALID:
                    return None
                hop["via"] = via
            elif option == "dev":
                hop["dev"] = words[i + 1]
            else:
                weight = p.parse_int(st, ctx, i + 1, 1, 256, name="nexthop weight")
                if weight is INVALID:
                    return None
                hop["weight"] = weight
            i += 2
        if "via" not in hop and "dev" not in hop:
            p.error(st, i - 1, ctx, "nexthop needs 'via' or 'dev'")
            return None
        hops.append(m.NextHop(**hop))
    return tuple(hops)


def address_list(p: ParseState, st: Stmt, ctx: str) -> list[m.IPAddressSpec]:
    ctx = f"{ctx}: {st.words[0]}" if ctx else st.words[0]
    specs = (ip_address_spec(p, line, ctx) for line in p.block_lines(st, ctx))
    return [spec for spec in specs if spec is not None]


def route_list(p: ParseState, st: Stmt, ctx: str) -> list[m.RouteSpec]:
    ctx = f"{ctx}: {st.words[0]}" if ctx else st.words[0]
    routes = (route_spec(p, line, ctx) for line in p.block_lines(st, ctx))
    return [route for route in routes if route is not None]


def static_ipaddress(p: ParseState, st: Stmt) -> None:
    p.static_ipaddress.extend(address_list(p, st, ""))


def static_routes(p: ParseState, st: Stmt) -> None:
    p.static_routes.extend(route_list(p, st, ""))
