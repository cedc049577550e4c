"""``virtual_server_group``, ``virtual_server``, ``real_server`` and the checkers: keyword tables,
handlers, and the final pass that applies inheritance (virtual_server -> real_server -> checker),
keepalived's port corrections and quorum checks."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import string
from typing import Any

from fastalived.config import model as m
from fastalived.config.keywords import ignored_at
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import (
    COUNT,
    INVALID,
    POSITIVE_TIMER,
    TIMER,
    Blocks,
    Handler,
    ParseState,
    Table,
    address,
    choice,
    deprecated_alias,
    flag,
    integer,
    last_line,
    number,
    rest,
    run_as,
    script,
    suggest,
    word,
)

_IP_FAMILIES = choice(("inet", "inet6"))
DNS_TYPES = frozenset({"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"})
SCHED_FLAGS = ("flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback")
SCHED_FLAG_ALIASES = {"hashed": "flag-1"}
SMTP_DEFAULT_HELO = "smtpchecker.keepalived.org"  # keepalived's SMTP_CHECK default
CHECKER_KINDS = (
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "SMTP_CHECK",
    "MISC_CHECK",
    "DNS_CHECK",
    "PING_CHECK",
    "UDP_CHECK",
    "FILE_CHECK",
)
# PCRE2 options keepalived's regex_options accepts -> the Python ``re`` flag with the same meaning.
# 0: a hint about how PCRE2 optimises or compiles, no effect on what matches.
# None: no ``re`` equivalent; accepted with a warning (see docs/keepalived-compat.md).
REGEX_OPTIONS: dict[str, int | None] = {
    "caseless": re.IGNORECASE,
    "multiline": re.MULTILINE,
    "dotall": re.DOTALL,
    "extended": re.VERBOSE,
    "no_auto_capture": 0,
    "no_auto_possess": 0,
    "no_dotstar_anchor": 0,
    "no_start_optimize": 0,
    "never_ucp": 0,
    "never_utf": 0,
    "use_offset_limit": 0,
    "utf": 0,
    "ucp": 0,
    "allow_empty_class": None,
    "alt_bsux": None,
    "auto_callout": None,
    "dollar_endonly": None,
    "dupnames": None,
    "firstline": None,
    "match_unset_backref": None,
    "ungreedy": None,
    "never_backslash_c": None,
    "alt_circumflex": None,
    "alt_verbnames": None,
}
# Checker timing keys inherited virtual_server -> real_server -> checker.
INHERITED = ("connect_timeout", "retry", "delay_before_retry", "warmup", "delay_loop", "alpha")

VS_IGNORED = ignored_at("virtual_server")
RS_IGNORED = ignored_at("virtual_server/real_server")
CHECKER_IGNORED = {kind: ignored_at(f"virtual_server/real_server/{kind}") for kind in CHECKER_KINDS}
URL_IGNORED = ignored_at("virtual_server/real_server/HTTP_GET/url")
TRACK_FILE_IGNORED = ignored_at("track_file")
SMTP_HOST_IGNORED = ignored_at("virtual_server/real_server/SMTP_CHECK/host")


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


def _checker(p: ParseState, st: Stmt, ctx: str, rs: dict[str, Any]) -> None:
    kind = st.words[0]
    values: dict[str, Any] = {}
    table, blocks = CHECKER_TABLES[kind]
    p.walk(st, f"{ctx}: {kind}", values, table, blocks, CHECKER_IGNORED[kind])
    rs["_checkers"].append((st, kind, values))


def _url(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    url: dict[str, Any] = {}
    p.walk(st, f"{ctx}: url", url, URL_SETTINGS, URL_BLOCKS, URL_IGNORED)
    if "path" not in url:
        p.error(st, 0, ctx, "url has no path")
        return
    if "regex" in url:
        try:
            compile_regex(url["regex"], url.get("regex_options", ()))
        except re.error as exc:
            p.error(last_line(st, "regex"), 1, ctx, f"regex '{url.pop('regex')}' does not compile: {exc}")
    values.setdefault("urls", []).append(m.UrlSpec(**url, where=st.where()))


def compile_regex(pattern: str, options: tuple[str, ...]) -> re.Pattern[bytes] | re.Pattern[str]:
    """A url's ``regex`` as the HTTP checker searches it: on the raw body bytes, or with ``utf``/``ucp``
    on the body decoded as UTF-8 (Unicode classes). Raises ``re.error``."""
    flags = 0
    for option in options:
        flags |= REGEX_OPTIONS[option] or 0
    if "utf" in options or "ucp" in options:
        return re.compile(pattern, flags)
    return re.compile(pattern.encode(), flags)


def _digest(p: ParseState, st: Stmt, ctx: str) -> Any:
    digest = word(p, st, ctx)
    if digest is INVALID:
        return digest
    if len(digest) != 32 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        p.error(st, 1, ctx, f"digest '{digest}' is not a 32-digit hex MD5")
        return INVALID
    return digest.lower()


def _status_codes(p: ParseState, st: Stmt, ctx: str, url: dict[str, Any]) -> None:
    key = tuple(st.words[1:])
    cached = p.status_code_cache.get(key)
    if cached is not None:
        url["status_codes"] = cached
        return
    ranges = []
    for i, text in enumerate(st.words[1:], 1):
        low_text, _, high_text = text.partition("-")
        try:
            low = int(low_text)
            high = int(high_text) if high_text else low
        except ValueError:
            p.error(st, i, ctx, f"status_code '{text}' is not a code or range")
            continue
        if not 100 <= low <= high <= 999:
            p.error(st, i, ctx, f"status_code '{text}' outside range [100, 999]")
            continue
        ranges.append(m.StatusCodeRange(low, high))
    if len(st.words) < 2:
        p.missing(st, ctx)
    elif ranges:
        url["status_codes"] = tuple(ranges)
        if len(ranges) == len(key):
            p.status_code_cache[key] = url["status_codes"]


def _smtp_host(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    host: dict[str, Any] = {}
    p.walk(st, f"{ctx}: host", host, CHECKER_SETTINGS, None, SMTP_HOST_IGNORED)
    values.setdefault("_hosts", []).append((st, host))


def _announce(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
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


def _finish_announce(p: ParseState, ctx: str, values: dict[str, Any]) -> None:
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


def parse_hex(text: str, wildcards: bool) -> tuple[bytes, bytes] | None:
    """keepalived's HEX_STR: pairs of hex digits, a lone digit before a space is one byte
    (``Ab12f 3`` -> AB 12 0F 03). With ``wildcards`` an X nibble matches anything: the second
    bytes are the bits to ignore. None when the text is empty or not hex."""
    data, ignore = bytearray(), bytearray()
    words = text.replace("\t", " ").split(" ")
    for chunk in words:
        for start in range(0, len(chunk), 2):
            value = mask = 0
            for digit in chunk[start : start + 2]:
                value, mask = value << 4, mask << 4
                if wildcards and digit in "xX":
                    mask |= 0xF
                elif digit in string.hexdigits:
                    value |= int(digit, 16)
                else:
                    return None
            data.append(value)
            ignore.append(mask)
    if not data:
        return None
    return bytes(data), bytes(ignore) if any(ignore) else b""


def _payload(p: ParseState, st: Stmt, ctx: str) -> Any:
    if len(st.words) < 2:
        return p.missing(st, ctx, "a payload")
    parsed = parse_hex(" ".join(st.words[1:]), wildcards=False)
    if parsed is None:
        p.error(st, 1, ctx, "invalid hex string for UDP_CHECK payload")
        return INVALID
    return parsed[0]


def _require_reply(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    values["require_reply"] = True
    if len(st.words) < 2:
        return
    parsed = parse_hex(" ".join(st.words[1:]), wildcards=True)
    if parsed is None:
        p.error(st, 1, ctx, "invalid hex string for UDP_CHECK reply")
        return
    values["reply_data"], values["reply_mask"] = parsed


def _weight_and_reverse(lo: int, hi: int) -> Handler:
    """``weight N [reverse|noreverse]`` (track_file, FILE_CHECK)."""

    def handle(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        weight = p.parse_int(st, ctx, 1, lo, hi)
        if weight is INVALID:
            return
        if len(st.words) > 2 and st.words[2] not in ("reverse", "noreverse"):
            p.error(st, 2, ctx, f"unknown weight option '{st.words[2]}' (reverse|noreverse)")
            return
        p.extra_words(st, ctx, 3)
        values["weight"], values["weight_reverse"] = weight, len(st.words) > 2 and st.words[2] == "reverse"

    return handle


def _init_file(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``init_file [VALUE] [overwrite]``: write VALUE (default 0) at start if the file is missing,
    or always with ``overwrite``."""
    values["init_value"] = 0
    for index, text in enumerate(st.words[1:], 1):
        if text == "overwrite":
            values["init_overwrite"] = True
            continue
        value = p.parse_int(st, ctx, index, -2147483648, 2147483647, name="init_file value")
        if value is INVALID:
            continue
        if not -254 <= value <= 254:
            p.warning(st, index, ctx, f"init_file value {value} is outside the sensible range [-254, 254]")
        values["init_value"] = value


