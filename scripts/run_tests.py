"""Run the whole suite the way CI does: compiled extension required, every tier, skips counted.

pytest's own exit status is kept, so a failing test or "no tests ran" (status 5) fails CI.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    env = dict(os.environ, FASTALIVED_REQUIRE_EXTENSIONS="1", PYTHONDONTWRITEBYTECODE="1")
    if os.geteuid() != 0:
        print("NOTE: not root - namespace, interop and IPVS-guest tests will be skipped", flush=True)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--timeout=900", "-ra", *sys.argv[1:]]
    status = subprocess.call(cmd, cwd=ROOT, env=env)
    print(f"pytest exit status {status}", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
