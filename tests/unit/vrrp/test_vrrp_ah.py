"""``auth_type AH``: keepalived 2.2.7's IPsec AH (HMAC-MD5-96) for VRRPv2, against its own captures.

The golden frames below were captured on a testbed bridge from /usr/sbin/keepalived (Debian's
2.2.7) running one instance: VRID 51, priority 150, advert_int 1, VIPs 198.51.100.100 and .101,
source 198.51.100.11, ``auth_type AH``. Each is the whole Ethernet frame; the IP packet starts at 14.
"""

from __future__ import annotations

import hmac
import random
import socket

import pytest

from fastalived.config import parse_string
from fastalived.config.model import Config
from fastalived.vrrp import ah, wire
from fastalived.vrrp.binding import advert_protocol, needs_restart
from fastalived.vrrp.io import AdvertSender
from fastalived.vrrp.machine import BACKUP, MASTER
from fastalived.vrrp.report import keepalived_stats_text
from fastalived.vrrp.router import VrrpRouter
from tests.support.testbed import global_defs_config, vrrp_instance_config

SRC = socket.inet_aton("198.51.100.11")
PEER = socket.inet_aton("198.51.100.12")
LOW_PEER = socket.inet_aton("198.51.100.5")
GROUP = socket.inet_aton("224.0.0.18")
VIPS = [socket.inet_aton("198.51.100.100"), socket.inet_aton("198.51.100.101")]
PASSWORD = b"fastaliv"

# auth_pass fastaliv, multicast: adverts 1-3 at priority 150, then the priority-0 advert on SIGTERM.
KEEPALIVED_MCAST = [
    "01005e000012020000000001080045c0004400010000ff33b074c633640be000001270040000c633640b00000001"
    "150e17fcec9fb94b57088d0e213396020201f197c6336464c63364650000000000000000",
    "01005e000012020000000001080045c0004400020000ff33b073c633640be000001270040000c633640b00000002"
    "4a791571a5d7dc448aafdd5e213396020201f197c6336464c63364650000000000000000",
    "01005e000012020000000001080045c0004400030000ff33b072c633640be000001270040000c633640b00000003"
    "ec6a79e1c5f31bc4bdffeeb6213396020201f197c6336464c63364650000000000000000",
    "01005e000012020000000001080045c0004400040000ff33b071c633640be000001270040000c633640b00000004"
    "16caa8e9386fbaa6e06e67ca2133000202018798c6336464c63364650000000000000000",
]
# auth_pass fastaliv, unicast_peer 198.51.100.12: the TTL is left out of the ICV.
KEEPALIVED_UNICAST = (
    "020000000002020000000001080045c0004400010000ff336647c633640bc633640c70040000c633640b00000001"
    "9a0ec31daaf15f08f08acb69213396020201f197c6336464c63364650000000000000000"
)
# auth_pass ah: a short password is zero-padded to keepalived's 8-byte key.
KEEPALIVED_SHORT_PASS = (
    "01005e000012020000000001080045c0004400010000ff33b074c633640be000001270040000c633640b00000001"
    "41b512b3adcd4394190f442b213396020201f197c6336464c63364650000000000000000"
)


def ip_packet(frame_hex: str) -> bytes:
    return bytes.fromhex(frame_hex)[14:]


def vrrp(priority: int = 150, dst: bytes = GROUP) -> bytes:
    return wire.build_advert(2, 51, priority, 1, VIPS, auth_type=2, src=SRC, dst=dst)


# --------------------------------------------------------------------------- the wire format


@pytest.mark.parametrize(("seq", "priority"), [(1, 150), (2, 150), (3, 150), (4, 0)])
def test_build_packet_is_byte_for_byte_keepalived(seq: int, priority: int) -> None:
    built = ah.build_packet(SRC, GROUP, vrrp(priority), seq, seq, ah.key_of(PASSWORD))
    assert built == ip_packet(KEEPALIVED_MCAST[seq - 1])


