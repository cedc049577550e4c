"""The parser's shared machinery: the parse state, value converters and the block walker.

Each section module (``parse_global``, ``parse_static``, ``parse_vrrp``, ``parse_virtual_server``,
with its ``parse_checkers`` and ``parse_announce``) describes its keywords as data: a :data:`Table`
row ``keyword -> (model field, converter)`` for a plain ``keyword value`` setting, a :data:`Blocks`
row ``keyword -> handler`` for anything with its own grammar. Converters and handlers are plain
functions taking the :class:`ParseState` first, so the tables can be module-level constants. The
converter decides the keyword's arity (``flag``: 0 or 1 word, ``word``: exactly 1, ``rest``: 1 or
more). A converter returns :data:`INVALID` when it has already reported a problem, and the default
is kept. Nothing here raises on bad input.
"""

from __future__ import annotations

import grp
import ipaddress
import pwd
import shlex
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastalived.config import model as m
from fastalived.config.diagnostics import Reporter
from fastalived.config.keywords import Support
from fastalived.config.lexer import Stmt

INVALID: Any = object()  # a converter's "already reported" result: keep the default

# Unknown keywords per load that get a "did you mean": each costs a fuzzy match against the whole
# keyword table, which would make a file of junk lines take seconds per 10,000 lines.
SUGGESTION_LIMIT = 1000

RULE_START_PRIORITY = 16384  # keepalived's first automatic ip rule preference, counting down

BOOL_WORDS = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}


