"""Choose between the compiled Cython hot edge and its pure-Python twin.

``FASTALIVED_NO_EXTENSIONS=1`` forces the pure twin (as propcache's ``_helpers`` does) so the test
suite can run every codec test over both implementations.
"""

import importlib
import os

NO_EXTENSIONS: bool = os.environ.get("FASTALIVED_NO_EXTENSIONS", "") not in ("", "0")


def extension_in_use() -> bool:
    """True when the compiled ``fastalived._vrrp`` module is importable and not disabled."""
    if NO_EXTENSIONS:
        return False
    try:
        importlib.import_module("fastalived._vrrp")
    except ImportError:
        return False
    return True
