"""Keywords around VMACs that other modules merge into their tables: ``vrrp_garp_extra_if`` (and
its deprecated spelling ``vrrp_vmac_garp_intvl``) in global_defs, ``garp_extra_if`` /
``vmac_garp_intvl`` and ``use_ipvlan`` in vrrp_instance, with keepalived's rules resolving them
(:func:`finish_extra_if`, :func:`finish_ipvlan`, :func:`ipvlan_xmit_base`).

keepalived's ranges differ on purpose: the global keyword needs 1..86400 seconds, the instance one
accepts 0 (off, overriding the global default). An ipvlan shares keepalived's VMAC name field
(``use_vmac``: the default name is the VMAC's, PREFIX.VRID), but is always left by the adverts.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import ParseState, last_line
from fastalived.config.parse_vmac_addr import IFNAMSIZ, vmac_addr_prefix

IPVLAN_MODES = ("bridge", "private", "vepa")

MAX_EXTRA_IF_INTERVAL = 86400
_DEPRECATED = {"vrrp_vmac_garp_intvl": "vrrp_garp_extra_if", "vmac_garp_intvl": "garp_extra_if"}


def _extra_if(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any], prefix: str, lo: int) -> None:
    """``[SECONDS] [all]`` in any order; as keepalived, an ``all`` read before a bad word stays."""
    keyword = st.words[0]
    if keyword in _DEPRECATED:
        p.warning(st, 0, ctx, f'Keyword "{keyword}" is deprecated - please use "{_DEPRECATED[keyword]}"')
    delay: int | None = None
    for index in range(1, len(st.words)):
        text = st.words[index]
        if text == "all":
            values[f"{prefix}garp_extra_if_all"] = True
            continue
        value = int(text) if text.isdigit() else -1
        if not lo <= value <= MAX_EXTRA_IF_INTERVAL:
            p.error(st, index, ctx, f"{keyword} '{text}' invalid - ignoring")
            return
        delay = value
    if delay is None:
        p.error(st, 0, ctx, f"{keyword} specified without time - ignoring")
        return
    values[f"{prefix}garp_extra_if"] = delay


def global_extra_if(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """global_defs ``vrrp_garp_extra_if [1..86400] [all]``."""
    _extra_if(p, st, ctx, values, "vrrp_", 1)


def instance_extra_if(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """vrrp_instance ``garp_extra_if [0..86400] [all]``."""
    _extra_if(p, st, ctx, values, "", 0)


GLOBAL_EXTRA_BLOCKS = {
    "vrrp_garp_extra_if": global_extra_if,
    "vrrp_vmac_garp_intvl": global_extra_if,
    "vmac_addr_prefix": vmac_addr_prefix,
}


def use_ipvlan(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """``use_ipvlan [NAME] [ADDRESS[/PREFIX]] [bridge|private|vepa]`` in any order."""
    if values.get("ipvlan"):
        p.error(st, 0, ctx, "use_ipvlan already specified")
        return
    values["ipvlan"] = True
    mode_given = False
    for index in range(1, len(st.words)):
        text = st.words[index]
        if text in IPVLAN_MODES:
            if mode_given:
                p.error(st, index, ctx, f"ipvlan type already specified - ignoring '{text}'")
            else:
                values["ipvlan_mode"], mode_given = text, True
            continue
        try:
            address: m.IPInterface | None = ipaddress.ip_interface(text)
        except ValueError:
            address = None
        if address is not None:
            if "ipvlan_address" in values:
                p.error(st, index, ctx, f"ipvlan address already specified - ignoring '{text}'")
            else:
                values["ipvlan_address"] = address
        elif "ipvlan_name" in values:
            p.error(st, index, ctx, f"IPVLAN interface already specified - ignoring '{text}'")
        elif len(text) >= IFNAMSIZ:  # keepalived checks only the length here
            p.error(st, index, ctx, f"IPVLAN interface name '{text}' too long - ignoring")
        else:
            values["ipvlan_name"] = text


INSTANCE_EXTRA_BLOCKS = {
    "garp_extra_if": instance_extra_if,
    "vmac_garp_intvl": instance_extra_if,
    "use_ipvlan": use_ipvlan,
}


def finish_ipvlan(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str) -> None:
    """Before the VMAC rules: the ipvlan takes ``use_vmac``'s place (keepalived creates an ipvlan
    when both are given), and its address is the advert source unless one is configured. An IPv4
    ipvlan without an address, or one of the other family, keeps the instance in FAULT."""
    if not values.get("ipvlan"):
        return
    if "use_vmac" in values:
        p.warning(last_line(st, "use_vmac"), 0, ctx, "use_vmac ignored: use_ipvlan makes it an ipvlan interface")
        values.pop("vmac_mac", None)
    values["use_vmac"] = values.pop("ipvlan_name", "")
    address = values.get("ipvlan_address")
    line = last_line(st, "use_ipvlan")
    if address is None and values["family"] == 4:
        fault = "IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state"
    elif address is not None and address.version != values["family"]:
        fault = f"ipvlan address {address} family does not match instance. setting instance to fault state"
        del values["ipvlan_address"]
    else:
        if address is not None and "mcast_src_ip" not in values and "unicast_src_ip" not in values:
            values["mcast_src_ip"] = address.ip
        return
    p.error(line, 0, ctx, fault)
    values["config_fault"] = fault


def ipvlan_xmit_base(p: ParseState, st: Stmt, values: dict[str, Any], ctx: str) -> None:
    """After the VMAC rules: keepalived clears vmac_xmit_base for an ipvlan (even the one unicast
    just set), so its adverts always leave from the ipvlan."""
    if values.get("ipvlan") and values.get("vmac_xmit_base"):
        p.error(last_line(st, "use_ipvlan"), 0, ctx, "vmac_xmit_base is only valid with a vmac")
        values["vmac_xmit_base"] = False


def finish_extra_if(values: dict[str, Any], g: m.GlobalDefs) -> None:
    """keepalived's vrrp_complete_instance: an instance without its own time takes the global one,
    and the global ``all`` with it."""
    if "garp_extra_if" not in values:
        values["garp_extra_if"] = g.vrrp_garp_extra_if
        if g.vrrp_garp_extra_if_all:
            values["garp_extra_if_all"] = True
