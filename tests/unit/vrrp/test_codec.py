"""Behaviour of the VRRP codec, run over both implementations: every drop reason, every check."""

import os
import socket
import subprocess
import sys
import time
from types import ModuleType

import pytest

SRC4 = socket.inet_pton(socket.AF_INET, "198.51.100.1")
GROUP4 = socket.inet_pton(socket.AF_INET, "224.0.0.18")
VIP4 = socket.inet_pton(socket.AF_INET, "203.0.113.10")
VIP4_B = socket.inet_pton(socket.AF_INET, "203.0.113.11")
SRC6 = socket.inet_pton(socket.AF_INET6, "fe80::1")
GROUP6 = socket.inet_pton(socket.AF_INET6, "ff02::12")
VIP6 = socket.inet_pton(socket.AF_INET6, "2001:db8::10")

CHECKS_V2 = dict(version=2, auth_type=1, auth_pass=b"secret", multicast=True, accept_no_pseudo=False)


def v2_packet(codec: ModuleType, *, ttl: int = 255, **overrides: object) -> bytes:
    """IPv4 header + a VRRPv2 PASS advert that passes CHECKS_V2 unless overridden."""
    fields = dict(version=2, vrid=7, priority=100, interval=1, addresses=[VIP4, VIP4_B])
    fields.update((key, overrides.pop(key)) for key in list(overrides) if key in fields)
    options = dict(auth_type=1, auth_data=b"secret", src=SRC4, dst=GROUP4)
    options.update(overrides)
    payload = codec.build_advert(**fields, **options)
    return codec.build_ipv4_header(SRC4, GROUP4, len(payload), 1, ttl=ttl) + payload


def v3_packet4(codec: ModuleType, **options: object) -> bytes:
    payload = codec.build_advert(3, 7, 100, 100, [VIP4], src=SRC4, dst=GROUP4, **options)
    return codec.build_ipv4_header(SRC4, GROUP4, len(payload), 1) + payload


def with_fixed_checksum(codec: ModuleType, payload: bytes) -> bytes:
    """Recompute a v2 payload's checksum after it was tampered with."""
    zeroed = payload[:6] + b"\0\0" + payload[8:]
    return zeroed[:6] + codec.internet_checksum(zeroed).to_bytes(2, "big") + zeroed[8:]


def decode4(codec: ModuleType, packet: bytes, **options: object) -> object:
    return codec.decode_advert(packet, socket.AF_INET, has_ip_header=True, **options)


def decode6(codec: ModuleType, payload: bytes, hop_limit: int = 255) -> object:
    return codec.decode_advert(payload, socket.AF_INET6, has_ip_header=False, src=SRC6, dst=GROUP6, hop_limit=hop_limit)


def test_drop_reasons_follow_keepalived_order(codec_impl: ModuleType) -> None:
    assert [reason.name for reason in codec_impl.Drop][:11] == [
        "TOO_SHORT", "BAD_TTL", "BAD_VERSION", "BAD_TYPE", "BAD_VRID", "BAD_AUTH_TYPE",
        "BAD_AUTH_PASS", "BAD_INTERVAL", "BAD_CHECKSUM", "BAD_ADDR_COUNT", "NOT_A_PEER",
    ]  # fmt: skip
    assert (codec_impl.VRRP_PROTO, codec_impl.MCAST4, codec_impl.MCAST6) == (
        112, "224.0.0.18", "ff02::12"
    )  # fmt: skip


def test_valid_v2_advert_passes_every_check(codec_impl: ModuleType) -> None:
    advert = decode4(codec_impl, v2_packet(codec_impl))
    assert advert == codec_impl.Advert(2, 1, 7, 100, 2, 1, 1, "v2", (VIP4, VIP4_B), b"secret\0\0", SRC4, 255)
    assert codec_impl.check_advert(advert, **CHECKS_V2) is None


def test_ethernet_padding_after_ip_total_length_is_ignored(codec_impl: ModuleType) -> None:
    packet = v3_packet4(codec_impl)
    assert decode4(codec_impl, packet + b"\0" * 18) == decode4(codec_impl, packet)


