"""HTTP_GET and SSL_GET: one connection per ``url {}``, all of them must pass.

The request bytes are built once per url (keepalived's exact request: ``User-Agent:
KeepAliveClient``, ``Host`` = virtualhost or ``ip:port``). Responses are judged by httptools as
they arrive. Without a ``digest`` the check ends as soon as the status line and headers are in;
with one the body is hashed (MD5 hex, as keepalived's ``genhash`` prints it) to its end.
A ``regex`` is searched in the body (Python's ``re`` on the raw bytes, not PCRE2: see
docs/keepalived-compat.md), from ``regex_min_offset``, and must start by ``regex_max_offset``.
Plain HTTP runs on the raw-socket path of :mod:`.tcp`; SSL_GET uses an asyncio SSL transport.

While the checker is up every url is fetched in each check. While it is down (or starting with
``alpha``) keepalived brings it back one url per ``delay_loop``; ``fast_recovery`` fetches them all
at once instead, which is what :class:`UrlRecovery` decides.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import ssl
import time
from collections.abc import Callable
from typing import NamedTuple

import httptools

from fastalived.check.probe import CoroutineProbe, Done
from fastalived.check.state import CheckResult
from fastalived.check.tcp import RawConnection, Target, connect, failure_text, target_of
from fastalived.config.model import HttpCheck, SslDefs, StatusCodeRange, UrlSpec
from fastalived.config.parse_checkers import compile_regex

READ_SIZE = 65536
# A status line a status-only check can judge without a parser: the usual case, one read holding
# the status line and all headers. Anything else goes through httptools.
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9][0-9])[ \r]")
REGEX_BODY_LIMIT = 4 * 1024 * 1024  # body bytes kept for the regex; the rest is not searched


class BodyRegex(NamedTuple):
    """A url's ``regex`` with its options, compiled once."""

    pattern: re.Pattern[bytes] | re.Pattern[str]
    no_match: bool
    min_offset: int
    max_offset: int | None

    def failure(self, body: bytes) -> str | None:
        """Why ``body`` fails the regex test, or None."""
        subject: bytes | str = body.decode("utf-8", "replace") if isinstance(self.pattern.pattern, str) else body
        found = self.pattern.search(subject, self.min_offset)  # type: ignore[arg-type]
        if found is not None and self.max_offset is not None and found.start() > self.max_offset:
            found = None
        if found is None and not self.no_match:
            return "regex did not match"
        if found is not None and self.no_match:
            return "regex matched (regex_no_match)"
        return None


def body_regex(url: UrlSpec) -> BodyRegex | None:
    if url.regex is None:
        return None
    pattern = compile_regex(url.regex, url.regex_options)
    return BodyRegex(pattern, url.regex_no_match, url.regex_min_offset, url.regex_max_offset)


class UrlPlan(NamedTuple):
    """Everything one url needs per check, computed once."""

    request: bytes
    codes: tuple[StatusCodeRange, ...]
    digest: str | None
    sni: str
    regex: BodyRegex | None = None


def never_recovering() -> bool:
    """The default for probes outside a role, and ``fast_recovery``: every check fetches every url."""
    return False


class UrlRecovery:
    """Which urls the next check fetches, and what a recovering check's success means.

    ``recovering()`` is true while the checker is down and ``fast_recovery`` is off: then each
    check fetches one url, a failing url is fetched again until it passes, and only a pass of the
    last url reports success. Otherwise every url is fetched in one check.
    """

    __slots__ = ("count", "recovering", "next_url")

    def __init__(self, count: int, recovering: Callable[[], bool]) -> None:
        self.count = count
        self.recovering = recovering
        self.next_url = 0

    def span(self) -> tuple[int, int]:
        if self.count > 1 and self.recovering():
            return self.next_url, self.next_url + 1
        self.next_url = 0
        return 0, self.count

    def judge(self, span: tuple[int, int], result: CheckResult) -> CheckResult:
        if not result.ok or span == (0, self.count):
            return result
        if span[1] == self.count:
            self.next_url = 0
            return result
        self.next_url = span[1]
        return CheckResult(False, f"recovering: url({span[1]}) of {self.count} passed", result.latency)


def request_bytes(check: HttpCheck, url: UrlSpec) -> bytes:
    """The GET request keepalived sends for ``url``."""
    vhost = url.virtualhost or check.virtualhost
    if vhost is None:
        ip, port = check.common.connect_ip, check.common.connect_port
        vhost = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    version = "1.1" if check.http_protocol == "1.1" else "1.0"
    close = "Connection: close\r\n" if check.http_protocol in ("1.1", "1.0C") else ""
    return f"GET {url.path} HTTP/{version}\r\nUser-Agent: KeepAliveClient\r\nHost: {vhost}\r\n{close}\r\n".encode()


