"""Per-packet cost of the VRRP codec, Cython build vs the same source run as pure Python.

Run: ``.venv/bin/python -m pytest bench/test_bench_codec.py --benchmark-group-by=group``
(one packet per round, so the reported mean is ns/packet).
"""

import socket
from types import ModuleType

import pytest

from tests.support.codec_builds import compiled_build, pure_build

pure_codec = pure_build()
try:
    compiled_codec: ModuleType | None = compiled_build()
except ImportError:
    compiled_codec = None

IMPLEMENTATIONS = [
    pytest.param(pure_codec, id="python"),
    pytest.param(
        compiled_codec,
        id="cython",
        marks=pytest.mark.skipif(compiled_codec is None, reason="extension not built"),
    ),
]
SRC = socket.inet_pton(socket.AF_INET, "198.51.100.1")
GROUP = socket.inet_pton(socket.AF_INET, "224.0.0.18")
VIP = socket.inet_pton(socket.AF_INET, "203.0.113.10")
V2_PAYLOAD = pure_codec.build_advert(2, 51, 150, 1, [VIP], auth_type=1, auth_data=b"fastaliv")
V2_PACKET = pure_codec.build_ipv4_header(SRC, GROUP, len(V2_PAYLOAD), 1) + V2_PAYLOAD
V3_PAYLOAD = pure_codec.build_advert(3, 51, 150, 100, [VIP], src=SRC, dst=GROUP)
V3_PACKET = pure_codec.build_ipv4_header(SRC, GROUP, len(V3_PAYLOAD), 1) + V3_PAYLOAD


@pytest.mark.parametrize("codec", IMPLEMENTATIONS)
def test_encode_v3_with_ip_header(benchmark, codec: ModuleType) -> None:
    benchmark.group = "encode: build_advert v3 + build_ipv4_header"

    def encode() -> bytes:
        payload = codec.build_advert(3, 51, 150, 100, [VIP], src=SRC, dst=GROUP)
        return codec.build_ipv4_header(SRC, GROUP, len(payload), 7) + payload

    assert benchmark(encode) == codec.build_ipv4_header(SRC, GROUP, 12, 7) + V3_PAYLOAD


@pytest.mark.parametrize("codec", IMPLEMENTATIONS)
def test_decode_and_validate_v2(benchmark, codec: ModuleType) -> None:
    benchmark.group = "decode_advert + check_advert (v2 PASS, IPv4)"

    def receive() -> object:
        advert = codec.decode_advert(V2_PACKET, socket.AF_INET, has_ip_header=True)
        return codec.check_advert(
            advert, version=2, auth_type=1, auth_pass=b"fastaliv", multicast=True, accept_no_pseudo=False
        )

    assert benchmark(receive) is None


@pytest.mark.parametrize("codec", IMPLEMENTATIONS)
def test_decode_v3_pseudo_header(benchmark, codec: ModuleType) -> None:
    benchmark.group = "decode_advert (v3, IPv4 pseudo-header checksum)"
    assert benchmark(codec.decode_advert, V3_PACKET, socket.AF_INET, has_ip_header=True).vrid == 51


@pytest.mark.parametrize("codec", IMPLEMENTATIONS)
def test_checksum(benchmark, codec: ModuleType) -> None:
    benchmark.group = "internet_checksum (40-byte packet)"
    assert benchmark(codec.internet_checksum, V2_PACKET) == pure_codec.internet_checksum(V2_PACKET)


@pytest.mark.parametrize("codec", IMPLEMENTATIONS)
def test_priority_patch(benchmark, codec: ModuleType) -> None:
    benchmark.group = "advert_with_priority (RFC 1624 patch)"
    assert benchmark(codec.advert_with_priority, V3_PAYLOAD, 100)[2] == 100


@pytest.mark.parametrize("codec", IMPLEMENTATIONS)
def test_monotonic(benchmark, codec: ModuleType) -> None:
    benchmark.group = "monotonic clock"
    assert benchmark(codec.monotonic) > 0
