"""Frames captured from keepalived 2.2.7 decode, and re-encode to the identical bytes."""

import json
import socket
from pathlib import Path
from types import ModuleType

import pytest

FRAMES: dict[str, bytes] = {
    name: bytes.fromhex(text)
    for name, text in json.loads(
        (Path(__file__).parent / "fixtures" / "keepalived_frames.json").read_text()
    )["frames"].items()
}
ETHERNET = 14
VIP4 = socket.inet_pton(socket.AF_INET, "198.51.100.100")
VIP6 = socket.inet_pton(socket.AF_INET6, "2001:db8::100")
MAC_KA2 = bytes.fromhex("020000000002")
VMAC_51 = bytes.fromhex("00005e000133")
PASSWORD = b"fastaliv"
ADVERTS4 = [name for name in FRAMES if "_v4_" in name and "garp" not in name]
ADVERTS6 = [name for name in FRAMES if "_v6_" in name and "_na_" not in name]


def _packed(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def _mask_flow_label(frame: bytes) -> bytes:
    """Zero the kernel-chosen 20-bit IPv6 flow label of an Ethernet frame."""
    first = int.from_bytes(frame[ETHERNET : ETHERNET + 4], "big") & ~0xFFFFF
    return frame[:ETHERNET] + first.to_bytes(4, "big") + frame[ETHERNET + 4 :]


@pytest.mark.parametrize("name", ADVERTS4)
def test_ipv4_advert_roundtrip(codec_impl: ModuleType, name: str) -> None:
    frame = FRAMES[name]
    advert = codec_impl.decode_advert(frame[ETHERNET:], socket.AF_INET, has_ip_header=True)
    assert isinstance(advert, codec_impl.Advert)
    expected_version = 2 if name.startswith("vrrpv2") else 3
    assert (advert.version, advert.type, advert.vrid, advert.count) == (expected_version, 1, 51, 1)
    assert advert.priority == (0 if "prio0" in name else 150)
    assert advert.addresses == (VIP4,)
    assert advert.ttl == 255
    assert advert.checksum_ok_form == ("v2" if expected_version == 2 else "pseudo")
    if expected_version == 2:
        assert (advert.auth_type, advert.auth_data, advert.interval) == (1, PASSWORD, 1)
    else:
        assert (advert.auth_type, advert.auth_data, advert.interval) == (0, b"", 100)

    group = _packed(codec_impl.MCAST4)
    payload = codec_impl.build_advert(
        advert.version, advert.vrid, advert.priority, advert.interval, advert.addresses,
        auth_type=advert.auth_type, auth_data=PASSWORD if expected_version == 2 else b"",
        src=advert.src, dst=group,
    )  # fmt: skip
    ident = int.from_bytes(frame[ETHERNET + 4 : ETHERNET + 6], "big")
    ip_header = codec_impl.build_ipv4_header(advert.src, group, len(payload), ident)
    rebuilt = codec_impl.build_ethernet(frame[:6], frame[6:12], 0x0800, ip_header + payload)
    assert rebuilt == frame


@pytest.mark.parametrize("name", ADVERTS6)
def test_ipv6_advert_roundtrip(codec_impl: ModuleType, name: str) -> None:
    frame = FRAMES[name]
    src, dst = frame[ETHERNET + 8 : ETHERNET + 24], frame[ETHERNET + 24 : ETHERNET + 40]
    # As an IPv6 raw socket delivers it: header stripped, addresses and hop limit on the side.
    advert = codec_impl.decode_advert(
        frame[ETHERNET + 40 :], socket.AF_INET6, has_ip_header=False, src=src, dst=dst, hop_limit=255
    )
    assert advert == codec_impl.decode_advert(frame[ETHERNET:], socket.AF_INET6, has_ip_header=True)
    assert (advert.version, advert.vrid, advert.interval, advert.addresses) == (3, 51, 100, (VIP6,))
    assert advert.priority == (0 if "prio0" in name else 150)
    assert advert.checksum_ok_form == "pseudo"
    assert advert.src == _packed("fe80::ff:fe00:1" if "ka1" in name else "fe80::ff:fe00:2")

    payload = codec_impl.build_advert(3, 51, advert.priority, 100, [VIP6], src=src, dst=dst)
    ip_header = codec_impl.build_ipv6_header(src, dst, len(payload))
    rebuilt = codec_impl.build_ethernet(frame[:6], frame[6:12], 0x86DD, ip_header + payload)
    assert rebuilt == _mask_flow_label(frame)


@pytest.mark.parametrize(
    ("name", "mac"),
    [
        ("vrrpv2_pass_v4_takeover_garp_ka2", MAC_KA2),
        ("vrrpv3_v4_takeover_garp_ka2", MAC_KA2),
        ("vrrpv2_vmac_v4_takeover_garp_ka2", VMAC_51),
    ],
)
def test_gratuitous_arp(codec_impl: ModuleType, name: str, mac: bytes) -> None:
    assert codec_impl.build_garp(mac, VIP4) == FRAMES[name]


def test_unsolicited_neighbour_advertisement(codec_impl: ModuleType) -> None:
    frame = FRAMES["vrrpv3_v6_takeover_na_ka2"]
    assert codec_impl.build_unsolicited_na(MAC_KA2, VIP6) == _mask_flow_label(frame)


@pytest.mark.parametrize("stem", ["vrrpv2_pass_v4", "vrrpv2_vmac_v4"])
def test_priority_patch_reproduces_release(codec_impl: ModuleType, stem: str) -> None:
    """v2 checksums cover VRRP only, so ka1's advert patched to priority 0 is ka2's release."""
    advert = FRAMES[f"{stem}_advert_ka1"][ETHERNET + 20 :]
    release = FRAMES[f"{stem}_prio0_ka2_shutdown"][ETHERNET + 20 :]
    assert codec_impl.advert_with_priority(advert, 0) == release
    assert codec_impl.advert_with_priority(release, 150) == advert