def test_unicast_and_short_password_golden_frames() -> None:
    unicast = ah.build_packet(SRC, PEER, vrrp(dst=PEER), 1, 1, ah.key_of(PASSWORD), unicast=True)
    assert unicast == ip_packet(KEEPALIVED_UNICAST)
    assert ah.build_packet(SRC, GROUP, vrrp(), 1, 1, ah.key_of(b"ah")) == ip_packet(KEEPALIVED_SHORT_PASS)
    assert ah.key_of(b"ah") == b"ah\0\0\0\0\0\0" and ah.key_of(b"123456789") == b"12345678"


def test_the_icv_is_hmac_md5_96_over_the_packet_with_mutable_fields_zeroed() -> None:
    """An independent recomputation: TOS, flags/fragment offset and checksum zeroed, the TTL kept
    for multicast, the IP ID kept, the ICV zeroed; the key is the 8-byte padded password."""
    packet = bytearray(ip_packet(KEEPALIVED_MCAST[0]))
    icv = bytes(packet[32:44])
    packet[1] = 0
    packet[6:8] = packet[10:12] = b"\0\0"
    packet[32:44] = bytes(12)
    assert hmac.digest(PASSWORD, bytes(packet), "md5")[:12] == icv


def test_unwrap_gives_the_plain_advert_and_the_ah_fields() -> None:
    sealed = ah.unwrap(ip_packet(KEEPALIVED_MCAST[1]))
    assert isinstance(sealed, ah.Sealed)
    assert (sealed.seq, sealed.spi) == (2, SRC)
    advert = wire.decode_advert(sealed.inner, socket.AF_INET, has_ip_header=True)
    assert isinstance(advert, wire.Advert)
    assert (advert.vrid, advert.priority, advert.auth_type, advert.addresses) == (51, 150, 2, tuple(VIPS))
    assert advert.auth_data == bytes(8) and advert.src == SRC and advert.ttl == 255


def test_authentic_keepalived_adverts_pass_in_order_and_replays_do_not() -> None:
    counter, key = ah.SeqCounter(), ah.key_of(PASSWORD)
    sealed = [ah.unwrap(ip_packet(frame)) for frame in KEEPALIVED_MCAST]
    assert all(isinstance(s, ah.Sealed) for s in sealed)
    first, second, third, last = sealed
    assert isinstance(first, ah.Sealed) and isinstance(second, ah.Sealed)
    assert isinstance(third, ah.Sealed) and isinstance(last, ah.Sealed)
    assert ah.authenticate(first, key, False, counter) is None
    assert ah.authenticate(third, key, False, counter) is None  # gaps are fine
    assert counter.seq == 3
    assert ah.authenticate(second, key, False, counter) is ah.AhDrop.AH_REPLAY  # older
    assert ah.authenticate(third, key, False, counter) is ah.AhDrop.AH_REPLAY  # the same again
    assert ah.authenticate(last, key, False, counter) is None and counter.seq == 4


def test_a_wrong_password_or_any_covered_change_fails_the_icv() -> None:
    packet = ip_packet(KEEPALIVED_MCAST[0])
    wrong = ah.unwrap(packet)
    assert isinstance(wrong, ah.Sealed)
    assert ah.authenticate(wrong, ah.key_of(b"wrongpw"), False, ah.SeqCounter()) is ah.AhDrop.BAD_AH_ICV
    for offset, value in ((4, 0x77), (8, 64), (16, 0xE1), (47, 200), (52, 9)):  # IP ID, TTL, dst, priority, VIP
        changed = bytearray(packet)
        changed[offset] = value
        sealed = ah.unwrap(bytes(changed))
        assert isinstance(sealed, ah.Sealed)
        assert ah.authenticate(sealed, ah.key_of(PASSWORD), False, ah.SeqCounter()) is ah.AhDrop.BAD_AH_ICV, offset
    counter = ah.SeqCounter()
    assert ah.authenticate(wrong, ah.key_of(PASSWORD), False, counter) is None
    assert counter.seq == 1


