"""``use_ipvlan``'s interface as one rtnetlink request, as keepalived's ``netlink_link_add_ipvlan``.

An L2 ipvlan (it receives frames, so the peers' multicast adverts reach it) on the instance's
interface, up, with IFLA_IPVLAN_FLAGS for ``private`` / ``vepa`` (``bridge`` is 0). pyroute2
0.9 knows IFLA_IPVLAN_MODE only, hence the hand-packed request.
"""

from __future__ import annotations

import socket
import struct

from fastalived.config.model import IPAddressSpec, VrrpInstance
from fastalived.runtime.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, attr, message

RTM_NEWLINK = 16
IFF_UP = 0x1
IFLA_IFNAME, IFLA_LINK, IFLA_LINKINFO = 3, 5, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_IPVLAN_MODE, IFLA_IPVLAN_FLAGS = 1, 2
IPVLAN_MODE_L2 = 0
IPVLAN_FLAGS = {"bridge": 0, "private": 1, "vepa": 2}
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change


def ipvlan_link_request(name: str, base_index: int, mode: str) -> bytes:
    """RTM_NEWLINK creating ipvlan ``name`` on ``base_index`` (sequence number 0: the sender stamps it)."""
    data = attr(IFLA_IPVLAN_MODE, struct.pack("=H", IPVLAN_MODE_L2)) + attr(
        IFLA_IPVLAN_FLAGS, struct.pack("=H", IPVLAN_FLAGS[mode])
    )
    linkinfo = attr(IFLA_INFO_KIND, b"ipvlan") + attr(IFLA_INFO_DATA, data)
    payload = (
        _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP)
        + attr(IFLA_LINK, struct.pack("=I", base_index))
        + attr(IFLA_IFNAME, name.encode() + b"\0")
        + attr(IFLA_LINKINFO, linkinfo)
    )
    return message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 0, payload)


def ipvlan_address(cfg: VrrpInstance) -> IPAddressSpec | None:
    """The address ``use_ipvlan`` puts on the ipvlan (kept there in every state), if any."""
    if not cfg.ipvlan or cfg.ipvlan_address is None or not cfg.use_vmac:
        return None
    return IPAddressSpec(cfg.ipvlan_address, dev=cfg.use_vmac)
