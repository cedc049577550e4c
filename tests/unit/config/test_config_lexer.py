"""Lexer: comments, quoting, braces, includes, conditionals, definitions, ~SEQ/~LST, positions."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fastalived.config import load_config, parse_string
from fastalived.config.diagnostics import Reporter
from fastalived.config.lexer import Lexer, Stmt, default_config_id
from fastalived.config.words import expand_braces, split_words, strip_comment


def lex(text: str, config_id: str = "main", filename: str = "k.conf") -> tuple[list[Stmt], Reporter]:
    report = Reporter()
    return Lexer(report, config_id).read_string(text, filename), report


def shape(stmts: list[Stmt]) -> list:
    """Statements as nested lists of words, to compare trees compactly."""
    out: list = []
    for st in stmts:
        out.append(st.words if st.block is None else [st.words, shape(st.block)])
    return out


def block_words(text: str, **kwargs: str) -> list[list[str]]:
    """Words of each statement inside the first top-level block."""
    stmts, report = lex(text, **kwargs)
    assert not report.diagnostics, report.diagnostics
    return [st.words for st in stmts[0].block or []]


# ----------------------------------------------------------------------------- comments, quotes


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("priority 100 # comment", "priority 100 "),
        ("priority 100 ! comment", "priority 100 "),
        ("! whole line", ""),
        ('script "echo #1 !x" # real', 'script "echo #1 !x" '),
        ("script 'a # b'", "script 'a # b'"),
        ('x "a\\"#b" #c', 'x "a\\"#b" '),
    ],
)
def test_strip_comment(line: str, expected: str) -> None:
    assert strip_comment(line) == expected


def test_quoted_strings_join_and_keep_spaces() -> None:
    words, cols, braces = split_words("""abcd" efg h jkl "mnop x 'a "b" c' "{" """)
    assert words == ["abcd efg h jkl mnop", "x", 'a "b" c', "{"]
    assert cols[0] == 0 and cols[1] == 22
    assert braces == set()  # a quoted brace is just a word


@pytest.mark.parametrize(
    ("quoted", "expected"),
    [
        (r'"a\tb"', "a\tb"),
        (r'"\x41\102"', "AB"),
        (r'"\\"', "\\"),
        (r'"\""', '"'),
        (r'"\cA"', "\x01"),
        (r'"\E"', "\x1b"),
        (r'"\q"', "q"),
    ],
)
def test_escapes_inside_quotes(quoted: str, expected: str) -> None:
    assert split_words(f"k {quoted}")[0] == ["k", expected]


# ----------------------------------------------------------------------------- braces


def test_brace_placements() -> None:
    text = """\
global_defs
{
    router_id a
}
vrrp_instance VI_1 {
    virtual_ipaddress { 198.51.100.1 198.51.100.2 }
    track_interface {
        eth0 } unicast_peer { 203.0.113.1
    }
}
"""
    stmts, report = lex(text)
    assert not report.diagnostics
    assert shape(stmts) == [
        [["global_defs"], [["router_id", "a"]]],
        [
            ["vrrp_instance", "VI_1"],
            [
                [["virtual_ipaddress"], [["198.51.100.1", "198.51.100.2"]]],
                [["track_interface"], [["eth0"]]],
                [["unicast_peer"], [["203.0.113.1"]]],
            ],
        ],
    ]


def test_positions_of_statements_and_words() -> None:
    stmts, _ = lex("vrrp_instance VI_1 {\n\tinterface   eth0\n  virtual_ipaddress { 198.51.100.7 }\n}\n")
    interface, vips = stmts[0].block or []
    assert (interface.line, interface.col) == (2, 2)
    assert str(interface.where(1)) == "k.conf:2:14"
    assert str(vips.block[0].where()) == "k.conf:3:23"  # type: ignore[index]


# ----------------------------------------------------------------------------- conditionals


def test_conditional_lines_follow_config_id() -> None:
    text = """\
global_defs {
    @main   router_id main_router
    @backup router_id backup_router
    @^main  smtp_helo_name not_main
    @^backup smtp_server 203.0.113.25
}
"""
    assert block_words(text, config_id="main") == [["router_id", "main_router"], ["smtp_server", "203.0.113.25"]]
    assert block_words(text, config_id="backup") == [["router_id", "backup_router"], ["smtp_helo_name", "not_main"]]
    assert block_words(text, config_id="other") == [
        ["smtp_helo_name", "not_main"],
        ["smtp_server", "203.0.113.25"],
    ]


def test_conditional_keeps_columns() -> None:
    stmts, _ = lex("global_defs {\n@main router_id x\n}\n")
    assert str(stmts[0].block[0].where(1)) == "k.conf:2:17"  # type: ignore[index]


def test_default_config_id_is_short_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "lb1.dc.example.com")
    assert default_config_id() == "lb1"
    stmts = Lexer(Reporter()).read_string("@lb1 a\n@lb2 b\n")
    assert [s.words for s in stmts] == [["a"]]


# ----------------------------------------------------------------------------- definitions


def test_definitions_substitute_recursively_at_use_time() -> None:
    text = """\
