"""One instance's I/O side (:class:`Binding`): its sockets, advert sender, pre-built VIP requests.

The router decides; a binding is what the role needs to carry the decisions out for one instance.
The helpers here are keepalived's rules for where an instance's adverts come from and what a
reload may change in place.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from fastalived.config.model import IPAddress, VrrpInstance
from fastalived.vrrp.addresses import LinkInfo
from fastalived.vrrp.io import AdvertSender, VrrpSocket
from fastalived.vrrp.router import AUTH_TYPES, Heard
from fastalived.vrrp.vips import Requests


@dataclass
class Binding:
    """One instance's I/O side: its sockets, advert sender, pre-built VIP requests, counters."""

    name: str
    config: VrrpInstance
    vsock: VrrpSocket | None = None  # receives (and sends, unless use_vmac)
    tx: VrrpSocket | None = None  # sends: the VMAC's socket with use_vmac, else ``vsock``
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
    """Identity changes cannot be applied in place: another router on the wire."""
    return (old.interface, old.virtual_router_id, old.family, old.version, old.use_vmac) != (
        new.interface, new.virtual_router_id, new.family, new.version, new.use_vmac,
    )  # fmt: skip


def source_address(cfg: VrrpInstance, info: LinkInfo | None) -> IPAddress | None:
    """keepalived's choice: unicast_src_ip / mcast_src_ip (one setting with two names), else the
    interface's primary IPv4 address or its IPv6 link-local one."""
    configured = cfg.unicast_src_ip or cfg.mcast_src_ip
    if configured is not None and configured.version == cfg.family:
        return configured
    if info is None:
        return None
    return info.link_local6 if cfg.family == 6 else info.primary4


def advert_sender(cfg: VrrpInstance, tx: VrrpSocket, src: bytes, group: str) -> AdvertSender:
    """The instance's advert templates on ``tx``: to its unicast peers, else to the group."""
    return AdvertSender(
        tx,
        version=cfg.version,
        vrid=cfg.virtual_router_id,
        advert_int=cfg.advert_int,
        addresses=[s.address.ip.packed for s in cfg.virtual_ipaddresses if s.family == cfg.family],
        src=src,
        destinations=[str(p) for p in cfg.unicast_peers] or [group],
        auth_type=AUTH_TYPES[cfg.auth_type] if cfg.version == 2 else 0,
        auth_data=cfg.auth_pass or b"",
        pseudo_header=not cfg.v3_checksum_as_v2,
    )
