"""Keywords around VMACs that other modules merge into their tables: ``vrrp_garp_extra_if`` (and
its deprecated spelling ``vrrp_vmac_garp_intvl``) in global_defs, ``garp_extra_if`` /
``vmac_garp_intvl`` in vrrp_instance, with keepalived's inheritance rule (:func:`finish_extra_if`).

keepalived's ranges differ on purpose: the global keyword needs 1..86400 seconds, the instance one
accepts 0 (off, overriding the global default).
"""

from __future__ import annotations

from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import ParseState

MAX_EXTRA_IF_INTERVAL = 86400
_DEPRECATED = {"vrrp_vmac_garp_intvl": "vrrp_garp_extra_if", "vmac_garp_intvl": "garp_extra_if"}


def _extra_if(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any], prefix: str, lo: int) -> None:
    """``[SECONDS] [all]`` in any order; as keepalived, an ``all`` read before a bad word stays."""
    keyword = st.words[0]
    if keyword in _DEPRECATED:
        p.warning(st, 0, ctx, f'Keyword "{keyword}" is deprecated - please use "{_DEPRECATED[keyword]}"')
    delay: int | None = None
    for index in range(1, len(st.words)):
        text = st.words[index]
        if text == "all":
            values[f"{prefix}garp_extra_if_all"] = True
            continue
        value = int(text) if text.isdigit() else -1
        if not lo <= value <= MAX_EXTRA_IF_INTERVAL:
            p.error(st, index, ctx, f"{keyword} '{text}' invalid - ignoring")
            return
        delay = value
    if delay is None:
        p.error(st, 0, ctx, f"{keyword} specified without time - ignoring")
        return
    values[f"{prefix}garp_extra_if"] = delay


def global_extra_if(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """global_defs ``vrrp_garp_extra_if [1..86400] [all]``."""
    _extra_if(p, st, ctx, values, "vrrp_", 1)


def instance_extra_if(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """vrrp_instance ``garp_extra_if [0..86400] [all]``."""
    _extra_if(p, st, ctx, values, "", 0)


GLOBAL_EXTRA_BLOCKS = {"vrrp_garp_extra_if": global_extra_if, "vrrp_vmac_garp_intvl": global_extra_if}
INSTANCE_EXTRA_BLOCKS = {"garp_extra_if": instance_extra_if, "vmac_garp_intvl": instance_extra_if}


def finish_extra_if(values: dict[str, Any], g: m.GlobalDefs) -> None:
    """keepalived's vrrp_complete_instance: an instance without its own time takes the global one,
    and the global ``all`` with it."""
    if "garp_extra_if" not in values:
        values["garp_extra_if"] = g.vrrp_garp_extra_if
        if g.vrrp_garp_extra_if_all:
            values["garp_extra_if_all"] = True
