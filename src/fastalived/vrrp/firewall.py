"""Accept mode with nftables, as keepalived 2.2.7 does it: what to drop, rendered as one ruleset.

RFC 5798's Accept_Mode False: a router that is MASTER without owning the addresses (priority
below 255) must not accept packets sent to them. keepalived enforces it with a firewall: when such
an instance (``no_accept``, the default under ``vrrp_strict``) enters MASTER, its VIPs and
excluded VIPs join a set that an input rule drops by destination and an output rule by source;
they leave it when the instance leaves MASTER; the tables go at exit. IPv6 keeps neighbour
discovery flowing, and link-local VIPs are matched with their interface (``ifindex``, or its name
when the instance has ``dont_track_primary`` and ``nftables_ifindex`` is not set).

This module is sans-IO: :class:`FirewallPlan` turns the instances that hold their VIPs into an
``nft -f`` script that replaces fastalived's tables in one transaction (so no packet ever sees a
half-built ruleset), and says when nothing changed. Our tables are named ``fastalived`` unless
``nftables NAME`` says otherwise (keepalived's are ``keepalived``), so both daemons can share a host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fastalived.config.model import GlobalDefs, IPAddressSpec, VrrpInstance

DEFAULT_TABLE = "fastalived"
LINK_LOCAL = ipaddress.IPv6Network("fe80::/10")
NFT_FAMILY = {4: "ip", 6: "ip6"}


@dataclass(frozen=True, slots=True)
class FirewallSettings:
    """global_defs' ``nftables [NAME]``, ``nftables_priority``, ``nftables_ifindex``, ``nftables_counters``."""

    table: str = DEFAULT_TABLE
    priority: int = -1
    ifindex: bool = False
    counters: bool = False

    @classmethod
    def of(cls, g: GlobalDefs) -> FirewallSettings:
        return cls(g.nftables_table or DEFAULT_TABLE, g.nftables_priority, g.nftables_ifindex, g.nftables_counters)


def drops(cfg: VrrpInstance) -> bool:
    """keepalived's test: a non-owner without accept mode drops traffic to its VIPs while MASTER."""
    return not cfg.accept and not cfg.owner


def needed_families(instances: Iterable[VrrpInstance]) -> frozenset[int]:
    """The address families (4, 6) whose table is needed: those of the dropping instances' VIPs."""
    return frozenset(
        spec.family
        for cfg in instances
        if drops(cfg)
        for spec in cfg.virtual_ipaddresses + cfg.virtual_ipaddresses_excluded
    )


@dataclass(frozen=True, slots=True, order=True)
class Element:
    """One member of a drop set: a VIP, with its interface when it is an IPv6 link-local one."""

    family: int
    address: str
    interface: str = ""  # link-local only
    by_name: bool = False  # in the set keyed by interface name rather than index

    @property
    def set_name(self) -> str:
        if not self.interface:
            return "vips"
        return "vips_link_local_name" if self.by_name else "vips_link_local"

    def render(self) -> str:
        return f'{self.address} . "{self.interface}"' if self.interface else self.address


def elements(
    cfg: VrrpInstance, vips: Iterable[IPAddressSpec], default_device: str, settings: FirewallSettings
) -> Iterator[Element]:
    """The set members for an instance holding ``vips`` (``default_device``: where VIPs without
    ``dev`` live), or none when it accepts traffic to them."""
    if not drops(cfg):
        return
    for spec in vips:
        ip = spec.address.ip
        if ip.version == 6 and ip in LINK_LOCAL:
            device = spec.dev or default_device
            by_name = not settings.ifindex and cfg.dont_track_primary and (device == default_device or spec.no_track)
            yield Element(6, str(ip), device, by_name)
        else:
            yield Element(ip.version, str(ip))


@dataclass(frozen=True, slots=True)
class Desired:
    """Everything the ruleset depends on; equal values render the same script."""

    settings: FirewallSettings
    families: frozenset[int]
    members: frozenset[Element]


