"""``static_rules`` and ``virtual_rules``: the ``ip rule add`` grammar as keepalived 2.2.7 reads it.

keepalived's checks, kept so a config means the same under either daemon: every rule needs
one action (``table``/``lookup``, ``goto``, ``nop``, ``blackhole``, ``unreachable``, ``prohibit``
or ``l3mdev``); a rule without a ``preference`` gets the next of 16384, 16383 ... for its family
with a warning; a tracked rule (no ``no_track``) is tagged protocol 18 (keepalived) so it can be
told apart from the operator's own; ``goto`` needs a preference below its target.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import ParseState
from fastalived.config.parse_static import ROUTE_TABLES

RTPROT_KEEPALIVED = 18
ANY_ADDRESS = ("all", "any", "default")
# ``ip rule`` actions (keepalived also takes them after ``type``); table, goto and l3mdev have their own branch.
PLAIN_ACTIONS = ("nop", "blackhole", "unreachable", "prohibit")
# Options keepalived accepts that fastalived does not program, and why.
UNSUPPORTED = {
    "realms": "routing realms are not implemented",
    "suppress_ifgroup": "interface groups are not implemented",
    "sup_group": "interface groups are not implemented",
    "tunnel-id": "tunnel ids are not implemented",
    "track_group": "track groups are not implemented",
}


def _number(text: str, lo: int, hi: int) -> int | None:
    """A number as keepalived's ``strtoul(.., 0)`` reads it (decimal, 0x hex, 0 octal), in range."""
    try:
        value = int(text, 0)
    except ValueError:
        try:
            value = int(text, 8) if text.startswith("0") else int(text, 10)
        except ValueError:
            return None
    return value if lo <= value <= hi else None


def _range(text: str, hi: int) -> tuple[int, int] | None:
    """``N`` or ``N-M`` (ports, uids)."""
    low, _, high = text.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        return None
    start, end = int(low), int(high or low)
    return (start, end) if start <= end <= hi else None


def _ip_proto(text: str) -> int | None:
    if text.isdigit():
        return int(text) if int(text) <= 127 else None  # keepalived caps numbers at INT8_MAX
    try:
        return socket.getprotobyname(text)
    except OSError:
        return None


class _Rule:
    """The fields of one rule line while it is read, and its problems."""

    def __init__(self, p: ParseState, st: Stmt, ctx: str) -> None:
        self.p, self.st, self.ctx = p, st, ctx
        self.fields: dict[str, Any] = {}
        self.family: int | None = None
        self.table_options = False
        self.failed = False

    def fail(self, index: int, message: str) -> None:
        self.p.error(self.st, index, self.ctx, message)
        self.failed = True

    def set_family(self, index: int, family: int) -> None:
        if self.family is None:
            self.family = family
        elif self.family != family:
            self.fail(index, "rule specification has mixed IPv4 and IPv6")

    def set_action(self, index: int, action: str) -> None:
        if "action" in self.fields:
            self.fail(
                index, "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev for rule"
            )
        self.fields["action"] = action

    def address(self, index: int, name: str) -> None:
        text = self.st.words[index]
        if text in ANY_ADDRESS:
            self.fields.pop(name, None)
            return
        if text == "default6":
            self.p.info(self.st, self.ctx, "'default6' is deprecated - please replace with 'inet6 default'")
            self.fields.pop(name, None)
            self.set_family(index, 6)
            return
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            self.fail(index, f"Invalid rule {'from' if name == 'src' else 'to'} address {text}")
            return
        self.fields[name] = network
        self.set_family(index, network.version)

    def option(self, i: int) -> int:
        """Read the option at ``i``; the index of the next one."""
        words = self.st.words
        word = words[i]
        if word in ("inet", "inet6"):
            self.set_family(i, 6 if word == "inet6" else 4)
            return i + 1
        if word == "not":
            self.fields["invert"] = True
            return i + 1
        if word == "no_track":
            self.fields["no_track"] = True
            return i + 1
        if word == "l3mdev":
            self.set_action(i, "table")
            self.fields["l3mdev"] = True
            return i + 1
        if word == "type" and i + 1 < len(words):
            return self.option(i + 1)
        if word in PLAIN_ACTIONS:
            self.set_action(i, word)
            return i + 1
        if word in UNSUPPORTED:
            self.p.warning(self.st, i, self.ctx, f"rule option '{word}' is not supported by fastalived"
                           f" ({UNSUPPORTED[word]}); rule ignored")  # fmt: skip
            self.failed = True
            return len(words)
        if i + 1 >= len(words):
            self.fail(i, f"rule option '{word}' needs a value")
            return len(words)
        self.valued(i, word, words[i + 1])
        return i + 2

    def valued(self, i: int, word: str, value: str) -> None:
        f = self.fields
        if word in ("from", "to"):
            self.address(i + 1, "src" if word == "from" else "dst")
        elif word in ("table", "lookup"):
            table = ROUTE_TABLES[value] if value in ROUTE_TABLES else _number(value, 0, 0xFFFFFFFF)
            if table is None:
                self.fail(i + 1, f"Routing table {value} not found for rule")
            elif table == 0:
                self.fail(i + 1, "Table 0 is not valid")
            else:
                f["table"] = table
                self.set_action(i, "table")
        elif word == "goto":
            f["goto"] = self.number(i + 1, 0xFFFFFFFF, "goto target")
            self.set_action(i, "goto")
        elif word in ("preference", "order", "priority"):
            f["priority"] = self.number(i + 1, 0xFFFFFFFF, "rule preference", base=10)
        elif word in ("tos", "dsfield"):
            f["tos"] = self.number(i + 1, 255, "TOS value")
        elif word == "fwmark":
            mark, slash, mask = value.partition("/")
            f["fwmark"] = self.number(i + 1, 0xFFFFFFFF, "rule fwmark", text=mark)
            if slash:
                f["fwmask"] = self.number(i + 1, 0xFFFFFFFF, "rule fwmark mask", text=mask)
        elif word in ("suppress_prefixlength", "sup_pl"):
            f["suppress_prefixlength"] = self.number(i + 1, 0x7FFFFFFF, "suppress_prefixlength", base=10)
            self.table_options = True
        elif word in ("dev", "iif"):
            f["iif"] = value
        elif word == "oif":
            f["oif"] = value
        elif word in ("uidrange", "sport", "dport"):
            bounds = _range(value, 0xFFFFFFFF if word == "uidrange" else 0xFFFF)
            if bounds is None:
                self.fail(i + 1, f"invalid {word} {value}")
            f[word] = bounds
        elif word == "protocol":
            f["protocol"] = self.number(i + 1, 255, "protocol", base=10)
        elif word == "ipproto":
            f["ipproto"] = _ip_proto(value)
            if f["ipproto"] is None:
                self.fail(i + 1, f"Invalid ipproto {value}")
        else:
            self.fail(i, f"Unknown rule option {word}")

    def number(self, index: int, hi: int, name: str, *, base: int = 0, text: str | None = None) -> int | None:
        text = self.st.words[index] if text is None else text
        value = _number(text, 0, hi) if base == 0 else (int(text) if text.isdigit() and int(text) <= hi else None)
        if value is None:
            self.fail(index, f"Invalid {name} {text}")
        return value