def test_ip_options_are_skipped(codec_impl: ModuleType) -> None:
    packet = v3_packet4(codec_impl)
    options = b"\x01" * 4  # four NOPs: IHL 6
    total = len(packet) + 4
    header = bytes([0x46]) + packet[1:2] + total.to_bytes(2, "big") + packet[4:20] + options
    advert = decode4(codec_impl, header + packet[20:])
    assert isinstance(advert, codec_impl.Advert) and advert.addresses == (VIP4,)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda packet: packet[:12], "TOO_SHORT"),
        (lambda packet: packet[:2] + (24).to_bytes(2, "big") + packet[4:24], "TOO_SHORT"),
        (lambda packet: b"\x65" + packet[1:], "BAD_IP_HEADER"),
        (lambda packet: b"\x44" + packet[1:], "BAD_IP_HEADER"),
        (lambda packet: packet[:9] + b"\x11" + packet[10:], "BAD_IP_HEADER"),
        (lambda packet: packet[:2] + (16).to_bytes(2, "big") + packet[4:], "BAD_IP_HEADER"),
        (lambda packet: packet[:-1], "TRUNCATED"),
        (lambda packet: packet[:20] + b"\x41" + packet[21:], "BAD_VERSION"),
        (lambda packet: packet[:20] + b"\x22" + packet[21:], "BAD_TYPE"),
        (lambda packet: packet[:-1] + b"\xff", "BAD_CHECKSUM"),
    ],
)
def test_decode_drops(codec_impl: ModuleType, mangle: object, reason: str) -> None:
    assert decode4(codec_impl, mangle(v2_packet(codec_impl))) is codec_impl.Drop[reason]


def test_address_count_must_match_length(codec_impl: ModuleType) -> None:
    packet = v2_packet(codec_impl)
    payload = with_fixed_checksum(codec_impl, packet[20:23] + b"\x01" + packet[24:])
    assert decode4(codec_impl, packet[:20] + payload) is codec_impl.Drop.BAD_ADDR_COUNT


def test_vrrpv2_over_ipv6_is_a_version_error(codec_impl: ModuleType) -> None:
    payload = codec_impl.build_advert(3, 7, 100, 100, [VIP6], src=SRC6, dst=GROUP6)
    assert decode6(codec_impl, b"\x21" + payload[1:]) is codec_impl.Drop.BAD_VERSION


def test_v3_ipv4_checksum_forms(codec_impl: ModuleType) -> None:
    """RFC 9568 (no pseudo-header) is accepted only when asked; the pseudo form always is."""
    no_pseudo = v3_packet4(codec_impl, pseudo_header=False)
    assert decode4(codec_impl, no_pseudo) is codec_impl.Drop.BAD_CHECKSUM
    assert decode4(codec_impl, no_pseudo, accept_no_pseudo=True).checksum_ok_form == "no-pseudo"
    pseudo = decode4(codec_impl, v3_packet4(codec_impl), accept_no_pseudo=True)
    assert pseudo.checksum_ok_form == "pseudo"


def test_v3_ipv6_always_needs_the_pseudo_header(codec_impl: ModuleType) -> None:
    payload = codec_impl.build_advert(3, 7, 100, 100, [VIP6], src=SRC6, dst=GROUP6)
    assert decode6(codec_impl, payload).checksum_ok_form == "pseudo"
    plain = payload[:6] + b"\0\0" + payload[8:]
    plain = plain[:6] + codec_impl.internet_checksum(plain).to_bytes(2, "big") + plain[8:]
    result = codec_impl.decode_advert(
        plain, socket.AF_INET6, has_ip_header=False, src=SRC6, dst=GROUP6, accept_no_pseudo=True
    )
    assert result is codec_impl.Drop.BAD_CHECKSUM


