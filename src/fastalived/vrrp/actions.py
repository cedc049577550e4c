"""What a VRRP state machine (:mod:`fastalived.vrrp.machine`) asks for, as typed actions the router
turns into effects, and the start mode of a respawned child (:class:`AdoptMaster`)."""

from __future__ import annotations

from dataclasses import dataclass

GARP_ON_MASTER, GARP_DELAYED, GARP_REFRESH, GARP_LOWER_PRIO = 1, 2, 3, 4
GARP_EXTRA_IF = 5  # one GARP/NA per other interface of the VIPs (garp_extra_if, vrrp/extra_garp.py)


@dataclass(frozen=True, slots=True)
class SendAdvert:
    """Send one advert at ``priority`` (0 releases mastership)."""

    priority: int


@dataclass(frozen=True, slots=True)
class AddVips:
    """Entering MASTER: put the VIPs (and virtual routes) in place."""


@dataclass(frozen=True, slots=True)
class RemoveVips:
    """Leaving MASTER: take the VIPs (and virtual routes) away."""


@dataclass(frozen=True, slots=True)
class SendGarp:
    """One GARP / unsolicited NA burst; ``burst`` is GARP_ON_MASTER, GARP_DELAYED, GARP_REFRESH or
    GARP_LOWER_PRIO (a master heard a lower priority: at once, and again after garp_lower_prio_delay)."""

    burst: int


@dataclass(frozen=True, slots=True)
class Notify:
    """The machine entered ``state``; ``adopted``: MASTER carried on from a killed VRRP child
    (:class:`AdoptMaster`), a change of process rather than of state, so no notify script runs."""

    state: int
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class WantMaster:
    """A held sync-group member wants MASTER (``wants``) or no longer does."""

    wants: bool


Action = SendAdvert | AddVips | RemoveVips | SendGarp | Notify | WantMaster
ADD_VIPS, REMOVE_VIPS = AddVips(), RemoveVips()


@dataclass(frozen=True, slots=True)
class AdoptMaster:
    """The start mode of a VRRP child respawned after its predecessor died abnormally (kill -9, a
    crash) while MASTER of this instance, with the VIPs still on the interface: carry on as MASTER
    at once, so the peers' Master_Down_Timer never expires and the VIPs never move.

    ``silent_since`` is when the predecessor died (CLOCK_MONOTONIC, shared by every process); its
    last advert left at most one advert_int earlier. Within the peers' Master_Down_Interval nobody
    can have taken over. Later, someone may have, and only an instance that would preempt that new
    master at once anyway (no ``nopreempt``, no ``preempt_delay``) takes the role back."""

    silent_since: float
