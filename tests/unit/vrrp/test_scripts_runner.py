"""vrrp_script runner: interval, exit status, timeout, reload of the script set."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvloop

from fastalived.config.model import VrrpScript
from fastalived.vrrp.scripts import ScriptRunner
from tests.support.aio import until

pytestmark = pytest.mark.timeout(30)


def test_results_follow_exit_status_and_timeout(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    results: list[tuple[str, bool]] = []

    def outcomes(name: str) -> list[bool]:
        return [ok for n, ok in results if n == name]

    async def scenario() -> None:
        runner = ScriptRunner(lambda name, ok: results.append((name, ok)))
        runner.update(
            [
                VrrpScript("chk_file", f"/bin/test -e {flag}", interval=0.05),
                VrrpScript("chk_hang", "/bin/sleep 10", interval=0.05, timeout=0.1),
            ]
        )
        assert await until(lambda: len(outcomes("chk_file")) >= 2)
        flag.touch()
        assert await until(lambda: outcomes("chk_file")[-1])
        assert await until(lambda: len(outcomes("chk_hang")) >= 2)
        await runner.stop()

    uvloop.run(scenario())
    assert outcomes("chk_file")[0] is False
    assert not any(outcomes("chk_hang"))


def test_update_keeps_unchanged_scripts_and_stops_removed() -> None:
    results: list[str] = []

    async def scenario() -> tuple[list[str], list[str]]:
        runner = ScriptRunner(lambda name, ok: results.append(name))
        keep = VrrpScript("keep", "/bin/true", interval=0.05)
        runner.update([keep, VrrpScript("drop", "/bin/true", interval=0.05)])
        assert await until(lambda: "drop" in results and "keep" in results)
        first = runner.scripts
        runner.update([keep])
        results.clear()
        assert await until(lambda: results.count("keep") >= 2)
        second = runner.scripts
        await runner.stop()
        return first, second

    first, second = uvloop.run(scenario())
    assert first == ["drop", "keep"] and second == ["keep"]
    assert "drop" not in results
