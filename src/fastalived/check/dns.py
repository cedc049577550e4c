"""DNS_CHECK: one UDP query (type, name; recursion desired) per check.

As keepalived requires: a reply whose id matches the query, with the QR bit set and rcode
NOERROR. Replies with another id are ignored (a late answer to an earlier check); anything else
fails the check. No answer records are required.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time

from fastalived.check.probe import CoroutineProbe
from fastalived.check.state import CheckResult
from fastalived.check.tcp import checker_socket, failure_text
from fastalived.config.model import DnsCheck

QUERY_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
RCODES = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_FLAG_RD = 0x0100
_FLAG_QR = 0x8000


def encode_name(name: str) -> bytes:
    """``www.example.com`` -> length-prefixed labels ending with the root label."""
    labels = [label for label in name.strip(".").split(".") if label]
    return b"".join(bytes([len(raw)]) + raw for raw in (label.encode("idna") for label in labels)) + b"\0"


def build_query(query_id: int, question: bytes) -> bytes:
    return struct.pack("!HHHHHH", query_id, _FLAG_RD, 1, 0, 0, 0) + question


def encode_question(name: str, qtype: str) -> bytes:
    """QNAME QTYPE QCLASS=IN; an unknown type raises KeyError when the probe is built."""
    return encode_name(name) + struct.pack("!HH", QUERY_TYPES[qtype.upper()], 1)


def judge_reply(query_id: int, reply: bytes) -> str | None:
    """None when ``reply`` passes, "" when it is not ours (keep waiting), else the failure."""
    if len(reply) < 12:
        return "reply too short"
    reply_id, flags = struct.unpack_from("!HH", reply)
    if reply_id != query_id:
        return ""
    if not flags & _FLAG_QR:
        return "reply is not a response"
    rcode = flags & 0x000F
    if rcode:
        return RCODES.get(rcode, f"rcode {rcode}")
    return None


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, query_id: int, query: bytes, done: asyncio.Future[str | None]) -> None:
        self.query_id = query_id
        self.query = query
        self.done = done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.sendto(self.query)  # type: ignore[attr-defined]

    def datagram_received(self, data: bytes, addr: object) -> None:
        verdict = judge_reply(self.query_id, data)
        if verdict != "" and not self.done.done():
            self.done.set_result(verdict)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable and friends
        if not self.done.done():
            self.done.set_result(failure_text(exc))


class DnsProbe(CoroutineProbe):
    __slots__ = ("common", "question")

    def __init__(self, check: DnsCheck) -> None:
        self.common = check.common
        self.question = encode_question(check.name, check.type)

    async def run(self) -> CheckResult:
        common = self.common
        started = time.monotonic()
        query_id = random.getrandbits(16)
        query = build_query(query_id, self.question)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str | None] = loop.create_future()
        transport = None
        try:
            async with asyncio.timeout(common.connect_timeout):
                sock, target = checker_socket(common, socket.SOCK_DGRAM)
                try:
                    sock.connect(target.address)
                except OSError:
                    sock.close()
                    raise
                transport, _ = await loop.create_datagram_endpoint(lambda: _Exchange(query_id, query, done), sock=sock)
                failure = await done
        except (OSError, TimeoutError) as exc:
            failure = failure_text(exc)
        finally:
            if transport is not None:
                transport.close()
        return CheckResult(failure is None, failure or "", time.monotonic() - started)
