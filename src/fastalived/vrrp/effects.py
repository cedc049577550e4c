"""What the VRRP router (:mod:`fastalived.vrrp.router`) answers with: typed effects the role carries
out in order, and the shapes of what it is fed (a received advert, the socket it came in on)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from fastalived.vrrp.actions import AddVips, RemoveVips, SendAdvert, SendGarp

Heard = tuple[bytes, int, float]  # an accepted advert as the machine takes it: (src, priority, interval s)


@dataclass(frozen=True, slots=True)
class InstanceAction:
    """Carry out one of ``instance``'s machine actions: an advert, the VIPs, a GARP burst."""

    instance: str
    action: SendAdvert | AddVips | RemoveVips | SendGarp


@dataclass(frozen=True, slots=True)
class StateChanged:
    """``instance`` went from ``old`` to ``new`` (log, notify scripts, the sync-daemon hook)."""

    instance: str
    old: int
    new: int
    priority: int  # the effective priority at the change, for notify scripts
    adopted: bool = False  # MASTER carried on from a killed child (AdoptMaster): no notify scripts


@dataclass(frozen=True, slots=True)
class GroupChanged:
    """A sync group as a whole is now ``state`` (BACKUP, MASTER or FAULT): GROUP notifies."""

    group: str
    state: int
    adopted: bool = False  # reached by adopting members (AdoptMaster): no notify scripts


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """``instance``'s machine next needs :meth:`VrrpRouter.timer` at ``deadline`` (None: never)."""

    instance: str
    deadline: float | None


@dataclass(frozen=True, slots=True)
class InstanceEvent:
    """keepalived's event notifies, which are not state changes: ``MASTER_RX_LOWER_PRI`` (a
    master heard a lower priority), ``MASTER_PRIORITY`` / ``BACKUP_PRIORITY`` (tracking moved
    the effective priority); the role decides whether they are wanted."""

    instance: str
    event: str
    priority: int


Effect = InstanceAction | StateChanged | GroupChanged | ArmTimer | InstanceEvent


class Received(NamedTuple):
    """What one received packet did: the instance that accepted it (None: dropped), the advert as
    the machine heard it (the role's steady-advert template candidate), and the effects."""

    instance: str | None
    heard: Heard | None
    effects: list[Effect]


class Listener(Protocol):
    """The receiving socket as the router sees it: where a packet came in."""

    ifname: str
    family: int
    group_packed: bytes  # the multicast group, packed: the IPv6 checksum's destination
