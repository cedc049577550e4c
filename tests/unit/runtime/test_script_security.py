"""keepalived's script security rules (runtime/scripts.py) against real files, users and processes."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from fastalived.config import parse_string
from fastalived.config.model import GlobalDefs
from fastalived.runtime.commands import Identity
from fastalived.runtime.scripts import audit, judge, run_script, script_identity, unsafe_component

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="ownership and user switching need root")

NOBODY = pwd.getpwnam("nobody")


def _script(directory: Path, body: str = "exit 0", mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "check.sh"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(mode)
    return path


@pytest.fixture
def root_only_dir() -> Iterator[Path]:
    """A root-owned 0755 directory in the sticky /tmp: only root can change it, anyone may enter."""
    path = Path(tempfile.mkdtemp(prefix="fastalived-scripts-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_the_default_user_chain_is_keepalived_s() -> None:
    assert script_identity("nobody", None, GlobalDefs()) == Identity(NOBODY.pw_uid, NOBODY.pw_gid)
    assert script_identity(None, None, GlobalDefs(script_user="nobody")) == Identity(NOBODY.pw_uid, NOBODY.pw_gid)
    try:
        pwd.getpwnam("keepalived_script")
    except KeyError:
        assert script_identity(None, None, GlobalDefs()) == Identity(0, 0)  # root, with a warning at -t
        verdict = judge(["/bin/true"], None, None, GlobalDefs(enable_script_security=True))
        assert verdict.refused == "Unable to set default user keepalived_script for script"


def test_a_world_writable_directory_makes_a_root_script_unsafe(root_only_dir: Path) -> None:
    open_dir = root_only_dir / "open"
    script = _script(open_dir)
    assert unsafe_component(str(script)) is None or not open_dir.exists()
    open_dir.chmod(0o777)
    assert unsafe_component(str(script)) == str(open_dir)

    root = GlobalDefs(script_user="root")
    warned = judge([str(script)], None, None, root)
    assert warned.identity == Identity(0, 0) and warned.warning and "Unsafe permissions" in warned.warning
    refused = judge([str(script)], None, None, GlobalDefs(script_user="root", enable_script_security=True))
    assert refused.identity is None and refused.refused and refused.refused.endswith("- disabling")
    # The same script is fine for an unprivileged user: only root scripts need a safe path.
    assert judge([str(script)], "nobody", None, GlobalDefs(enable_script_security=True)).identity is not None


def test_a_sticky_directory_is_safe_but_a_non_root_owner_is_not(root_only_dir: Path) -> None:
    sticky = root_only_dir / "sticky"
    script = _script(sticky)
    sticky.chmod(0o1777)
    assert unsafe_component(str(script)) is None
    os.chown(script, NOBODY.pw_uid, 0)
    assert unsafe_component(str(script)) == str(script)


def test_missing_and_non_executable_scripts_never_run(root_only_dir: Path) -> None:
    assert judge([str(root_only_dir / "absent.sh")], None, None, GlobalDefs()).refused
    script = _script(root_only_dir / "private", mode=0o700)
    verdict = judge([str(script)], "nobody", None, GlobalDefs())
    assert verdict.refused and "not executable for uid:gid" in verdict.refused
    assert uvloop.run(run_script([str(script)], 5, GlobalDefs(), user="nobody")) is None


def test_scripts_run_as_the_global_script_user_with_a_clean_environment(root_only_dir: Path) -> None:
    out = root_only_dir / "out"
    out.mkdir()
    out.chmod(0o777)
    script = _script(root_only_dir / "bin", f'echo "$(id -u) $(id -G) ${{FASTALIVED_SECRET:-none}}" > {out}/who')
    os.environ["FASTALIVED_SECRET"] = "leak"
    try:
        status = uvloop.run(run_script([str(script)], 5, GlobalDefs(script_user="nobody")))
    finally:
        del os.environ["FASTALIVED_SECRET"]
    assert status == 0
    assert (out / "who").read_text().split() == [str(NOBODY.pw_uid), str(NOBODY.pw_gid), "none"]


def test_audit_names_file_line_and_keyword(root_only_dir: Path) -> None:
    open_dir = root_only_dir / "open"
    script = _script(open_dir)
    open_dir.chmod(0o777)
    text = f"""global_defs {{
    script_user root
    enable_script_security
}}
vrrp_script chk {{
    script "{script} arg"
}}
"""
    config = parse_string(text, "k.conf").config
    [finding] = audit(config)
    assert finding.severity == "error" and finding.keyword == "script"
    assert str(finding.where).startswith("k.conf:5:")
    assert "Unsafe permissions" in finding.message

    misc = text + f"""virtual_server 198.51.100.80 80 {{
    real_server 203.0.113.1 80 {{
        MISC_CHECK {{
            misc_path "{root_only_dir}/absent --flag"
        }}
    }}
}}
"""
    findings = audit(parse_string(misc, "k.conf").config)
    where = [(d.keyword, str(d.where).split(":")[1]) for d in findings]
    assert where == [("script", "5"), ("misc_path", "10")]  # misc_path: its MISC_CHECK block

    relaxed = parse_string(text.replace("    enable_script_security\n", ""), "k.conf").config
    messages = [d.message for d in audit(relaxed)]
    assert any(m.startswith("Unsafe permissions") for m in messages)
    assert any(m.startswith("SECURITY VIOLATION") and "insecure scripts" in m for m in messages)


def test_a_file_that_is_group_writable_by_root_s_group_is_still_safe(root_only_dir: Path) -> None:
    script = _script(root_only_dir / "grp", mode=0o775)
    assert stat.S_IMODE(script.stat().st_mode) == 0o775 and script.stat().st_gid == 0
    assert unsafe_component(str(script)) is None