def rule_spec(p: ParseState, st: Stmt, ctx: str) -> m.RuleSpec | None:
    """One ``ip rule add`` line, or None when it is refused (already reported)."""
    rule = _Rule(p, st, ctx)
    i = 0
    while i < len(st.words) and not rule.failed:
        i = rule.option(i)
    if rule.failed:
        return None
    f = rule.fields
    action = f.get("action")
    if action is None:
        p.error(st, 0, ctx, "No action specified for rule - ignoring")
        return None
    if action == "goto" and f.get("priority") is None:
        p.error(st, 0, ctx, f"Invalid rule - goto target {f['goto']} specified without preference")
        return None
    if action == "goto" and f["priority"] >= f["goto"]:
        p.error(st, 0, ctx, f"Invalid rule - preference {f['priority']} >= goto target {f['goto']}")
        return None
    if rule.table_options and (action != "table" or f.get("l3mdev")):
        p.error(st, 0, ctx, "suppressor specified for non table action - skipping")
        return None
    if f.get("l3mdev") and f.get("table") is not None:
        p.error(st, 0, ctx, "table cannot be specified for l3mdev rules")
        return None
    if not f.get("no_track"):
        if f.get("protocol", RTPROT_KEEPALIVED) != RTPROT_KEEPALIVED:
            p.warning(st, 0, ctx, f"Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED({RTPROT_KEEPALIVED}),"
                      " resetting protocol")  # fmt: skip
        f["protocol"] = RTPROT_KEEPALIVED
    family = rule.family or 4
    if f.get("priority") is None:
        f["priority"] = p.next_rule_priority(family)
        p.warning(st, 0, ctx, f"Rule has no preference specified - setting to {f['priority']}."
                  " This is probably not what you want.")  # fmt: skip
    return m.RuleSpec(family=family, where=st.where(), **f)


def rule_list(p: ParseState, st: Stmt, ctx: str) -> list[m.RuleSpec]:
    ctx = f"{ctx}: {st.words[0]}" if ctx else st.words[0]
    rules = (rule_spec(p, line, ctx) for line in p.block_lines(st, ctx))
    return [rule for rule in rules if rule is not None]


def static_rules(p: ParseState, st: Stmt) -> None:
    p.static_rules.extend(rule_list(p, st, ""))