$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}
$ADDRESS_BASE_SUB=0
virtual_ipaddress {
    ${ADDRESS_BASE}.100/32
$ADDRESS_BASE_SUB=10
    ${ADDRESS_BASE}.100/32
    $UNDEFINED ${ALSO_UNDEFINED}
}
"""
    assert block_words(text) == [["10.2.0.100/32"], ["10.2.10.100/32"], ["$UNDEFINED", "${ALSO_UNDEFINED}"]]


def test_dollar_name_needs_whitespace_after_it() -> None:
    assert block_words("$P=7\nb {\n  x $P $Py ${P}y $P\n}\n") == [["x", "7", "$Py", "7y", "7"]]


def test_definition_with_conditional_and_empty_value() -> None:
    text = "@main $PRIORITY=240\n@backup $PRIORITY=200\n$EMPTY=\nb {\n  priority $PRIORITY $EMPTY\n}\n"
    assert block_words(text, config_id="backup") == [["priority", "200"]]


def test_definition_expanding_to_conditional() -> None:
    text = "$IF_MAIN=@main\nb {\n  $IF_MAIN priority 240\n}\n"
    assert block_words(text, config_id="main") == [["priority", "240"]]
    assert block_words(text, config_id="other") == []


def test_multiline_definitions_nest_and_expand_to_lines() -> None:
    text = """\
