"""IpvsDirector's policy (when to dump, retry, timeouts, release) against an in-memory kernel."""

import asyncio
import copy
import errno
from ipaddress import ip_address
from types import SimpleNamespace

from fastalived.config.model import Config, LvsTimeouts, RealServer, VirtualServer
from fastalived.ipvs.desired import AF_INET, DesiredTable, DestKey, DestSpec, ServiceEntry, ServiceKey, ServiceSpec
from fastalived.ipvs.director import IpvsDirector
from fastalived.ipvs.reconciler import OpKind, apply_op

SVC = ServiceKey(AF_INET, 6, "198.51.100.1", 80, 0)
FOREIGN = ServiceKey(AF_INET, 6, "198.51.100.200", 80, 0)
SPEC = ServiceSpec("rr", 0, 0, 0xFFFFFFFF)


class MemoryKernel:
    """Stands in for IpvsClient: a table, ops applied in order, refusals on demand."""

    def __init__(self) -> None:
        self.services: dict = {FOREIGN: ServiceEntry(SPEC)}
        self.refuse: set[OpKind] = set()
        self.dumps = 0
        self.timeouts: list[tuple] = []
        self.flushed = self.closed = False

    async def table(self, with_destinations) -> dict:
        self.dumps += 1
        return copy.deepcopy(self.services)

    async def execute(self, ops, on_done) -> None:
        for op in ops:
            if op.kind in self.refuse:
                on_done(op, errno.ENOENT)
            else:
                apply_op(self.services, op)
                on_done(op, 0)

    async def set_timeouts(self, tcp, tcpfin, udp) -> None:
        self.timeouts.append((tcp, tcpfin, udp))

    async def flush(self) -> None:
        self.services.clear()
        self.flushed = True

    def close(self) -> None:
        self.closed = True


def table(*weights: int, timeouts: LvsTimeouts | None = None) -> DesiredTable:
    dests = {DestKey(f"203.0.113.{n}", 80): DestSpec(AF_INET, 0, w) for n, w in enumerate(weights, 1)}
    return DesiredTable({SVC: ServiceEntry(SPEC, dests)}, timeouts)


def run(coroutine):
    return asyncio.run(coroutine)


def test_cached_sync_skips_the_dump_until_asked():
    kernel = MemoryKernel()
    director = IpvsDirector(kernel)  # type: ignore[arg-type]

    async def scenario() -> None:
        await director.sync(table(1, 1))
        assert (await director.sync(table(1, 5), refresh=False)).applied == {OpKind.SET_DEST: 1}
        assert kernel.dumps == 1
        del kernel.services[SVC].dests[DestKey("203.0.113.1", 80)]  # someone ran ipvsadm -d
        assert (await director.sync(table(1, 5), refresh=False)).total == 0  # not seen without a dump
        assert (await director.sync(table(1, 5))).applied == {OpKind.ADD_DEST: 1}

    run(scenario())
    assert kernel.services[SVC] == table(1, 5).services[SVC]


def test_a_refused_op_is_reported_and_forces_a_dump_next_time():
    kernel = MemoryKernel()
    kernel.refuse = {OpKind.ADD_DEST}
    director = IpvsDirector(kernel)  # type: ignore[arg-type]

    async def scenario() -> None:
        report = await director.sync(table(1, 2))
        assert [op.kind for op, code in report.failed] == [OpKind.ADD_DEST] * 2
        assert not report.ok and report.applied == {OpKind.ADD_SERVICE: 1}
        kernel.refuse = set()
        retried = await director.sync(table(1, 2), refresh=False)
        assert retried.applied == {OpKind.ADD_DEST: 2} and kernel.dumps == 2

    run(scenario())


def test_timeouts_are_set_once_per_change():
    kernel = MemoryKernel()
    director = IpvsDirector(kernel)  # type: ignore[arg-type]

    async def scenario() -> None:
        for timeouts in (LvsTimeouts(tcp=900), LvsTimeouts(tcp=900), LvsTimeouts(tcp=60, udp=5)):
            await director.sync(table(1, timeouts=timeouts))

    run(scenario())
    assert kernel.timeouts == [(900, None, None), (60, None, 5)]


def test_close_removes_only_owned_services_or_flushes():
    kernel = MemoryKernel()
    director = IpvsDirector(kernel)  # type: ignore[arg-type]
    run(director.sync(table(1)))
    report = run(director.close(remove=True))
    assert report.applied == {OpKind.DEL_SERVICE: 1} and list(kernel.services) == [FOREIGN] and kernel.closed

    kernel = MemoryKernel()
    director = IpvsDirector(kernel)  # type: ignore[arg-type]
    run(director.sync(table(1)))
    run(director.close(remove=False, flush=True))
    assert kernel.flushed and kernel.services == {}


def test_apply_reads_the_checker_state():
    rs = RealServer(ip_address("203.0.113.1"), 80, weight=3)
    vs = VirtualServer(address=ip_address("198.51.100.1"), port=80, protocol="TCP", lvs_sched="rr", real_servers=(rs,))
    state = SimpleNamespace(virtual_servers={vs.key: SimpleNamespace(
        quorum_up=True, servers={rs.key: SimpleNamespace(up=True, weight=8)})}, drained={})  # fmt: skip
    kernel = MemoryKernel()
    director = IpvsDirector(kernel)  # type: ignore[arg-type]
    run(director.apply(Config(virtual_servers=(vs,)), state))
    assert kernel.services[SVC].dests == {DestKey("203.0.113.1", 80): DestSpec(AF_INET, 0, 8)}


def test_a_repair_pass_dumps_the_kernel_and_logs_each_fix(caplog):
    """The checker's periodic repair pass: no new verdicts, yet an ``ipvsadm -d`` is undone and logged."""
    rs = RealServer(ip_address("203.0.113.1"), 80, weight=3)
    vs = VirtualServer(address=ip_address("198.51.100.1"), port=80, protocol="TCP", lvs_sched="rr", real_servers=(rs,))
    state = SimpleNamespace(virtual_servers={vs.key: SimpleNamespace(
        quorum_up=True, servers={rs.key: SimpleNamespace(up=True, weight=3)})}, drained={})  # fmt: skip
    config = Config(virtual_servers=(vs,))
    kernel = MemoryKernel()
    director = IpvsDirector(kernel)  # type: ignore[arg-type]

    async def scenario() -> None:
        await director.apply(config, state)
        assert (await director.apply(config, state, repair=True)).total == 0  # cheap when nothing differs
        del kernel.services[SVC].dests[DestKey("203.0.113.1", 80)]  # ipvsadm -d
        assert (await director.apply(config, state)).total == 0  # events alone plan against the cache
        assert (await director.apply(config, state, repair=True)).applied == {OpKind.ADD_DEST: 1}

    run(scenario())
    assert kernel.dumps == 3
    assert kernel.services[SVC].dests == {DestKey("203.0.113.1", 80): DestSpec(AF_INET, 0, 3)}
    repairs = [r.getMessage() for r in caplog.records if "repairing" in r.getMessage()]
    fix = f"add_dest 203.0.113.1:80 weight 3 in {SVC}"
    assert repairs == [f"IPVS: repairing a change made outside fastalived: {fix}"]
