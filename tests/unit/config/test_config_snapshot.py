"""The parent's config snapshot: what its children load instead of parsing the files again."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest

from fastalived.config import load_config, snapshot
from fastalived.config.model import Config

CONFIG = """
global_defs { router_id SNAP }
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress { 198.51.100.10/24 }
}
virtual_server 198.51.100.10 80 {
    delay_loop 3
    protocol TCP
    real_server 203.0.113.1 80 {
        weight 2
        HTTP_GET { url { path /health status_code 200 } connect_timeout 2 }
    }
    include extra.conf
}
"""
EXTRA = "real_server 203.0.113.2 80 { TCP_CHECK { connect_timeout 1 } }\n"


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[Path, Config, int]:
    (tmp_path / "extra.conf").write_text(EXTRA)
    main = tmp_path / "keepalived.conf"
    main.write_text(CONFIG)
    past = time.time_ns() - 10**9  # both files older than the parse, as they normally are
    for name in (main, tmp_path / "extra.conf"):
        os.utime(name, ns=(past, past))
    result = load_config(str(main))
    assert result.ok, result.errors
    return main, result.config, result.read_since_ns


def test_a_snapshot_gives_back_an_equal_config(tmp_path: Path, loaded: tuple[Path, Config, int]) -> None:
    _, config, since = loaded
    path = tmp_path / "config.snapshot"
    assert snapshot.write(config, path, since)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    copy = snapshot.read(path)
    assert copy == config and copy is not config
    assert copy.virtual_servers[0].real_servers[1].address == config.virtual_servers[0].real_servers[1].address
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_an_edited_include_makes_the_snapshot_stale(tmp_path: Path, loaded: tuple[Path, Config, int]) -> None:
    _, config, since = loaded
    path = tmp_path / "config.snapshot"
    assert snapshot.write(config, path, since)
    (tmp_path / "extra.conf").write_text(EXTRA.replace("203.0.113.2", "203.0.113.3"))
    assert snapshot.read(path) is None  # the child parses the files instead


def test_a_file_changed_during_the_parse_gets_no_snapshot(tmp_path: Path, loaded: tuple[Path, Config, int]) -> None:
    main, config, since = loaded
    path = tmp_path / "config.snapshot"
    assert snapshot.write(config, path, since)
    os.utime(main, ns=(since + 1, since + 1))  # modified after the parse began: maybe not what was parsed
    assert not snapshot.write(config, path, since)
    assert not path.exists()  # the older snapshot is gone too: nobody loads a config the files no longer say


def test_a_snapshot_of_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.snapshot"
    path.write_bytes(pickle.dumps(((), {"not": "a config"})))
    with pytest.raises(TypeError):
        snapshot.read(path)