@pytest.mark.parametrize(
    ("packet_options", "check_changes", "reason"),
    [
        (dict(ttl=254), {}, "BAD_TTL"),
        ({}, dict(version=3), "BAD_VERSION"),
        (dict(auth_type=0), {}, "BAD_AUTH_TYPE"),
        (dict(auth_data=b"secreT"), {}, "BAD_AUTH_PASS"),
        ({}, dict(auth_pass=b"secret1"), "BAD_AUTH_PASS"),
        # Two faults at once: the reason is the one RFC 5798/3768 section 7.1 checks first.
        (dict(ttl=254, auth_type=0), dict(version=3), "BAD_TTL"),
        (dict(auth_type=0), dict(version=3), "BAD_VERSION"),
        (dict(auth_type=0, auth_data=b"other"), {}, "BAD_AUTH_TYPE"),
        # Passes: no TTL check for unicast; the password is cut to the 8 bytes on the wire.
        (dict(ttl=64), dict(multicast=False), None),
        ({}, dict(auth_pass=b"secret\0\0ignored"), None),
    ],
)
def test_check_advert_follows_the_rfc_order(
    codec_impl: ModuleType, packet_options: dict, check_changes: dict, reason: str | None
) -> None:
    advert = decode4(codec_impl, v2_packet(codec_impl, **packet_options))
    expected = None if reason is None else codec_impl.Drop[reason]
    assert codec_impl.check_advert(advert, **{**CHECKS_V2, **check_changes}) is expected


def test_password_is_zero_padded_and_cut_to_eight_bytes(codec_impl: ModuleType) -> None:
    long_password = b"longpassword"
    advert = decode4(codec_impl, v2_packet(codec_impl, auth_data=long_password))
    assert advert.auth_data == b"longpass"
    assert codec_impl.check_advert(advert, **{**CHECKS_V2, "auth_pass": long_password}) is None
    no_auth = decode4(codec_impl, v2_packet(codec_impl, auth_type=0, auth_data=b""))
    assert no_auth.auth_data == b"\0" * 8
    assert codec_impl.check_advert(no_auth, **{**CHECKS_V2, "auth_type": 0, "auth_pass": b""}) is None


def test_v3_ignores_auth(codec_impl: ModuleType) -> None:
    advert = decode4(codec_impl, v3_packet4(codec_impl))
    assert codec_impl.check_advert(advert, **{**CHECKS_V2, "version": 3}) is None


def test_ipv6_hop_limit_is_checked_for_multicast_when_known(codec_impl: ModuleType) -> None:
    payload = codec_impl.build_advert(3, 7, 100, 100, [VIP6], src=SRC6, dst=GROUP6)
    advert = decode6(codec_impl, payload, hop_limit=1)
    assert advert.ttl == 1 and advert.src == SRC6 and advert.interval == 100
    checks = {**CHECKS_V2, "version": 3}
    assert codec_impl.check_advert(advert, **checks) is codec_impl.Drop.BAD_TTL
    unknown = decode6(codec_impl, payload, hop_limit=-1)
    assert codec_impl.check_advert(unknown, **checks) is None


def test_check_advert_takes_the_no_pseudo_checksum_only_when_configured(codec_impl: ModuleType) -> None:
    advert = decode4(codec_impl, v3_packet4(codec_impl, pseudo_header=False), accept_no_pseudo=True)
    checks = {**CHECKS_V2, "version": 3}
    assert codec_impl.check_advert(advert, **checks) is codec_impl.Drop.BAD_CHECKSUM
    assert codec_impl.check_advert(advert, **{**checks, "accept_no_pseudo": True}) is None


def test_checksum_known_values(codec_impl: ModuleType) -> None:
    rfc1071_example = bytes.fromhex("0001f203f4f5f6f7")
    assert codec_impl.internet_checksum(rfc1071_example) == 0x220D
    assert codec_impl.internet_checksum(b"") == 0xFFFF
    assert codec_impl.internet_checksum(b"\x01") == 0xFEFF
    assert codec_impl.internet_checksum(bytearray(b"\x00\x01"), 0x10000) == 0xFFFD
    assert codec_impl.internet_checksum(rfc1071_example + b"\x22\x0d") == 0
    with pytest.raises(ValueError):
        codec_impl.internet_checksum(b"", -1)
    with pytest.raises(ValueError):
        codec_impl.internet_checksum(b"", 1 << 32)


def test_ipv4_header_fields(codec_impl: ModuleType) -> None:
    header = codec_impl.build_ipv4_header(SRC4, GROUP4, 20, 65537)
    assert header[:10] == bytes.fromhex("45c0002800010000ff70")
    assert header[12:] == SRC4 + GROUP4
    assert codec_impl.internet_checksum(header) == 0
    plain = codec_impl.build_ipv4_header(SRC4, GROUP4, 0, 0, ttl=1, tos=0)
    assert (plain[1], plain[8]) == (0, 1)


