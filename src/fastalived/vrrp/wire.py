"""The VRRP codec and raw-socket edge in use: the compiled builds where available, else pure Python.

The codec is one source, ``vrrp/codec.py``, compiled in place by Cython when built; the socket and
timer edge is ``fastalived._vrrp`` (C) or its stand-in ``vrrp/rawsock.py``. Everything else imports
these names from here, so ``FASTALIVED_NO_EXTENSIONS=1`` switches the whole daemon to pure Python.
"""

import importlib
from typing import TYPE_CHECKING

from fastalived._compat import NO_EXTENSIONS, is_compiled, source_module

if TYPE_CHECKING:
    from fastalived.vrrp import codec
    from fastalived.vrrp import rawsock as _io
elif NO_EXTENSIONS:
    codec = source_module("fastalived.vrrp.codec")
    _io = importlib.import_module("fastalived.vrrp.rawsock")
else:
    codec = importlib.import_module("fastalived.vrrp.codec")
    try:
        _io = importlib.import_module("fastalived._vrrp")
    except ImportError:
        _io = importlib.import_module("fastalived.vrrp.rawsock")

IMPLEMENTATION: str = "cython" if is_compiled(codec) and is_compiled(_io) else "python"

VRRP_PROTO = codec.VRRP_PROTO
MCAST4 = codec.MCAST4
MCAST6 = codec.MCAST6
Drop = codec.Drop
Advert = codec.Advert
internet_checksum = codec.internet_checksum
build_advert = codec.build_advert
advert_with_priority = codec.advert_with_priority
build_ipv4_header = codec.build_ipv4_header
ipv4_with_id = codec.ipv4_with_id
build_ipv6_header = codec.build_ipv6_header
build_ethernet = codec.build_ethernet
build_garp = codec.build_garp
build_unsolicited_na = codec.build_unsolicited_na
decode_advert = codec.decode_advert
check_advert = codec.check_advert
send_many = _io.send_many
recv_many = _io.recv_many
monotonic = _io.monotonic
timer_open = _io.timer_open
timer_set = _io.timer_set
timer_clear = _io.timer_clear
steady_match = _io.steady_match
recv_sorted = _io.recv_sorted
Pacer = _io.Pacer
Watch = _io.Watch
WatchSet = _io.WatchSet
SteadyReader = _io.SteadyReader
SteadyTable = importlib.import_module("fastalived.vrrp.rawsock").SteadyTable  # one class for both

__all__ = [
    "IMPLEMENTATION",
    "VRRP_PROTO",
    "MCAST4",
    "MCAST6",
    "Drop",
    "Advert",
    "internet_checksum",
    "build_advert",
    "advert_with_priority",
    "build_ipv4_header",
    "ipv4_with_id",
    "build_ipv6_header",
    "build_ethernet",
    "build_garp",
    "build_unsolicited_na",
    "decode_advert",
    "check_advert",
    "send_many",
    "recv_many",
    "monotonic",
    "timer_open",
    "timer_set",
    "timer_clear",
    "SteadyTable",
    "steady_match",
    "recv_sorted",
    "Pacer",
    "Watch",
    "WatchSet",
    "SteadyReader",
]