def test_mutable_fields_and_a_unicast_ttl_are_not_covered() -> None:
    changed = bytearray(ip_packet(KEEPALIVED_MCAST[0]))
    changed[1], changed[6], changed[10], changed[11] = 0, 0x40, 0x12, 0x34  # TOS, DF, checksum
    sealed = ah.unwrap(bytes(changed))
    assert isinstance(sealed, ah.Sealed)
    assert ah.authenticate(sealed, ah.key_of(PASSWORD), False, ah.SeqCounter()) is None
    unicast = bytearray(ip_packet(KEEPALIVED_UNICAST))
    unicast[8] = 61  # four routers on the way
    sealed = ah.unwrap(bytes(unicast))
    assert isinstance(sealed, ah.Sealed)
    assert ah.authenticate(sealed, ah.key_of(PASSWORD), True, ah.SeqCounter()) is None
    assert ah.authenticate(sealed, ah.key_of(PASSWORD), False, ah.SeqCounter()) is ah.AhDrop.BAD_AH_ICV


def test_the_spi_must_be_the_source_address() -> None:
    packet = bytearray(ip_packet(KEEPALIVED_MCAST[0]))
    packet[24:28] = PEER  # another SPI, with an ICV that matches it
    packet[32:44] = bytes(12)
    mutable_zeroed = bytearray(packet)
    mutable_zeroed[1] = 0
    mutable_zeroed[10:12] = b"\0\0"
    packet[32:44] = hmac.digest(PASSWORD, bytes(mutable_zeroed), "md5")[:12]
    sealed = ah.unwrap(bytes(packet))
    assert isinstance(sealed, ah.Sealed)
    assert ah.authenticate(sealed, ah.key_of(PASSWORD), False, ah.SeqCounter()) is ah.AhDrop.BAD_AH_SPI


