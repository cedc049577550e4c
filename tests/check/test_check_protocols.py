"""SMTP_CHECK, DNS_CHECK and TCP_CHECK against real servers the test starts on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import dnslib
import pytest
import uvloop
from aiosmtpd.controller import Controller

from fastalived.check.dns import DnsProbe
from fastalived.check.smtp import SmtpProbe
from fastalived.check.tcp import TcpProbe
from fastalived.config.model import DnsCheck, SmtpCheck
from tests.check.builders import LOOPBACK, SilentListener, common, probe_once, tcp_check
from tests.support.host import free_port


@pytest.fixture(scope="module")
def smtp_port() -> Iterator[int]:
    class AcceptEverything:
        """aiosmtpd's defaults answer HELO with 250; no message handling is needed."""

    controller = Controller(AcceptEverything(), hostname=LOOPBACK, port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


async def bad_banner_server() -> asyncio.Server:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"554 5.3.2 not accepting mail\r\n")
        await writer.drain()
        await reader.read(100)
        writer.close()

    return await asyncio.start_server(greet, LOOPBACK, 0)


def smtp(*ports: int) -> SmtpCheck:
    return SmtpCheck("SMTP_CHECK", common(ports[0]), hosts=tuple(common(p) for p in ports), helo_name="checker.example")


def test_smtp_check_against_aiosmtpd_and_a_bad_banner(smtp_port: int) -> None:
    async def main() -> None:
        assert (await probe_once(SmtpProbe(smtp(smtp_port)))).ok
        bad = await bad_banner_server()
        async with bad:
            bad_port = bad.sockets[0].getsockname()[1]
            result = await probe_once(SmtpProbe(smtp(bad_port)))
            assert not result.ok and "expected 220" in result.reason
            both = await probe_once(SmtpProbe(smtp(smtp_port, bad_port)))  # every host {} must pass
            assert not both.ok and f"[{LOOPBACK}]:{bad_port}" in both.reason
        refused = await probe_once(SmtpProbe(smtp(free_port())))
        assert (refused.ok, refused.reason.endswith("connection refused")) == (False, True)

    uvloop.run(main())


class DnsResponder(asyncio.DatagramProtocol):
    """Answers A queries for ``ok.example`` and NXDOMAIN for the rest; ``silent`` drops everything."""

    def __init__(self) -> None:
        self.silent = False
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.silent:
            return
        query = dnslib.DNSRecord.parse(data)
        reply = query.reply()
        if str(query.q.qname) == "ok.example.":
            reply.add_answer(dnslib.RR("ok.example.", rdata=dnslib.A("192.0.2.1")))
        else:
            reply.header.rcode = dnslib.RCODE.NXDOMAIN
        assert self.transport is not None
        self.transport.sendto(reply.pack(), addr)


def test_dns_check_against_a_real_responder() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        transport, responder = await loop.create_datagram_endpoint(DnsResponder, local_addr=(LOOPBACK, 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            ok = await probe_once(DnsProbe(DnsCheck("DNS_CHECK", common(port), type="A", name="ok.example")))
            assert ok.ok, ok.reason
            missing = await probe_once(DnsProbe(DnsCheck("DNS_CHECK", common(port), type="A", name="no.example")))
            assert (missing.ok, missing.reason) == (False, "NXDOMAIN")
            responder.silent = True
            silent = DnsCheck("DNS_CHECK", common(port, connect_timeout=0.2), type="SOA", name=".")
            assert (await probe_once(DnsProbe(silent))).reason == "timeout"
        finally:
            transport.close()

    uvloop.run(main())


def test_tcp_check_connects_or_is_refused() -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: w.close(), LOOPBACK, 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            assert (await probe_once(TcpProbe(tcp_check(port)))).ok
        refused = await probe_once(TcpProbe(tcp_check(free_port())))
        assert (refused.ok, refused.reason) == (False, "connection refused")

    uvloop.run(main())


def test_tcp_check_times_out_on_an_unanswered_connect() -> None:
    async def main() -> None:
        silent = SilentListener()
        try:
            await asyncio.sleep(0.05)
            result = await probe_once(TcpProbe(tcp_check(silent.port, connect_timeout=0.3)))
        finally:
            silent.close()
        assert (result.ok, result.reason) == (False, "timeout")

    uvloop.run(main())
