"""Fixtures for the in-guest IPVS tests: a clean IPVS table per test, configs parsed by fastalived."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fastalived.config import load_config
from fastalived.config.model import Config

from .helpers import IN_GUEST, sh


@pytest.fixture(autouse=True)
def clean_ipvs() -> Iterator[None]:
    """Every test starts from an empty IPVS table and leaves none behind."""
    if IN_GUEST:
        sh("modprobe", "ip_vs")
        sh("ipvsadm", "-C")
    yield
    if IN_GUEST:
        sh("ipvsadm", "-C")


@pytest.fixture
def config_file(tmp_path: Path):
    """``config_file(text) -> (path, Config)``, parsed by fastalived's own loader."""

    def write(text: str) -> tuple[Path, Config]:
        path = tmp_path / "keepalived.conf"
        path.write_text(text)
        result = load_config(str(path))
        assert result.ok, [str(d) for d in result.diagnostics]
        return path, result.config

    return write
