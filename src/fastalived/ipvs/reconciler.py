"""Desired table vs the kernel's table -> the fewest IPVS operations. Pure (sans-IO).

The reconciler never flushes. Whatever already matches is adopted as is (a restart costs zero
operations), what differs is set in place, and only services fastalived has claimed are ever
deleted: other tools' services in the same kernel stay untouched. An operation that failed is not
remembered as failed: the next plan compares against a fresh dump and asks for it again, which is
also how a change made behind our back (``ipvsadm -d``) gets repaired.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import NamedTuple

from fastalived.ipvs.desired import DestKey, DestSpec, IpvsTable, ServiceEntry, ServiceKey, ServiceSpec


class OpKind(IntEnum):
    ADD_SERVICE = 1
    SET_SERVICE = 2
    DEL_SERVICE = 3
    ADD_DEST = 4
    SET_DEST = 5
    DEL_DEST = 6


class Op(NamedTuple):
    """One IPVS command. Service ops carry ``spec``; destination ops carry ``dest`` (+ ``dest_spec``)."""

    kind: OpKind
    service: ServiceKey
    spec: ServiceSpec | None = None
    dest: DestKey | None = None
    dest_spec: DestSpec | None = None

    def __str__(self) -> str:
        name = self.kind.name.lower()
        if self.dest is None:
            return f"{name} {self.service}"
        weight = "" if self.dest_spec is None else f" weight {self.dest_spec.weight}"
        return f"{name} {self.dest.address}:{self.dest.port}{weight} in {self.service}"


class Reconciler:
    """Plans operations and remembers which kernel services belong to fastalived."""

    def __init__(self) -> None:
        self.owned: set[ServiceKey] = set()

    def plan(self, desired: Mapping[ServiceKey, ServiceEntry], actual: Mapping[ServiceKey, ServiceEntry]) -> list[Op]:
        """Ops turning ``actual`` into ``desired``; services dropped from ``desired`` are deleted.

        Service adds and changes come first so destination ops find their service; deletions of
        whole services come last.
        """
        service_ops: list[Op] = []
        dest_ops: list[Op] = []
        for key, want in desired.items():
            have = actual.get(key)
            if have is None:
                service_ops.append(Op(OpKind.ADD_SERVICE, key, want.spec))
                dest_ops.extend(Op(OpKind.ADD_DEST, key, None, d, spec) for d, spec in want.dests.items())
                continue
            if have.spec != want.spec:
                service_ops.append(Op(OpKind.SET_SERVICE, key, want.spec))
            dest_ops.extend(_dest_diff(key, want.dests, have.dests))
        self.owned.update(desired)
        retired = [key for key in self.owned if key not in desired]
        for key in retired:
            if key not in actual:
                self.owned.discard(key)
        return service_ops + dest_ops + [Op(OpKind.DEL_SERVICE, key) for key in retired if key in actual]

    def release(self, actual: Mapping[ServiceKey, ServiceEntry]) -> list[Op]:
        """Ops removing every service fastalived owns (deleting a service drops its dests)."""
        ops = [Op(OpKind.DEL_SERVICE, key) for key in self.owned if key in actual]
        self.owned.clear()
        return ops


def _dest_diff(key: ServiceKey, want: Mapping[DestKey, DestSpec], have: Mapping[DestKey, DestSpec]) -> list[Op]:
    """Set operations on the item views run in C: a 10,000-destination compare stays cheap."""
    if not have:
        return [Op(OpKind.ADD_DEST, key, None, dest, spec) for dest, spec in want.items()]
    ops = [Op(OpKind.DEL_DEST, key, None, dest) for dest in have.keys() - want.keys()]
    for dest, spec in want.items() - have.items():
        ops.append(Op(OpKind.SET_DEST if dest in have else OpKind.ADD_DEST, key, None, dest, spec))
    return ops


def apply_op(table: IpvsTable, op: Op) -> None:
    """Record a successful ``op`` in a cached copy of the kernel table (no dump needed next time)."""
    if op.kind is OpKind.ADD_SERVICE:
        assert op.spec is not None
        table[op.service] = ServiceEntry(op.spec)
    elif op.kind is OpKind.SET_SERVICE:
        assert op.spec is not None
        table[op.service].spec = op.spec
    elif op.kind is OpKind.DEL_SERVICE:
        table.pop(op.service, None)
    elif op.kind is OpKind.DEL_DEST:
        assert op.dest is not None
        table[op.service].dests.pop(op.dest, None)
    else:
        assert op.dest is not None and op.dest_spec is not None
        table[op.service].dests[op.dest] = op.dest_spec
