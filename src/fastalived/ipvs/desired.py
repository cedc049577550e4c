"""What IPVS should hold: the config plus the checker's verdicts, flattened to kernel terms.

Pure: no sockets, no clock. The same small value types describe the desired table and the table
dumped from the kernel, so the reconciler can compare them with ``==``. Addresses are strings in
the form both ``str(ipaddress)`` and ``inet_ntop`` produce, which keeps decoding 10,000 kernel
entries cheap.

keepalived's rules (``ipwrapper.c``), reproduced here:

* a live real server is in the table with the weight the checker gives it; a dead one is absent,
  or present with weight 0 when ``inhibit_on_failure`` is set;
* when a virtual server has lost its quorum and has a ``sorry_server``, the live real servers leave
  the pool (inhibited ones drop to weight 0) and the sorry server is added with weight 1; with
  ``sorry_server_inhibit`` the sorry server stays in the table at weight 0 while unused;
* a ``virtual_server_group`` becomes one kernel service per address (ranges expanded) or fwmark.

On top of these, the operator's drain overlay (``fastalived ctl drain``): a drained real server
stays in the table at weight 0 (established connections keep their destination, new ones go
elsewhere) whatever its checker says, and leaves it once its drain timeout has passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from fastalived.config.model import (
    Config,
    IPAddress,
    LvsTimeouts,
    RealServer,
    RealServerKey,
    Tunnel,
    VirtualServer,
)

AF_INET = 2
AF_INET6 = 10
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "SCTP": 132}
PROTOCOL_NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items()}

# include/uapi/linux/ip_vs.h
SVC_F_PERSISTENT = 0x0001
SVC_F_HASHED = 0x0002  # kernel-internal, reported by dumps, never sent
SVC_F_ONEPACKET = 0x0004
SVC_F_SCHED1 = 0x0008
SVC_F_SCHED2 = 0x0010
SVC_F_SCHED3 = 0x0020
SCHED_FLAG_BITS = {
    "flag-1": SVC_F_SCHED1,
    "sh-fallback": SVC_F_SCHED1,
    "mh-fallback": SVC_F_SCHED1,
    "flag-2": SVC_F_SCHED2,
    "sh-port": SVC_F_SCHED2,
    "mh-port": SVC_F_SCHED2,
    "flag-3": SVC_F_SCHED3,
}
FORWARD_MASQ = 0
FORWARD_TUNNEL = 2
FORWARD_ROUTE = 3
FORWARD_METHODS = {"NAT": FORWARD_MASQ, "TUN": FORWARD_TUNNEL, "DR": FORWARD_ROUTE}
TUNNEL_TYPES = {"ipip": 0, "gue": 1, "gre": 2}
TUNNEL_FLAGS = {"nocsum": 0, "csum": 1, "remcsum": 2}
SORRY_SERVER_WEIGHT = 1  # keepalived gives the sorry server weight 1


class ServiceKey(NamedTuple):
    """Identity of a kernel virtual service: ``(family, fwmark)`` or ``(family, proto, addr, port)``."""

    family: int
    protocol: int  # 0 for fwmark services
    address: str  # "" for fwmark services
    port: int
    fwmark: int

    def __str__(self) -> str:
        if self.fwmark:
            return f"FWM {self.fwmark}{' IPv6' if self.family == AF_INET6 else ''}"
        host = f"[{self.address}]" if self.family == AF_INET6 else self.address
        return f"{PROTOCOL_NAMES.get(self.protocol, self.protocol)} {host}:{self.port}"


class ServiceSpec(NamedTuple):
    """The attributes ``IPVS_CMD_SET_SERVICE`` can change in place."""

    scheduler: str
    flags: int
    timeout: int  # persistence, seconds
    netmask: int  # persistence granularity: IPv4 mask as an int, IPv6 prefix length
    pe_name: str = ""  # persistence_engine (``sip``); "" = none


class DestKey(NamedTuple):
    address: str
    port: int


class DestSpec(NamedTuple):
    """The attributes ``IPVS_CMD_SET_DEST`` can change in place (plus the address family)."""

    family: int
    forward: int
    weight: int
    upper_threshold: int = 0
    lower_threshold: int = 0
    tunnel_type: int = 0  # IP_VS_CONN_F_TUNNEL_TYPE_*: ipip, gue, gre
    tunnel_port: int = 0  # gue
    tunnel_flags: int = 0  # IP_VS_TUNNEL_ENCAP_FLAG_*: nocsum, csum, remcsum


@dataclass(slots=True)
class ServiceEntry:
    spec: ServiceSpec
    dests: dict[DestKey, DestSpec] = field(default_factory=dict)


IpvsTable = dict[ServiceKey, ServiceEntry]


@dataclass(frozen=True, slots=True)
class DesiredTable:
    """Everything the director programs: services with their destinations, and lvs_timeouts."""

    services: IpvsTable
    timeouts: LvsTimeouts | None = None


RealServerVerdicts = Mapping[tuple[str, RealServerKey], tuple[bool, int]]
DrainOverlay = Mapping[tuple[str, RealServerKey], bool]  # drained real servers -> removed (timeout passed)


def build_desired(
    config: Config,
    rs_state: RealServerVerdicts,
    quorum_up: Mapping[str, bool],
    drained: DrainOverlay | None = None,
) -> DesiredTable:
    """The table for ``config`` given ``rs_state[(vs.key, rs.key)] = (up, weight)``.

    A real server missing from ``rs_state`` counts as up at its configured weight unless it is
    ``alpha`` (keepalived adds real servers before their first check); a virtual server missing
    from ``quorum_up`` has its quorum computed from the live weights. ``drained`` is the
    operator's overlay: weight 0, or absent once ``True`` (its timeout passed).
    """
    services: IpvsTable = {}
    for vs in config.virtual_servers:
        spec = service_spec(vs)
        dest_templates = _destinations(vs, rs_state, quorum_up, drained or {})
        for key in service_keys(vs, config):
            services[key] = ServiceEntry(
                spec,
                {
                    DestKey(address, key.port if port is None else port): dest
                    for (address, port), dest in dest_templates.items()
                },
            )
    return DesiredTable(services, config.global_defs.lvs_timeouts)


def service_keys(vs: VirtualServer, config: Config) -> list[ServiceKey]:
    """The kernel services one ``virtual_server`` stands for (several for a group)."""
    protocol = PROTOCOL_NUMBERS[vs.protocol]
    fwmark_family = AF_INET6 if vs.family == 6 else AF_INET
    if vs.fwmark is not None:
        return [ServiceKey(fwmark_family, 0, "", 0, vs.fwmark)]
    if vs.group is None:
        assert vs.address is not None
        return [_address_key(vs.address, protocol, vs.port or 0)]
    group = config.server_group(vs.group)
    if group is None:
        return []
    keys: list[ServiceKey] = []
    for member in group.members:
        if member.fwmark is not None:
            keys.append(ServiceKey(fwmark_family, 0, "", 0, member.fwmark))
        else:
            port = member.port if member.port is not None else vs.port or 0
            keys.extend(_address_key(address, protocol, port) for address in member.addresses())
    return keys


def service_spec(vs: VirtualServer) -> ServiceSpec:
    flags = 0
    if vs.persistence_timeout:
        flags |= SVC_F_PERSISTENT
    if vs.ops and (vs.protocol == "UDP" or vs.fwmark is not None):  # keepalived drops it otherwise
        flags |= SVC_F_ONEPACKET
    for name in vs.sched_flags:
        flags |= SCHED_FLAG_BITS.get(name, 0)
    return ServiceSpec(vs.lvs_sched, flags, vs.persistence_timeout or 0, _netmask(vs), vs.persistence_engine or "")


def _netmask(vs: VirtualServer) -> int:
    """keepalived sends all-ones (IPv4) or /128 (IPv6) unless persistence_granularity is set."""
    ipv6 = vs.family == 6 if vs.address is None else vs.address.version == 6
    granularity = vs.persistence_granularity
    if ipv6:
        if granularity is None:
            return 128
        return bin(int(granularity)).count("1")
    return 0xFFFFFFFF if granularity is None else int(granularity)


def _address_key(address: IPAddress, protocol: int, port: int) -> ServiceKey:
    family = AF_INET6 if address.version == 6 else AF_INET
    return ServiceKey(family, protocol, str(address), port, 0)


def _destinations(
    vs: VirtualServer, rs_state: RealServerVerdicts, quorum_up: Mapping[str, bool], drained: DrainOverlay
) -> dict[tuple[str, int | None], DestSpec]:
    """Destinations keyed by (address, port or None = the service's port)."""
    live: list[tuple[RealServer, int]] = []
    dests: dict[tuple[str, int | None], DestSpec] = {}
    for rs in vs.real_servers:
        up, weight = rs_state.get((vs.key, rs.key), (not rs.alpha, rs.weight))
        removed = drained.get((vs.key, rs.key))
        if removed:
            continue
        if removed is not None:
            weight = 0
        if up:
            live.append((rs, weight))
            dests[(str(rs.address), rs.port)] = _dest(rs, vs, weight)
        elif rs.inhibit_on_failure:
            dests[(str(rs.address), rs.port)] = _dest(rs, vs, 0)
    quorum = quorum_up.get(vs.key)
    if quorum is None:
        live_weight = sum(weight for _, weight in live)
        quorum = live_weight > 0 and live_weight >= vs.quorum + vs.hysteresis
    sorry = vs.sorry_server
    if sorry is None:
        return dests
    sorry_key = (str(sorry.address), sorry.port)
    sorry_dest = DestSpec(
        _family(sorry.address),
        FORWARD_METHODS[sorry.lvs_method or vs.lvs_method],
        SORRY_SERVER_WEIGHT,
        0,
        0,
        *_tunnel(sorry.tunnel if sorry.lvs_method else vs.tunnel),
    )
    if quorum:
        if vs.sorry_server_inhibit and sorry_key not in dests:
            dests[sorry_key] = sorry_dest._replace(weight=0)
        return dests
    for rs, _ in live:
        key = (str(rs.address), rs.port)
        if rs.inhibit_on_failure:
            dests[key] = dests[key]._replace(weight=0)
        else:
            del dests[key]
    dests[sorry_key] = sorry_dest
    return dests


def _dest(rs: RealServer, vs: VirtualServer, weight: int) -> DestSpec:
    return DestSpec(
        _family(rs.address),
        FORWARD_METHODS[rs.lvs_method or vs.lvs_method],
        weight,
        rs.uthreshold or 0,
        rs.lthreshold or 0,
        *_tunnel(rs.tunnel if rs.lvs_method else vs.tunnel),
    )


def _tunnel(tunnel: Tunnel | None) -> tuple[int, int, int]:
    """A TUN destination's (type, port, flags); zeros (plain ipip) for no options and other methods."""
    if tunnel is None:
        return (0, 0, 0)
    return (TUNNEL_TYPES[tunnel.type], tunnel.port, TUNNEL_FLAGS[tunnel.checksum])


def _family(address: IPAddress) -> int:
    return AF_INET6 if address.version == 6 else AF_INET
