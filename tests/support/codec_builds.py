"""Both builds of the VRRP codec and socket edge in one process, for the tests and the bench.

Each build is one namespace composed as ``fastalived.vrrp.wire`` composes it: the codec (compiled
module, or ``codec.py`` run from source) plus the socket edge (``fastalived._vrrp`` or ``rawsock``).
"""

import importlib
from types import ModuleType

from fastalived._compat import is_compiled, source_module


def _build(name: str, codec: ModuleType, edge: ModuleType) -> ModuleType:
    rawsock = importlib.import_module("fastalived.vrrp.rawsock")  # owns SteadyTable for both builds
    build = ModuleType(name)
    for module in (rawsock, codec, edge):
        build.__dict__.update((key, value) for key, value in vars(module).items() if not key.startswith("__"))
    return build


def pure_build() -> ModuleType:
    """``codec.py`` run as plain Python, with the ``rawsock`` stand-in for the C edge."""
    return _build("pure", source_module("fastalived.vrrp.codec"), importlib.import_module("fastalived.vrrp.rawsock"))


def compiled_build() -> ModuleType:
    """The Cython builds; ImportError when either is missing or shadowed by its source."""
    codec = importlib.import_module("fastalived.vrrp.codec")
    if not is_compiled(codec):
        raise ImportError("fastalived.vrrp.codec is not compiled")
    return _build("compiled", codec, importlib.import_module("fastalived._vrrp"))
