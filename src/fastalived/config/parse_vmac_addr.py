"""VMACs for VIPs: vrrp_instance ``use_vmac_addr``, a VIP's ``use_vmac`` option and global_defs
``vmac_addr_prefix``, resolved as keepalived's ``vrrp_complete_instance`` does.

A VIP on the instance's interface (or without ``dev``) goes to the instance's VMAC when there is
one of its family; otherwise it gets a VMAC of its own on its interface if it says ``use_vmac``
or, with ``use_vmac_addr``, if it is of the other family. A VIP on another interface gets one with
either. One VMAC per interface, family and MAC (00:00:5e:00:01|02:VRID by the VIP's family, or
use_vmac's MAC), shared by instances of the same VRID; named PREFIX.VRID, else PREFIX<N>.VRID
(IPv6 tries 6 first), PREFIX being vmac_addr_prefix, else vmac_prefix. keepalived also skips names
of interfaces that exist when it starts; fastalived only knows the configuration here.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from fastalived.config import model as m
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import ParseState

IFNAMSIZ = 16  # the kernel's limit, with the terminating NUL
RFC5798_MAC = bytes((0, 0, 0x5E, 0))  # 00:00:5e:00:01|02:VRID, the VRRP MACs


def vmac_addr_prefix(p: ParseState, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
    """global_defs ``vmac_addr_prefix PREFIX``: the first one counts."""
    if len(st.words) < 2:
        p.missing(st, ctx, "a prefix")
    elif "vmac_addr_prefix" in values:
        p.error(st, 1, ctx, f"vmac_addr prefix has already been specified - ignoring {st.words[1]}")
    else:
        p.extra_words(st, ctx, 2)
        values["vmac_addr_prefix"] = st.words[1]


def vmac_name(prefix: str, vrid: int, number: int | str = "") -> str:
    """keepalived's generated VMAC name ``PREFIX[N].VRID``, the prefix cut to fit IFNAMSIZ."""
    suffix = f"{number}.{vrid}"
    return prefix[: IFNAMSIZ - 1 - len(suffix)] + suffix


def _names(prefix: str, vrid: int, family: int) -> Iterator[str]:
    """keepalived's create_vmac_name order: PREFIX.VRID, then numbered (IPv6 tries 6 first)."""
    yield vmac_name(prefix, vrid)
    numbers: Iterable[int] = itertools.count(1)
    if family == 6:
        numbers = itertools.chain((6,), (n for n in itertools.count(1) if n != 6))
    for number in numbers:
        yield vmac_name(prefix, vrid, number)


def finish_vmac_addrs(p: ParseState, values: dict[str, Any], ctx: str, g: m.GlobalDefs) -> None:
    """Give each VIP that needs one its VMAC (``dev`` rewritten to its name); call once
    ``use_vmac``, ``vmac_mac`` and ``family`` are final."""
    vrid, family, interface = values["virtual_router_id"], values["family"], values["interface"]
    own_vmac = values.get("use_vmac")
    by_address = values.pop("use_vmac_addr", False)
    known: dict[tuple[str, bytes], str] = {}  # (base, MAC) -> name: earlier instances' (the MAC has the family)
    taken = {own_vmac} if own_vmac else set()
    for _, other in p.instances.values():
        taken.add(other.get("use_vmac") or "")
        for vmac in other.get("vmac_addrs", ()):
            known[(vmac.base, vmac.mac)] = vmac.name
            taken.add(vmac.name)
    made: dict[tuple[str, bytes], m.VmacAddr] = {}
    for key in ("virtual_ipaddresses", "virtual_ipaddresses_excluded"):
        specs = []
        for spec in values.get(key, ()):
            if spec.use_vmac and spec.dev is None:
                p.report.error(spec.where, key, f"{ctx}: use_vmac for a address requires an interface")
                spec = dataclasses.replace(spec, use_vmac=False)
            base = spec.dev or interface
            if base == interface:
                wanted = not (own_vmac and spec.family == family) and (
                    spec.use_vmac or (by_address and spec.family != family)
                )
            else:
                wanted = spec.use_vmac or by_address
            if wanted:
                mac = values.get("vmac_mac") or RFC5798_MAC + bytes((1 if spec.family == 4 else 2, vrid))
                ident = (base, mac)
                if ident not in made:
                    name = known.get(ident) or next(n for n in _names(_prefix(g), vrid, spec.family) if n not in taken)
                    taken.add(name)
                    made[ident] = m.VmacAddr(name, base, mac)
                spec = dataclasses.replace(spec, dev=made[ident].name)
            specs.append(spec)
        if key in values:
            values[key] = tuple(specs)
    values["vmac_addrs"] = tuple(made.values())
    values["use_vmac_addr"] = by_address


def _prefix(g: m.GlobalDefs) -> str:
    return g.vmac_addr_prefix or g.vmac_prefix
