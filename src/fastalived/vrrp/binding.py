"""One instance's I/O side (:class:`Binding`): its sockets, advert sender, pre-built VIP requests.

The router decides; a binding is what the role needs to carry the decisions out for one instance.
The helpers here are keepalived's rules for where an instance's adverts come from and what a
reload may change in place.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from fastalived.config.model import GlobalDefs, IPAddress, VrrpInstance
from fastalived.vrrp import ah
from fastalived.vrrp.addresses import LinkInfo
from fastalived.vrrp.advert_rules import AUTH_TYPES
from fastalived.vrrp.effects import Heard
from fastalived.vrrp.io import VRRP_TTL, AdvertSender, VrrpSocket
from fastalived.vrrp.vips import Requests
from fastalived.vrrp.wire import VRRP_PROTO


@dataclass
class Binding:
    """One instance's I/O side: its sockets, advert sender, pre-built VIP requests, counters."""

    name: str
    config: VrrpInstance
    vsock: VrrpSocket | None = None  # receives (and sends, unless use_vmac)
    tx: VrrpSocket | None = None  # sends: the VMAC's socket with use_vmac, else ``vsock``
    tx_sender: tuple[str, int] | None = None  # what ``tx`` was opened with (see ipv6_sender)
    sender: AdvertSender | None = None
    link: LinkInfo | None = None
    vips_set: bool = False  # our VIPs are on the interface (added by us as MASTER)
    vip_add: Requests | None = None  # pre-built RTM_NEWADDR / RTM_DELADDR (None: the pyroute2 path)
    vip_del: Requests | None = None
    steady_key: Heard | None = None  # the advert whose exact repeats take the steady shortcut
    adverts_sent: int = 0
    last_transition: float | None = None

    @property
    def family(self) -> int:
        return socket.AF_INET6 if self.config.family == 6 else socket.AF_INET


def needs_restart(old: VrrpInstance, new: VrrpInstance) -> bool:
    """Identity changes cannot be applied in place: another router on the wire (or, for
    ``auth_type AH`` coming or going, another protocol on it; a changed ipvlan is made anew)."""
    ipvlan = (old.ipvlan, old.ipvlan_mode, old.ipvlan_address) != (new.ipvlan, new.ipvlan_mode, new.ipvlan_address)
    return ipvlan or (old.interface, old.virtual_router_id, old.family, old.version, old.use_vmac, ah.uses_ah(old)) != (
        new.interface, new.virtual_router_id, new.family, new.version, new.use_vmac, ah.uses_ah(new),
    )  # fmt: skip


def advert_protocol(cfg: VrrpInstance) -> int:
    """The IP protocol the instance's adverts travel in: AH (51) with ``auth_type AH``, else VRRP."""
    return ah.AH_PROTO if ah.uses_ah(cfg) else VRRP_PROTO


def source_address(cfg: VrrpInstance, info: LinkInfo | None) -> IPAddress | None:
    """keepalived's choice: unicast_src_ip / mcast_src_ip (one setting with two names), else the
    interface's primary IPv4 address or its IPv6 link-local one."""
    configured = cfg.unicast_src_ip or cfg.mcast_src_ip
    if configured is not None and configured.version == cfg.family:
        return configured
    if info is None:
        return None
    return info.link_local6 if cfg.family == 6 else info.primary4


def sends_on_vmac(cfg: VrrpInstance) -> bool:
    """use_vmac sends adverts from the VMAC, unless vmac_xmit_base keeps them on the interface."""
    return bool(cfg.use_vmac) and not cfg.vmac_xmit_base


def ipv6_sender(cfg: VrrpInstance, src: IPAddress) -> tuple[str, int] | None:
    """(source to bind, hop limit) when an IPv6 instance's adverts need a send socket of their
    own: a configured unicast_src_ip/mcast_src_ip (keepalived sets it on each packet; the kernel
    would pick its own) or a unicast_ttl. "" leaves the source to the kernel."""
    if cfg.family != 6:
        return None
    configured = cfg.unicast_src_ip is not None or cfg.mcast_src_ip is not None
    hops = cfg.unicast_ttl if cfg.unicast_peers and cfg.unicast_ttl is not None else VRRP_TTL
    if not configured and hops == VRRP_TTL:
        return None
    return (str(src) if configured else "", hops)


def advert_group(cfg: VrrpInstance, global_defs: GlobalDefs) -> tuple[str, bool]:
    """The instance's multicast group, and whether it is its own (``mcast_dst_ip`` other than
    vrrp_mcast_group4/6: a socket of its own, bound to the group). Unicast instances share the
    global group's socket, which also receives unicast."""
    default = global_defs.vrrp_mcast_group6 if cfg.family == 6 else global_defs.vrrp_mcast_group4
    group = cfg.mcast_dst_ip or default
    return str(group), group != default


def advert_sender(cfg: VrrpInstance, tx: VrrpSocket, src: bytes, group: str, ah_seq: ah.SeqCounter) -> AdvertSender:
    """The instance's advert templates on ``tx``: to its unicast peers, else to the group; with
    ``auth_type AH`` sealed with the sequence numbers of ``ah_seq`` (the router's counter)."""
    sealer = ah.Sealer(cfg.auth_pass or b"", ah_seq, unicast=bool(cfg.unicast_peers)) if ah.uses_ah(cfg) else None
    return AdvertSender(
        tx,
        version=cfg.version,
        vrid=cfg.virtual_router_id,
        advert_int=cfg.advert_int,
        addresses=[s.address.ip.packed for s in cfg.virtual_ipaddresses if s.family == cfg.family],
        src=src,
        destinations=[str(p) for p in cfg.unicast_peers] or [group],
        auth_type=AUTH_TYPES[cfg.auth_type] if cfg.version == 2 else 0,
        auth_data=b"" if sealer is not None else cfg.auth_pass or b"",  # AH: the 8 auth bytes stay zero
        pseudo_header=not cfg.v3_checksum_as_v2,
        ttl=cfg.unicast_ttl if cfg.unicast_peers and cfg.unicast_ttl is not None else VRRP_TTL,
        sealer=sealer,
    )
