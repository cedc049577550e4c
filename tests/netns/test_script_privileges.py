"""Scripts never run with more privilege than configured (issue 12, acceptance: scripts).

A real ``fastalived`` daemon in a testbed namespace: under ``global_defs { script_user nobody }`` a
``vrrp_script`` and a ``MISC_CHECK`` with no ``user`` of their own run as nobody (uid 65534, only
nobody's primary group). Under ``enable_script_security`` with ``script_user root`` a script in a
world-writable directory is refused with a ``file:line:col`` error at ``-t`` and, at run time, with
keepalived's log line; it never runs and counts as failed (the tracking instance goes to FAULT).

The scripts live under a root-owned 0755 directory made in /tmp (pytest's ``tmp_path`` sits below a
0700 directory nobody cannot enter); only the output subdirectory is world-writable.
"""

from __future__ import annotations

import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.full_daemon import STATUS_PORT, FullDaemon
from tests.support.netns import wait_for
from tests.support.testbed import fastalived_executable, vrrp_instance_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(60)]

VIP = "198.51.100.77"
REAL_SERVER = "198.51.100.12"
NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def script_dir() -> Iterator[Path]:
    """A root-owned 0755 directory under /tmp, removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="fastalived-scripts-", dir="/tmp"))
    try:
        base.chmod(0o755)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _global_defs(*lines: str) -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return f"global_defs {{\n    router_id lb1\n{body}    fastalived_status_listen 127.0.0.1 {STATUS_PORT}\n}}\n"


def _recorded(path: Path) -> str | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    return text if text.endswith("\n") else None  # the script's write is complete


def test_vrrp_script_and_misc_check_run_as_script_user_nobody(testbed, tmp_path: Path, script_dir: Path) -> None:
    out = script_dir / "out"
    out.mkdir()
    out.chmod(0o777)
    vrrp_out, misc_out, notify_out = out / "vrrp_script", out / "misc_check", out / "notify"
    vrrp_script = _script(script_dir / "chk.sh", f'echo "$(id -u) $(id -G)" > {vrrp_out}')
    misc_script = _script(script_dir / "misc.sh", f'echo "$(id -u) $(id -G)" > {misc_out}')
    notify_script = _script(script_dir / "notify.sh", f'echo "$(id -u) $(id -G)" > {notify_out}')
    config = (
        _global_defs("script_user nobody")
        + f"vrrp_script chk {{\n    script {vrrp_script}\n    interval 1\n}}\n"
        + vrrp_instance_config(
            "VI_1",
            51,
            150,
            [f"{VIP}/24"],
            advert_int=1,
            # keepalived's ``notify_x SCRIPT username [groupname]``: its own user beats script_user
            extra=f"    track_script {{\n        chk\n    }}\n    notify_master {notify_script} daemon\n",
        )
        + f"virtual_server {VIP} 80 {{\n    delay_loop 1\n    lb_kind NAT\n    protocol TCP\n"
        + f"    real_server {REAL_SERVER} 80 {{\n        MISC_CHECK {{\n            misc_path {misc_script}\n"
        + "        }\n    }\n}\n"
    )
    node = testbed(1).node(1)
    daemon = FullDaemon(node, tmp_path / "daemon", config)
    try:
        daemon.start()
        expected = f"{NOBODY.pw_uid} {NOBODY.pw_gid}\n"  # uid 65534 and no supplementary groups
        assert wait_for(lambda: _recorded(vrrp_out), 15), daemon.log_text()[-3000:]
        assert wait_for(lambda: _recorded(misc_out), 15), daemon.log_text()[-3000:]
        assert NOBODY.pw_uid == 65534
        assert vrrp_out.read_text() == expected
        assert misc_out.read_text() == expected
        assert vrrp_out.stat().st_uid == misc_out.stat().st_uid == 65534
        # The script succeeded as nobody, so the instance it tracks is healthy.
        assert wait_for(lambda: daemon.instance_states().get("VI_1") == "MASTER", 10), daemon.log_text()[-3000:]
        daemon_user = pwd.getpwnam("daemon")
        assert wait_for(lambda: _recorded(notify_out), 10), daemon.log_text()[-3000:]
        assert notify_out.read_text() == f"{daemon_user.pw_uid} {daemon_user.pw_gid}\n"
    finally:
        daemon.stop()


def test_script_security_refuses_a_root_script_in_a_world_writable_directory(
    testbed, tmp_path: Path, script_dir: Path
) -> None:
    writable = script_dir / "writable"
    writable.mkdir()
    writable.chmod(0o777)
    ran = script_dir / "ran"  # in the safe directory: only the script could create it
    unsafe = _script(writable / "chk.sh", f"touch {ran}")
    config = (
        _global_defs("script_user root", "enable_script_security")
        + f"vrrp_script chk {{\n    script {unsafe}\n    interval 1\n}}\n"
        + vrrp_instance_config(
            "VI_1", 51, 150, [f"{VIP}/24"], advert_int=1, extra="    track_script {\n        chk\n    }\n"
        )
    )

    # -t: a file:line:col error naming the script, exit status 5 (keepalived's KEEPALIVED_EXIT_CONFIG_TEST).
    config_file = tmp_path / "check.conf"
    config_file.write_text(config)
    checked = subprocess.run([fastalived_executable(), "-t", "-f", str(config_file)],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    output = checked.stdout + checked.stderr
    assert checked.returncode == 5, output
    # The error points at the vrrp_script block that names the script.
    block_line = next(n for n, line in enumerate(config.splitlines(), 1) if line.startswith("vrrp_script chk"))
    assert re.search(rf"^{re.escape(str(config_file))}:{block_line}:\d+: error: .*'{re.escape(str(unsafe))}'", output,
                     re.MULTILINE), output  # fmt: skip
    assert not ran.exists()

    # Run time: the refusal is logged, the script never runs and counts as failed (no weight: FAULT).
    node = testbed(1).node(1)
    daemon = FullDaemon(node, tmp_path / "daemon", config)
    try:
        daemon.start()
        daemon.wait_log(f"Unsafe permissions found for script '{unsafe}' ({writable}) - disabling", timeout=15)
        assert wait_for(lambda: daemon.instance_states().get("VI_1") == "FAULT", 10), daemon.log_text()[-3000:]
        assert not node.has_address(VIP)
        # Several intervals later: still refused, logged once, never run.
        assert not wait_for(lambda: ran.exists() or daemon.instance_states().get("VI_1") != "FAULT", 3)
        refusals = [
            line
            for line in daemon.log_text().splitlines()
            if "fastalived_vrrp[" in line and f"Unsafe permissions found for script '{unsafe}'" in line
        ]
        assert len(refusals) == 1, refusals  # the VRRP child says it once (the parent's start-up audit aside)
    finally:
        daemon.stop()
    assert not ran.exists()
