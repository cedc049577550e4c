"""README command (1) runs ``python -m fastalived.demo``; keep it working (v3 for speed)."""

from __future__ import annotations

import pytest

from fastalived import demo
from tests.support.keepalived import fastalived_unavailable

pytestmark = [pytest.mark.interop, pytest.mark.root]


@pytest.mark.usefixtures("testbed")  # for its skip when namespaces cannot be made here
def test_demo_fails_over_and_tears_down(capsys: pytest.CaptureFixture[str]) -> None:
    if reason := fastalived_unavailable():
        pytest.skip(reason)
    assert demo.main(["--vrrp-version", "3", "--advert-int", "0.1"]) == 0
    out = capsys.readouterr().out
    assert sum(line.endswith("(VI_1) Entering MASTER STATE") for line in out.splitlines()) == 3, out
    assert "back on node 2" in out and "testbed torn down" in out
