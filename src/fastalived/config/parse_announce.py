"""``fastalived_announce`` (fastalived's own virtual_server block), kept apart from keepalived's keywords."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import Blocks, ParseState, Table, integer, number, suggest, word


def fastalived_announce(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``fastalived_announce { prefix P; require_master VI; metric N; drain S }`` (fastalived's own)."""
    announce: dict[str, Any] = {"_prefixes": [], "_st": st}
    p.walk(st, f"{ctx}: fastalived_announce", announce, ANNOUNCE_SETTINGS, ANNOUNCE_BLOCKS)
    values["_announce"] = announce


def _announce_prefix(p: ParseState, st: Stmt, ctx: str, announce: dict[str, Any]) -> None:
    if len(st.words) < 2:
        p.missing(st, ctx, "a prefix")
        return
    p.extra_words(st, ctx, 2)
    try:
        announce["_prefixes"].append(ipaddress.ip_network(st.words[1], strict=True))
    except ValueError as exc:
        p.error(st, 1, ctx, f"prefix '{st.words[1]}' is not a network prefix ({exc})")


def finish_announce(p: ParseState, ctx: str, values: dict[str, Any]) -> None:
    """The effective prefixes: the configured ones, else the service's own addresses."""
    announce = values.pop("_announce", None)
    if announce is None:
        return
    st = announce.pop("_st")
    prefixes = tuple(announce.pop("_prefixes")) or _service_prefixes(p, values)
    if not prefixes:
        p.error(st, 0, ctx, "fastalived_announce needs a prefix: this service has no address of its own")
        return
    instance = announce.get("require_master")
    if instance is not None and instance not in p.instances:
        p.error(st, 0, ctx, f"fastalived_announce: unknown vrrp_instance '{instance}'" + suggest(instance, p.instances))
        return
    values["announce"] = m.Announce(prefixes=prefixes, **announce, where=st.where())


def _service_prefixes(p: ParseState, values: dict[str, Any]) -> tuple[m.IPNetwork, ...]:
    """A host prefix per address of the service (group ranges as their covering prefixes)."""
    if values.get("address") is not None:
        return (ipaddress.ip_network(values["address"]),)
    group = p.vs_groups.get(values.get("group") or "")
    prefixes: list[m.IPNetwork] = []
    for member in group.members if group is not None else ():
        if member.address is None:
            continue
        last = member.range_end or member.address
        for network in ipaddress.summarize_address_range(member.address, last):
            if network not in prefixes:
                prefixes.append(network)
    return tuple(prefixes)


ANNOUNCE_SETTINGS: Table = {
    "require_master": ("require_master", word),
    "metric": ("metric", integer(0, 4294967295)),
    "drain": ("drain", number(0, 3600)),
}
ANNOUNCE_BLOCKS: Blocks = {"prefix": _announce_prefix}
