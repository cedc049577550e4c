"""A script refused by script security is disabled once, as keepalived does: one log line, a
failure, never judged or run again (vrrp_script and MISC_CHECK) until a reload."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from fastalived.check.misc import MiscProbe
from fastalived.config.model import GlobalDefs, MiscCheck, VrrpScript
from fastalived.runtime import scripts
from fastalived.runtime.scripts import Script
from fastalived.vrrp.scripts import ScriptRunner
from tests.check.builders import common

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="script security judges root-owned paths"),
    pytest.mark.timeout(30),
]
SECURE = GlobalDefs(enable_script_security=True, script_user="root")


@pytest.fixture
def unsafe_script() -> Iterator[str]:
    """A root script anyone may rewrite: enable_script_security refuses it."""
    directory = Path(tempfile.mkdtemp(prefix="fastalived-disable-"))
    directory.chmod(0o755)
    path = directory / "check.sh"
    path.write_text(f"#!/bin/sh\necho ran >> {directory / 'runs'}\nexit 0\n")
    path.chmod(0o777)
    try:
        yield str(path)
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def judged(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every argv script security judged."""
    calls: list[list[str]] = []
    real = scripts.judge

    def counting(argv: list[str], *args: object) -> scripts.Verdict:
        calls.append(argv)
        return real(argv, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(scripts, "judge", counting)
    return calls


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "disabling" in r.getMessage()]


def test_a_refused_script_is_judged_and_logged_once(
    unsafe_script: str, judged: list[list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    script = Script([unsafe_script], label="vrrp_script chk")

    async def three_runs() -> list[int | None]:
        return [await script.run(5, SECURE) for _ in range(3)]

    with caplog.at_level(logging.WARNING, "fastalived.scripts"):
        assert uvloop.run(three_runs()) == [None, None, None]
    assert len(judged) == 1
    assert script.disabled is not None and "Unsafe permissions" in script.disabled
    assert refusals(caplog) == [f"vrrp_script chk: {script.disabled}"]
    assert not (Path(unsafe_script).parent / "runs").exists()


def test_an_allowed_script_is_judged_at_every_run(unsafe_script: str, judged: list[list[str]]) -> None:
    os.chmod(unsafe_script, 0o755)
    script = Script([unsafe_script])

    async def two_runs() -> list[int | None]:
        return [await script.run(5, SECURE) for _ in range(2)]

    assert uvloop.run(two_runs()) == [0, 0]
    assert len(judged) == 2 and script.disabled is None


def test_vrrp_script_refused_fails_at_once_and_never_runs_again(
    unsafe_script: str, judged: list[list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    results: list[tuple[str, bool]] = []

    async def scenario() -> None:
        runner = ScriptRunner(lambda name, ok: results.append((name, ok)))
        runner.update([VrrpScript("chk", unsafe_script, interval=0.02, fall=3)], SECURE)
        await asyncio.sleep(0.3)  # 15 intervals
        await runner.stop()

    with caplog.at_level(logging.INFO):
        uvloop.run(scenario())
    assert results == [("chk", False)] * 3  # down at once, whatever ``fall``
    assert len(judged) == 1
    assert len(refusals(caplog)) == 1
    assert not any("timed out" in r.getMessage() for r in caplog.records)


def test_a_reload_judges_a_disabled_vrrp_script_anew(unsafe_script: str, judged: list[list[str]]) -> None:
    results: list[bool] = []

    async def scenario() -> None:
        runner = ScriptRunner(lambda name, ok: results.append(ok))
        script = VrrpScript("chk", unsafe_script, interval=0.02)
        runner.update([script], SECURE)
        await asyncio.sleep(0.1)
        os.chmod(unsafe_script, 0o755)  # fixed, then reloaded
        runner.update([script], SECURE)
        await asyncio.sleep(0.1)
        await runner.stop()

    uvloop.run(scenario())
    assert results[0] is False and results[-1] is True
    assert len(judged) > 2


def test_misc_check_refused_fails_without_running(
    unsafe_script: str, judged: list[list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    check = MiscCheck("MISC_CHECK", common(0), misc_path=unsafe_script)
    probe = MiscProbe(check, SECURE)

    async def three_runs() -> list[bool]:
        return [(await probe.run()).ok for _ in range(3)]

    with caplog.at_level(logging.WARNING, "fastalived.scripts"):
        assert uvloop.run(three_runs()) == [False, False, False]
    assert len(judged) == 1
    assert len(refusals(caplog)) == 1
    assert not (Path(unsafe_script).parent / "runs").exists()
