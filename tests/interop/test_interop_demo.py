"""README command (1) runs ``scripts/demo.py``: keep it working, with keepalived next to fastalived.

Run as its own process, as ``scripts/dev.sh demo`` does, with ``--quick`` timings (VRRPv3 0.1 s).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.keepalived import fastalived_unavailable, keepalived_unavailable
from tests.support.testbed import unavailable_reason

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.slow]

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"
TESTBED_LINE = re.compile(r"testbed (\w+):")
STEP_ROWS = ("1 HAProxy killed on lb1", "2 HAProxy back on lb1", "3 kill -9 of lb1's VRRP daemon",
             "4 web server web1 dies")


@pytest.fixture(autouse=True)
def _needs_everything() -> None:
    reason = unavailable_reason() or fastalived_unavailable() or keepalived_unavailable()
    if reason or shutil.which("haproxy") is None:
        pytest.skip(reason or "haproxy not installed")


def _leftover_namespaces(output: str) -> list[str]:
    return [str(path) for tag in TESTBED_LINE.findall(output) for path in Path("/run/netns").glob(f"{tag}-*")]


@pytest.mark.timeout(150)
def test_compare_prints_both_tables_and_tears_down() -> None:
    done = subprocess.run([sys.executable, str(DEMO), "--quick", "--compare"], capture_output=True, text=True,
                          timeout=140)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert out.count("testbed torn down") == 2, out
    table = out[out.index("== summary"):]
    assert "fastalived" in table and "keepalived" in table, table
    for row in STEP_ROWS:
        assert row in table, table
    assert len(TESTBED_LINE.findall(out)) == 2, out
    assert _leftover_namespaces(out) == [], out


@pytest.mark.timeout(60)
def test_ctrl_c_tears_everything_down() -> None:
    proc = subprocess.Popen([sys.executable, str(DEMO), "--quick", "--daemon", "keepalived"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # interrupt mid-scenario, with every process of it running
        seen.append(line)
        if line.startswith("== HAProxy killed on lb1"):
            os.kill(proc.pid, signal.SIGINT)
            break
    rest = proc.communicate(timeout=30)[0]
    out = "".join(seen) + rest
    assert proc.returncode == 130, out
    assert "interrupted: testbed torn down" in out, out
    assert _leftover_namespaces(out) == [], out


def test_lvs_says_it_is_not_available() -> None:
    done = subprocess.run([sys.executable, str(DEMO), "--lvs"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "not available yet" in done.stderr, done.stderr
