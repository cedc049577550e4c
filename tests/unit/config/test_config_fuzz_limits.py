"""Hostile configs are refused cleanly: include loops, deep nesting, expansion bombs, huge lines.

Each is refused with an error at its ``file:line:col`` while the rest of the config still loads,
and none takes more than a moment (the bounds are the ``MAX_*`` constants of ``lexer.py``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fastalived.config import LoadResult, load_config, parse_string
from fastalived.config import lexer as lexer_module
from fastalived.config.parse_core import SUGGESTION_LIMIT

INSTANCE = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n priority 100\n}\n"


def messages(result: LoadResult) -> list[str]:
    return [str(d) for d in result.diagnostics]


def loads_instance(result: LoadResult) -> bool:
    return [i.name for i in result.config.vrrp_instances] == ["VI_1"]


def test_self_include_and_mutual_include_loops_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\n" + INSTANCE)
    (tmp_path / "b.conf").write_text("\n\n  include a.conf\n")
    result = load_config(str(tmp_path / "a.conf"))
    assert messages(result) == [f"{tmp_path}/b.conf:3:3: error: include loop: '{tmp_path}/a.conf' includes itself"]
    assert loads_instance(result)


def test_include_loop_through_a_glob_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keepalived.conf").write_text("include *.conf\n" + INSTANCE)
    result = load_config(str(tmp_path / "keepalived.conf"))
    assert messages(result) == [
        f"{tmp_path}/keepalived.conf:1:1: error: include loop: '{tmp_path}/keepalived.conf' includes itself"
    ]
    assert loads_instance(result)


@pytest.mark.parametrize(
    "nest",
    [
        pytest.param("x {\n" * 10_000 + "}\n" * 10_000, id="one-per-line"),
        pytest.param("x { " * 10_000 + "}" * 10_000 + "\n", id="one-line"),
    ],
)
def test_ten_thousand_deep_nesting_is_refused_once(nest: str) -> None:
    started = time.monotonic()
    result = parse_string("global_defs {\n" + nest + "}\n" + INSTANCE, "k.conf")
    assert time.monotonic() - started < 5
    depth_errors = [d for d in result.errors if "nested deeper" in d.message]
    assert len(depth_errors) == 1
    assert str(depth_errors[0]).startswith("k.conf:") and "than 32 levels" in depth_errors[0].message
    assert loads_instance(result)


def test_ten_thousand_bare_braces_give_bounded_errors() -> None:
    result = parse_string("{\n" * 10_000 + INSTANCE, "k.conf")
    assert len(result.diagnostics) < 40
    assert "k.conf:33:1: error: blocks nested deeper than 32 levels; the inner blocks are ignored" in messages(result)
    assert messages(result)[-1] == "k.conf:1:1: error: missing '}': block '{' is never closed"


def test_doubling_definitions_are_refused_at_the_line_length_bound() -> None:
    text = "$A0=xxxxxxxx\n" + "".join(f"$A{i}=$A{i - 1} $A{i - 1}\n" for i in range(1, 20)) + "$A19\n" + INSTANCE
    result = parse_string(text, "k.conf")
    assert messages(result) == ["k.conf:21:1: error: parameter substitution makes a line longer than 65536 characters"]
    assert loads_instance(result)


def test_line_multiplying_definitions_stop_at_the_expansion_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexer_module, "MAX_GENERATED_LINES", 1000)
    # each definition is two lines of the previous one: $L20 would be 2**20 lines
    definitions = "$L0=vrrp_no_swap\n" + "".join(f"$L{i}=$L{i - 1}\\\n$L{i - 1}\n" for i in range(1, 21))
    result = parse_string(definitions + "global_defs {\n$L20\n}\n" + INSTANCE, "k.conf")
    assert [d.message for d in result.errors] == [
        "~SEQ/~LST and $definitions expand the config by more than 1000 lines; the rest of the expansion is ignored"
    ]
    assert result.errors[0].where.line == 43
    assert loads_instance(result)


def test_nested_replication_counts_against_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexer_module, "MAX_GENERATED_LINES", 500)
    ok = parse_string("static_ipaddress {\n~SEQ(a,1,20) ~SEQ(b,1,20) 198.51.100.${b}/32 dev eth$a\n}\n", "k.conf")
    assert ok.ok and len(ok.config.static_ipaddress) == 400
    refused = parse_string("static_ipaddress {\n~SEQ(a,1,30) ~SEQ(b,1,30) 198.51.100.${b}/32 dev eth$a\n}\n", "k.conf")
    assert [str(d.where) for d in refused.errors] == ["k.conf:2:14"]  # the inner ~SEQ
    assert "more than 500 lines" in refused.errors[0].message


def test_overlong_line_is_refused_and_the_rest_loads() -> None:
    result = parse_string("global_defs {\n router_id " + "x" * 100_000 + "\n}\n" + INSTANCE, "k.conf")
    assert messages(result) == ["k.conf:2:1: error: line longer than 65536 characters; ignored"]
    assert loads_instance(result)


def test_oversized_and_endless_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexer_module, "MAX_FILE_CHARS", 1 << 20)
    (tmp_path / "big.conf").write_text("! padding\n" * 200_000)
    main = tmp_path / "keepalived.conf"
    main.write_text("include big.conf\ninclude /dev/zero\n" + INSTANCE)
    result = load_config(str(main))
    assert messages(result) == [
        f"{main}:1:1: error: config file '{tmp_path}/big.conf' is larger than 1 MiB",
        f"{main}:2:1: error: config file '/dev/zero' is not a regular file",
    ]
    assert loads_instance(result)


@pytest.mark.parametrize("separator", ["\f", "\x1c", "\x85", "\u2028", "\r"])
def test_only_newlines_end_lines_so_positions_match_an_editor(separator: str) -> None:
    result = parse_string(f"global_defs {{{separator} router_id a\n bogus_keyword 1\n}}\n", "k.conf")
    assert [str(d.where) for d in result.diagnostics] == ["k.conf:2:2"]


def test_crlf_lines_keep_their_numbers_and_columns() -> None:
    result = parse_string("global_defs {\r\n router_id a\r\n  bogus_keyword 1\r\n}\r\n", "k.conf")
    assert [str(d.where) for d in result.diagnostics] == ["k.conf:3:3"]


@pytest.mark.parametrize(
    ("bound", "shown"),
    [("18446744073709551616", "over 10^18"), ("0x" + "f" * 5000, "over 10^18"), ("2000000", "2000001")],
    ids=["2^64", "5000-hex-digits", "2e6"],
)
def test_seq_with_enormous_bounds_is_refused_not_overflowed(bound: str, shown: str) -> None:
    result = parse_string(f"~SEQ(i, 0, {bound}) x $i\n" + INSTANCE, "k.conf")
    assert messages(result) == [f"k.conf:1:1: error: ~SEQ would repeat a line {shown} times (limit 1000000)"]
    assert loads_instance(result)


def test_recursive_multiline_definition_is_refused_at_once() -> None:
    """A definition reaching itself through a multi-line one would branch at every level."""
    text = "$A=x\\\n$B\\\n$B\n$B=$A\n$A\n" + INSTANCE
    started = time.monotonic()
    result = parse_string(text, "k.conf")
    assert time.monotonic() - started < 2
    assert set(messages(result)) == {
        "k.conf:5:1: error: recursive definition: $A expands to itself",
        "k.conf:5:1: warning: unknown keyword 'x'",  # the first line of $A, at the top level
    }
    assert loads_instance(result)


def test_keyword_hints_stop_after_a_bound_so_junk_stays_cheap() -> None:
    junk = "global_def x\n" * (SUGGESTION_LIMIT + 5)
    result = parse_string(junk + INSTANCE, "k.conf")
    hints = [d for d in result.warnings if "did you mean 'global_defs'" in d.message]
    assert len(hints) == SUGGESTION_LIMIT
    assert len(result.warnings) == SUGGESTION_LIMIT + 5
    assert loads_instance(result)
