"""``bfd_instance NAME { ... }``: one BFD session, with keepalived 2.2.7's keywords, ranges and
end-of-block checks (a neighbour is required, source and neighbour of one family, no two
instances on the same source/neighbour pair, ``max_hops`` no more than ``ttl``)."""

from __future__ import annotations

from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import INVALID, Blocks, ParseState, Table, address, flag, integer

NAME_MAX = 31  # keepalived's BFD_INAME_MAX - 1
SENSIBLE_MS = 10000  # keepalived notes larger intervals as not sensible
MAX_MS = 0xFFFFFFFF // 1000  # microseconds on the wire, in 32 bits


def _millis(lo: float) -> Any:
    """``<DECIMAL>`` milliseconds (microsecond resolution) in [lo, MAX_MS] -> seconds."""

    def convert(p: ParseState, st: Stmt, ctx: str) -> Any:
        value = p.parse_float(st, ctx, 1, lo, MAX_MS)
        if value is INVALID:
            return INVALID
        if value > SENSIBLE_MS:
            p.info(st, ctx, f"{st.words[0]} value {st.words[1]} is larger than max sensible ({SENSIBLE_MS})")
        return round(value * 1000) / 1_000_000

    return convert


def _weight(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``weight <-253..253> [reverse]``: track_bfd's default weight."""
    value = p.parse_int(st, ctx, 1, -253, 253, name="weight")
    if value is INVALID:
        return
    values["weight"] = value
    if len(st.words) > 2:
        if st.words[2] == "reverse":
            values["weight_reverse"] = True
        else:
            p.error(st, 2, ctx, f"unknown weight option '{st.words[2]}'")
        p.extra_words(st, ctx, 3)


def _event_target(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``vrrp`` / ``checker``: send this session's events only to the processes listed."""
    p.extra_words(st, ctx, 1)
    values.setdefault("_targets", set()).add(st.words[0])


BFD_SETTINGS: Table = {
    "neighbor_ip": ("neighbor_ip", address),
    "neighbour_ip": ("neighbor_ip", address),
    "source_ip": ("source_ip", address),
    "min_rx": ("min_rx", _millis(1)),
    "min_tx": ("min_tx", _millis(1)),
    "idle_tx": ("idle_tx", _millis(1000)),
    "multiplier": ("multiplier", integer(1, 255)),
    "passive": ("passive", flag),
    "ttl": ("ttl", integer(1, 255)),
    "hoplimit": ("ttl", integer(1, 255)),
    "max_hops": ("max_hops", integer(-1, 255)),
}
BFD_BLOCKS: Blocks = {"weight": _weight, "vrrp": _event_target, "checker": _event_target}


def bfd_instance(p: ParseState, st: Stmt) -> None:
    name = p.named(st, p.bfd_instances, "bfd_instance")
    if name is None:
        return
    if len(name) > NAME_MAX:
        p.error(st, 1, "", f"bfd_instance name {name} is too long (at most {NAME_MAX} characters); ignored")
        return
    ctx = f"bfd_instance {name}"
    values: dict[str, Any] = {}
    p.walk(st, ctx, values, BFD_SETTINGS, BFD_BLOCKS)
    targets = values.pop("_targets", None)
    if targets:
        values["vrrp"], values["checker"] = "vrrp" in targets, "checker" in targets
    nbr = values.get("neighbor_ip")
    if nbr is None:
        p.error(st, 0, ctx, "no neighbor_ip address set, disabling instance")
        return
    src = values.get("source_ip")
    if src is not None and src.version != nbr.version:
        p.error(st, 0, ctx, f"source address {src} and neighbor address {nbr} are not of the same family, "
                "disabling instance")  # fmt: skip
        return
    for other in p.bfd_instances.values():
        if other.neighbor_ip == nbr and other.source_ip == src:
            p.error(st, 0, ctx, f"duplicate source/neighbor address {src or '-'}/{nbr} (bfd_instance "
                    f"{other.name}), ignoring instance")  # fmt: skip
            return
    values.setdefault("ttl", 255 if nbr.version == 4 else 64)
    if values.get("max_hops", 0) > values["ttl"]:
        p.error(st, 0, ctx, "max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit")
        values["max_hops"] = values["ttl"]
    p.bfd_instances[name] = m.BfdInstance(name, **values, where=st.where())
