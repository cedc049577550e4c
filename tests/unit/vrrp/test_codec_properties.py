"""Property tests: the two implementations agree byte for byte, and decoding never raises."""

import socket
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

FAMILIES = (socket.AF_INET, socket.AF_INET6)


def outcome(function: Callable[..., object], *args: object, **kwargs: object) -> tuple:
    """The value returned, or "error" for a ValueError, so both implementations can be compared."""
    try:
        return ("value", function(*args, **kwargs))
    except ValueError:
        return ("error", None)


def reference_checksum(data: bytes, initial: int) -> int:
    """RFC 1071 the slow, obvious way."""
    padded = data + b"\0" * (len(data) & 1)
    total = initial + sum((padded[i] << 8) | padded[i + 1] for i in range(0, len(padded), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@st.composite
def advert_fields(draw: st.DrawFn) -> dict:
    """Valid build_advert arguments for either version and family."""
    version = draw(st.sampled_from((2, 3)))
    length = 4 if version == 2 else draw(st.sampled_from((4, 16)))
    return dict(
        version=version,
        vrid=draw(st.integers(0, 255)),
        priority=draw(st.integers(0, 255)),
        interval=draw(st.integers(0, 255 if version == 2 else 0xFFF)),
        addresses=draw(st.lists(st.binary(min_size=length, max_size=length), max_size=12)),
        auth_type=draw(st.integers(0, 255)),
        auth_data=draw(st.binary(max_size=12)),
        src=draw(st.binary(min_size=length, max_size=length)),
        dst=draw(st.binary(min_size=length, max_size=length)),
        pseudo_header=draw(st.booleans()),
    )


def as_received(codec: ModuleType, fields: dict, payload: bytes, ttl: int) -> tuple[bytes, int]:
    """The packet as a raw socket delivers it: IPv4 with its header, IPv6 without."""
    if len(fields["src"]) == 4:
        header = codec.build_ipv4_header(fields["src"], fields["dst"], len(payload), 1, ttl=ttl)
        return header + payload, socket.AF_INET
    return payload, socket.AF_INET6


def decode(codec: ModuleType, packet: bytes, family: int, fields: dict, **options: object) -> object:
    if family == socket.AF_INET and options.pop("has_ip_header", True):
        return codec.decode_advert(packet, family, has_ip_header=True, **options)
    return codec.decode_advert(
        packet, family, has_ip_header=False, src=fields["src"], dst=fields["dst"], **options
    )


@given(data=st.binary(max_size=300), initial=st.integers(0, 0xFFFFFFFF))
def test_checksum_matches_reference(
    pure_codec: ModuleType, compiled_codec: ModuleType, data: bytes, initial: int
) -> None:
    expected = reference_checksum(data, initial)
    assert pure_codec.internet_checksum(data, initial) == expected
    assert compiled_codec.internet_checksum(data, initial) == expected


@given(fields=advert_fields(), ttl=st.integers(0, 255), no_pseudo=st.booleans())
def test_build_and_decode_agree(
    pure_codec: ModuleType, compiled_codec: ModuleType, fields: dict, ttl: int, no_pseudo: bool
) -> None:
    version, vrid, priority, interval, addresses = (
        fields.pop(key) for key in ("version", "vrid", "priority", "interval", "addresses")
    )
    payload = pure_codec.build_advert(version, vrid, priority, interval, addresses, **fields)
    assert payload == compiled_codec.build_advert(
        version, vrid, priority, interval, addresses, **fields
    )
    packet, family = as_received(pure_codec, fields, payload, ttl)
    decoded = decode(pure_codec, packet, family, fields, accept_no_pseudo=no_pseudo)
    assert decoded == decode(compiled_codec, packet, family, fields, accept_no_pseudo=no_pseudo)
    if isinstance(decoded, pure_codec.Drop):
        # Only a v3/IPv4 advert built without the pseudo-header can fail, unless asked to accept.
        assert decoded is pure_codec.Drop.BAD_CHECKSUM
        assert (version, family, fields["pseudo_header"], no_pseudo) == (3, socket.AF_INET, False, False)
        return
    assert (decoded.version, decoded.vrid, decoded.priority) == (version, vrid, priority)
    assert (decoded.interval, decoded.addresses, decoded.src) == (interval, tuple(addresses), fields["src"])


@given(
    version=st.integers(1, 4),
    vrid=st.integers(-1, 256),
    priority=st.integers(-1, 256),
    interval=st.integers(-1, 4097),
    addresses=st.lists(st.sampled_from((b"", b"\x01" * 4, b"\x02" * 5, b"\x03" * 16)), max_size=3),
    auth_type=st.integers(-1, 256),
    src=st.sampled_from((b"", b"\x04" * 4, b"\x05" * 16)),
    dst=st.sampled_from((b"", b"\x06" * 4, b"\x07" * 16)),
    pseudo_header=st.booleans(),
)
def test_build_rejections_agree(
    pure_codec: ModuleType, compiled_codec: ModuleType, version: int, vrid: int, priority: int,
    interval: int, addresses: list, auth_type: int, src: bytes, dst: bytes, pseudo_header: bool,
) -> None:  # fmt: skip
    args = (version, vrid, priority, interval, addresses)
    options = dict(auth_type=auth_type, src=src, dst=dst, pseudo_header=pseudo_header)
    assert outcome(pure_codec.build_advert, *args, **options) == outcome(
        compiled_codec.build_advert, *args, **options
    )


@given(
    fields=advert_fields(),
    ttl=st.integers(-1, 255),  # -1: IPv6 hop limit unknown
    instance=st.fixed_dictionaries(
        dict(
            version=st.sampled_from((2, 3)),
            auth_type=st.integers(0, 2),
            auth_pass=st.binary(max_size=10),
            multicast=st.booleans(),
            accept_no_pseudo=st.booleans(),
        )
    ),
)
def test_check_verdicts_agree(
    pure_codec: ModuleType, compiled_codec: ModuleType, fields: dict, ttl: int, instance: dict
) -> None:
    fields["auth_type"] %= 3
    fields["addresses"] = fields["addresses"][:3]
    fields["auth_data"] = instance["auth_pass"] if fields["priority"] & 1 else fields["auth_data"]
    payload = pure_codec.build_advert(**fields)
    packet, family = as_received(pure_codec, fields, payload, max(ttl, 0))
    advert = decode(pure_codec, packet, family, fields, accept_no_pseudo=True, hop_limit=ttl)
    if isinstance(advert, pure_codec.Drop):
        return
    assert pure_codec.check_advert(advert, **instance) == compiled_codec.check_advert(advert, **instance)


@given(fields=advert_fields(), new_priority=st.integers(0, 255))
def test_priority_patch_equals_a_fresh_build(
    codec_impl: ModuleType, fields: dict, new_priority: int
) -> None:
    fields["pseudo_header"] = True
    payload = codec_impl.build_advert(**fields)
    patched = codec_impl.advert_with_priority(payload, new_priority)
    assert patched == codec_impl.build_advert(**{**fields, "priority": new_priority})


@given(advert=st.binary(min_size=8, max_size=24), new_priority=st.integers(0, 255))
def test_priority_patch_of_any_bytes_agrees(
    pure_codec: ModuleType, compiled_codec: ModuleType, advert: bytes, new_priority: int
) -> None:
    patched = pure_codec.advert_with_priority(advert, new_priority)
    assert patched == compiled_codec.advert_with_priority(advert, new_priority)


def test_priority_patch_corner_where_the_sum_is_zero(
    pure_codec: ModuleType, compiled_codec: ModuleType
) -> None:
    advert = bytes.fromhex("3101ffff0064ffff")
    assert pure_codec.advert_with_priority(advert, 0) == compiled_codec.advert_with_priority(advert, 0)


@given(
    mac=st.binary(min_size=6, max_size=6),
    ip4=st.binary(min_size=4, max_size=4),
    ip6=st.binary(min_size=16, max_size=16),
    src=st.binary(min_size=4, max_size=4),
    ident=st.integers(0, 1 << 20),
)
def test_frame_builders_agree(
    pure_codec: ModuleType, compiled_codec: ModuleType, mac: bytes, ip4: bytes, ip6: bytes,
    src: bytes, ident: int,
) -> None:  # fmt: skip
    assert pure_codec.build_garp(mac, ip4) == compiled_codec.build_garp(mac, ip4)
    assert pure_codec.build_unsolicited_na(mac, ip6) == compiled_codec.build_unsolicited_na(mac, ip6)
    assert pure_codec.build_ipv4_header(src, ip4, 40, ident) == compiled_codec.build_ipv4_header(
        src, ip4, 40, ident
    )


DECODE_OPTIONS = st.fixed_dictionaries(
    dict(
        family=st.sampled_from(FAMILIES),
        has_ip_header=st.booleans(),
        hop_limit=st.integers(0, 255),
        accept_no_pseudo=st.booleans(),
    )
)


def decode_both(
    pure_codec: ModuleType, compiled_codec: ModuleType, packet: bytes, options: dict
) -> object:
    """Decode with both implementations, which must agree and return an Advert or a Drop."""
    family = options.pop("family")
    length = 4 if family == socket.AF_INET else 16
    options.update(src=b"\x01" * length, dst=b"\x02" * length)
    result = pure_codec.decode_advert(packet, family, **options)
    assert result == compiled_codec.decode_advert(packet, family, **options)
    assert isinstance(result, (pure_codec.Advert, pure_codec.Drop))
    return result


@settings(max_examples=300)
@given(packet=st.binary(max_size=120), options=DECODE_OPTIONS)
def test_decoder_survives_random_bytes(
    pure_codec: ModuleType, compiled_codec: ModuleType, packet: bytes, options: dict
) -> None:
    decode_both(pure_codec, compiled_codec, packet, options)


@settings(max_examples=300)
@given(
    fields=advert_fields(),
    edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 400),
    tail=st.binary(max_size=8),
    options=DECODE_OPTIONS,
)
def test_decoder_survives_mutated_adverts(
    pure_codec: ModuleType, compiled_codec: ModuleType, fields: dict, edits: list, cut: int,
    tail: bytes, options: dict,
) -> None:  # fmt: skip
    fields["pseudo_header"] = True
    payload = pure_codec.build_advert(**fields)
    packet, _ = as_received(pure_codec, fields, payload, 255)
    mutated = bytearray(packet)
    for position, value in edits:
        if mutated:
            mutated[position % len(mutated)] = value
    decode_both(pure_codec, compiled_codec, bytes(mutated[:cut]) + tail, options)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_truncation_is_a_drop(codec_impl: ModuleType, family: int) -> None:
    length = 4 if family == socket.AF_INET else 16
    src, dst = b"\x01" * length, b"\x02" * length
    payload = codec_impl.build_advert(3, 1, 1, 1, [b"\x03" * length] * 3, src=src, dst=dst)
    for size in range(len(payload)):
        result = codec_impl.decode_advert(
            payload[:size], family, has_ip_header=False, src=src, dst=dst
        )
        assert isinstance(result, codec_impl.Drop)


@given(packet=st.binary(min_size=0, max_size=64), ident=st.integers(0, 2**20))
def test_ipv4_id_patch_of_any_bytes_agrees(
    pure_codec: ModuleType, compiled_codec: ModuleType, packet: bytes, ident: int
) -> None:
    assert outcome(pure_codec.ipv4_with_id, packet, ident) == outcome(compiled_codec.ipv4_with_id, packet, ident)


@given(payload=st.binary(min_size=8, max_size=40), ident=st.integers(0, 2**17), ttl=st.integers(0, 255))
def test_ipv4_id_patch_equals_a_fresh_header(codec_impl: ModuleType, payload: bytes, ident: int, ttl: int) -> None:
    src, dst = bytes([192, 0, 2, 1]), bytes([224, 0, 0, 18])
    template = codec_impl.build_ipv4_header(src, dst, len(payload), 0, ttl) + payload
    fresh = codec_impl.build_ipv4_header(src, dst, len(payload), ident, ttl) + payload
    assert codec_impl.ipv4_with_id(template, ident) == fresh


@given(template=st.binary(min_size=0, max_size=48), data=st.binary(min_size=0, max_size=48))
def test_steady_match_agrees(pure_codec: ModuleType, compiled_codec: ModuleType, template: bytes, data: bytes) -> None:
    assert pure_codec.steady_match(template, data) == compiled_codec.steady_match(template, data)


@given(packet=st.binary(min_size=20, max_size=48), changes=st.lists(st.tuples(st.integers(0, 47), st.integers(1, 255))))
def test_steady_match_ignores_only_tos_id_and_header_checksum(
    codec_impl: ModuleType, packet: bytes, changes: list[tuple[int, int]]
) -> None:
    other = bytearray(packet)
    for index, delta in changes:
        if index < len(other):
            other[index] = (other[index] + delta) & 0xFF
    changed = {i for i in range(len(packet)) if other[i] != packet[i]}
    assert codec_impl.steady_match(packet, bytes(other)) == changed.issubset({1, 4, 5, 10, 11})
    assert not codec_impl.steady_match(packet, packet + b"\0")
