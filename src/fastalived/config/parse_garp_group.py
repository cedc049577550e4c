"""Top-level ``garp_group { garp_interval S; gna_interval S; interface IF; interfaces { IF ... } }``.

keepalived's rules (vrrp_parser.c): intervals are seconds with microsecond resolution, up to
INT_MAX microseconds; one group per interface (a later group naming it again is ignored for it);
an empty ``interfaces`` block and a group without any interval are errors, the latter dropped.
keepalived also refuses names that do not exist yet or are VMACs; fastalived checks neither when
reading the file (it may be checked on another host), and paces a VMAC's GARPs by its base
interface anyway, as keepalived does, so a group naming a VMAC has no effect.
"""

from __future__ import annotations

import math

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import ParseState

MAX_INTERVAL = 2147.483647  # INT_MAX microseconds
_KEYWORDS = ("garp_interval", "gna_interval", "interface", "interfaces")


def _interval(p: ParseState, st: Stmt, ctx: str) -> float | None:
    text = st.words[1] if len(st.words) > 1 else ""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_INTERVAL:
        p.error(st, 1 if text else 0, ctx, f"garp_group {st.words[0]} '{text}' invalid")
        return None
    p.extra_words(st, ctx, 2)
    if value >= 1:
        p.info(st, ctx, f"The {st.words[0]} is very large - {text} seconds")
    return round(value, 6)


def garp_group(p: ParseState, st: Stmt) -> None:
    ctx = "garp_group"
    groups: list[m.GarpGroup] = list(p.global_values.get("garp_groups", ()))
    taken = {name for g in groups for name in g.interfaces}
    intervals: dict[str, float] = {}
    interfaces: list[str] = []

    def claim(line: Stmt, index: int, name: str) -> None:
        if name in taken:
            p.error(line, index, ctx, f"garp_group already specified for {name} - ignoring")
            return
        taken.add(name)
        interfaces.append(name)

    for line in p.block_lines(st, ctx):
        keyword = line.words[0]
        if keyword in ("garp_interval", "gna_interval"):
            if line.block is None and (value := _interval(p, line, ctx)) is not None:
                intervals[keyword] = value
        elif keyword == "interface" and line.block is None:
            if len(line.words) < 2:
                p.missing(line, ctx, "an interface name")
                continue
            p.extra_words(line, ctx, 2)
            claim(line, 1, line.words[1])
        elif keyword == "interfaces":
            names = [(child, index) for child in p.block_lines(line, ctx) for index in range(len(child.words))]
            if line.block is not None and not names:
                p.error(line, 0, ctx, "Warning - empty garp_group interfaces block")
            for child, index in names:
                claim(child, index, child.words[index])
        else:
            p.unknown(line, ctx, (_KEYWORDS,), {})
    if not intervals:
        p.error(st, 0, ctx, f"garp group {len(groups) + 1} does not have any delay set - removing")
        return
    garp, gna = intervals.get("garp_interval"), intervals.get("gna_interval")
    groups.append(m.GarpGroup(garp, gna, tuple(interfaces), st.where()))
    p.global_values["garp_groups"] = tuple(groups)
