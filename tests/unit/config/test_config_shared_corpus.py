"""Every real-world config under ``<repo>/../shared/configs`` loads without crashing.

Files keepalived accepts (``keepalived -t`` only objects to interfaces missing on the test host,
which fastalived does not check since configs are validated away from their hosts) must load
without error diagnostics. The files below hold genuine mistakes that keepalived also reports.
Keywords fastalived does not support are printed (``pytest -s``) as ``file:line:col`` warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import pytest

from fastalived.config import load_config

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "configs"
FILES = sorted(SHARED.rglob("*.conf")) if SHARED.is_dir() else []

# file name fragment -> config id to load it with (files written for `keepalived -i ID`)
CONFIG_IDS = {"conditional_conf": "high", "advanced_syntax_examples": "main"}
# file name fragment -> keywords of the errors we expect, with keepalived's own complaint
EXPECTED_ERRORS = {
    # keepalived: "Invalid lvs_scheduler 'loadbalance'", "persistence_timeout invalid"
    "05-keepalived_master02": ["lb_algo", "persistence_timeout"],
    # keepalived: "Invalid user/group for notify_master script ..." (no group named "group" here),
    # "(VI_0) track script offset_instance_0 not found, ignoring..."
    "advanced_syntax_examples": ["notify_master", "track_script", "track_script"],
    # keepalived: "Invalid rule to address 192.168.100./24" (and 192.168.200./24)
    "vrrp.rules": ["to", "to"],
}


T = TypeVar("T")


def _lookup(table: Mapping[str, T], path: Path) -> T | None:
    return next((value for fragment, value in table.items() if fragment in path.name), None)


@pytest.mark.skipif(not FILES, reason=f"shared config corpus not found at {SHARED}")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:60])
def test_shared_config_loads(path: Path) -> None:
    result = load_config(str(path), config_id=_lookup(CONFIG_IDS, path) or "fastalived-test")
    expected = _lookup(EXPECTED_ERRORS, path) or []
    assert [d.keyword for d in result.errors] == expected, [str(d) for d in result.errors]
    assert result.config.files[0] == str(path)
    not_supported = [d for d in result.warnings if "not supported by fastalived" in d.message]
    for diagnostic in not_supported:  # shown with pytest -s: what this real config would lose
        print(diagnostic)
    assert all(d.where.line > 0 and d.keyword for d in not_supported)