def test_malformed_ah_packets_are_named_and_never_raise() -> None:
    packet = ip_packet(KEEPALIVED_MCAST[0])
    assert ah.unwrap(packet[:30]) is ah.AhDrop.BAD_AH_HEADER  # shorter than its total length
    not_vrrp = bytearray(packet)
    not_vrrp[20] = 6
    assert ah.unwrap(bytes(not_vrrp)) is ah.AhDrop.AH_NOT_VRRP
    sha1_layout = bytearray(packet)
    sha1_layout[21] = 5
    assert ah.unwrap(bytes(sha1_layout)) is ah.AhDrop.BAD_AH_HEADER
    tiny = bytearray(packet[:40])
    tiny[2:4] = (40).to_bytes(2, "big")  # IP header + 20 bytes: no room for the AH
    assert ah.unwrap(bytes(tiny)) is ah.AhDrop.BAD_AH_HEADER
    assert ah.unwrap(ip_packet(KEEPALIVED_MCAST[0]) + bytes(6)).inner[-8:] == bytes(8)  # Ethernet padding cut
    rng = random.Random(51)
    for _ in range(2000):
        data = bytearray(packet[: rng.randrange(len(packet) + 1)])
        for _ in range(rng.randrange(4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        if ah.is_ah(bytes(data)):
            result = ah.unwrap(bytes(data))
            if isinstance(result, ah.Sealed):
                ah.authenticate(result, ah.key_of(PASSWORD), False, ah.SeqCounter())
                wire.decode_advert(result.inner, socket.AF_INET, has_ip_header=True)


# --------------------------------------------------------------------------- the counter


def test_counter_sends_from_1_and_continues_above_what_it_accepted() -> None:
    counter = ah.SeqCounter()
    assert [counter.next_sent() for _ in range(3)] == [1, 2, 3]
    assert counter.accept(41) and not counter.accept(41) and not counter.accept(7)
    assert counter.next_sent() == 42
    counter.sync(100)  # a master heard a lower-priority router at 100
    assert counter.next_sent() == 102


def test_counter_stops_at_the_top_and_restarts_as_master() -> None:
    counter = ah.SeqCounter()
    assert counter.accept(0xFFFFFFFD)
    assert counter.next_sent() == 0xFFFFFFFE
    assert counter.next_sent() == 0xFFFFFFFE and counter.cycled
    counter.entering_master()
    assert (counter.seq, counter.cycled) == (0, False)
    counter.entering_master()  # only a cycled counter restarts
    assert counter.next_sent() == 1
    counter.entering_master()
    assert counter.next_sent() == 2


# --------------------------------------------------------------------------- sending


class FakeSocket:
    family = socket.AF_INET

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def destination(self, address: str) -> tuple[str, int]:
        return (address, 0)

    def queue(self, packet: bytes, dest: tuple[str, int]) -> None:
        self.sent.append((packet, dest))


def sender(counter: ah.SeqCounter, destinations: list[str], unicast: bool = False) -> tuple[AdvertSender, FakeSocket]:
    vsock = FakeSocket()
    sealer = ah.Sealer(PASSWORD, counter, unicast)
    return AdvertSender(vsock, version=2, vrid=51, advert_int=1, addresses=VIPS, src=SRC,  # type: ignore[arg-type]
                        destinations=destinations, auth_type=2, sealer=sealer), vsock  # fmt: skip


def test_the_advert_sender_seals_exactly_like_keepalived() -> None:
    advert_sender, vsock = sender(ah.SeqCounter(), ["224.0.0.18"])
    for priority in (150, 150, 150, 0):
        assert advert_sender.queue(priority) == 1
    assert [packet for packet, _ in vsock.sent] == [ip_packet(frame) for frame in KEEPALIVED_MCAST]
    assert vsock.sent[0][1] == ("224.0.0.18", 0)


def test_unicast_peers_share_one_sequence_number_per_advert_and_skip_ip_id_0() -> None:
    counter = ah.SeqCounter()
    advert_sender, vsock = sender(counter, ["198.51.100.12", "198.51.100.13"], unicast=True)
    advert_sender.ip_id = 0xFFFE
    advert_sender.queue(150)
    assert vsock.sent[0][0] == ah.build_packet(SRC, PEER, vrrp(dst=PEER), 0xFFFF, 1, ah.key_of(PASSWORD), unicast=True)
    second = ah.unwrap(vsock.sent[1][0])
    assert isinstance(second, ah.Sealed) and second.seq == 1
    assert second.packet[4:6] == b"\0\x01"  # 0 would be replaced by the kernel after the ICV
    assert ah.authenticate(second, ah.key_of(PASSWORD), True, ah.SeqCounter()) is None


# --------------------------------------------------------------------------- the router


class Listener:
    ifname = "eth0"
    family = socket.AF_INET
    group_packed = GROUP


ETH0 = Listener()


def config(*instances: str) -> Config:
    result = parse_string(global_defs_config("r1") + "".join(instances))
    assert result.ok, result.diagnostics
    return result.config


def ah_instance(priority: int = 100, password: str = "fastaliv", vrid: int = 51, extra: str = "") -> str:
    return vrrp_instance_config("VI_1", vrid, priority, ["198.51.100.100/24", "198.51.100.101/24"],
                                auth_pass=password, auth_type="AH", extra=extra)  # fmt: skip


def started(cfg: Config, me: bytes = SRC) -> VrrpRouter:
    router = VrrpRouter()
    router.configure(cfg)
    for inst in cfg.vrrp_instances:
        router.add(inst)
        router.bind(inst.name, "eth0", socket.AF_INET, me, 0.0)
        for ifname in router.links_to_learn(inst.name):
            router.learn_link(ifname, True)
        router.start(inst.name, 0.0)
    return router


def peer_advert(seq: int, priority: int = 150, src: bytes = PEER, password: bytes = PASSWORD) -> bytes:
    payload = wire.build_advert(2, 51, priority, 1, VIPS, auth_type=2, src=src, dst=GROUP)
    return ah.build_packet(src, GROUP, payload, seq, seq, ah.key_of(password))


def test_a_backup_accepts_keepalived_adverts_and_takes_their_sequence_numbers() -> None:
    router = started(config(ah_instance(priority=100)), me=PEER)
    for now, frame in enumerate(KEEPALIVED_MCAST[:3], start=1):
        received = router.receive(ETH0, ip_packet(frame), b"", -1, float(now))
        assert received.instance == "VI_1" and received.heard == (SRC, 150, 1.0)
    inst = router.instances["VI_1"]
    assert (router.state("VI_1"), inst.adverts_received, dict(inst.drops)) == (BACKUP, 3, {})
    assert inst.ah_seq.seq == 3
    router.receive(ETH0, ip_packet(KEEPALIVED_MCAST[3]), b"", -1, 4.0)  # priority 0: release
    assert inst.ah_seq.seq == 4 and inst.priority_zero_received == 1
    assert inst.ah_seq.next_sent() == 5  # the new master continues above its old master


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (peer_advert(1, password=b"wrongpw"), "BAD_AH_ICV"),
        (
            wire.build_ipv4_header(PEER, GROUP, 24, 1) + wire.build_advert(2, 51, 150, 1, VIPS, auth_type=2),
            "AH_MISSING",
        ),
    ],
    ids=["wrong-password", "no-ah"],
)
def test_bad_adverts_are_dropped_by_name_and_counted_as_keepalived_does(packet: bytes, reason: str) -> None:
    router = started(config(ah_instance()))
    received = router.receive(ETH0, packet, b"", -1, 1.0)
    assert received.instance is None
    inst = router.instances["VI_1"]
    assert dict(inst.drops) == {reason: 1} and router.interface_drops[("eth0", socket.AF_INET)][reason] == 1
    stats = keepalived_stats_text(router, {})
    field = "Failure: 1" if reason == "BAD_AH_ICV" else "Type Mismatch: 1"
    assert field in stats


