"""contrib/systemd/fastalived.service passes ``systemd-analyze verify`` and keeps its promises."""

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[3] / "contrib" / "systemd" / "fastalived.service"


def test_unit_declares_notify_reload_and_network_capabilities() -> None:
    text = UNIT.read_text()
    assert "Type=notify" in text
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    caps = next(line for line in text.splitlines() if line.startswith("CapabilityBoundingSet="))
    assert "CAP_NET_ADMIN" in caps and "CAP_NET_RAW" in caps
    families = next(line for line in text.splitlines() if line.startswith("RestrictAddressFamilies="))
    assert "AF_NETLINK" in families and "AF_PACKET" in families


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path) -> None:
    executable = shutil.which("fastalived") or str(Path(__import__("sys").executable).with_name("fastalived"))
    if not Path(executable).exists():
        pytest.skip("the fastalived console script is not installed")
    unit = tmp_path / "fastalived.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/fastalived", executable))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "fastalived.service" not in result.stderr, result.stderr  # no warnings about our unit
