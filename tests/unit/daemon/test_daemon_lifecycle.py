"""The parent's namespace choice and its start-up/shut-down scripts (real processes, no namespaces)."""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
from pathlib import Path

import pytest

from fastalived.config import parse_string
from fastalived.config.model import GlobalDefs
from fastalived.daemon.lifecycle import (
    effective_namespace,
    enter_namespace,
    placed_options,
    run_lifecycle_script,
    warn_namespace_change,
)
from fastalived.options import RunOptions


def test_dash_s_overrides_the_configured_namespace() -> None:
    config = parse_string("net_namespace blue\n").config
    assert effective_namespace(RunOptions(), config) == "blue"
    assert effective_namespace(RunOptions(namespace="red"), config) == "red"
    assert effective_namespace(RunOptions(), None) is None


def test_pid_files_and_run_dir_default_to_the_namespace_s_own() -> None:
    options = placed_options(RunOptions(), "blue")
    assert (options.namespace, options.pid_file, options.vrrp_pid_file, options.checkers_pid_file, options.run_dir) == (
        "blue",
        "/run/fastalived/blue/fastalived.pid",
        "/run/fastalived/blue/fastalived_vrrp.pid",
        "/run/fastalived/blue/fastalived_checkers.pid",
        "/run/fastalived/blue",
    )
    given = placed_options(RunOptions(pid_file="/p", run_dir="/r"), "blue")
    assert (given.pid_file, given.run_dir) == ("/p", "/r")


def test_instance_and_use_pid_dir_place_the_pid_files_as_keepalived() -> None:
    loaded = parse_string("instance lb2\nglobal_defs {\n}\n")
    assert loaded.config.global_defs.instance_name == "lb2"
    options = enter_namespace(RunOptions(), loaded)
    assert (options.pid_file, options.vrrp_pid_file, options.checkers_pid_file, options.run_dir) == (
        "/run/fastalived/fastalived_lb2.pid",
        "/run/fastalived/fastalived_vrrp_lb2.pid",
        "/run/fastalived/fastalived_checkers_lb2.pid",
        "/run/fastalived",
    )
    in_dir = enter_namespace(RunOptions(vrrp_pid_file="/v.pid"), parse_string("use_pid_dir\n"))
    assert (in_dir.pid_file, in_dir.vrrp_pid_file) == ("/run/fastalived/fastalived.pid", "/v.pid")
    both = placed_options(RunOptions(), "blue", "lb2")
    assert both.checkers_pid_file == "/run/fastalived/blue/fastalived_checkers_lb2.pid"


def test_no_namespace_leaves_the_options_alone_and_a_missing_one_raises() -> None:
    options = RunOptions()
    assert enter_namespace(options, parse_string("global_defs {\n}\n")) is options
    with pytest.raises(FileNotFoundError):
        enter_namespace(options, parse_string(f"net_namespace fastalived-absent-{os.getpid()}\n"))


def test_a_reload_cannot_change_the_namespace(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "fastalived.supervisor"):
        warn_namespace_change(GlobalDefs(net_namespace="blue"), GlobalDefs(net_namespace="blue"))
        assert caplog.messages == []
        warn_namespace_change(GlobalDefs(net_namespace="blue"), GlobalDefs())
    assert caplog.messages == ["Cannot change network namespace at a reload - please restart fastalived"]


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_startup_and_shutdown_scripts_run_with_their_arguments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "marker"
    up = _script(tmp_path / "up.sh", f'echo "up $1" >> {marker}')
    down = _script(tmp_path / "down.sh", f"echo down >> {marker}; exit 3")
    user = pwd.getpwuid(os.geteuid()).pw_name  # not the keepalived_script fall-back
    g = GlobalDefs(
        startup_script=f"{up} first", startup_script_user=user, shutdown_script=down, shutdown_script_user=user
    )
    with caplog.at_level(logging.INFO, "fastalived.supervisor"):
        assert asyncio.run(run_lifecycle_script("startup", g)) == 0
        assert asyncio.run(run_lifecycle_script("shutdown", g)) == 3
    assert marker.read_text() == "up first\ndown\n"
    assert caplog.messages == [f"Running startup script {up}", f"Running shutdown script {down}",
                               "shutdown script failed, status 3"]  # fmt: skip
    assert asyncio.run(run_lifecycle_script("startup", GlobalDefs())) is None  # none configured: nothing runs
