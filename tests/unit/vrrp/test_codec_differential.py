"""Differential fuzzing: hostile frames through both codec builds give the same verdict.

Frames are built from scratch or mutated from the keepalived captures in ``../shared/vectors``
(read at run time): byte flips, truncation, junk appended, and the length, count, TTL, checksum,
version, type and auth fields set to extremes. Each goes through ``decode_advert`` (with the IP
header, and as a raw socket without it) and, when it decodes, ``check_advert`` under a spread of
instance settings. Neither build may raise, every rejection is a ``Drop`` member, and the pure and
compiled builds must agree exactly. ``bench/fuzz_codec.py`` runs the same checks for millions of cases.
"""

import socket
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.codec_fuzz import CHECKS, ETHERNET, EXTREMES, VECTORS, golden_frames

GOLDEN = golden_frames()
pytestmark = pytest.mark.skipif(not GOLDEN, reason=f"no keepalived captures in {VECTORS}")
V4_FIELDS = {"ttl": 8, "total_len": 2, "ihl": 0, "proto": 9, "ip_csum": 10}
V6_FIELDS = {"hop": 7, "payload_len": 4, "next_header": 6, "ip_version": 0}
VRRP_FIELDS = {"vertype": 0, "vrid": 1, "priority": 2, "count": 3, "auth_or_int": 4, "interval": 5, "csum": 6}


def verdict(codec: ModuleType, packet: bytes, family: int, has_ip_header: bool, src: bytes, dst: bytes,
            hop_limit: int, accept_no_pseudo: bool) -> tuple:  # fmt: skip
    """A build-independent summary: the Drop name, or the Advert's fields and every check's result."""
    result = codec.decode_advert(
        packet, family, has_ip_header=has_ip_header, src=src, dst=dst, hop_limit=hop_limit,
        accept_no_pseudo=accept_no_pseudo,
    )  # fmt: skip
    if isinstance(result, codec.Drop):
        return ("drop", result.name, int(result))
    assert isinstance(result, codec.Advert), f"decode_advert returned {result!r}"
    checks = []
    for version, auth_type, auth_pass, multicast, no_pseudo in CHECKS:
        check = codec.check_advert(
            result, version=version, auth_type=auth_type, auth_pass=auth_pass, multicast=multicast,
            accept_no_pseudo=no_pseudo,
        )  # fmt: skip
        assert check is None or isinstance(check, codec.Drop), f"check_advert returned {check!r}"
        checks.append(None if check is None else check.name)
    return ("advert", tuple(result), tuple(checks))


def compare(pure: ModuleType, compiled: ModuleType, frame: bytes, hop_limit: int, no_pseudo: bool) -> None:
    """Every way a raw socket can hand ``frame``'s IP packet to the decoder, through both builds."""
    ip = frame[ETHERNET:]
    calls: list[tuple] = [
        (ip, socket.AF_INET, True, b"", b""),
        (ip, socket.AF_INET6, True, b"", b""),
        (ip[20:], socket.AF_INET, False, ip[12:16].ljust(4, b"\0"), ip[16:20].ljust(4, b"\0")),
        (ip[40:], socket.AF_INET6, False, ip[8:24].ljust(16, b"\0"), ip[24:40].ljust(16, b"\0")),
    ]
    for packet, family, has_ip_header, src, dst in calls:
        args = (packet, family, has_ip_header, src, dst, hop_limit, no_pseudo)
        expected = verdict(pure, *args)
        assert verdict(compiled, *args) == expected, f"builds disagree on {args!r}"


def _set(frame: bytearray, at: int, value: int) -> None:
    if at < len(frame):
        frame[at] = value & 0xFF


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    """A golden frame with one to four mutations."""
    frame = bytearray(draw(st.sampled_from(GOLDEN)))
    ipv6 = frame[12:14] == b"\x86\xdd"
    vrrp = ETHERNET + (40 if ipv6 else 20)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("flip", "truncate", "junk", "ip_field", "vrrp_field", "csum_fix")))
        if kind == "flip" and frame:
            at = draw(st.integers(0, len(frame) - 1))
            frame[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del frame[draw(st.integers(0, len(frame))) :]
        elif kind == "junk":
            frame += draw(st.binary(min_size=1, max_size=64))
        elif kind == "ip_field":
            at = draw(st.sampled_from(sorted((V6_FIELDS if ipv6 else V4_FIELDS).values())))
            _set(frame, ETHERNET + at, draw(st.sampled_from(EXTREMES)))
            if draw(st.booleans()):
                _set(frame, ETHERNET + at + 1, draw(st.sampled_from(EXTREMES)))
        elif kind == "vrrp_field":
            at = draw(st.sampled_from(sorted(VRRP_FIELDS.values())))
            _set(frame, vrrp + at, draw(st.sampled_from(EXTREMES)))
        else:  # make a mutated VRRP part checksum right again (v2 form), so later checks are reached
            if len(frame) >= vrrp + 8:
                frame[vrrp + 6 : vrrp + 8] = b"\0\0"
                total = sum(int.from_bytes(frame[i : i + 2].ljust(2, b"\0"), "big") for i in range(vrrp, len(frame), 2))
                while total >> 16:
                    total = (total & 0xFFFF) + (total >> 16)
                frame[vrrp + 6 : vrrp + 8] = (~total & 0xFFFF).to_bytes(2, "big")
    return bytes(frame)


@st.composite
def scratch_frames(draw: st.DrawFn) -> bytes:
    """An Ethernet header plus an IPv4 or IPv6 header (fields anywhere in range) plus random VRRP."""
    ipv6 = draw(st.booleans())
    vrrp = bytearray(draw(st.binary(max_size=8)))
    vrrp[:1] = bytes([(draw(st.sampled_from((2, 3, 0, 15))) << 4) | draw(st.sampled_from((1, 0, 2, 15)))])
    vrrp += draw(st.binary(max_size=300))
    length = draw(st.one_of(st.just(len(vrrp)), st.integers(0, 0xFFFF)))
    if ipv6:
        header = bytes([0x60, 0, 0, 0]) + (length & 0xFFFF).to_bytes(2, "big")
        header += bytes([draw(st.sampled_from((112, 58, 0))), draw(st.integers(0, 255))])
        header += draw(st.binary(min_size=32, max_size=32))
        ethertype = b"\x86\xdd"
    else:
        ihl = draw(st.one_of(st.just(5), st.integers(0, 15)))
        header = bytes([0x40 | ihl, 0]) + ((length + 20) & 0xFFFF).to_bytes(2, "big") + bytes(4)
        header += bytes([draw(st.integers(0, 255)), draw(st.sampled_from((112, 6, 0)))]) + bytes(2)
        header += draw(st.binary(min_size=8, max_size=8))
        ethertype = b"\x08\x00"
    return bytes(12) + ethertype + header + bytes(vrrp)


def test_vectors_present() -> None:
    assert len(GOLDEN) >= 10, f"expected the keepalived captures in {VECTORS}"


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=st.one_of(mutated_frames(), scratch_frames()),
    hop_limit=st.sampled_from((255, 254, 0, -1, 64)),
    no_pseudo=st.booleans(),
)
def test_builds_agree_on_hostile_frames(
    pure_codec: ModuleType, compiled_codec: ModuleType, frame: bytes, hop_limit: int, no_pseudo: bool
) -> None:
    compare(pure_codec, compiled_codec, frame, hop_limit, no_pseudo)


def test_golden_frames_agree(pure_codec: ModuleType, compiled_codec: ModuleType) -> None:
    for frame in GOLDEN:
        compare(pure_codec, compiled_codec, frame, 255, False)
