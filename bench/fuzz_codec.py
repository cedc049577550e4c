"""Differential fuzz run of the VRRP advert decoder and validator: pure vs compiled build.

    .venv/bin/python bench/fuzz_codec.py --cases 1000000 [--seed N] [--max-seconds S]

Each case is a frame built from scratch or one of the keepalived captures in ``../shared/vectors``
(read at run time) with 1-4 seeded random mutations (byte flips, truncation, junk appended, the
IPv4/IPv6 length, TTL/hop limit, protocol, checksum fields and the VRRP version/type, count,
auth/interval and checksum set to extremes, the VRRP checksum made right again). Each frame goes
through ``decode_advert`` four ways (IPv4/IPv6, with the IP header and without it as a raw socket
delivers it) and every decoded advert through ``check_advert`` under 40 instance settings, in both
builds. A failure is an exception, a result that is neither an Advert nor a Drop member, or any
difference between the builds; each is printed with its case number and frame. Prints cases/s and
the totals per verdict and drop reason. Exit code 1 on any failure. The short in-suite run is
``tests/unit/vrrp/test_codec_differential.py``.
"""

from __future__ import annotations

import argparse
import collections
import random
import socket
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support is not installed

from tests.support.codec_builds import compiled_build, pure_build
from tests.support.codec_fuzz import CHECKS, ETHERNET, EXTREMES, VECTORS, golden_frames

V4_OFFSETS = (0, 2, 3, 8, 9, 10)  # version/IHL, total length, TTL, protocol, header checksum
V6_OFFSETS = (0, 4, 5, 6, 7)  # version, payload length, next header, hop limit
VRRP_OFFSETS = (0, 1, 2, 3, 4, 5, 6, 7)  # version/type, vrid, priority, count, auth/int, checksum
HOP_LIMITS = (255, 254, 0, -1, 64)


def verdict(codec: ModuleType, args: tuple) -> tuple:
    """Build-independent: ("drop", name) or ("advert", fields, check results); raises on a bad type."""
    packet, family, has_ip_header, src, dst, hop_limit, accept_no_pseudo = args
    result = codec.decode_advert(
        packet, family, has_ip_header=has_ip_header, src=src, dst=dst, hop_limit=hop_limit,
        accept_no_pseudo=accept_no_pseudo,
    )  # fmt: skip
    if isinstance(result, codec.Drop):
        return ("drop", result.name)
    if not isinstance(result, codec.Advert):
        raise TypeError(f"decode_advert returned {result!r}")
    checks = []
    for version, auth_type, auth_pass, multicast, no_pseudo in CHECKS:
        check = codec.check_advert(
            result, version=version, auth_type=auth_type, auth_pass=auth_pass, multicast=multicast,
            accept_no_pseudo=no_pseudo,
        )  # fmt: skip
        if check is not None and not isinstance(check, codec.Drop):
            raise TypeError(f"check_advert returned {check!r}")
        checks.append(None if check is None else check.name)
    return ("advert", tuple(result), tuple(checks))


def calls(frame: bytes, hop_limit: int, no_pseudo: bool) -> list[tuple]:
    """Every way a raw socket can hand the frame's IP packet to the decoder."""
    ip = frame[ETHERNET:]
    return [
        (ip, socket.AF_INET, True, b"", b"", hop_limit, no_pseudo),
        (ip, socket.AF_INET6, True, b"", b"", hop_limit, no_pseudo),
        (ip[20:], socket.AF_INET, False, ip[12:16].ljust(4, b"\0"), ip[16:20].ljust(4, b"\0"), hop_limit, no_pseudo),
        (ip[40:], socket.AF_INET6, False, ip[8:24].ljust(16, b"\0"), ip[24:40].ljust(16, b"\0"), hop_limit, no_pseudo),
    ]


def fix_vrrp_checksum(frame: bytearray, at: int) -> None:
    """Make the VRRP part from ``at`` checksum right in the v2 form (no pseudo-header)."""
    if len(frame) < at + 8:
        return
    frame[at + 6 : at + 8] = b"\0\0"
    total = int.from_bytes(frame[at:] + b"\0" * ((len(frame) - at) & 1), "big") % 0xFFFF
    frame[at + 6 : at + 8] = (0xFFFF - total).to_bytes(2, "big")  # never 0: a zero sum needs 0xFFFF


