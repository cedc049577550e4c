"""The harness's pure parts: the sniffer's decoder on frames as keepalived 2.2.7 puts them on the
wire, and the log check on both daemons' phrasing. No namespaces needed."""

from __future__ import annotations

import pytest

from tests.support.keepalived import bad_packet_lines
from tests.support.wire import advert_gaps, decode

pytestmark = pytest.mark.interop

V2_PASS_ADVERT = ("01005e000012020000000001080045c0002800010000ff701887c000020be0000012"
                  "2133960101017879c633646466617374616c6976")
V3_IPV6_ADVERT = ("33330000001202000000000186dd6c0d6722001870fffe80000000000000000000fffe000001"
                  "ff0200000000000000000000000000123133960100640c8f20010db8000000000000000000000100")
GRATUITOUS_ARP = "ffffffffffff02000000000208060001080006040001020000000002c6336464ffffffffffffc6336464"
UNSOLICITED_NA = ("33330000000102000000000286dd6000000000203aff20010db8000000000000000000000100"
                  "ff0200000000000000000000000000018800f72b2000000020010db8000000000000000000000100"
                  "0201020000000002")


def test_vrrp_adverts_v2_and_v3() -> None:
    v2 = decode(bytes.fromhex(V2_PASS_ADVERT), 1.0)
    assert v2 is not None and (v2.kind, v2.version, v2.vrid, v2.priority, v2.advert_int) == ("vrrp", 2, 51, 150, 1.0)
    assert (v2.src_mac, v2.src_ip) == ("02:00:00:00:00:01", "192.0.2.11")
    v3 = decode(bytes.fromhex(V3_IPV6_ADVERT), 2.0)
    assert v3 is not None and (v3.kind, v3.version, v3.vrid, v3.priority, v3.advert_int) == ("vrrp", 3, 51, 150, 1.0)
    assert v3.src_ip == "fe80::ff:fe00:1" and v3.timestamp == 2.0


def test_takeover_announcements() -> None:
    arp = decode(bytes.fromhex(GRATUITOUS_ARP), 0.0)
    assert arp is not None and arp.kind == "arp" and arp.gratuitous and arp.target == "198.51.100.100"
    na = decode(bytes.fromhex(UNSOLICITED_NA), 0.0)
    assert na is not None and (na.kind, na.src_ip, na.target) == ("na", "2001:db8::100", "2001:db8::100")


def test_other_frames_are_ignored_and_gaps_are_per_sender() -> None:
    assert decode(bytes.fromhex(GRATUITOUS_ARP)[:20], 0.0) is None
    advert = bytes.fromhex(V2_PASS_ADVERT)
    frames = [decode(advert, ts) for ts in (0.0, 1.0, 2.5)]
    assert advert_gaps([f for f in frames if f]) == [1.0, 1.5]


def test_bad_packet_lines_of_both_daemons() -> None:
    log = "\n".join([
        "Thu Nov 26 03:36:58 2026: (VI_1) received an invalid passwd!",
        "Thu Nov 26 03:36:58 2026: (VI_1) invalid TTL/HL. Received 64 and expect 255",
        "fastalived_vrrp[7]: (VI_1) dropped advert from 198.51.100.11: BAD_AUTH_PASS",
        "fastalived_vrrp[7]: eth0: dropped VRRP packet from 198.51.100.11: BAD_VRID",
        "Thu Nov 26 03:36:58 2026: (VI_1) Entering MASTER STATE",
    ])
    assert [line.split(": ", 1)[1] for line in bad_packet_lines(log)] == [
        "(VI_1) received an invalid passwd!", "(VI_1) invalid TTL/HL. Received 64 and expect 255",
        "(VI_1) dropped advert from 198.51.100.11: BAD_AUTH_PASS"]
