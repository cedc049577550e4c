"""HTTP_GET and SSL_GET against real servers the test starts on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
import ssl
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
import uvloop

from fastalived.check.http import HttpProbe, SslProbe, client_ssl_context
from fastalived.config.model import SslDefs, StatusCodeRange, UrlSpec
from tests.check.builders import LOOPBACK, SilentListener, http_check, probe_once
from tests.support.host import free_port

BODY = b"<html>fastalived</html>"
BODY_MD5 = hashlib.md5(BODY).hexdigest()


async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Behaviour by path: /ok, /status/N, /slow, /reset, /http10 (body ends with the connection)."""
    request = await reader.readuntil(b"\r\n\r\n")
    path = request.split(b" ", 2)[1].decode()
    writer.get_extra_info("socket")  # keep the transport's socket reachable for /reset
    if path.startswith("/status/"):
        writer.write(f"HTTP/1.1 {path[8:]} X\r\nContent-Length: 0\r\n\r\n".encode())
    elif path == "/slow":
        await asyncio.sleep(5)
    elif path == "/reset":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + BODY)
        await writer.drain()
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST in the middle of the body
        return
    elif path == "/http10":
        writer.write(b"HTTP/1.0 200 OK\r\n\r\n" + BODY)
    else:
        host = next((ln for ln in request.split(b"\r\n") if ln.lower().startswith(b"host:")), b"")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Host: %s\r\n\r\n" % (len(BODY), host[5:].strip()))
        writer.write(BODY)
    await writer.drain()
    writer.close()


def run_with_server(scenario: Callable[[int], object], ssl_context: ssl.SSLContext | None = None) -> None:
    async def main() -> None:
        server = await asyncio.start_server(respond, LOOPBACK, 0, ssl=ssl_context)
        async with server:
            await scenario(server.sockets[0].getsockname()[1])  # type: ignore[misc]

    uvloop.run(main())


@pytest.mark.parametrize(
    ("urls", "ok", "reason"),
    [
        ((UrlSpec("/ok"),), True, ""),
        ((UrlSpec("/ok", digest=BODY_MD5.upper()),), True, ""),
        ((UrlSpec("/ok", digest="0" * 32),), False, f"url(1) MD5 digest mismatch {BODY_MD5}"),
        ((UrlSpec("/status/503"),), False, "url(1) HTTP status 503"),
        ((UrlSpec("/status/503", status_codes=(StatusCodeRange(500, 503),)),), True, ""),
        ((UrlSpec("/status/404", status_codes=(StatusCodeRange(200, 200), StatusCodeRange(404, 404))),), True, ""),
        ((UrlSpec("/http10", digest=BODY_MD5),), True, ""),
        ((UrlSpec("/reset", digest=BODY_MD5),), False, "url(1) connection reset by peer"),
        ((UrlSpec("/ok"), UrlSpec("/status/200"), UrlSpec("/ok", digest=BODY_MD5)), True, ""),
        ((UrlSpec("/ok"), UrlSpec("/status/500"), UrlSpec("/ok")), False, "url(2) HTTP status 500"),
    ],
)
def test_http_get(urls: tuple[UrlSpec, ...], ok: bool, reason: str) -> None:
    async def scenario(port: int) -> None:
        result = await probe_once(HttpProbe(http_check(port, *urls)))
        assert (result.ok, result.reason) == (ok, reason)
        assert result.latency > 0

    run_with_server(scenario)


def test_slow_response_times_out_after_connect_timeout() -> None:
    async def scenario(port: int) -> None:
        result = await probe_once(HttpProbe(http_check(port, UrlSpec("/slow"), connect_timeout=0.3)))
        assert (result.ok, result.reason) == (False, "url(1) timeout")
        assert 0.25 < result.latency < 2.0

    run_with_server(scenario)


def test_checks_with_different_timeouts_share_one_sweep_and_each_keeps_its_own() -> None:
    """The poller times connections out per ``connect_timeout``, not in the order they started."""

    async def scenario(port: int) -> None:
        probes = [HttpProbe(http_check(port, UrlSpec("/slow"), connect_timeout=t)) for t in (0.8, 0.3, 0.8, 0.3)]
        results = await asyncio.gather(*(probe_once(probe) for probe in probes))
        assert {r.reason for r in results} == {"url(1) timeout"}
        short, long = [r.latency for r in results[1::2]], [r.latency for r in results[::2]]
        assert all(0.25 < latency < 0.75 for latency in short), short
        assert all(0.75 < latency < 2.5 for latency in long), long

    run_with_server(scenario)


