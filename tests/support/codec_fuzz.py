"""What the codec's differential fuzzing feeds both builds: the golden frames and the settings grid.

Shared by the in-suite property (tests/unit/vrrp/test_codec_differential.py) and the long run
(bench/fuzz_codec.py), so both judge the builds over the same inputs.
"""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"  # captures from keepalived 2.2.7
ETHERNET = 14  # the captures are Ethernet frames; the codec sees what follows the MAC header

# Settings check_advert is run under: version, auth_type, auth_pass, multicast, accept_no_pseudo.
CHECKS = [
    (version, auth_type, auth_pass, multicast, no_pseudo)
    for version in (2, 3)
    for auth_type, auth_pass in ((0, b""), (1, b"fastaliv"), (1, b"fastalivXX"), (1, b""), (2, b"x"))
    for multicast in (True, False)
    for no_pseudo in (True, False)
]
EXTREMES = (0, 1, 0x0F, 0x10, 0x21, 0x31, 0x7F, 0x80, 0xFE, 0xFF)  # what a mutated byte is set to


def golden_frames() -> list[bytes]:
    """Every capture in shared/vectors (empty when the reference material is absent)."""
    return [bytes.fromhex(path.read_text().strip()) for path in sorted(VECTORS.glob("*.hex"))]