$RS= \\
real_server 198.51.100.${RS_NUM} 80 { \\
    weight ${RS_NUM} \\

}
$VS= \\
virtual_server 203.0.113.${VS_NUM} 80 { \\
    $RS_NUM=1 \\
    $RS \\
    $RS_NUM=2 \\
    $RS \\
}
$VS_NUM=4
$VS
"""
    stmts, report = lex(text)
    assert not report.diagnostics
    assert shape(stmts) == [
        [
            ["virtual_server", "203.0.113.4", "80"],
            [
                [["real_server", "198.51.100.1", "80"], [["weight", "1"]]],
                [["real_server", "198.51.100.2", "80"], [["weight", "2"]]],
            ],
        ]
    ]
    assert stmts[0].line == 14  # expanded statements point at the line that used the definition


def test_predefined_definitions(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("b {\n  x ${_PWD} ${_INSTANCE} ${_HASH}${_BANG} ${_RANDOM 5 5}\n}\n")
    report = Reporter()
    stmts = Lexer(report, "node7").read_file(str(conf))
    assert stmts[0].block[0].words == ["x", str(tmp_path), "node7", "#!", "5"]  # type: ignore[index]


def test_recursive_definition_is_an_error_not_a_hang() -> None:
    _stmts, report = lex("$A=x $B\n$B=$A\n$A\n")
    assert [str(d) for d in report.diagnostics] == ["k.conf:3:1: error: recursive definition: $A expands to itself"]


# ----------------------------------------------------------------------------- ~SEQ / ~LST


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("~SEQ(N, 0, 3)", ["0", "1", "2", "3"]),
        ("~SEQ(N, 0, 2, 6)", ["0", "2", "4", "6"]),
        ("~SEQ(N, 3)", ["1", "2", "3"]),
        ("~SEQ(N, 3, 1)", ["3", "2", "1"]),
        ("~SEQ(N, 5, -2, 1)", ["5", "3", "1"]),
        ("~SEQx(N, 0x90, 0x10, 0xc0)", ["90", "a0", "b0", "c0"]),
    ],
)
def test_seq_forms(spec: str, expected: list[str]) -> None:
    assert block_words(f"b {{\n  {spec} v ${{N}}\n}}\n") == [["v", v] for v in expected]


def test_nested_seq_and_lst() -> None:
    text = "b {\n  ~LST({A, B}, {1,2},{3,4}) ~SEQ(C, 7, 8) ${A}.${B}.${C}\n  ~LST(D, x, y) $D\n}\n"
    assert block_words(text) == [["1.2.7"], ["1.2.8"], ["3.4.7"], ["3.4.8"], ["x"], ["y"]]


def test_seq_replicates_a_multiline_definition() -> None:
    text = "$I= \\\nvrrp_instance VI_${N} { \\\n  virtual_router_id ${N} \\\n}\n~SEQ(N, 1, 3) $I\n"
    stmts, report = lex(text)
    assert not report.diagnostics
    assert [st.words for st in stmts] == [["vrrp_instance", f"VI_{n}"] for n in (1, 2, 3)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("~SEQ(N, 1, 0, 5) x", "k.conf:1:1: error: ~SEQ step must not be 0"),
        ("~SEQ(1N, 5) x", "k.conf:1:1: error: invalid ~SEQ specification '(1N, 5)'"),
        ("~LST({A,B},{1}) x", "k.conf:1:1: error: invalid ~LST specification '({A,B},{1})'"),
        ("~SEQ(N, 0, 2000000) x", "k.conf:1:1: error: ~SEQ would repeat a line 2000001 times (limit 1000000)"),
    ],
)
def test_bad_replicators(line: str, message: str) -> None:
    _, report = lex(line + "\n")
    assert [str(d) for d in report.diagnostics] == [message]


# ----------------------------------------------------------------------------- include


FIXTURES = Path(__file__).parent / "fixtures"


def test_includes_resolve_relative_globs_and_braces() -> None:
    result = load_config(str(FIXTURES / "main_with_includes.conf"), config_id="x")
    assert result.diagnostics == []
    names = [Path(f).name for f in result.config.files]
    assert names == ["main_with_includes.conf", "10-script.conf", "20-vs.conf", "a.conf", "b.conf", "body.conf"]
    config = result.config
    assert [i.name for i in config.vrrp_instances] == ["VI_A", "VI_B"]
    assert config.instance("VI_B").priority == 42  # type: ignore[union-attr]  # include inside a block
    assert config.instance("VI_A").track_script[0].name == "chk_one"  # type: ignore[union-attr]


def test_missing_include_file_names_file_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text("global_defs {\n}\ninclude nothere.conf\ninclude none-*.conf\n")
    result = load_config(str(conf))
    assert [str(d) for d in result.diagnostics] == [
        f"{conf}:3:1: error: config file '{tmp_path}/nothere.conf' not found",
        f"{conf}:4:1: warning: include pattern '{tmp_path}/none-*.conf' matched no files",
    ]


def test_include_loop_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\n")
    (tmp_path / "b.conf").write_text("include a.conf\n")
    result = load_config(str(tmp_path / "a.conf"))
    assert [str(d) for d in result.errors] == [
        f"{tmp_path}/b.conf:1:1: error: include loop: '{tmp_path}/a.conf' includes itself"
    ]


def test_quoted_include_name_with_space(tmp_path: Path) -> None:
    (tmp_path / "my file.conf").write_text("global_defs {\n  router_id spaced\n}\n")
    conf = tmp_path / "k.conf"
    conf.write_text('include "my file.conf"\n')
    result = load_config(str(conf))
    assert result.diagnostics == [] and result.config.global_defs.router_id == "spaced"


def test_missing_main_file() -> None:
    result = load_config("/nonexistent/keepalived.conf")
    assert [str(d) for d in result.diagnostics] == [
        "/nonexistent/keepalived.conf:1:1: error: config file '/nonexistent/keepalived.conf' not found"
    ]


def test_expand_braces() -> None:
    assert expand_braces("{foo/{,cat,dog},bar}") == ["foo/", "foo/cat", "foo/dog", "bar"]
    assert expand_braces("a{b") == ["a{b"]


def test_parse_string_include_relative_to_filename() -> None:
    result = parse_string("include instances/a.conf\n", filename=str(FIXTURES / "virtual.conf"))
    assert [i.name for i in result.config.vrrp_instances] == ["VI_A"]


def test_include_of_directory_or_nul_name_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    conf = tmp_path / "k.conf"
    conf.write_text("include sub\ninclude a\x00b\n")
    assert [str(d) for d in load_config(str(conf)).diagnostics] == [
        f"{conf}:1:1: error: config file '{tmp_path}/sub' is not a regular file",
        f"{conf}:2:1: error: config file name contains a NUL character",
    ]


def test_brace_without_keyword_and_crlf_lines() -> None:
    stmts, report = lex("{\r\n  a 1\r\n}\r\nb {\r\n  c\r\n}\r\n")
    assert [str(d) for d in report.diagnostics] == ["k.conf:1:1: error: '{' without a keyword before it"]
    assert shape(stmts) == [[["{"], [["a", "1"]]], [["b"], [["c"]]]]
