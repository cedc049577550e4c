"""How link state reaches the VRRP instances: ``interface_up_down_delays {}``,
``linkbeat_interfaces {}`` and ``linkbeat_use_polling`` (top level, and deprecated per instance),
and the instance's ``track_src_ip``.

keepalived's rules: a delay line is ``IFNAME DOWN_DELAY [UP_DELAY]`` in seconds (0..255, microsecond
resolution) and an omitted up delay is 0 (its parser, not its man page, which says "same as the
down delay"); a linkbeat line is ``IFNAME [MII|ETHTOOL|IOCTL]``; ``track_src_ip`` only means
something with a configured ``unicast_src_ip``/``mcast_src_ip`` (keepalived clears it otherwise).
"""

from __future__ import annotations

from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import Blocks, ParseState, Table, flag, last_line

MAX_DELAY = 255.0
LINKBEAT_KINDS = ("MII", "ETHTOOL", "IOCTL")


def interface_up_down_delays(p: ParseState, st: Stmt) -> None:
    """Top-level ``interface_up_down_delays { IFNAME DOWN [UP] ... }``; a later line for the same
    interface replaces the earlier one, as keepalived's per-interface fields do."""
    ctx = "interface_up_down_delays"
    delays: dict[str, m.InterfaceDelay] = {d.interface: d for d in p.global_values.get("interface_delays", ())}
    for line in p.block_lines(st, ctx):
        ifname = line.words[0]
        if len(line.words) < 2:
            p.error(line, 0, ctx, f"No timeouts specified for {ifname} up/down delays")
            continue
        p.extra_words(line, ctx, 3)
        down = _delay(p, line, 1, ctx, "down")
        up = _delay(p, line, 2, ctx, "up") if len(line.words) > 2 else 0.0
        if down is None or up is None:
            continue
        delays[ifname] = m.InterfaceDelay(ifname, down, up, where=line.where())
    p.global_values["interface_delays"] = tuple(delays.values())


def _delay(p: ParseState, st: Stmt, index: int, ctx: str, which: str) -> float | None:
    text = st.words[index]
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_DELAY:
        p.error(st, index, ctx, f"Invalid {which} delay {text} for {st.words[0]} (0..{MAX_DELAY:g} seconds)")
        return None
    return round(value, 6)


def linkbeat_interfaces(p: ParseState, st: Stmt) -> None:
    """Top-level ``linkbeat_interfaces { IFNAME [MII|ETHTOOL|IOCTL] ... }``."""
    ctx = "linkbeat_interfaces"
    chosen: dict[str, m.LinkbeatInterface] = {i.interface: i for i in p.global_values.get("linkbeat_interfaces", ())}
    for line in p.block_lines(st, ctx):
        kind = line.words[1] if len(line.words) > 1 else None
        if kind is not None and kind not in LINKBEAT_KINDS:
            p.error(line, 1, ctx, f"extra characters {kind} in linkbeat interface (MII|ETHTOOL|IOCTL)")
            kind = None
        p.extra_words(line, ctx, 2)
        chosen[line.words[0]] = m.LinkbeatInterface(line.words[0], kind, where=line.where())
    p.global_values["linkbeat_interfaces"] = tuple(chosen.values())


def linkbeat_use_polling(p: ParseState, st: Stmt) -> None:
    """Top-level ``linkbeat_use_polling``: poll every VRRP instance's interface."""
    p.extra_words(st, "", 1)
    p.global_values["linkbeat_use_polling"] = True


def _instance_linkbeat(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    p.extra_words(st, ctx, 1)
    p.warning(st, 0, ctx, "'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block")
    values["linkbeat_use_polling"] = True


LINK_SETTINGS: Table = {"track_src_ip": ("track_src_ip", flag)}
LINK_BLOCKS: Blocks = {"linkbeat_use_polling": _instance_linkbeat}


def finish_links(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str) -> None:
    """keepalived clears track_src_ip when no source address is configured; say so."""
    if values.get("track_src_ip") and values.get("unicast_src_ip") is None and values.get("mcast_src_ip") is None:
        p.info(last_line(st, "track_src_ip"), ctx, "track_src_ip has no effect without unicast_src_ip/mcast_src_ip")
        values["track_src_ip"] = False