class ParseState:
    """The reporter, the sections collected so far and the caches shared by every section."""

    def __init__(self, report: Reporter) -> None:
        self.report = report
        self.addresses: dict[str, m.IPAddress] = {}
        self.status_code_cache: dict[tuple[str, ...], tuple[m.StatusCodeRange, ...]] = {}
        self.global_values: dict[str, Any] = {}
        self.alert_defaults: dict[str, bool] = {}
        self.global_where = m.NOWHERE
        self.ssl: m.SslDefs | None = None
        self.static_ipaddress: list[m.IPAddressSpec] = []
        self.static_routes: list[m.RouteSpec] = []
        self.static_rules: list[m.RuleSpec] = []
        self.rule_priorities = {4: RULE_START_PRIORITY, 6: RULE_START_PRIORITY}  # next automatic, per family
        self.scripts: dict[str, tuple[Stmt, dict[str, Any]]] = {}
        self.sync_groups: dict[str, tuple[Stmt, dict[str, Any]]] = {}
        self.instances: dict[str, tuple[Stmt, dict[str, Any]]] = {}
        self.vs_groups: dict[str, m.VirtualServerGroup] = {}
        self.track_files: dict[str, m.TrackFile] = {}
        self.track_processes: dict[str, m.TrackProcess] = {}  # vrrp_track_process definitions by name
        self.bfd_instances: dict[str, m.BfdInstance] = {}
        self.virtual_servers: list[tuple[Stmt, dict[str, Any]]] = []
        self.suggestions_left = SUGGESTION_LIMIT

    def next_rule_priority(self, family: int) -> int:
        """keepalived's preference for a rule without one: 16384, then one less per rule and family."""
        priority = self.rule_priorities[family]
        self.rule_priorities[family] = max(priority - 1, 0)
        return priority

    # ----------------------------------------------------------------------- reporting

    def error(self, st: Stmt, index: int, ctx: str, message: str) -> None:
        self.report.error(st.where(index), st.words[0], f"{ctx}: {message}" if ctx else message)

    def warning(self, st: Stmt, index: int, ctx: str, message: str) -> None:
        self.report.warning(st.where(index), st.words[0], f"{ctx}: {message}" if ctx else message)

    def info(self, st: Stmt, ctx: str, message: str) -> None:
        self.report.info(st.where(), st.words[0], f"{ctx}: {message}" if ctx else message)

    def missing(self, st: Stmt, ctx: str, what: str = "a value") -> Any:
        self.error(st, len(st.words) - 1, ctx, f"{st.words[0]} needs {what}")
        return INVALID

    def extra_words(self, st: Stmt, ctx: str, used: int) -> None:
        if len(st.words) > used:
            self.warning(st, used, ctx, f"{st.words[0]}: ignoring extra '{' '.join(st.words[used:])}'")

    # ----------------------------------------------------------------------- positional values

    def parse_int(self, st: Stmt, ctx: str, index: int, lo: int, hi: int, name: str | None = None) -> Any:
        if index >= len(st.words):
            return self.missing(st, ctx)
        text = st.words[index]
        name = name or st.words[0]
        try:
            value = int(text, 10)
        except ValueError:
            self.error(st, index, ctx, f"{name} '{text}' is not an integer")
            return INVALID
        if not lo <= value <= hi:
            self.error(st, index, ctx, f"{name} '{text}' outside range [{lo}, {hi}]")
            return INVALID
        return value

    def parse_float(self, st: Stmt, ctx: str, index: int, lo: float, hi: float) -> Any:
        if index >= len(st.words):
            return self.missing(st, ctx)
        text = st.words[index]
        try:
            value = float(text)
        except ValueError:
            self.error(st, index, ctx, f"{st.words[0]} '{text}' is not a number")
            return INVALID
        if not lo <= value <= hi or value != value:
            self.error(st, index, ctx, f"{st.words[0]} '{text}' outside range [{lo:g}, {hi:g}]")
            return INVALID
        return value

    def parse_address(self, st: Stmt, ctx: str, index: int, text: str | None = None) -> Any:
        text = st.words[index] if text is None else text
        cached = self.addresses.get(text)
        if cached is not None:
            return cached
        try:
            value = ipaddress.ip_address(text)
        except ValueError:
            self.error(
                st,
                index,
                ctx,
                f"{st.words[0]}: invalid IP address '{text}'" if index else f"invalid IP address '{text}'",
            )
            return INVALID
        self.addresses[text] = value
        return value

    def parse_port(self, st: Stmt, ctx: str, index: int) -> Any:
        return self.parse_int(st, ctx, index, 0, 65535, name="port")

    # ----------------------------------------------------------------------- blocks

    def walk(
        self,
        st: Stmt,
        ctx: str,
        values: dict[str, Any],
        table: Table,
        blocks: Blocks | None = None,
        ignored: Mapping[str, Support] | None = None,
        fallback: Callable[[ParseState, Stmt, str, dict[str, Any]], bool] | None = None,
    ) -> None:
        """Apply ``st``'s block to ``values`` through a keyword table and block handlers.

        ``ignored`` are the keywords of this block that keepalived knows and fastalived does not
        read (from :mod:`fastalived.config.keywords`). ``fallback`` gets a first look at unknown
        keywords (legacy syntax) and returns True if it consumed the statement.
        """
        if st.block is None:
            self.error(st, 0, ctx, f"{st.words[0]} needs a '{{' block")
            return
        for child in st.block:
            keyword = child.words[0]
            row = table.get(keyword)
            if row is not None:
                if child.block is not None:
                    self.warning(child, 0, ctx, f"{keyword} does not take a block; ignored")
                    continue
                value = row[1](self, child, ctx)
                if value is not INVALID:
                    values[row[0]] = value
                continue
            handler = blocks.get(keyword) if blocks else None
            if handler is not None:
                handler(self, child, ctx, values)
            elif fallback is None or not fallback(self, child, ctx, values):
                self.unknown(child, ctx, (table, blocks or {}), ignored or {})

    def unknown(self, st: Stmt, ctx: str, known: Iterable[Iterable[str]], ignored: Mapping[str, Support]) -> None:
        """A keyword no table reads: a notice (noop), a warning (unsupported), or unknown."""
        keyword = st.words[0]
        support = ignored.get(keyword)
        if support is not None:
            if support.status == "noop":
                self.info(st, ctx, f"'{keyword}' has no effect in fastalived: {support.note}")
            else:
                reason = f" ({support.note})" if support.note else ""
                self.warning(st, 0, ctx, f"'{keyword}' is not supported by fastalived; ignored{reason}")
            return
        if keyword == "{":
            return  # already reported by the lexer
        hint = ""
        if self.suggestions_left > 0:
            self.suggestions_left -= 1
            hint = suggest(keyword, [k for group in known for k in group] + list(ignored))
        self.warning(st, 0, ctx, f"unknown keyword '{keyword}'" + hint)

    def block_lines(self, st: Stmt, ctx: str, header_words: int = 1) -> list[Stmt]:
        """The statements of a list block (``virtual_ipaddress { ... }``); [] if it has none."""
        if st.block is None:
            self.error(st, 0, ctx, f"{st.words[0]} needs a '{{' block")
            return []
        self.extra_words(st, ctx, header_words)
        return st.block

    def named(self, st: Stmt, registry: dict[str, Any], kind: str) -> str | None:
        """The section's name (``vrrp_instance VI_1``), reporting a missing or duplicate one."""
        if len(st.words) < 2:
            self.error(st, 0, "", f"{kind} needs a name")
            return None
        name = st.words[1]
        if name in registry:
            first = registry[name][0].where() if isinstance(registry[name], tuple) else registry[name].where
            self.error(st, 1, "", f"{kind} {name} is already defined at {first}")
            return None
        return name

    def smtp_alert_default(self, specific: str, fallback: bool) -> bool:
        """keepalived's precedence: ``smtp_alert_checker``/``_vrrp``, then ``smtp_alert``, then the
        section's own default (on for real servers, off elsewhere)."""
        return self.alert_defaults.get(specific, self.alert_defaults.get("smtp_alert", fallback))


