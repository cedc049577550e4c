"""PING_CHECK and UDP_CHECK against real servers in their own namespaces.

The director (the check role, in-process on uvloop) runs in node 1, the real servers are nodes 2
and 3 on 203.0.113.0/24. Each test drives a real server down three ways and back: its link goes
down (no answer: ARP fails), ICMP port unreachable (UDP service closed), and up again, and checks
notify_up/notify_down and the table the IPVS sink would program.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from fastalived.check import icmp
from fastalived.check.events import CheckEvent, RealServerChange
from fastalived.check.process import CheckRole
from fastalived.config.model import CheckerCommon, PingCheck, UdpCheck
from tests.check.builders import config, notify_script, real_server, up_down_notifies, virtual_server
from tests.check.test_check_role import RecordingSink, until
from tests.support.testbed import Testbed, in_netns, unavailable_reason

UDP_PORT = 5353
FAST = {"delay_loop": 0.2, "retry": 1, "delay_before_retry": 0.1, "connect_timeout": 0.5, "warmup": 0.0}
SERVICE = "UDP 198.51.100.100:5353"


@pytest.fixture
def farm() -> Iterator[Testbed]:
    """Director 203.0.113.1 and real servers 203.0.113.2, .3 on one switch."""
    if reason := unavailable_reason():
        pytest.skip(reason)
    bed = Testbed(3, prefix="chk", ipv4=["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    try:
        yield bed
    finally:
        bed.destroy()


def common(ip: str, port: int = UDP_PORT) -> CheckerCommon:
    return CheckerCommon(connect_ip=ipaddress.ip_address(ip), connect_port=port, **FAST)


class UdpEcho:
    """A UDP echo service opened inside a real server's namespace, served by the test's loop."""

    def __init__(self, netns: str, address: str) -> None:
        with in_netns(netns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, UDP_PORT))
        self.sock.setblocking(False)
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._echo)

    def _echo(self) -> None:
        data, peer = self.sock.recvfrom(2048)
        self.sock.sendto(b"OK" + data, peer)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


def last_change(events: list[CheckEvent], rs_ip: str, port: int = UDP_PORT) -> RealServerChange | None:
    changes = [e for e in events if isinstance(e, RealServerChange) and e.rs_key == (ipaddress.ip_address(rs_ip), port)]
    return changes[-1] if changes else None


def run_in_director(farm: Testbed, main: object) -> None:
    with in_netns(farm.node(1).netns):
        uvloop.run(main)  # type: ignore[arg-type]


@pytest.mark.parametrize("unprivileged", [False, True], ids=["raw", "datagram"])
def test_ping_check_follows_link_state(farm: Testbed, tmp_path: Path, unprivileged: bool) -> None:
    if unprivileged:  # let every group open datagram ICMP sockets in the director's namespace
        subprocess.run(
            ["ip", "netns", "exec", farm.node(1).netns, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"],
            check=True,
        )
    script, log_file = notify_script(tmp_path)
    icmp._kind_by_family.clear()  # forget an earlier fallback to raw sockets

    async def main() -> None:
        ping = PingCheck("PING_CHECK", common("203.0.113.2", 0))
        rs = real_server(UDP_PORT, ping, ip="203.0.113.2", **up_down_notifies(script))
        vs = virtual_server(rs, address="198.51.100.100", port=UDP_PORT, protocol="UDP")
        events: list[CheckEvent] = []
        sink = RecordingSink()
        role = CheckRole(ipvs=sink, on_events=events.extend)
        await role.start(config(vs))
        await until(lambda: role.runs["success"] >= 2 and bool(sink.tables))
        assert sink.tables[-1] == {SERVICE: {("203.0.113.2", UDP_PORT): 1}}
        farm.node(2).set_link(False)
        await until(lambda: (c := last_change(events, "203.0.113.2")) is not None and not c.up)
        await until(lambda: sink.tables[-1] == {SERVICE: {}})
        farm.node(2).set_link(True)
        await until(lambda: sink.tables[-1] == {SERVICE: {("203.0.113.2", UDP_PORT): 1}}, timeout=10)
        await until(lambda: log_file.exists() and log_file.read_text().split() == ["down", "up"])
        await role.stop()
        assert icmp._kind_by_family.get(socket.AF_INET) == (None if unprivileged else socket.SOCK_RAW)

    run_in_director(farm, main())


def test_udp_check_port_unreachable_link_down_and_reply(farm: Testbed, tmp_path: Path) -> None:
    script, log_file = notify_script(tmp_path)

    async def main() -> None:
        echo = UdpEcho(farm.node(2).netns, "203.0.113.2")
        silent = UdpCheck("UDP_CHECK", common("203.0.113.2"), payload=b"\x01\x02")
        replying = UdpCheck(
            "UDP_CHECK", common("203.0.113.3"), require_reply=True, reply_data=b"OK\x00", reply_mask=b"\x00\x00\xff"
        )
        rs2 = real_server(UDP_PORT, silent, ip="203.0.113.2", **up_down_notifies(script))
        rs3 = real_server(UDP_PORT, replying, ip="203.0.113.3")
        vs = virtual_server(rs2, rs3, address="198.51.100.100", port=UDP_PORT, protocol="UDP")
        events: list[CheckEvent] = []
        sink = RecordingSink()
        role = CheckRole(ipvs=sink, on_events=events.extend)
        await role.start(config(vs))
        # .3 has no echo service: ICMP port unreachable; .2 echoes
        await until(lambda: (c := last_change(events, "203.0.113.3")) is not None and not c.up)
        await until(lambda: sink.tables[-1] == {SERVICE: {("203.0.113.2", UDP_PORT): 1}})
        echo.close()  # .2 now answers with port unreachable
        await until(lambda: (c := last_change(events, "203.0.113.2")) is not None and not c.up)
        assert "connection refused" in (c.reason if (c := last_change(events, "203.0.113.2")) else "")
        echo = UdpEcho(farm.node(2).netns, "203.0.113.2")
        replier = UdpEcho(farm.node(3).netns, "203.0.113.3")  # replies "OK" + payload: require_reply passes
        await until(lambda: sink.tables[-1] == {SERVICE: {("203.0.113.2", UDP_PORT): 1, ("203.0.113.3", UDP_PORT): 1}})
        farm.node(3).set_link(False)  # silence: require_reply needs an answer
        await until(lambda: (c := last_change(events, "203.0.113.3")) is not None and not c.up, timeout=10)
        await until(lambda: log_file.exists() and log_file.read_text().split() == ["down", "up"])
        replier.close()
        echo.close()
        await role.stop()

    run_in_director(farm, main())


def test_ipv6_ping_and_udp_port_unreachable(farm: Testbed) -> None:
    """ICMPv6 echo (raw: no IP header, kernel checksum) and IPV6_RECVERR for UDP."""
    icmp._kind_by_family.clear()

    async def main() -> None:
        address = farm.node(2).ipv6
        ping = PingCheck("PING_CHECK", common(address, 0))
        udp = UdpCheck("UDP_CHECK", common(address))  # nothing listens: port unreachable
        rs_ping = real_server(7, ping, ip=address)
        rs_udp = real_server(UDP_PORT, udp, ip=address)
        vs = virtual_server(rs_ping, rs_udp, address="2001:db8::100", port=UDP_PORT, protocol="UDP")
        events: list[CheckEvent] = []
        role = CheckRole(ipvs=RecordingSink(), on_events=events.extend)
        await role.start(config(vs))
        await until(lambda: (c := last_change(events, address)) is not None and not c.up)
        change = last_change(events, address)
        assert change is not None and change.reason == "connection refused"
        ping_state = role.state.real_server(vs.key, rs_ping.key)
        assert ping_state is not None
        await until(lambda: ping_state.checkers[0].last_result is not None)
        assert ping_state.checkers[0].last_result.ok
        farm.node(2).set_link(False)
        await until(lambda: (c := last_change(events, address, 7)) is not None and not c.up)
        await role.stop()

    run_in_director(farm, main())
