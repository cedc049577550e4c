"""``vrrp_track_process NAME { ... }``: the processes VRRP instances and sync groups track by name.

keepalived's rules, including its order-dependent ones: ``quorum`` above the ``quorum_max`` set so
far is ignored (and the other way round), ``quorum_max 0`` means "up while none runs", parameters
after ``process`` imply an exact match of the command line, and ``delay`` sets both delays.
"""

from __future__ import annotations

from typing import Any

from fastalived.config import model as m
from fastalived.config.keywords import ignored_at
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import INVALID, Blocks, ParseState

IGNORED = ignored_at("vrrp_track_process")
MAX_QUORUM = 65535
MAX_DELAY = 3600.0
MIN_DELAY = 0.000001  # keepalived reads delays in microseconds


def _process(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    if len(st.words) < 2:
        p.missing(st, ctx, "a process name")
        return
    if "process" in values:
        p.error(st, 1, ctx, f"Process already set for track process {values['name']} - ignoring {st.words[1]}")
        return
    values["process"] = st.words[1]
    if len(st.words) > 2:
        values["params"] = tuple(st.words[2:])
        values.setdefault("param_match", "exact")
        values["full_command"] = True


def _param_match(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """Bare ``param_match``: the parameters must match exactly (or be absent, with none given)."""
    kind = st.words[1] if len(st.words) > 1 else "exact"
    if len(st.words) > 1 and kind not in ("initial", "partial"):
        p.error(st, 1, ctx, f"Invalid param_match type {kind} - ignoring (initial|partial)")
        return
    p.extra_words(st, ctx, 2)
    values["param_match"] = kind
    values["full_command"] = True


def _weight(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    weight = p.parse_int(st, ctx, 1, -254, 254, name="weight")
    if weight is INVALID:
        return
    reverse = False
    if len(st.words) > 2:
        if st.words[2] == "reverse":
            reverse = True
        else:
            p.error(st, 2, ctx, f"unknown weight option {st.words[2]}")
        p.extra_words(st, ctx, 3)
    values["weight"], values["weight_reverse"] = weight, reverse


def _quorum(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    quorum = p.parse_int(st, ctx, 1, 1, MAX_QUORUM)
    if quorum is INVALID:
        return
    p.extra_words(st, ctx, 2)
    if quorum > values.get("quorum_max", m.QUORUM_MAX_UNLIMITED):
        p.error(st, 1, ctx, "Quorum is greater than quorum_max - ignoring")
        return
    values["quorum"] = quorum


def _quorum_max(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    quorum_max = p.parse_int(st, ctx, 1, 0, MAX_QUORUM)
    if quorum_max is INVALID:
        return
    p.extra_words(st, ctx, 2)
    quorum = values.get("quorum", 1)
    if (quorum_max or quorum > 1) and quorum_max < quorum:
        p.error(st, 1, ctx, "quorum_max is less than quorum - ignoring")
        return
    values["quorum_max"] = quorum_max
    if quorum_max == 0:
        values["quorum"] = 0
    elif quorum == 0:
        values["quorum"] = 1


def _delay(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``delay`` sets both; ``fork_delay``/``terminate_delay`` one each (the last line wins)."""
    delay = p.parse_float(st, ctx, 1, MIN_DELAY, MAX_DELAY)
    if delay is INVALID:
        return
    p.extra_words(st, ctx, 2)
    if st.words[0] != "fork_delay":
        values["terminate_delay"] = delay
    if st.words[0] != "terminate_delay":
        values["fork_delay"] = delay


def _full_command(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    p.extra_words(st, ctx, 1)
    values["full_command"] = True


TRACK_PROCESS_BLOCKS: Blocks = {
    "process": _process,
    "param_match": _param_match,
    "weight": _weight,
    "quorum": _quorum,
    "quorum_max": _quorum_max,
    "delay": _delay,
    "fork_delay": _delay,
    "terminate_delay": _delay,
    "full_command": _full_command,
}


def vrrp_track_process(p: ParseState, st: Stmt) -> None:
    """A top-level ``vrrp_track_process NAME {}``; instances' ``track_process`` name it."""
    name = p.named(st, p.track_processes, "vrrp_track_process")
    if name is None:
        return
    ctx = f"vrrp_track_process {name}"
    values: dict[str, Any] = {"name": name}
    p.walk(st, ctx, values, {}, TRACK_PROCESS_BLOCKS, IGNORED)
    if "process" not in values:
        p.error(st, 0, ctx, f"track process '{name}' process name not specified; ignored")
        return
    p.track_processes[name] = m.TrackProcess(**values, where=st.where())
