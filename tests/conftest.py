"""Fixtures shared by the whole suite."""

import os
import resource
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.support.codec_builds import compiled_build, pure_build

_REQUIRE_EXTENSIONS = os.environ.get("FASTALIVED_REQUIRE_EXTENSIONS", "") not in ("", "0")


@pytest.fixture(scope="session")
def pure_codec() -> ModuleType:
    """The pure-Python build: ``vrrp/codec.py`` run from source plus ``vrrp/rawsock.py``."""
    return pure_build()


@pytest.fixture(scope="session")
def compiled_codec() -> ModuleType:
    """The Cython build: the compiled codec plus ``fastalived._vrrp``.

    Skipped when it is not built, but failed when FASTALIVED_REQUIRE_EXTENSIONS=1 (CI) so a broken
    build can never pass as "pure only".
    """
    try:
        return compiled_build()
    except ImportError as exc:
        if _REQUIRE_EXTENSIONS:
            pytest.fail(f"FASTALIVED_REQUIRE_EXTENSIONS=1 but the Cython build is missing: {exc}")
        pytest.skip(f"the Cython build is missing: {exc}")


@pytest.fixture(scope="session", params=["python", "cython"])
def codec_impl(request: pytest.FixtureRequest) -> ModuleType:
    """Each build of the VRRP codec and socket edge in turn: pure Python, then Cython."""
    return request.getfixturevalue("pure_codec" if request.param == "python" else "compiled_codec")


@pytest.fixture(autouse=True)
def _normal_scheduling_after_each_test() -> Iterator[None]:
    """A VRRP role run in-process puts this process on SCHED_RR with an RLIMIT_RTTIME; should its
    test fail before the role stops, the next CPU-bound test would be killed with SIGXCPU."""
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    rttime = resource.getrlimit(resource.RLIMIT_RTTIME)
    yield
    if (os.sched_getscheduler(0), resource.getrlimit(resource.RLIMIT_RTTIME)) != (policy, rttime):
        os.sched_setscheduler(0, policy, param)
        resource.setrlimit(resource.RLIMIT_RTTIME, rttime)


pytest_plugins = ["tests.support.fixtures"]
