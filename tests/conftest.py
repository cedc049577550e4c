"""Fixtures shared by the whole suite."""

import importlib
import os
from types import ModuleType

import pytest

_REQUIRE_EXTENSIONS = os.environ.get("FASTALIVED_REQUIRE_EXTENSIONS", "") not in ("", "0")


@pytest.fixture(scope="session")
def pure_codec() -> ModuleType:
    """The pure-Python VRRP codec twin."""
    return importlib.import_module("fastalived.vrrp.codec")


@pytest.fixture(scope="session")
def compiled_codec() -> ModuleType:
    """The compiled ``fastalived._vrrp``.

    Skipped when it is not built, but failed when FASTALIVED_REQUIRE_EXTENSIONS=1 (CI) so a broken
    build can never pass as "pure only".
    """
    try:
        return importlib.import_module("fastalived._vrrp")
    except ImportError as exc:
        if _REQUIRE_EXTENSIONS:
            pytest.fail(f"FASTALIVED_REQUIRE_EXTENSIONS=1 but fastalived._vrrp is missing: {exc}")
        pytest.skip("fastalived._vrrp is not built")


@pytest.fixture(scope="session", params=["python", "cython"])
def codec_impl(request: pytest.FixtureRequest) -> ModuleType:
    """Each VRRP codec implementation in turn: the pure twin, then the compiled module."""
    return request.getfixturevalue("pure_codec" if request.param == "python" else "compiled_codec")

pytest_plugins = ["tests.support.fixtures"]
