"""MISC_CHECK runs real scripts: exit codes, misc_dynamic weights, and a hung script's whole group killed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import uvloop

from fastalived.check.misc import MiscProbe
from fastalived.config.model import GlobalDefs, MiscCheck
from tests.check.builders import common, probe_once


def misc(path: str, *, dynamic: bool = False, timeout: float | None = None) -> MiscProbe:
    check = MiscCheck("MISC_CHECK", common(0), misc_path=path, misc_timeout=timeout, misc_dynamic=dynamic)
    return MiscProbe(check, GlobalDefs())


@pytest.fixture
def script(tmp_path: Path):
    def make(body: str) -> str:
        path = tmp_path / f"check{len(list(tmp_path.iterdir()))}.sh"
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
        return str(path)

    return make


@pytest.mark.parametrize(
    ("body", "dynamic", "ok", "weight"),
    [
        ("exit 0", False, True, None),
        ("exit 1", False, False, None),
        ("exit 7", False, False, None),
        ("exit 7", True, True, 5),
        ("exit 1", True, False, None),
    ],
)
def test_exit_status(script, body: str, dynamic: bool, ok: bool, weight: int | None) -> None:
    result = uvloop.run(probe_once(misc(script(body), dynamic=dynamic)))
    assert (result.ok, result.weight) == (ok, weight)


def test_arguments_reach_the_script_and_shell_syntax_works(script, tmp_path: Path) -> None:
    marker = tmp_path / "args"
    path = script(f'echo "$@" > {marker}; exit 0')
    assert uvloop.run(probe_once(misc(f"{path} one 'two words'"))).ok
    assert marker.read_text() == "one two words\n"
    assert not uvloop.run(probe_once(misc(f"{path} && exit 3"))).ok  # runs through /bin/sh -c


def test_a_hung_script_is_killed_with_its_whole_process_group(script, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    path = script(f"sleep 60 & echo $! > {pid_file}; wait")
    result = uvloop.run(probe_once(misc(path, timeout=0.5)))
    assert (result.ok, result.reason) == (False, "timed out or could not start")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 2.0
    while alive(child) and time.monotonic() < deadline:  # SIGKILL delivery is asynchronous
        time.sleep(0.01)
    assert not alive(child)  # the grandchild (sleep) got the SIGKILL too


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
