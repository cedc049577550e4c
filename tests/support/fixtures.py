"""pytest fixtures for namespace tests; registered via ``pytest_plugins`` in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .keepalived import DaemonSet
from .netns import Testbed, unavailable_reason


@pytest.fixture
def testbed() -> Iterator[Callable[..., Testbed]]:
    """Factory ``testbed(n=2)`` -> a fresh ``Testbed``; every one made is destroyed afterwards.

    Skips (with the reason) when namespaces cannot be created here: not root, no ``ip netns``.
    """
    if reason := unavailable_reason():
        pytest.skip(reason)
    made: list[Testbed] = []

    def make(n: int = 2) -> Testbed:
        made.append(Testbed(n))
        return made[-1]

    try:
        yield make
    finally:
        for bed in made:
            bed.destroy()


@pytest.fixture
def vrrp_daemons(tmp_path: Path) -> Iterator[DaemonSet]:
    """``vrrp_daemons.start("keepalived" | "fastalived", node, config)``; all stopped at teardown,
    their configs and logs kept under the test's ``tmp_path``."""
    daemons = DaemonSet(tmp_path)
    try:
        yield daemons
    finally:
        daemons.close()
