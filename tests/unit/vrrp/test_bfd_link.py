"""VRRP's BFD shell without sockets: which session a packet belongs to, the single-hop TTL check,
and what reaches the router (up/down by name, once per change)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import time

from fastalived.config.model import BfdInstance
from fastalived.runtime.bfd import BfdSession, ControlPacket, State, decode
from fastalived.vrrp.bfd_link import BfdLink, _Peer

NEIGHBOR = ipaddress.ip_address("198.51.100.12")


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        self.sent.append((data, address))
        return len(data)

    def close(self) -> None:
        pass


def link_with_session(**kw) -> tuple[BfdLink, FakeSocket, list[tuple[str, bool]], BfdSession]:
    reports: list[tuple[str, bool]] = []
    link = BfdLink(lambda name, up: reports.append((name, up)))
    config = BfdInstance("b1", NEIGHBOR, min_rx=0.1, min_tx=0.1, multiplier=3, **kw)
    session = BfdSession(config, 0x1234, time.monotonic())
    sock = FakeSocket()
    link._peers["b1"] = _Peer(session, sock)  # type: ignore[arg-type]
    return link, sock, reports, session


def packet(state: State, your_disc: int = 0x1234) -> bytes:
    return ControlPacket(state, 0, 3, 0xBEEF, your_disc, 100_000, 100_000).encode()


def test_packets_bring_the_session_up_and_down_and_the_router_hears_each_change_once() -> None:
    link, sock, reports, session = link_with_session()
    link._received(packet(State.INIT), NEIGHBOR, 255)
    assert session.up and reports == [("b1", True)]
    assert sock.sent and sock.sent[-1][1] == ("198.51.100.12", 3784)
    assert decode(sock.sent[-1][0]).state == State.UP
    link._received(packet(State.UP), NEIGHBOR, 255)
    assert reports == [("b1", True)]
    link._received(packet(State.ADMIN_DOWN), NEIGHBOR, 255)
    assert reports == [("b1", True), ("b1", False)]


def test_single_hop_ttl_check_and_max_hops() -> None:
    link, _, reports, session = link_with_session()
    link._received(packet(State.INIT), NEIGHBOR, 254)  # routed once: not our neighbour
    assert session.state == State.DOWN and reports == []
    link, _, _, session = link_with_session(max_hops=1)
    link._received(packet(State.INIT), NEIGHBOR, 254)
    assert session.up
    link, _, _, session = link_with_session(max_hops=255)  # no check
    link._received(packet(State.INIT), NEIGHBOR, 1)
    assert session.up


def test_packets_from_elsewhere_or_for_another_session_are_dropped() -> None:
    link, _, reports, session = link_with_session()
    link._received(packet(State.DOWN, your_disc=0), ipaddress.ip_address("198.51.100.99"), 255)
    link._received(packet(State.INIT, your_disc=0x9999), NEIGHBOR, 255)
    link._received(packet(State.INIT), ipaddress.ip_address("198.51.100.99"), 255)  # right discr, wrong source
    link._received(b"\x20garbage", NEIGHBOR, 255)
    assert session.state == State.DOWN and session.remote_disc == 0 and reports == []


def test_close_says_admin_down_without_reporting() -> None:
    link, sock, reports, _ = link_with_session()
    link._received(packet(State.INIT), NEIGHBOR, 255)
    link.close()
    assert decode(sock.sent[-1][0]).state == State.ADMIN_DOWN
    assert reports == [("b1", True)]


def test_reload_keeps_a_session_whose_settings_did_not_change() -> None:
    link, _, reports, session = link_with_session()
    link._received(packet(State.INIT), NEIGHBOR, 255)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # stands for the open port 3784
    link._receivers[socket.AF_INET] = receiver

    async def reload() -> None:
        link.update([dataclasses.replace(session.config, weight=-30)], {"b1"})
        assert link._peers["b1"].session is session and session.config.weight == -30 and session.up
        link._receivers.clear()
        link.close()

    asyncio.run(reload())
    receiver.close()
    assert reports == [("b1", True)]
