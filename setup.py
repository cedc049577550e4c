"""Build the Cython modules; skip them on failure unless FASTALIVED_REQUIRE_EXTENSIONS is set.

Two modules: ``fastalived._vrrp`` (C: batched raw-socket I/O, timerfd, clock) and the VRRP codec,
``vrrp/codec.py``, compiled in pure mode with the C types of ``codec.pxd`` (python-zeroconf's
layout); its build shadows the ``.py``, which stays the pure fallback. CI sets the require flag so
a broken compile can never silently leave only pure Python under test.
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

REQUIRE = os.environ.get("FASTALIVED_REQUIRE_EXTENSIONS", "") not in ("", "0")
SKIP = os.environ.get("FASTALIVED_NO_EXTENSIONS", "") not in ("", "0") and not REQUIRE
EXTENSIONS = {
    "fastalived._vrrp": "src/fastalived/_vrrp.pyx",
    "fastalived.vrrp.codec": "src/fastalived/vrrp/codec.py",
}
DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "annotation_typing": False,  # the .pxd alone gives C types; the annotations are for mypy
    "warn.unreachable": False,  # the pure-Python halves of ``if cython.compiled`` branches
}


class OptionalBuildExt(build_ext):
    """Treat a failed compile as 'pure Python only' unless the build demands the extensions."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # any compiler failure
            if REQUIRE:
                raise
            print(f"WARNING: fastalived C extensions not built ({exc}); using pure Python")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            if REQUIRE:
                raise
            print(f"WARNING: building {ext.name} failed ({exc}); using its pure-Python source")


def extensions() -> list[Extension]:
    """Each module cythonized on its own, so a Cython error in one still builds the other."""
    if SKIP:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE:
            raise
        return []
    built: list[Extension] = []
    for name, source in EXTENSIONS.items():
        try:
            built += cythonize([Extension(name, [source])], compiler_directives=DIRECTIVES)
        except Exception as exc:  # a Cython compile error: same rule as a C one
            if REQUIRE:
                raise
            print(f"WARNING: Cython failed on {source} ({exc}); using pure Python for {name}")
    return built


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