def test_v3_interval_uses_twelve_bits(codec_impl: ModuleType) -> None:
    payload = codec_impl.build_advert(3, 1, 1, 0xFFF, [VIP4], src=SRC4, dst=GROUP4)
    assert payload[4:6] == b"\x0f\xff"
    packet = codec_impl.build_ipv4_header(SRC4, GROUP4, len(payload), 1) + payload
    assert decode4(codec_impl, packet).interval == 0xFFF


def test_empty_address_list_takes_family_from_src(codec_impl: ModuleType) -> None:
    payload = codec_impl.build_advert(3, 1, 1, 100, [], src=SRC6, dst=GROUP6)
    assert len(payload) == 8
    assert decode6(codec_impl, payload).addresses == ()


@pytest.mark.parametrize(
    ("args", "options"),
    [
        ((4, 1, 1, 1, [VIP4]), {}),
        ((2, 256, 1, 1, [VIP4]), {}),
        ((2, 1, -1, 1, [VIP4]), {}),
        ((2, 1, 1, 256, [VIP4]), {}),
        ((3, 1, 1, 4096, [VIP4]), dict(src=SRC4, dst=GROUP4)),
        ((2, 1, 1, 1, [VIP6]), {}),
        ((3, 1, 1, 1, [VIP4, VIP6]), dict(src=SRC4, dst=GROUP4)),
        ((3, 1, 1, 1, [b"\x01\x02"]), {}),
        ((3, 1, 1, 1, [VIP4]), {}),
        ((3, 1, 1, 1, [VIP6]), dict(src=SRC4, dst=GROUP4)),
        ((2, 1, 1, 1, [VIP4] * 256), {}),
        ((2, 1, 1, 1, [VIP4]), dict(auth_type=256)),
    ],
)
def test_build_advert_rejects_impossible_fields(codec_impl: ModuleType, args: tuple, options: dict) -> None:
    with pytest.raises(ValueError):
        codec_impl.build_advert(*args, **options)


def test_v3_without_pseudo_header_needs_no_addresses(codec_impl: ModuleType) -> None:
    payload = codec_impl.build_advert(3, 1, 1, 1, [VIP4], pseudo_header=False)
    assert codec_impl.internet_checksum(payload) == 0


def test_bad_arguments_raise(codec_impl: ModuleType) -> None:
    with pytest.raises(ValueError):
        codec_impl.advert_with_priority(b"\x21\x01", 1)
    with pytest.raises(ValueError):
        codec_impl.advert_with_priority(v2_packet(codec_impl)[20:], 256)
    with pytest.raises(ValueError):
        codec_impl.decode_advert(b"", socket.AF_PACKET, has_ip_header=True)
    with pytest.raises(ValueError):
        codec_impl.decode_advert(b"", socket.AF_INET, has_ip_header=False)
    with pytest.raises(ValueError):
        codec_impl.build_ipv4_header(SRC6, GROUP4, 8, 1)
    with pytest.raises(ValueError):
        codec_impl.build_garp(b"\x02" * 5, VIP4)
    with pytest.raises(ValueError):
        codec_impl.build_unsolicited_na(b"\x02" * 6, VIP4)


def test_monotonic_follows_the_system_clock(codec_impl: ModuleType) -> None:
    before = time.monotonic()
    reading = codec_impl.monotonic()
    after = time.monotonic()
    assert before - 0.001 <= reading <= after + 0.001


def test_wire_selects_the_compiled_module_unless_disabled() -> None:
    from fastalived._compat import extension_in_use
    from fastalived.vrrp import wire

    assert ("cython" if extension_in_use() else "python") == wire.IMPLEMENTATION
    probe = (
        "import sys; from fastalived.vrrp import wire; "
        "print(wire.IMPLEMENTATION, sys.modules['fastalived.vrrp.codec'].__file__.endswith('.py'))"
    )
    forced = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "FASTALIVED_NO_EXTENSIONS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    # the source is the process's one codec module, even where the compiled build shadows it
    assert forced.stdout.split() == ["python", "True"]
