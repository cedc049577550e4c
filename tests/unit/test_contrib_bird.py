"""The BIRD snippet shipped for scale-out (contrib/bird/) is a configuration BIRD 2 accepts.

The ECMP tests run FRR; BIRD's own parser (``bird -p``) at least keeps this snippet from rotting.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / "contrib" / "bird" / "director.conf"


def test_bird_parses_the_director_snippet() -> None:
    bird = shutil.which("bird")
    if bird is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("bird is not installed but CI=true: scripts/dev.sh installs bird2")
        pytest.skip("BIRD 2 is not installed (apt-get install bird2)")
    result = subprocess.run([bird, "-p", "-c", str(CONFIG)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
