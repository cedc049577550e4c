"""The real_server health checkers and ``track_file``: split from ``parse_virtual_server`` to keep both small."""

from __future__ import annotations

import dataclasses
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
    rest,
    run_as,
    suggest,
    word,
)

DNS_TYPES = frozenset({"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"})
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

CHECKER_IGNORED = {kind: ignored_at(f"virtual_server/real_server/{kind}") for kind in CHECKER_KINDS}
URL_IGNORED = ignored_at("virtual_server/real_server/HTTP_GET/url")
TRACK_FILE_IGNORED = ignored_at("track_file")
SMTP_HOST_IGNORED = ignored_at("virtual_server/real_server/SMTP_CHECK/host")


# =========================================================================== handlers


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
INHERITABLE: Table = {**_CHECKER_TIMING, "connect_timeout": ("connect_timeout", POSITIVE_TIMER)}
# Every checker but MISC_CHECK: where to connect from and to.
CHECKER_SETTINGS: Table = {
    **INHERITABLE,
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
# A real_server's checker blocks: each kind's keyword -> the handler that reads it.
CHECKER_BLOCKS: Blocks = {kind: _checker for kind in CHECKER_KINDS}


# =========================================================================== sections


def track_file(p: ParseState, st: Stmt) -> None:
    """A top-level ``track_file NAME {}`` (formerly ``vrrp_track_file``): FILE_CHECK and VRRP
    ``track_file`` lists refer to it by name."""
    if st.words[0] == "vrrp_track_file":
        p.info(st, "", '"vrrp_track_file" is deprecated, please use "track_file"')
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


# =========================================================================== final pass


def finish_checker(
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
    common = _checker_common(p, st, kind, values, {**inherited}, address, port, where)
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
    where: m.Where | None = None,
) -> m.CheckerCommon:
    """Checker connection/timing options: own value, else inherited, else the kind's default.

    ``where`` is ``st.where()`` when the caller has it already (one Where per checker, not two)."""
    settings = {key: values.pop(key) for key in _CONNECTION_SETTINGS if key in values}
    for key in INHERITED:
        if key in values:
            inherited[key] = values.pop(key)
    delay_loop = inherited.get("delay_loop", 60.0)
    inherited.setdefault("delay_loop", delay_loop)
    if "retry" not in inherited:
        inherited["retry"] = _DEFAULT_RETRY.get(kind, 1)
    if "delay_before_retry" not in inherited:
        inherited["delay_before_retry"] = (
            delay_loop if kind == "DNS_CHECK" else _DEFAULT_DELAY_BEFORE_RETRY.get(kind, 1.0)
        )
    settings.setdefault("connect_ip", address)
    if "connect_port" not in settings:
        default_port = port if port is not None else _DEFAULT_PORT.get(kind)
        if default_port is None:
            if kind not in ("MISC_CHECK", "PING_CHECK", "FILE_CHECK"):
                p.error(st, 0, "", f"{kind} needs connect_port (the real server has no port)")
            default_port = 0
        settings["connect_port"] = default_port
    return m.CheckerCommon(**settings, **inherited, where=st.where() if where is None else where)


# _checker_common's per-kind defaults, built once (it runs for every checker of a large file).
_CONNECTION_SETTINGS = ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "log_all_failures", "fwmark")
_DEFAULT_RETRY = {"MISC_CHECK": 0, "DNS_CHECK": 3}
_DEFAULT_DELAY_BEFORE_RETRY = {"HTTP_GET": 3.0, "SSL_GET": 3.0}  # DNS_CHECK: its delay_loop
_DEFAULT_PORT = {"HTTP_GET": 80, "SSL_GET": 443, "SMTP_CHECK": 25, "DNS_CHECK": 53}


def _timing(common: m.CheckerCommon) -> dict[str, Any]:
    return {key: getattr(common, key) for key in INHERITED}