def _regex_options(p: ParseState, st: Stmt, ctx: str) -> Any:
    if len(st.words) < 2:
        return p.missing(st, ctx, "an option")
    options = []
    for index, option in enumerate(st.words[1:], 1):
        if option not in REGEX_OPTIONS:
            p.error(st, index, ctx, f"unknown regex option '{option}'" + suggest(option, REGEX_OPTIONS))
        elif REGEX_OPTIONS[option] is None:
            p.warning(st, index, ctx, f"regex option '{option}' has no Python re equivalent; ignored")
        else:
            options.append(option)
    return tuple(options)


# ----------------------------------------------------------------------- virtual server build


# =========================================================================== keyword tables

# Checker timing, settable in every checker and inherited from the real and virtual server.
_CHECKER_TIMING: Table = {
    "retry": ("retry", COUNT),
    "delay_before_retry": ("delay_before_retry", TIMER),
    "warmup": ("warmup", TIMER),
    "delay_loop": ("delay_loop", POSITIVE_TIMER),
    "alpha": ("alpha", flag),
}
# What a virtual or real server passes down to its checkers.
_INHERITABLE: Table = {**_CHECKER_TIMING, "connect_timeout": ("connect_timeout", POSITIVE_TIMER)}
VS_SETTINGS: Table = {
    **_INHERITABLE,
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
    "fastalived_announce": _announce,
}
ANNOUNCE_SETTINGS: Table = {
    "require_master": ("require_master", word),
    "metric": ("metric", integer(0, 4294967295)),
    "drain": ("drain", number(0, 3600)),
}
ANNOUNCE_BLOCKS: Blocks = {"prefix": _announce_prefix}
RS_SETTINGS: Table = {
    **_INHERITABLE,
    "weight": ("weight", integer(0, 2147483647)),
    "notify_up": ("notify_up", script),
    "notify_down": ("notify_down", script),
    "uthreshold": ("uthreshold", integer(0, 2147483647)),
    "lthreshold": ("lthreshold", integer(0, 2147483647)),
    "smtp_alert": ("smtp_alert", flag),
    "virtualhost": ("virtualhost", word),
    "inhibit_on_failure": ("inhibit_on_failure", flag),
}
RS_BLOCKS: Blocks = {"lvs_method": _forwarding("lvs_method", "tunnel"), **{kind: _checker for kind in CHECKER_KINDS}}
# Every checker but MISC_CHECK: where to connect from and to.
CHECKER_SETTINGS: Table = {
    **_INHERITABLE,
    "log_all_failures": ("log_all_failures", flag),
    "fwmark": ("fwmark", integer(1, 4294967295)),
    "connect_ip": ("connect_ip", address),
    "connect_port": ("connect_port", integer(0, 65535)),
    "bindto": ("bindto", address),
    "bind_port": ("bind_port", integer(0, 65535)),
    "bind_if": ("bind_if", word),
}
_HTTP_SETTINGS: Table = {
    "nb_get_retry": ("retry", deprecated_alias(COUNT, "retry")),
    "http_protocol": ("http_protocol", choice(("1.0", "1.1", "1.0C", "1.0K"))),
    "virtualhost": ("virtualhost", word),
    "fast_recovery": ("fast_recovery", flag),
}
# checker kind -> (its settings, its blocks)
CHECKER_TABLES: dict[str, tuple[Table, Blocks]] = {
    "HTTP_GET": ({**CHECKER_SETTINGS, **_HTTP_SETTINGS}, {"url": _url}),
    "SSL_GET": ({**CHECKER_SETTINGS, **_HTTP_SETTINGS, "enable_sni": ("enable_sni", flag)}, {"url": _url}),
    "TCP_CHECK": (CHECKER_SETTINGS, {}),
    "SMTP_CHECK": ({**CHECKER_SETTINGS, "helo_name": ("helo_name", word)}, {"host": _smtp_host}),
    "MISC_CHECK": (
        {
            **_CHECKER_TIMING,
            "log_all_failures": ("log_all_failures", flag),
            "misc_path": ("misc_path", rest),
            "misc_timeout": ("misc_timeout", POSITIVE_TIMER),
            "misc_dynamic": ("misc_dynamic", flag),
        },
        {"user": run_as},
    ),
    "DNS_CHECK": (
        {**CHECKER_SETTINGS, "type": ("type", choice(sorted(DNS_TYPES), upper=True)), "name": ("name", word)},
        {},
    ),
    "PING_CHECK": (CHECKER_SETTINGS, {}),
    "UDP_CHECK": (
        {
            **CHECKER_SETTINGS,
            "payload": ("payload", _payload),
            "min_reply_length": ("min_reply_length", integer(0, 65535)),
            "max_reply_length": ("max_reply_length", integer(0, 65535)),
        },
        {"require_reply": _require_reply},
    ),
    "FILE_CHECK": ({"track_file": ("_track_file", word)}, {"weight": _weight_and_reverse(-2147483647, 2147483647)}),
}
TRACK_FILE_SETTINGS: Table = {"file": ("file", rest)}
TRACK_FILE_BLOCKS: Blocks = {"weight": _weight_and_reverse(-254, 254), "init_file": _init_file}
URL_SETTINGS: Table = {
    "path": ("path", word),
    "digest": ("digest", _digest),
    "virtualhost": ("virtualhost", word),
    "regex": ("regex", rest),
    "regex_no_match": ("regex_no_match", flag),
    "regex_options": ("regex_options", _regex_options),
    "regex_min_offset": ("regex_min_offset", integer(0, 2147483647)),
    "regex_max_offset": ("regex_max_offset", integer(0, 2147483647)),
}
URL_BLOCKS: Blocks = {"status_code": _status_codes}


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


