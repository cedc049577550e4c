"""The child runner on its own (``python -m fastalived.daemon.child``), as role authors run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_harness import HERE, vrrp_config, wait_until
from fake_role import read_journal

from fastalived.daemon.child import EXIT_FATAL, decode_options, encode_options
from fastalived.options import RunOptions

pytestmark = pytest.mark.timeout(60)


def _start(tmp_path: Path, config: str) -> tuple[subprocess.Popen, Path, Path]:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(config)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    argv = [sys.executable, "-m", "fastalived.daemon.child", "vrrp", "-f", str(conf), "-l", "--run-dir", str(run_dir)]
    log = tmp_path / "child.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*argv, "--role-class", "fake_role:FakeVrrpRole"], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    return proc, run_dir, log


def test_standalone_reload_keeps_the_old_config_when_the_new_one_is_invalid(tmp_path: Path) -> None:
    proc, run_dir, log = _start(tmp_path, vrrp_config(("VI_1", 100)))
    try:
        wait_until(lambda: read_journal(run_dir))
        (tmp_path / "keepalived.conf").write_text(vrrp_config(("VI_1", 100)).replace("priority 100", "priority 0"))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "Reload failed" in log.read_text())
        (tmp_path / "keepalived.conf").write_text(vrrp_config(("VI_1", 100), ("VI_2", 100)))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: any(e["event"] == "reload" for e in read_journal(run_dir)))
        proc.send_signal(signal.SIGINT)  # standalone: Ctrl-C stops gracefully
        assert proc.wait(20) == 0
    finally:
        proc.kill()
        proc.wait()
    events = [(e["event"], e.get("added")) for e in read_journal(run_dir)]
    assert events == [("start", None), ("reload", ["VI_2"]), ("stop", None)]
    text = log.read_text()
    assert "keepalived.conf:" in text and "Reloading" in text and "Stopped" in text


def test_an_unusable_config_exits_fatal_so_the_parent_does_not_respawn(tmp_path: Path) -> None:
    proc, run_dir, _log = _start(tmp_path, "vrrp_instance VI_1 {\n  priority 300\n}\n")
    assert proc.wait(20) == EXIT_FATAL
    assert read_journal(run_dir) == []


def test_options_survive_the_command_line() -> None:
    options = RunOptions(config_file="/x.conf", vrrp_only=True, dont_respawn=True, run_dir="/tmp/r")
    assert decode_options(encode_options(options)) == options
