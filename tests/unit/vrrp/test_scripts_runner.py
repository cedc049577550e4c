"""vrrp_script runner: interval, exit status, timeout, reload of the script set."""

from __future__ import annotations

import asyncio
from pathlib import Path

import uvloop

from fastalived.config.model import VrrpScript
from fastalived.vrrp.scripts import ScriptRunner


def test_results_follow_exit_status_and_timeout(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    results: list[tuple[str, bool]] = []

    async def scenario() -> None:
        runner = ScriptRunner(lambda name, ok: results.append((name, ok)))
        runner.update(
            [
                VrrpScript("chk_file", f"/bin/test -e {flag}", interval=0.05),
                VrrpScript("chk_hang", "/bin/sleep 10", interval=0.05, timeout=0.1),
            ]
        )
        await asyncio.sleep(0.2)
        flag.touch()
        await asyncio.sleep(0.3)
        await runner.stop()

    uvloop.run(scenario())
    file_results = [ok for name, ok in results if name == "chk_file"]
    assert file_results[0] is False and file_results[-1] is True
    assert len(file_results) >= 5
    hang_results = [ok for name, ok in results if name == "chk_hang"]
    assert hang_results and not any(hang_results)


def test_update_keeps_unchanged_scripts_and_stops_removed(tmp_path: Path) -> None:
    results: list[str] = []

    async def scenario() -> tuple[list[str], list[str]]:
        runner = ScriptRunner(lambda name, ok: results.append(name))
        keep = VrrpScript("keep", "/bin/true", interval=0.05)
        runner.update([keep, VrrpScript("drop", "/bin/true", interval=0.05)])
        await asyncio.sleep(0.1)
        first = runner.scripts
        runner.update([keep])
        results.clear()
        await asyncio.sleep(0.15)
        second = runner.scripts
        await runner.stop()
        return first, second

    first, second = uvloop.run(scenario())
    assert first == ["drop", "keep"] and second == ["keep"]
    assert "drop" not in results and "keep" in results
