"""The tree stays ruff- and mypy-clean (configuration: ``[tool.ruff]`` / ``[tool.mypy]`` in pyproject.toml).

Skipped when ruff or mypy is not installed (``pip install -e .[test]`` brings both), except under
``CI=true``, where a missing linter must not pass as a clean tree.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "fastalived"


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{module} is not installed but CI=true: install the test extra (pip install -e .[test])")
        pytest.skip(f"{module} is not installed (pip install -e .[test] to lint)")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_is_clean() -> None:
    _require("ruff")
    result = _run("ruff", "check", "--no-fix", "--output-format", "concise", "src", "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_everywhere() -> None:
    _require("mypy")
    result = _run("mypy", "src/fastalived")
    assert result.returncode == 0, result.stdout + result.stderr
