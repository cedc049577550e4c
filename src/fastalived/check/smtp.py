"""SMTP_CHECK: banner 220, ``HELO helo_name`` -> 250, ``QUIT``; every ``host {}`` must pass.

A small line-oriented Protocol drives the dialogue so a server that stalls mid-way costs only its
own ``connect_timeout``.
"""

from __future__ import annotations

import asyncio
import time

from fastalived.check.probe import CoroutineProbe
from fastalived.check.state import CheckResult
from fastalived.check.tcp import connect, failure_text
from fastalived.config.model import CheckerCommon, SmtpCheck


class _SmtpDialogue(asyncio.Protocol):
    """Reads complete (possibly multi-line) replies and answers each expected code in turn."""

    def __init__(self, helo: bytes, done: asyncio.Future[str | None]) -> None:
        self.steps = [(220, b"HELO " + helo + b"\r\n"), (250, b"QUIT\r\n")]
        self.done = done
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer and not self.done.done():
            line, self.buffer = self.buffer.split(b"\n", 1)
            if line[3:4] == b"-":  # continuation of a multi-line reply
                continue
            expected, answer = self.steps.pop(0)
            if not line[:3].isdigit() or int(line[:3]) != expected:
                text = line.decode(errors="replace").strip()
                self.done.set_result(f"expected {expected}, got {text!r}")
                return
            assert self.transport is not None
            self.transport.write(answer)
            if not self.steps:
                self.done.set_result(None)  # QUIT sent; its 221 is not worth waiting for

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(failure_text(exc) if exc else "connection closed by server")


class SmtpProbe(CoroutineProbe):
    __slots__ = ("hosts", "helo")

    def __init__(self, check: SmtpCheck) -> None:
        self.hosts: tuple[CheckerCommon, ...] = check.hosts or (check.common,)
        self.helo = check.helo_name.encode()

    async def run(self) -> CheckResult:
        started = time.monotonic()
        for host in self.hosts:
            failure = await self._converse(host)
            if failure is not None:
                where = f"[{host.connect_ip}]:{host.connect_port}"
                return CheckResult(False, f"SMTP {where}: {failure}", time.monotonic() - started)
        return CheckResult(True, "", time.monotonic() - started)

    async def _converse(self, host: CheckerCommon) -> str | None:
        done: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        transport = None
        try:
            async with asyncio.timeout(host.connect_timeout):
                transport, _ = await connect(host, lambda: _SmtpDialogue(self.helo, done))
                return await done
        except (OSError, TimeoutError) as exc:
            return failure_text(exc)
        finally:
            if transport is not None:
                transport.close()  # not abort(): let the QUIT already written go out