def url_plans(check: HttpCheck) -> tuple[UrlPlan, ...]:
    plans = []
    for url in check.urls:
        vhost = url.virtualhost or check.virtualhost
        sni = vhost if (check.enable_sni and vhost) else ""  # keepalived: SNI only with a virtualhost
        digest = url.digest.lower() if url.digest else None
        plans.append(UrlPlan(request_bytes(check, url), url.status_codes, digest, sni, body_regex(url)))
    return tuple(plans)


def client_ssl_context(defs: SslDefs | None) -> ssl.SSLContext:
    """SSL_GET's context from the global ``SSL {}`` block.

    Like keepalived, the server certificate is verified only when a ``ca`` is given, and never
    against a host name (checks connect to addresses). ``certificate``/``key`` make a client cert.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    if defs is not None and defs.ca:
        context.load_verify_locations(defs.ca)
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        context.verify_mode = ssl.CERT_NONE
    if defs is not None and defs.certificate:
        context.load_cert_chain(defs.certificate, defs.key, password=defs.password)
    return context


class ResponseCheck:
    """Judges one response fed in pieces: ``verdict`` is None until decided, then "" (pass) or why not.

    This status-only variant has no body callbacks, so httptools does not even call back per header.
    When the first read holds a plain status line and the whole header block (nearly always), the
    status code is read straight from it and no parser is made at all: like keepalived, a
    status-only check then looks at the status code alone.
    """

    __slots__ = ("codes", "parser", "verdict")
    status_only = True  # the subclass reads bodies: always through httptools

    def __init__(self, codes: tuple[StatusCodeRange, ...]) -> None:
        self.codes = codes
        self.parser: httptools.HttpResponseParser | None = None
        self.verdict: str | None = None

    def feed(self, data: bytes) -> str | None:
        parser = self.parser
        if parser is None:
            if self.status_only and (found := _STATUS_LINE.match(data)) and b"\r\n\r\n" in data:
                status = int(found[1])  # inline: this runs once per check
                for codes in self.codes:
                    if codes.low <= status <= codes.high:
                        self.verdict = ""
                        return ""
                self.verdict = f"HTTP status {status}"
                return self.verdict
            parser = self.parser = httptools.HttpResponseParser(self)
        try:
            parser.feed_data(data)
        except httptools.HttpParserError:
            self._decide("invalid HTTP response")
        return self.verdict

    def release(self) -> None:
        """Drop the parser once the exchange is over.

        The parser and this object point at each other; left alone, every check would leave a
        reference cycle for the garbage collector (measured: ~6 % of the checker's CPU).
        """
        self.parser = None

    def end(self, error: str | None) -> str:
        """The connection ended (``error`` if it broke); returns the final verdict."""
        self._decide(error or "connection closed before the response was complete")
        return self.verdict  # type: ignore[return-value]

    def _decide(self, verdict: str) -> None:
        if self.verdict is None:
            self.verdict = verdict

    def _status_ok(self) -> bool:
        assert self.parser is not None
        status = self.parser.get_status_code()
        if any(status in codes for codes in self.codes):
            return True
        self._decide(f"HTTP status {status}")
        return False

    def on_headers_complete(self) -> None:
        if self._status_ok():
            self._decide("")


class BodyResponseCheck(ResponseCheck):
    """Also reads the body: its MD5 against the url's ``digest``, its text against the ``regex``."""

    __slots__ = ("digest", "md5", "regex", "body", "delimited", "headers_done")
    status_only = False

    def __init__(self, codes: tuple[StatusCodeRange, ...], digest: str | None, regex: BodyRegex | None = None) -> None:
        super().__init__(codes)
        self.digest = digest
        self.md5 = hashlib.md5()
        self.regex = regex
        self.body = bytearray()
        self.delimited = False  # Content-Length or chunked: an early EOF is a failure
        self.headers_done = False

    def end(self, error: str | None) -> str:
        if error is None and self.headers_done and not self.delimited:
            self.on_message_complete()  # an HTTP/1.0 body that ends with the connection
        return super().end(error)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.delimited = True

    def on_headers_complete(self) -> None:
        self.headers_done = self._status_ok()

    def on_body(self, body: bytes) -> None:
        if self.digest is not None:
            self.md5.update(body)
        if self.regex is not None and len(self.body) < REGEX_BODY_LIMIT:
            self.body += body

    def on_message_complete(self) -> None:
        if not self.headers_done:
            return
        if self.digest is not None and (got := self.md5.hexdigest()) != self.digest:
            self._decide(f"MD5 digest mismatch {got}")
        elif self.regex is not None and (failure := self.regex.failure(bytes(self.body))) is not None:
            self._decide(failure)
        else:
            self._decide("")


def response_check(plan: UrlPlan) -> ResponseCheck:
    if plan.digest is None and plan.regex is None:
        return ResponseCheck(plan.codes)
    return BodyResponseCheck(plan.codes, plan.digest, plan.regex)


class _PlainExchange(RawConnection):
    """The urls of one HTTP_GET check (``plans[first:]``), one raw connection after another."""

    __slots__ = ("plans", "index", "response", "pending")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, target: Target, plans: tuple[UrlPlan, ...], first: int, done: Done
    ) -> None:
        super().__init__(loop, target, done)
        self.plans = plans
        self.index = first
        self.response = response_check(plans[first])
        self.pending = plans[first].request

    def on_connecting(self) -> None:
        self._send()  # usually connected already; a connect in progress raises BlockingIOError

    def on_connected(self) -> None:
        self._send()

    def _send(self) -> None:
        assert self.sock is not None
        pending = self.pending
        try:
            sent = self.sock.send(pending)
        except BlockingIOError:
            self.want_write()
            return
        except OSError as exc:
            self.finish(failure_text(exc))
            return
        if sent == len(pending):  # the usual case: the whole request in one send
            self.want_read()
            return
        self.pending = pending[sent:]
        self.want_write()

    def on_readable(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self.finish(self.response.end(failure_text(exc)))
            return
        verdict = self.response.feed(data) if data else self.response.end(None)
        if verdict is None:
            return
        if verdict or self.index + 1 == len(self.plans):
            self.finish(verdict or None)
            return
        self.close()
        self.index += 1
        plan = self.plans[self.index]
        self.response, self.pending = response_check(plan), plan.request
        self.open()

    def close(self) -> None:
        if self.response.parser is not None:
            self.response.release()
        super().close()

    def finish(self, failure: str | None) -> None:
        super().finish(f"url({self.index + 1}) {failure}" if failure else None)


class HttpProbe:
    """HTTP_GET on the raw-socket path: no task, no future, one parser per connection."""

    __slots__ = ("target", "plans", "recovery")

    def __init__(self, check: HttpCheck, recovering: Callable[[], bool] = never_recovering) -> None:
        self.target = target_of(check.common)
        self.plans = url_plans(check)
        self.recovery = UrlRecovery(len(self.plans), recovering)

    def start(self, done: Done) -> _PlainExchange:
        if self.recovery.count == 1:  # one url: nothing to recover url by url (the common case)
            exchange = _PlainExchange(asyncio.get_running_loop(), self.target, self.plans, 0, done)
            exchange.open()
            return exchange
        first, end = span = self.recovery.span()
        judged = done if span == (0, len(self.plans)) else functools.partial(self._judged, span, done)
        exchange = _PlainExchange(asyncio.get_running_loop(), self.target, self.plans[:end], first, judged)
        exchange.open()
        return exchange

    def _judged(self, span: tuple[int, int], done: Done, result: CheckResult) -> None:
        done(self.recovery.judge(span, result))


class _TlsExchange(asyncio.Protocol):
    """One request/response over an SSL transport; resolves ``done`` with the verdict."""

    def __init__(self, plan: UrlPlan, done: asyncio.Future[str]) -> None:
        self.plan = plan
        self.response = response_check(plan)
        self.done = done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.plan.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        verdict = self.response.feed(data)
        if verdict is not None and not self.done.done():
            self.done.set_result(verdict)

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.response.end(failure_text(exc) if exc else None))


class SslProbe(CoroutineProbe):
    """SSL_GET: the same judgement over TLS (context from the global ``SSL {}`` block, SNI)."""

    __slots__ = ("common", "plans", "context", "recovery")

    def __init__(
        self, check: HttpCheck, context: ssl.SSLContext, recovering: Callable[[], bool] = never_recovering
    ) -> None:
        self.common = check.common
        self.plans = url_plans(check)
        self.context = context
        self.recovery = UrlRecovery(len(self.plans), recovering)

    async def run(self) -> CheckResult:
        started = time.monotonic()
        span = self.recovery.span()
        for index in range(*span):
            failure = await self._fetch(self.plans[index])
            if failure:
                return CheckResult(False, f"url({index + 1}) {failure}", time.monotonic() - started)
        return self.recovery.judge(span, CheckResult(True, "", time.monotonic() - started))

    async def _fetch(self, plan: UrlPlan) -> str:
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        exchange = _TlsExchange(plan, done)
        transport = None
        try:
            async with asyncio.timeout(self.common.connect_timeout):
                transport, _ = await connect(self.common, lambda: exchange, self.context, plan.sni)
                return await done
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            return failure_text(exc)
        finally:
            if transport is not None:
                transport.abort()
            exchange.response.release()