def track_file(p: ParseState, st: Stmt) -> None:
    """A top-level ``track_file NAME {}``: FILE_CHECK refers to it by name."""
    name = p.named(st, p.track_files, "track_file")
    if name is None:
        return
    ctx = f"track_file {name}"
    values: dict[str, Any] = {}
    p.walk(st, ctx, values, TRACK_FILE_SETTINGS, TRACK_FILE_BLOCKS, TRACK_FILE_IGNORED)
    if "file" not in values:
        p.error(st, 0, ctx, "no file set; track_file ignored")
        return
    p.track_files[name] = m.TrackFile(name, **values, where=st.where())


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
    _finish_announce(p, ctx, values)
    return m.VirtualServer(**values, real_servers=real_servers, where=st.where())


def _forwarded_port(
    p: ParseState, st: Stmt, ctx: str, what: str, port: int | None, method: str, vs: dict[str, Any]
) -> int | None:
    """The port IPVS will use for a real/sorry server, as keepalived corrects it.

    With NAT the server's own port counts (default: the service's). DR and TUN cannot change
    the port: it is the service's (none for fwmark services), so a different one is reset.
    """
    if vs.get("group") is not None:
        return port
    service_port = vs.get("port")
    if method == "NAT":
        return port if port is not None or vs.get("fwmark") is not None else service_port
    if vs.get("fwmark") is not None:
        if port:
            p.warning(st, 0, ctx, f"{what} port {port} is ignored for a fwmark service with {method}")
        return None
    if port is not None and port != service_port:
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
    port = _forwarded_port(p, st, vs_ctx, f"real_server {address}", configured_port, method, vs)
    check_port = configured_port if configured_port is not None else port
    inherited = {**vs_inherited, **{key: rs.pop(key) for key in INHERITED if key in rs}}
    virtualhost = rs.pop("virtualhost", None) or vs.get("virtualhost")
    rs.setdefault("inhibit_on_failure", vs.get("inhibit_on_failure", False))
    rs.setdefault("weight", vs.get("_rs_weight", 1))
    rs.setdefault("smtp_alert", p.smtp_alert_default("smtp_alert_checker", True))
    checkers = tuple(
        checker
        for checker_st, kind, values in rs.pop("_checkers")
        if (checker := _finish_checker(p, checker_st, kind, values, address, check_port, inherited, virtualhost))
        is not None
    )
    return m.RealServer(
        address=address, port=port, alpha=inherited.get("alpha", False), checkers=checkers, where=st.where(), **rs
    )


