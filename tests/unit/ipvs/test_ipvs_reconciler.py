"""Reconciler.plan: the fewest ops, adoption without churn, ownership, and convergence."""

import random

from fastalived.ipvs.desired import AF_INET, DestKey, DestSpec, ServiceEntry, ServiceKey, ServiceSpec
from fastalived.ipvs.reconciler import Op, OpKind, Reconciler, apply_op

SVC = ServiceKey(AF_INET, 6, "198.51.100.1", 80, 0)
OTHER = ServiceKey(AF_INET, 17, "198.51.100.2", 53, 0)
SPEC = ServiceSpec("wlc", 0, 0, 0xFFFFFFFF)


def dest(n: int, weight: int = 1) -> tuple[DestKey, DestSpec]:
    return DestKey(f"203.0.113.{n}", 80), DestSpec(AF_INET, 0, weight)


def table(**services: dict) -> dict:
    return {key: ServiceEntry(spec, dict(dests)) for key, (spec, dests) in services.items()}


def entry(*dests, spec=SPEC) -> ServiceEntry:
    return ServiceEntry(spec, dict(dests))


def kinds(ops: list[Op]) -> list[OpKind]:
    return [op.kind for op in ops]


def test_empty_kernel_gets_service_then_destinations():
    ops = Reconciler().plan({SVC: entry(dest(1), dest(2))}, {})
    assert kinds(ops) == [OpKind.ADD_SERVICE, OpKind.ADD_DEST, OpKind.ADD_DEST]


def test_matching_kernel_table_is_adopted_with_no_ops():
    desired = {SVC: entry(dest(1), dest(2))}
    assert Reconciler().plan(desired, {SVC: entry(dest(2), dest(1))}) == []


def test_weight_change_and_removal_and_addition():
    ops = Reconciler().plan({SVC: entry(dest(1, 5), dest(3))}, {SVC: entry(dest(1), dest(2))})
    assert sorted((op.kind, op.dest.address) for op in ops) == [
        (OpKind.ADD_DEST, "203.0.113.3"),
        (OpKind.SET_DEST, "203.0.113.1"),
        (OpKind.DEL_DEST, "203.0.113.2"),
    ]


def test_service_attribute_change_is_set_in_place():
    ops = Reconciler().plan({SVC: entry(dest(1), spec=SPEC._replace(scheduler="rr"))}, {SVC: entry(dest(1))})
    assert ops == [Op(OpKind.SET_SERVICE, SVC, SPEC._replace(scheduler="rr"))]


def test_only_owned_services_are_ever_deleted():
    reconciler = Reconciler()
    foreign = {OTHER: entry(dest(9))}
    assert reconciler.plan({SVC: entry()}, {**foreign, SVC: entry()}) == []  # foreign untouched
    ops = reconciler.plan({}, {**foreign, SVC: entry()})  # SVC dropped from the config
    assert ops == [Op(OpKind.DEL_SERVICE, SVC)]
    assert reconciler.plan({}, foreign) == [] and reconciler.owned == set()


def test_release_deletes_owned_services_only():
    reconciler = Reconciler()
    reconciler.plan({SVC: entry(dest(1))}, {})
    assert reconciler.release({SVC: entry(dest(1)), OTHER: entry()}) == [Op(OpKind.DEL_SERVICE, SVC)]


def test_failed_op_is_planned_again_next_time():
    reconciler = Reconciler()
    desired = {SVC: entry(dest(1), dest(2))}
    actual = {SVC: entry(dest(1))}
    first = reconciler.plan(desired, actual)  # suppose the kernel refused it: actual unchanged
    assert reconciler.plan(desired, actual) == first == [Op(OpKind.ADD_DEST, SVC, None, *dest(2))]


def test_random_tables_converge_in_one_plan():
    rng = random.Random(5)
    services = [ServiceKey(AF_INET, 6, f"198.51.100.{n}", 80, 0) for n in range(1, 6)]

    def random_table() -> dict:
        return {
            key: ServiceEntry(SPEC._replace(scheduler=rng.choice(["rr", "wlc"])),
                              dict(dest(n, rng.randint(0, 3)) for n in rng.sample(range(1, 30), rng.randint(0, 8))))
            for key in rng.sample(services, rng.randint(0, 5))
        }  # fmt: skip

    for _ in range(200):
        reconciler = Reconciler()
        desired, actual = random_table(), random_table()
        reconciler.owned.update(actual)
        for op in reconciler.plan(desired, actual):
            apply_op(actual, op)
        assert actual == desired
        assert reconciler.plan(desired, actual) == []
