"""Fixtures shared by the whole suite."""

import importlib
import os
from types import ModuleType

import pytest

_REQUIRE_EXTENSIONS = os.environ.get("FASTALIVED_REQUIRE_EXTENSIONS", "") not in ("", "0")


def _import_extension() -> ModuleType | None:
    try:
        return importlib.import_module("fastalived._vrrp")
    except ImportError:
        return None


@pytest.fixture(params=["python", "cython"])
def codec_impl(request: pytest.FixtureRequest) -> ModuleType:
    """Each VRRP codec implementation in turn: the pure twin and the compiled module.

    A missing extension skips its half, or fails it when FASTALIVED_REQUIRE_EXTENSIONS=1 (CI) so a
    broken build can never pass as "pure only".
    """
    if request.param == "python":
        return importlib.import_module("fastalived.vrrp.codec")
    extension = _import_extension()
    if extension is None:
        if _REQUIRE_EXTENSIONS:
            pytest.fail("fastalived._vrrp is not built but FASTALIVED_REQUIRE_EXTENSIONS=1")
        pytest.skip("fastalived._vrrp is not built")
    return extension