def _finish_checker(
    p: ParseState,
    st: Stmt,
    kind: str,
    values: dict[str, Any],
    address: m.IPAddress,
    port: int | None,
    inherited: dict[str, Any],
    virtualhost: str | None,
) -> m.Checker | None:
    where = st.where()
    common = _checker_common(p, st, kind, values, {**inherited}, address, port)
    if kind in ("HTTP_GET", "SSL_GET"):
        urls = values.pop("urls", [])
        if not urls:
            p.error(st, 0, "", f"{kind} has no url block")
        return m.HttpCheck(
            kind="SSL_GET" if kind == "SSL_GET" else "HTTP_GET",
            common=common,
            urls=tuple(urls),
            virtualhost=values.pop("virtualhost", None) or virtualhost,
            where=where,
            **values,
        )
    if kind == "TCP_CHECK":
        return m.TcpCheck(kind="TCP_CHECK", common=common, where=where)
    if kind == "SMTP_CHECK":
        hosts = tuple(
            _checker_common(
                p, host_st, kind, host, {**inherited, **_timing(common)}, common.connect_ip, common.connect_port
            )
            for host_st, host in values.pop("_hosts", [])
        )
        values.setdefault("helo_name", SMTP_DEFAULT_HELO)
        return m.SmtpCheck(kind="SMTP_CHECK", common=common, hosts=hosts, where=where, **values)
    if kind == "MISC_CHECK":
        if not values.get("misc_path"):
            p.error(st, 0, "", "MISC_CHECK has no misc_path")
            return None
        return m.MiscCheck(kind="MISC_CHECK", common=common, where=where, **values)
    if kind == "PING_CHECK":
        return m.PingCheck(kind="PING_CHECK", common=common, where=where)
    if kind == "UDP_CHECK":
        if values.get("min_reply_length", 0) > values.get("max_reply_length", 255):
            p.warning(st, 0, "", "UDP_CHECK min_reply_length > max_reply_length - will always fail")
        return m.UdpCheck(kind="UDP_CHECK", common=common, where=where, **values)
    if kind == "FILE_CHECK":
        return _file_check(p, st, common, values)
    return m.DnsCheck(kind="DNS_CHECK", common=common, where=where, **values)