def test_replays_are_dropped_and_counted() -> None:
    router = started(config(ah_instance()))
    assert router.receive(ETH0, peer_advert(5), b"", -1, 1.0).instance == "VI_1"
    for seq in (5, 4):
        assert router.receive(ETH0, peer_advert(seq), b"", -1, 2.0).instance is None
    assert dict(router.instances["VI_1"].drops) == {"AH_REPLAY": 2}
    assert "Failure: 2" in keepalived_stats_text(router, {})


def test_an_instance_without_ah_refuses_ah_and_other_protocols_in_ah_are_not_ours() -> None:
    plain = vrrp_instance_config("VI_1", 51, 100, ["198.51.100.100/24", "198.51.100.101/24"], auth_pass="fastaliv")
    router = started(config(plain))
    assert router.receive(ETH0, peer_advert(1), b"", -1, 1.0).instance is None
    assert dict(router.instances["VI_1"].drops) == {"AH_UNEXPECTED": 1}
    other = bytearray(peer_advert(2))
    other[20] = 6  # AH protecting TCP
    assert router.receive(ETH0, bytes(other), b"", -1, 1.0).instance is None
    assert router.interface_drops[("eth0", socket.AF_INET)]["AH_NOT_VRRP"] == 1


def test_a_master_hearing_a_lower_priority_router_continues_above_its_sequence() -> None:
    router = started(config(ah_instance(priority=200)))
    down = router.deadline("VI_1")
    assert down is not None
    router.timer("VI_1", down)
    assert router.state("VI_1") == MASTER
    counter = router.instances["VI_1"].ah_seq
    counter.next_sent()
    assert router.receive(ETH0, peer_advert(1000, priority=100, src=LOW_PEER), b"", -1, down + 0.5).instance == "VI_1"
    assert router.state("VI_1") == MASTER and counter.next_sent() == 1002


def test_ah_instances_use_protocol_51_and_switching_auth_restarts_the_instance() -> None:
    (with_ah,) = config(ah_instance()).vrrp_instances
    (other_pass,) = config(ah_instance(password="other")).vrrp_instances
    plain = vrrp_instance_config("VI_1", 51, 100, ["198.51.100.100/24", "198.51.100.101/24"], auth_pass="fastaliv")
    (with_pass,) = config(plain).vrrp_instances
    assert (advert_protocol(with_ah), advert_protocol(with_pass)) == (ah.AH_PROTO, wire.VRRP_PROTO)
    assert needs_restart(with_ah, with_pass) and not needs_restart(with_ah, other_pass)


def test_ah_is_ipv4_vrrpv2_only_and_clears_an_initial_master_state() -> None:
    cfg = config(ah_instance(extra="    state MASTER"))
    (inst,) = cfg.vrrp_instances
    assert ah.uses_ah(inst) and inst.state == "BACKUP"
    result = parse_string(global_defs_config("r1") + ah_instance(extra="    state MASTER"))
    assert any("incompatible with AH" in d.message for d in result.diagnostics)
    v6 = vrrp_instance_config("VI_6", 52, 100, ["2001:db8::100/64"], auth_pass="x", auth_type="AH")
    result = parse_string(global_defs_config("r1") + v6)
    assert not any(ah.uses_ah(i) for i in result.config.vrrp_instances)
