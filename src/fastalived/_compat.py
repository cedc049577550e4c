"""Choose between the compiled builds and the pure-Python sources.

``setup.py`` compiles ``fastalived._vrrp`` (C-only socket and timer edge) and
``fastalived.vrrp.codec`` (a pure-Python module compiled in place: its build shadows its ``.py``).
``FASTALIVED_NO_EXTENSIONS=1`` ignores both builds, as propcache's ``_helpers`` does, so the daemon
and the test suite can run the pure sources on a machine that has the builds.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

NO_EXTENSIONS: bool = os.environ.get("FASTALIVED_NO_EXTENSIONS", "") not in ("", "0")
COMPILED_MODULES = ("fastalived._vrrp", "fastalived.vrrp.codec")
_SOURCE_COPIES: dict[str, ModuleType] = {}


def is_compiled(module: ModuleType) -> bool:
    """Whether ``module`` was loaded from a C extension rather than from Python source."""
    return (getattr(module, "__file__", None) or "").endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def source_module(name: str) -> ModuleType:
    """Module ``name`` run from its ``.py`` file, even where its compiled build shadows that file.

    Under ``FASTALIVED_NO_EXTENSIONS`` it becomes ``sys.modules[name]`` (the process's only copy, if
    nothing imported the build first); otherwise it is a private copy, which is how the tests and
    the bench hold both builds in one process.
    """
    current = sys.modules.get(name)
    if current is not None and not is_compiled(current):
        return current
    if name in _SOURCE_COPIES:
        return _SOURCE_COPIES[name]
    package_name, _, leaf = name.rpartition(".")
    package = importlib.import_module(package_name)
    spec = importlib.util.spec_from_file_location(name, Path(package.__path__[0]) / f"{leaf}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no Python source for {name}")
    module = importlib.util.module_from_spec(spec)
    if NO_EXTENSIONS and current is None:
        sys.modules[name] = module
        setattr(package, leaf, module)
    else:
        _SOURCE_COPIES[name] = module
    spec.loader.exec_module(module)
    return module


def extension_in_use() -> bool:
    """True when every compiled module is importable, really compiled, and not disabled."""
    if NO_EXTENSIONS:
        return False
    try:
        return all(is_compiled(importlib.import_module(name)) for name in COMPILED_MODULES)
    except ImportError:
        return False