def _file_check(p: ParseState, st: Stmt, common: m.CheckerCommon, values: dict[str, Any]) -> m.FileCheck | None:
    """keepalived knows a FILE_CHECK's state at once: no alpha, no retries, read at start."""
    name = values.pop("_track_file", None)
    tracked = p.track_files.get(name) if name is not None else None
    if tracked is None:
        missing = "has no track_file" if name is None else f"track_file '{name}' is not defined"
        p.error(st, 0, "", f"FILE_CHECK {missing}" + suggest(name or "", p.track_files) + " - ignoring")
        return None
    if "weight" not in values:
        values["weight"], values["weight_reverse"] = tracked.weight, tracked.weight_reverse
    common = dataclasses.replace(common, retry=0, alpha=False, warmup=0.0)
    return m.FileCheck(kind="FILE_CHECK", common=common, track_file=tracked, where=st.where(), **values)


def _checker_common(
    p: ParseState,
    st: Stmt,
    kind: str,
    values: dict[str, Any],
    inherited: dict[str, Any],
    address: m.IPAddress,
    port: int | None,
) -> m.CheckerCommon:
    """Checker connection/timing options: own value, else inherited, else the kind's default."""
    settings = {
        key: values.pop(key)
        for key in ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "log_all_failures", "fwmark")
        if key in values
    }
    for key in INHERITED:
        if key in values:
            inherited[key] = values.pop(key)
    delay_loop = inherited.get("delay_loop", 60.0)
    inherited.setdefault("delay_loop", delay_loop)
    inherited.setdefault("retry", {"MISC_CHECK": 0, "DNS_CHECK": 3}.get(kind, 1))
    inherited.setdefault(
        "delay_before_retry", {"HTTP_GET": 3.0, "SSL_GET": 3.0, "DNS_CHECK": delay_loop}.get(kind, 1.0)
    )
    settings.setdefault("connect_ip", address)
    if "connect_port" not in settings:
        default_port = (
            port if port is not None else {"HTTP_GET": 80, "SSL_GET": 443, "SMTP_CHECK": 25, "DNS_CHECK": 53}.get(kind)
        )
        if default_port is None:
            if kind not in ("MISC_CHECK", "PING_CHECK", "FILE_CHECK"):
                p.error(st, 0, "", f"{kind} needs connect_port (the real server has no port)")
            default_port = 0
        settings["connect_port"] = default_port
    return m.CheckerCommon(**settings, **inherited, where=st.where())


def _timing(common: m.CheckerCommon) -> dict[str, Any]:
    return {key: getattr(common, key) for key in INHERITED}
