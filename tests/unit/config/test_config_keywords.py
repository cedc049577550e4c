"""The keyword table (``config/keywords.py``) accounts for every keyword keepalived 2.2.7 accepts,
agrees with what the section parsers read, and ``docs/keepalived-compat.md`` is rendered from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastalived import cli
from fastalived.config import (
    compat_doc,
    keywords,
    parse_bfd,
    parse_checkers,
    parse_global,
    parse_virtual_server,
    parse_vrrp,
    parser,
)

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
KEEPALIVED_KEYWORDS = [
    line for line in (HERE / "keepalived_keywords.txt").read_text().splitlines() if line and not line.startswith("#")
]

# block path -> the keywords its parser tables read
_HTTP = "virtual_server/real_server/HTTP_GET"
PARSER_TABLES: dict[str, set[str]] = {
    "": set(parser.SECTIONS),
    "global_defs": {*parse_global.GLOBAL_SETTINGS, *parse_global.GLOBAL_BLOCKS},
    "SSL": set(parse_global.SSL_SETTINGS),
    "bfd_instance": {*parse_bfd.BFD_SETTINGS, *parse_bfd.BFD_BLOCKS},
    "vrrp_script": {*parse_vrrp.SCRIPT_SETTINGS, *parse_vrrp.SCRIPT_BLOCKS},
    "vrrp_sync_group": {*parse_vrrp.SYNC_GROUP_SETTINGS, *parse_vrrp.SYNC_GROUP_BLOCKS},
    "vrrp_instance": {*parse_vrrp.INSTANCE_SETTINGS, *parse_vrrp.INSTANCE_BLOCKS},
    "vrrp_instance/authentication": set(parse_vrrp.AUTHENTICATION_SETTINGS),
    "virtual_server": {*parse_virtual_server.VS_SETTINGS, *parse_virtual_server.VS_BLOCKS},
    "virtual_server/real_server": {*parse_virtual_server.RS_SETTINGS, *parse_virtual_server.RS_BLOCKS},
    **{
        f"virtual_server/real_server/{kind}": {*settings, *blocks}
        for kind, (settings, blocks) in parse_checkers.CHECKER_TABLES.items()
    },
    f"{_HTTP}/url": {*parse_checkers.URL_SETTINGS, *parse_checkers.URL_BLOCKS},
    "virtual_server/real_server/SSL_GET/url": {*parse_checkers.URL_SETTINGS, *parse_checkers.URL_BLOCKS},
    "virtual_server/real_server/SMTP_CHECK/host": set(parse_checkers.CHECKER_SETTINGS),
}


def test_every_keepalived_keyword_is_accounted_for() -> None:
    missing = [path for path in KEEPALIVED_KEYWORDS if keywords.lookup(path) is None]
    assert missing == [], "add these keepalived keywords to fastalived/config/keywords.py"


def test_the_table_lists_only_keepalived_keywords() -> None:
    listed = {path for path, _ in keywords.entries()}
    assert sorted(listed - set(KEEPALIVED_KEYWORDS)) == []
    assert set(keywords.EXTENSIONS).isdisjoint(KEEPALIVED_KEYWORDS)


@pytest.mark.parametrize("path", sorted(PARSER_TABLES))
def test_implemented_means_read_by_the_parser(path: str) -> None:
    children = keywords.KEYWORDS if not path else keywords.lookup(path).children  # type: ignore[union-attr]
    implemented = {keyword for keyword, support in children.items() if support.status == "implemented"}
    extensions = {ext.rpartition("/")[2] for ext in keywords.EXTENSIONS if ext.rpartition("/")[0] == path}
    assert PARSER_TABLES[path] - extensions == implemented


def test_compat_doc_is_up_to_date() -> None:
    doc = ROOT / "docs" / "keepalived-compat.md"
    assert doc.read_text() == compat_doc.markdown(), (
        "regenerate: python -m fastalived.config.compat_doc > docs/keepalived-compat.md"
    )


def test_config_test_warns_about_unsupported_keywords_and_exits_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like ``keepalived -t``, which exits 5 when it has anything to say; noop keywords stay quiet."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text("global_defs {\n    vrrp_no_swap\n    enable_snmp_vrrp\n}\n")
    assert cli.main(["-t", "-f", str(conf)]) == cli.EXIT_CONFIG_ERROR
    assert capsys.readouterr().err.splitlines() == [
        f"{conf}:3:5: warning: global_defs: 'enable_snmp_vrrp' is not supported by fastalived; ignored"
        " (no SNMP agent; use the /metrics endpoint)"
    ]