def mutate(rng: random.Random, golden: list[bytes]) -> bytes:
    frame = bytearray(rng.choice(golden))
    ipv6 = frame[12:14] == b"\x86\xdd"
    vrrp = ETHERNET + (40 if ipv6 else 20)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        if kind == 0 and frame:
            frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del frame[rng.randint(0, len(frame)) :]
        elif kind == 2:
            frame += rng.randbytes(rng.randint(1, 64))
        elif kind == 3:
            at = ETHERNET + rng.choice(V6_OFFSETS if ipv6 else V4_OFFSETS)
            if at < len(frame):
                frame[at] = rng.choice(EXTREMES)
        elif kind == 4:
            at = vrrp + rng.choice(VRRP_OFFSETS)
            if at < len(frame):
                frame[at] = rng.choice(EXTREMES)
        else:
            fix_vrrp_checksum(frame, vrrp)
    return bytes(frame)


def scratch(rng: random.Random) -> bytes:
    vrrp = bytearray(rng.randbytes(rng.randint(0, 300)))
    if vrrp:
        vrrp[0] = (rng.choice((2, 3, 0, 15)) << 4) | rng.choice((1, 0, 2, 15))
    if len(vrrp) >= 4 and rng.random() < 0.5:  # a count that fits, half the time
        vrrp[3] = max(0, (len(vrrp) - 8) // rng.choice((4, 16, 4))) & 0xFF
    length = len(vrrp) if rng.random() < 0.7 else rng.randint(0, 0xFFFF)
    if rng.random() < 0.5:
        header = bytes([0x60, 0, 0, 0]) + length.to_bytes(2, "big")
        header += bytes([rng.choice((112, 112, 58, 0)), rng.choice(HOP_LIMITS[:3])]) + rng.randbytes(32)
        ethertype, at = b"\x86\xdd", 54
    else:
        ihl = 5 if rng.random() < 0.8 else rng.randint(0, 15)
        header = bytes([0x40 | ihl, 0]) + ((length + 20) & 0xFFFF).to_bytes(2, "big") + bytes(4)
        header += bytes([rng.choice((255, 255, 1, 0)), rng.choice((112, 112, 6, 0)), 0, 0]) + rng.randbytes(8)
        ethertype, at = b"\x08\x00", 34
    frame = bytearray(bytes(12) + ethertype + header + vrrp)
    if rng.random() < 0.5:
        fix_vrrp_checksum(frame, at)
    return bytes(frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=0.0, help="stop early after this long (0: no limit)")
    options = parser.parse_args()
    golden = golden_frames()
    if not golden:
        print(f"no keepalived captures in {VECTORS}", file=sys.stderr)
        return 2
    pure, compiled = pure_build(), compiled_build()
    rng = random.Random(options.seed)
    totals: collections.Counter[str] = collections.Counter()
    checks: collections.Counter[str] = collections.Counter()
    failures = 0
    started = time.perf_counter()
    done = 0
    for case in range(options.cases):
        frame = mutate(rng, golden) if rng.random() < 0.7 else scratch(rng)
        hop_limit, no_pseudo = rng.choice(HOP_LIMITS), rng.random() < 0.5
        for args in calls(frame, hop_limit, no_pseudo):
            try:
                expected = verdict(pure, args)
                got = verdict(compiled, args)
            except Exception:  # any exception is a finding, reported with its case
                failures += 1
                print(f"case {case}: EXCEPTION on {args!r}\n  frame {frame.hex()}", flush=True)
                traceback.print_exc()
                continue
            if got != expected:
                failures += 1
                print(f"case {case}: DISAGREE on {args!r}\n  frame {frame.hex()}\n  pure     {expected!r}\n"
                      f"  compiled {got!r}", flush=True)  # fmt: skip
            totals[expected[0] if expected[0] == "advert" else f"drop {expected[1]}"] += 1
            if expected[0] == "advert":
                checks.update("pass" if check is None else check for check in expected[2])
        done = case + 1
        if done % 100_000 == 0:
            print(f"  {done} cases, {done / (time.perf_counter() - started):.0f} cases/s, {failures} failures",
                  flush=True)  # fmt: skip
        if options.max_seconds and time.perf_counter() - started > options.max_seconds:
            break
    elapsed = time.perf_counter() - started
    decodes = sum(totals.values())
    print(f"{done} cases (seed {options.seed}) in {elapsed:.1f} s: {done / elapsed:.0f} cases/s, "
          f"{decodes} decodes per build, {failures} failures")  # fmt: skip
    print("decode verdicts:")
    for name, count in totals.most_common():
        print(f"  {name:<24} {count:>10}")
    print(f"check_advert results over {len(CHECKS)} settings per decoded advert:")
    for name, count in checks.most_common():
        print(f"  {name:<24} {count:>10}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