def test_connect_in_progress_times_out_or_completes_later() -> None:
    """Not loopback-instant: the request waits for the connect to finish (SYN retransmitted after ~1 s)."""

    async def scenario(_: int) -> None:
        silent = SilentListener()
        try:
            result = await probe_once(HttpProbe(http_check(silent.port, connect_timeout=0.2)))
            assert (result.ok, result.reason) == (False, "url(1) timeout")
            pending = asyncio.ensure_future(probe_once(HttpProbe(http_check(silent.port, connect_timeout=4.0))))
            await asyncio.sleep(0.05)
            silent.release()
            accepted = await asyncio.get_running_loop().run_in_executor(None, silent.listener_accept_blocking)
            accepted.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
            result = await pending
            accepted.close()
            assert result.ok, result.reason
            assert result.latency > 0.5  # it really waited for the retransmitted SYN
        finally:
            silent.close()

    run_with_server(scenario)


def test_bindto_and_bind_port_set_the_source() -> None:
    async def main() -> None:
        peers: list[tuple[str, int]] = []

        async def record_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peers.append(writer.get_extra_info("peername")[:2])
            await respond(reader, writer)

        server = await asyncio.start_server(record_peer, LOOPBACK, 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            source_port = free_port()
            check = http_check(port, bindto=ipaddress.ip_address("127.0.0.2"), bind_port=source_port)
            result = await probe_once(HttpProbe(check))
            assert result.ok, result.reason
        assert peers == [("127.0.0.2", source_port)]

    uvloop.run(main())


def test_connection_refused() -> None:
    async def scenario(_: int) -> None:
        result = await probe_once(HttpProbe(http_check(free_port())))
        assert (result.ok, result.reason) == (False, "url(1) connection refused")

    run_with_server(scenario)


def test_ipv6_loopback() -> None:
    async def main() -> None:
        server = await asyncio.start_server(respond, "::1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            result = await probe_once(HttpProbe(http_check(port, UrlSpec("/ok"), ip="::1")))
            assert result.ok, result.reason

    try:
        with socket.socket(socket.AF_INET6) as probe_socket:
            probe_socket.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    uvloop.run(main())


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict:
    ca = trustme.CA()
    cert = ca.issue_cert("www.example.com", "127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    other_ca_file = folder / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca_file))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server)
    names: list[str | None] = []
    server.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment]
    return {"server": server, "names": names, "ca": str(ca_file), "other_ca": str(other_ca_file)}


def test_ssl_get_with_sni_and_ca_verification(tls: dict) -> None:
    async def scenario(port: int) -> None:
        tls["names"].clear()
        check = http_check(port, UrlSpec("/ok", digest=BODY_MD5), kind="SSL_GET", virtualhost="www.example.com")
        result = await probe_once(SslProbe(check, client_ssl_context(SslDefs(ca=tls["ca"]))))
        assert result.ok, result.reason
        assert tls["names"] == ["www.example.com"]

        no_sni = http_check(port, UrlSpec("/ok"), kind="SSL_GET", virtualhost="www.example.com", enable_sni=False)
        assert (await probe_once(SslProbe(no_sni, client_ssl_context(None)))).ok  # no ca: not verified
        assert tls["names"][-1] is None

        untrusted = await probe_once(SslProbe(check, client_ssl_context(SslDefs(ca=tls["other_ca"]))))
        assert not untrusted.ok and "certificate verify failed" in untrusted.reason

        status = http_check(port, UrlSpec("/status/500"), kind="SSL_GET")
        assert (await probe_once(SslProbe(status, client_ssl_context(None)))).reason == "url(1) HTTP status 500"

    run_with_server(scenario, tls["server"])


def test_ssl_get_presents_the_client_certificate_from_the_ssl_block(tmp_path: Path) -> None:
    ca = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.configure_trust(server)
    server.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no handshake
    client = ca.issue_cert("checker.example")
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert_file))
    client.private_key_pem.write_to_path(str(key_file))

    async def scenario(port: int) -> None:
        check = http_check(port, UrlSpec("/ok"), kind="SSL_GET")
        with_cert = client_ssl_context(SslDefs(certificate=str(cert_file), key=str(key_file)))
        assert (await probe_once(SslProbe(check, with_cert))).ok
        without = await probe_once(SslProbe(check, client_ssl_context(None)))
        assert not without.ok

    run_with_server(scenario, server)


def test_a_check_leaves_no_reference_cycles_behind() -> None:
    """Cycles would make the GC part of every check's cost at 10,000 checks/s."""
    import gc

    from fastalived.check.http import BodyResponseCheck, ResponseCheck, _PlainExchange

    async def scenario(port: int) -> None:
        probes = [
            HttpProbe(http_check(port, UrlSpec("/ok"))),
            HttpProbe(http_check(port, UrlSpec("/ok", digest=BODY_MD5))),
        ]
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for probe in probes * 20:
                assert (await probe_once(probe)).ok
            gc.collect()
            ours = [o for o in gc.garbage if isinstance(o, ResponseCheck | BodyResponseCheck | _PlainExchange)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert ours == []

    run_with_server(scenario)
