"""One guest boot per test run: the whole in-guest IPVS suite runs inside it.

Skipped with the reason when QEMU or the guest kernel cache is missing, except under CI (``CI=true``)
where a missing capability is a failure: CI must never pass by skipping the only real-IPVS tests.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VMRUN = Path(__file__).with_name("vmrun")
CACHE = Path(os.environ.get("VMRUN_CACHE", "/var/cache/fastalived-vm"))
GUEST_TIMEOUT = 900


def missing_capability() -> str | None:
    if os.environ.get("VMRUN_GUEST") == "1":
        return "already inside the guest"
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    if not (CACHE / "current" / "ready").exists():
        return f"no guest kernel in {CACHE}: run tests/vm/vmrun --setup"
    if os.geteuid() != 0:
        return "the guest run needs root"
    return None


@pytest.mark.vm
@pytest.mark.slow
@pytest.mark.timeout(GUEST_TIMEOUT + 60)
def test_ipvs_suite_in_guest():
    problem = missing_capability()
    if problem is not None:
        if os.environ.get("CI") == "true" and os.environ.get("VMRUN_GUEST") != "1":
            pytest.fail(f"CI needs the IPVS guest: {problem}")
        pytest.skip(problem)
    started = time.monotonic()
    # hypothesis' plugin alone takes ~20 s to import under TCG, and the guest tests use neither it nor benchmark
    command = [str(VMRUN), "-t", str(GUEST_TIMEOUT), "--", sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
               "-p", "no:hypothesispytest", "-p", "no:benchmark", "-q", "-rs", "tests/vm/guest/"]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=GUEST_TIMEOUT + 30)
    print(result.stdout)
    print(result.stderr, file=sys.stderr)
    print(f"guest run: {time.monotonic() - started:.1f} s wall, boot included")
    assert result.returncode == 0, f"in-guest suite failed (rc {result.returncode}):\n{result.stdout[-4000:]}"
    assert " passed" in result.stdout and " skipped" not in result.stdout.splitlines()[-1]