class FirewallPlan:
    """What is installed, and the ``nft -f`` script that gets to what is wanted next."""

    def __init__(self) -> None:
        self._applied: Desired | None = None  # None: nothing known to be installed as wanted
        self._tables: set[tuple[str, str]] = set()  # (nft family, name) we may have created

    def update(self, settings: FirewallSettings, families: frozenset[int], members: Iterable[Element]) -> str | None:
        """The script replacing our tables by the wanted ones; None when they already match.

        No family needed (no instance drops anything) means no table at all, as in keepalived.
        """
        wanted = Desired(settings, families, frozenset(m for m in members if m.family in families))
        if wanted == self._applied:
            return None
        if not families and not self._tables:
            self._applied = wanted
            return None
        tables = {(NFT_FAMILY[f], settings.table) for f in families}
        script = _delete(self._tables | tables) + "".join(_table(wanted, f) for f in sorted(families))
        self._tables = tables
        self._applied = wanted
        return script

    def failed(self) -> None:
        """The last script did not apply: the next update re-sends the whole ruleset."""
        self._applied = None

    def teardown(self) -> str | None:
        """The script removing every table of ours (None: there is none)."""
        if not self._tables:
            return None
        script = _delete(self._tables)
        self._tables = set()
        self._applied = None
        return script


def _delete(tables: Iterable[tuple[str, str]]) -> str:
    """Delete tables that may not exist: ``add`` first makes the ``delete`` always valid."""
    return "".join(f"add table {family} {name}\ndelete table {family} {name}\n" for family, name in sorted(tables))


def _set(name: str, key_type: str, members: list[Element]) -> str:
    body = f"\tset {name} {{\n\t\ttype {key_type}\n"
    if members:
        body += "\t\telements = { " + ", ".join(m.render() for m in members) + " }\n"
    return body + "\t}\n"


def _chain(name: str, hook: str | None, rules: list[str], settings: FirewallSettings) -> str:
    counter = "counter " if settings.counters else ""
    body = f"\tchain {name} {{\n"
    if hook is not None:
        body += f"\t\ttype filter hook {hook} priority {settings.priority}; policy accept;\n"
    body += "".join(f"\t\t{rule.format(counter=counter)}\n" for rule in rules)
    return body + "\t}\n"


def _table(wanted: Desired, family: int) -> str:
    settings = wanted.settings
    members = sorted(m for m in wanted.members if m.family == family)

    def of(set_name: str) -> list[Element]:
        return [m for m in members if m.set_name == set_name]

    parts = [f"table {NFT_FAMILY[family]} {settings.table} {{\n"]
    if family == 4:
        parts += [
            _set("vips", "ipv4_addr", of("vips")),
            _chain("in", "input", ["ip daddr @vips {counter}drop"], settings),
            _chain("out", "output", ["ip saddr @vips {counter}drop"], settings),
        ]
    else:
        parts += [
            _set("vips", "ipv6_addr", of("vips")),
            _set("vips_link_local", "ipv6_addr . iface_index", of("vips_link_local")),
            _set("vips_link_local_name", "ipv6_addr . ifname", of("vips_link_local_name")),
            "\tset neighbor-discovery {\n\t\ttype icmpv6_type\n\t\tflags constant\n"
            "\t\telements = { nd-neighbor-solicit, nd-neighbor-advert }\n\t}\n",
        ]
        for chain, hook, way, iface in (("in", "input", "daddr", "iif"), ("out", "output", "saddr", "oif")):
            parts.append(
                _chain(
                    chain,
                    hook,
                    [
                        "icmpv6 type @neighbor-discovery {counter}accept",
                        f"ip6 {way} {LINK_LOCAL} {{counter}}goto {chain}_link_local",
                        f"ip6 {way} @vips {{counter}}drop",
                    ],
                    settings,
                )
            )
            parts.append(
                _chain(
                    f"{chain}_link_local",
                    None,
                    [
                        f"ip6 {way} . {iface} @vips_link_local {{counter}}drop",
                        f"ip6 {way} . {iface}name @vips_link_local_name {{counter}}drop",
                    ],
                    settings,
                )
            )
    return "".join(parts) + "}\n"
