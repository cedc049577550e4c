"""Fuzzing: no input, however broken, makes the lexer or parser raise.

The long run of the corpus mutations is ``bench/fuzz_config.py``; the refusals it relies on
(include loops, deep nesting, expansion bombs) are pinned in ``test_config_fuzz_limits.py``.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastalived.config import dump_json, parse_string
from tests.support.config_fuzz import check_case, corpus, mutate

VALID = (Path(__file__).parent / "fixtures" / "full.conf").read_text().splitlines()
# Includes in fuzzed text resolve inside an empty directory, never the working tree.
FUZZ_FILE = str(Path(tempfile.mkdtemp(prefix="fastalived-fuzz-")) / "keepalived.conf")

TOKENS = st.sampled_from(
    [
        "{",
        "}",
        "{ }",
        '"',
        "'",
        "\\",
        "#",
        "!",
        "@main",
        "@^main",
        "$X=",
        "$X",
        "${X}",
        "$Y= \\",
        "~SEQ(N,1,3)",
        "~SEQ(",
        "~LST({A,B},{1,2})",
        "include",
        "includer *.conf",
        "vrrp_instance",
        "virtual_server",
        "real_server",
        "HTTP_GET",
        "url",
        "path",
        "priority",
        "advert_int",
        "0.5",
        "300",
        "-1",
        "198.51.100.1",
        "2001:db8::1/64",
        "198.51.100.1-9",
        "fwmark",
        "group",
        "weight",
        "track_script",
        "status_code",
        "200-299",
        "virtual_ipaddress",
        "via",
        "dev",
        "blackhole",
        "default",
        "\n",
        " ",
        "\t",
        "x" * 40,
        "\x00",
        "é",
    ]
)


def check(text: str) -> None:
    result = parse_string(text, filename=FUZZ_FILE, config_id="main")
    assert isinstance(result.ok, bool)
    dump_json(result.config)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=80).map(" ".join))
def test_random_token_soup_never_raises(text: str) -> None:
    check(text)


@st.composite
def mutated_config(draw: st.DrawFn) -> str:
    lines = list(VALID)
    for _ in range(draw(st.integers(1, 8))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate", "swap"]))
        if action == "delete":
            del lines[at]
        elif action == "duplicate":
            lines.insert(at, lines[at])
        elif action == "insert":
            lines.insert(at, " ".join(draw(st.lists(TOKENS, min_size=1, max_size=6))))
        elif action == "truncate":
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
        else:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_config())
def test_mutated_valid_config_never_raises(text: str) -> None:
    check(text)


SEEDS = corpus()


@pytest.mark.skipif(not SEEDS, reason="shared config corpus not found")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_mutated_shared_configs_load_with_placed_diagnostics(rng: random.Random) -> None:
    files, applied = mutate(rng, SEEDS)
    with tempfile.TemporaryDirectory(prefix="fastalived-fuzz-") as directory:
        assert check_case(Path(directory), files) == [], applied
