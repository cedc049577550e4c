"""Pure pieces of the probes: request bytes, response judgement, DNS messages, MISC exit codes."""

from __future__ import annotations

import hashlib
import struct

import pytest

from fastalived.check.dns import build_query, encode_question, judge_reply
from fastalived.check.http import BodyResponseCheck, ResponseCheck, request_bytes
from fastalived.check.misc import judge_exit
from fastalived.config.model import StatusCodeRange, UrlSpec
from fastalived.runtime.commands import shell_or_argv
from tests.check.builders import http_check

OK_2XX = (StatusCodeRange(200, 299),)


def test_request_is_keepalived_s() -> None:
    check = http_check(8080)
    assert request_bytes(check, UrlSpec("/health")) == (
        b"GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:8080\r\n\r\n"
    )
    v11 = http_check(8080, http_protocol="1.1", virtualhost="www.example.com")
    assert request_bytes(v11, UrlSpec("/")) == (
        b"GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"
    )
    v6 = http_check(80, ip="::1", http_protocol="1.0C")
    assert b"Host: [::1]:80\r\nConnection: close\r\n" in request_bytes(v6, UrlSpec("/", virtualhost=None))
    assert b"Host: url.example\r\n" in request_bytes(v11, UrlSpec("/", virtualhost="url.example"))


@pytest.mark.parametrize(
    ("status", "codes", "verdict"),
    [
        (200, OK_2XX, ""),
        (204, OK_2XX, ""),
        (301, OK_2XX, "HTTP status 301"),
        (503, (StatusCodeRange(200, 200), StatusCodeRange(500, 503)), ""),
        (504, (StatusCodeRange(200, 200), StatusCodeRange(500, 503)), "HTTP status 504"),
    ],
)
def test_status_codes_and_ranges(status: int, codes: tuple[StatusCodeRange, ...], verdict: str) -> None:
    check = ResponseCheck(codes)
    assert check.feed(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode()) == verdict


def test_status_only_check_decides_at_the_headers_even_in_pieces() -> None:
    check = ResponseCheck(OK_2XX)
    assert check.feed(b"HTTP/1.0 200 OK\r\nServer: x\r") is None
    assert check.feed(b"\n\r\n") == ""


def test_digest_over_a_chunked_body_and_a_mismatch() -> None:
    body = b"hello world"
    digest = hashlib.md5(body).hexdigest()
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    assert BodyResponseCheck(OK_2XX, digest).feed(chunked) == ""
    wrong = BodyResponseCheck(OK_2XX, "0" * 32)
    assert wrong.feed(chunked) == f"MD5 digest mismatch {digest}"


def test_digest_body_delimited_by_the_end_of_the_connection() -> None:
    body = b"<html>ok</html>"
    check = BodyResponseCheck(OK_2XX, hashlib.md5(body).hexdigest())
    assert check.feed(b"HTTP/1.0 200 OK\r\n\r\n" + body) is None
    assert check.end(None) == ""


def test_early_end_and_garbage_fail() -> None:
    truncated = BodyResponseCheck(OK_2XX, "0" * 32)
    assert truncated.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\npartial") is None
    assert truncated.end(None) == "connection closed before the response was complete"
    assert ResponseCheck(OK_2XX).end("connection reset by peer") == "connection reset by peer"
    assert ResponseCheck(OK_2XX).feed(b"SSH-2.0-OpenSSH\r\n") == "invalid HTTP response"


def test_dns_query_and_reply_judgement() -> None:
    query = build_query(0x1234, encode_question("www.example.com", "A"))
    assert query[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert query[12:] == b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    assert encode_question(".", "SOA") == b"\x00\x00\x06\x00\x01"
    reply = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 0, 0, 0)
    assert judge_reply(0x1234, reply) is None
    assert judge_reply(0x4321, reply) == ""  # not ours: keep waiting
    assert judge_reply(0x1234, struct.pack("!HHHHHH", 0x1234, 0x8183, 1, 0, 0, 0)) == "NXDOMAIN"
    assert judge_reply(0x1234, struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)) == "reply is not a response"
    assert judge_reply(0x1234, b"\x12") == "reply too short"
    with pytest.raises(KeyError):
        encode_question("x", "BOGUS")


def test_misc_command_line_uses_a_shell_only_when_needed() -> None:
    assert shell_or_argv("/usr/local/bin/check 'a b' c") == ["/usr/local/bin/check", "a b", "c"]
    assert shell_or_argv("/bin/check | grep -q ok") == ["/bin/sh", "-c", "/bin/check | grep -q ok"]
    assert shell_or_argv("test -f $HOME/x") == ["/bin/sh", "-c", "test -f $HOME/x"]


def test_misc_exit_codes() -> None:
    assert judge_exit(0, dynamic=False).ok
    assert not judge_exit(1, dynamic=True).ok
    assert not judge_exit(7, dynamic=False).ok
    assert judge_exit(7, dynamic=True).weight == 5
    assert judge_exit(0, dynamic=True).weight is None
    assert not judge_exit(None, dynamic=True).ok  # timed out
