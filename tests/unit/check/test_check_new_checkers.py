"""Parsing and the pure parts of PING_CHECK, UDP_CHECK, FILE_CHECK and HTTP regexes."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from fastalived.check.datagram import reply_failure
from fastalived.check.file import file_verdict
from fastalived.check.http import UrlRecovery
from fastalived.check.icmp import checksum, echo_request, is_our_reply
from fastalived.check.state import CheckResult
from fastalived.check.tcp import checker_socket
from fastalived.config import parse_string
from fastalived.config.model import FileCheck, PingCheck, UdpCheck
from fastalived.config.parse_checkers import parse_hex
from fastalived.runtime.track_file import parse_value
from tests.check.builders import common


def checkers(body: str, prelude: str = "") -> tuple[object, ...]:
    result = parse_string(
        f"{prelude}virtual_server 198.51.100.1 53 {{\n protocol UDP\n real_server 203.0.113.1 53 {{\n{body}\n}}\n}}\n"
    )
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.warnings == [], [str(d) for d in result.warnings]
    return result.config.virtual_servers[0].real_servers[0].checkers


def test_ping_and_udp_checks_parse_with_keepalived_s_options() -> None:
    ping, udp = checkers(
        "PING_CHECK {\n connect_timeout 2\n retry 2\n fwmark 7\n log_all_failures\n}\n"
        "UDP_CHECK {\n payload Ab12f 3 456\n require_reply 4f4B xX\n min_reply_length 2\n max_reply_length 100\n}"
    )
    assert isinstance(ping, PingCheck)
    assert (ping.common.connect_timeout, ping.common.retry, ping.common.fwmark) == (2.0, 2, 7)
    assert ping.common.log_all_failures
    assert isinstance(udp, UdpCheck)
    assert udp.payload == bytes([0xAB, 0x12, 0x0F, 0x03, 0x45, 0x06])
    assert (udp.reply_data, udp.reply_mask) == (b"OK\x00", b"\x00\x00\xff")
    assert (udp.require_reply, udp.min_reply_length, udp.max_reply_length, udp.common.connect_port) == (
        True,
        2,
        100,
        53,
    )


def test_hex_strings_read_as_keepalived_reads_them() -> None:
    assert parse_hex("Ab12f 3 456 546443123", wildcards=False) == (
        bytes.fromhex("AB120F03450654644312 03".replace(" ", "")),
        b"",
    )
    assert parse_hex("zz", wildcards=False) is None
    assert parse_hex("x1", wildcards=False) is None
    assert parse_hex("x1", wildcards=True) == (b"\x01", b"\xf0")


def test_file_check_resolves_its_track_file() -> None:
    prelude = "track_file app {\n file /run/app.weight\n weight 3 reverse\n init_file 5 overwrite\n}\n"
    (own, inherited) = checkers(
        "FILE_CHECK {\n track_file app\n weight 0\n}\nFILE_CHECK {\n track_file app\n}", prelude
    )
    assert isinstance(own, FileCheck) and isinstance(inherited, FileCheck)
    assert (own.weight, own.weight_reverse) == (0, False)
    assert (inherited.weight, inherited.weight_reverse) == (3, True)
    assert (own.track_file.init_value, own.track_file.init_overwrite) == (5, True)
    assert (own.common.retry, own.common.alpha) == (0, False)
    missing = parse_string(
        "virtual_server 198.51.100.1 53 {\n real_server 203.0.113.1 53 {\n FILE_CHECK {\n track_file nope\n }\n }\n}\n"
    )
    assert any("track_file 'nope' is not defined" in str(d) for d in missing.errors)


def test_url_regex_options_and_bad_patterns() -> None:
    (http,) = checkers(
        'HTTP_GET {\n fast_recovery\n url {\n path /\n regex "up|ok"\n regex_options caseless multiline\n'
        " regex_min_offset 2\n regex_max_offset 90\n regex_no_match\n }\n}"
    )
    url = http.urls[0]  # type: ignore[attr-defined]
    assert http.fast_recovery  # type: ignore[attr-defined]
    assert (url.regex, url.regex_options, url.regex_min_offset, url.regex_max_offset, url.regex_no_match) == (
        "up|ok",
        ("caseless", "multiline"),
        2,
        90,
        True,
    )
    bad = parse_string(
        "virtual_server 198.51.100.1 80 {\n real_server 203.0.113.1 80 {\n"
        " HTTP_GET {\n url {\n path /\n regex (\n }\n }\n }\n}\n"
    )
    assert any("does not compile" in str(d) for d in bad.errors)


def test_udp_reply_judgement() -> None:
    check = UdpCheck("UDP_CHECK", common(53), reply_data=b"OK\x00", reply_mask=b"\x00\x00\xff", min_reply_length=2)
    assert reply_failure(check, b"OK\x07 rest") is None
    assert reply_failure(check, b"NO") == "reply data mismatch at byte 0"
    assert reply_failure(check, b"O") == "reply length 1 outside 2..255"


def test_icmp_echo_frames() -> None:
    request = echo_request(socket.AF_INET, 0x1234, 7)
    assert checksum(request) == 0  # a correct checksum sums to zero
    reply = bytes([0, 0]) + request[2:]
    assert is_our_reply(socket.AF_INET, reply, raw=False, identifier=0, sequence=7)
    ip_header = bytes([0x45]) + bytes(19)
    assert is_our_reply(socket.AF_INET, ip_header + reply, raw=True, identifier=0x1234, sequence=7)
    assert not is_our_reply(socket.AF_INET, ip_header + reply, raw=True, identifier=0x4321, sequence=7)
    assert not is_our_reply(socket.AF_INET, reply, raw=False, identifier=0, sequence=8)


@pytest.mark.parametrize(
    ("text", "value"),
    [(b"12\n", 12), (b" -3", -3), (b"0x1f", 31), (b"010", 8), (b"", 0), (b"abc", 0), (b"99999999999", None)],
)
def test_track_file_values_read_like_strtol(text: bytes, value: int | None) -> None:
    assert parse_value(text) == value


def test_file_verdicts() -> None:
    (weighted,) = checkers("FILE_CHECK {\n track_file t\n weight 2\n}", "track_file t {\n file /x\n}\n")
    assert isinstance(weighted, FileCheck)
    assert file_verdict(weighted, 3) == CheckResult(True, weight_offset=6)
    assert not file_verdict(weighted, -(2**30)).ok
    gate = FileCheck("FILE_CHECK", weighted.common, weighted.track_file, weight=0)
    assert file_verdict(gate, 0).ok and not file_verdict(gate, 1).ok
    reverse_gate = FileCheck("FILE_CHECK", weighted.common, weighted.track_file, weight=0, weight_reverse=True)
    assert not file_verdict(reverse_gate, 0).ok and file_verdict(reverse_gate, 4).ok


def test_url_recovery_walks_the_urls_while_down() -> None:
    down = True
    recovery = UrlRecovery(3, lambda: down)
    passed = CheckResult(True)
    assert recovery.span() == (0, 1)
    assert not recovery.judge((0, 1), passed).ok
    assert recovery.span() == (1, 2)
    failed = CheckResult(False, "url(2) HTTP status 500")
    assert recovery.judge((1, 2), failed) == failed
    assert recovery.span() == (1, 2)  # the failing url again
    recovery.judge((1, 2), passed)
    assert recovery.judge(recovery.span(), passed).ok  # the last url brings it up
    down = False
    assert recovery.span() == (0, 3)


@pytest.mark.skipif(os.geteuid() != 0, reason="SO_MARK needs CAP_NET_ADMIN")
def test_checker_sockets_carry_fwmark_and_the_local_address() -> None:
    sock, target = checker_socket(common(53, fwmark=7, bindto=ipaddress.ip_address("127.0.0.1")), socket.SOCK_DGRAM)
    with sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_MARK) == 7
        assert sock.getsockname()[0] == "127.0.0.1"
        assert target.address == ("127.0.0.1", 53)
