"""The VRRP codec in use: the compiled ``fastalived._vrrp`` when available, else its pure twin.

Everything else imports codec names from here, never from either implementation directly, so
``FASTALIVED_NO_EXTENSIONS=1`` switches the whole daemon to the pure-Python twin.
"""

from fastalived._compat import NO_EXTENSIONS

if NO_EXTENSIONS:
    from fastalived.vrrp import codec as _impl
else:
    try:
        from fastalived import _vrrp as _impl  # type: ignore[no-redef]
    except ImportError:
        from fastalived.vrrp import codec as _impl

IMPLEMENTATION: str = "python" if _impl.__name__ == "fastalived.vrrp.codec" else "cython"

VRRP_PROTO = _impl.VRRP_PROTO
MCAST4 = _impl.MCAST4
MCAST6 = _impl.MCAST6
Drop = _impl.Drop
Advert = _impl.Advert
internet_checksum = _impl.internet_checksum
build_advert = _impl.build_advert
advert_with_priority = _impl.advert_with_priority
build_ipv4_header = _impl.build_ipv4_header
ipv4_with_id = _impl.ipv4_with_id
build_ipv6_header = _impl.build_ipv6_header
build_ethernet = _impl.build_ethernet
build_garp = _impl.build_garp
build_unsolicited_na = _impl.build_unsolicited_na
decode_advert = _impl.decode_advert
validate_for_instance = _impl.validate_for_instance
send_many = _impl.send_many
recv_many = _impl.recv_many
monotonic = _impl.monotonic
timer_open = _impl.timer_open
timer_set = _impl.timer_set
timer_clear = _impl.timer_clear
SteadyTable = _impl.SteadyTable
steady_match = _impl.steady_match
recv_sorted = _impl.recv_sorted

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
    "validate_for_instance",
    "send_many",
    "recv_many",
    "monotonic",
    "timer_open",
    "timer_set",
    "timer_clear",
    "SteadyTable",
    "steady_match",
    "recv_sorted",
]