Converter = Callable[[ParseState, Stmt, str], Any]
Table = dict[str, tuple[str, Converter]]
Handler = Callable[[ParseState, Stmt, str, dict[str, Any]], None]
Blocks = dict[str, Handler]


# =========================================================================== converters


def integer(lo: int, hi: int) -> Converter:
    def convert(p: ParseState, st: Stmt, ctx: str) -> Any:
        return p.parse_int(st, ctx, 1, lo, hi)

    return convert


def number(lo: float, hi: float) -> Converter:
    def convert(p: ParseState, st: Stmt, ctx: str) -> Any:
        return p.parse_float(st, ctx, 1, lo, hi)

    return convert


TIMER = number(0, 4294967.0)  # seconds, 0 allowed
POSITIVE_TIMER = number(0.000001, 4294967.0)
COUNT = integer(0, 2147483647)
POSITIVE_COUNT = integer(1, 2147483647)


def flag(p: ParseState, st: Stmt, ctx: str) -> Any:
    """``keyword [<BOOL>]``: bare keyword means on."""
    if len(st.words) < 2:
        return True
    value = BOOL_WORDS.get(st.words[1].lower())
    if value is None:
        p.error(st, 1, ctx, f"{st.words[0]} '{st.words[1]}' is not one of on|off|true|false|yes|no")
        return INVALID
    return value


def negated_flag(p: ParseState, st: Stmt, ctx: str) -> Any:
    value = flag(p, st, ctx)
    return value if value is INVALID else not value


def word(p: ParseState, st: Stmt, ctx: str) -> Any:
    if len(st.words) < 2:
        return p.missing(st, ctx)
    p.extra_words(st, ctx, 2)
    return st.words[1]


def rest(p: ParseState, st: Stmt, ctx: str) -> Any:
    """The whole rest of the line as one command (words with spaces re-quoted)."""
    if len(st.words) < 2:
        return p.missing(st, ctx)
    if len(st.words) == 2:
        return st.words[1]
    return " ".join(w if w and not any(c.isspace() for c in w) else shlex.quote(w) for w in st.words[1:])


def script(p: ParseState, st: Stmt, ctx: str) -> Any:
    """``notify_x <STRING>|<QUOTED-STRING> [username [groupname]]``: as keepalived, the words
    after the command name its user and group (quote the command to give it arguments); a user
    or group this host does not have drops the script."""
    if len(st.words) < 2:
        return p.missing(st, ctx, "a script")
    p.extra_words(st, ctx, 4)
    user = st.words[2] if len(st.words) > 2 else None
    group = st.words[3] if len(st.words) > 3 else None
    try:
        if user is not None:
            pwd.getpwnam(user)
        if group is not None:
            grp.getgrnam(group)
    except KeyError:
        p.error(st, 2, ctx, f"Invalid user/group for {st.words[0]} script {st.words[1]} - ignoring")
        return INVALID
    return m.Command(st.words[1], user, group)


def deprecated_alias(convert: Converter, replacement: str) -> Converter:
    """An old spelling keepalived warns about (``nb_get_retry``): warn the same, then convert."""

    def warn_and_convert(p: ParseState, st: Stmt, ctx: str) -> Any:
        p.warning(st, 0, ctx, f"{st.words[0]} is deprecated - please use '{replacement}'")
        return convert(p, st, ctx)

    return warn_and_convert


def choice(options: Iterable[str], upper: bool = False) -> Converter:
    allowed = tuple(options)

    def convert(p: ParseState, st: Stmt, ctx: str) -> Any:
        if len(st.words) < 2:
            return p.missing(st, ctx)
        value = st.words[1].upper() if upper else st.words[1]
        if value not in allowed:
            p.error(
                st,
                1,
                ctx,
                f"{st.words[0]} '{st.words[1]}' is not one of {'|'.join(allowed)}" + suggest(value, allowed),
            )
            return INVALID
        return value

    return convert


def address(p: ParseState, st: Stmt, ctx: str) -> Any:
    if len(st.words) < 2:
        return p.missing(st, ctx, "an IP address")
    return p.parse_address(st, ctx, 1)


def user_and_group(user_field: str, group_field: str) -> Handler:
    """``keyword USERNAME [GROUPNAME]`` (``script_user``, a script's or MISC_CHECK's ``user``)."""

    def handle(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        if len(st.words) < 2:
            p.missing(st, ctx, "a user name")
            return
        values[user_field] = st.words[1]
        if len(st.words) > 2:
            values[group_field] = st.words[2]

    return handle


run_as = user_and_group("user", "group")


# =========================================================================== helpers


def last_line(st: Stmt, keyword: str) -> Stmt:
    """The statement in ``st``'s block that set ``keyword`` (the last one wins), else ``st``."""
    return next((c for c in reversed(st.block or ()) if c.words[0] == keyword), st)


def suggest(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a known keyword is close to ``word``."""
    import difflib  # only a config with a typo pays for it

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""
