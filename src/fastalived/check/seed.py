"""Where a checker that replaces a crashed one starts: from what the kernel's IPVS table holds.

A checker child killed mid-run leaves its IPVS table behind, and that table is the dead child's
last word on every real server. Starting over (every server up, or down with ``alpha``) would
re-add the dead servers and, with ``alpha``, pull the healthy ones until their first check; so the
successor reads the table back instead and the first reconcile has nothing to do:

* a real server present with weight > 0 is up;
* an absent one is down, and so is one at weight 0 under ``inhibit_on_failure`` (how a dead
  inhibited server sits in the table); weight 0 otherwise (a drain, a dynamic weight) is up;
* a virtual server whose kernel service is missing was never (or no longer) programmed: its real
  servers start as on a first start, keepalived's way.

From there the usual rules run: an up checker is retried before it goes down, a down one comes
back on one success. Pure: the director turns its dump into :data:`KernelWeights`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from fastalived.config.model import Checker, Config, FileCheck, MiscCheck, RealServer, RealServerKey

KernelWeights = Mapping[str, Mapping[RealServerKey, int]]
"""Per virtual server (key) whose services are all in the kernel: the weight of each real server in them."""

Seeds = Mapping[tuple[str, RealServerKey], "Seed"]


class Seed(NamedTuple):
    """A real server's starting point: ``up`` for all its checkers, and the weight a dynamic checker
    (``misc_dynamic``, FILE_CHECK) had moved it to (None: the configured weight)."""

    up: bool
    weight: int | None = None


def initial_states(config: Config, kernel: KernelWeights) -> dict[tuple[str, RealServerKey], Seed]:
    """The seed of every real server of ``config`` that the kernel table speaks for."""
    seeds: dict[tuple[str, RealServerKey], Seed] = {}
    for vs in config.virtual_servers:
        present = kernel.get(vs.key)
        if present is None:
            continue
        for rs in vs.real_servers:
            seeds[(vs.key, rs.key)] = seed_of(rs, present.get(rs.key))
    return seeds


def seed_of(rs: RealServer, weight: int | None) -> Seed:
    """One real server, given its weight in the kernel (None: absent)."""
    if weight is None or (weight == 0 and rs.inhibit_on_failure):
        return Seed(False)
    dynamic = any(is_dynamic(c) for c in rs.checkers)
    return Seed(True, weight if dynamic and weight != rs.weight else None)


def is_dynamic(checker: Checker) -> bool:
    """Whether the checker moves its server's weight (so the kernel's weight is its doing)."""
    return isinstance(checker, FileCheck) or (isinstance(checker, MiscCheck) and checker.misc_dynamic)
