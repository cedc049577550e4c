"""The I/O edge of IPVS: dump the kernel, let the reconciler plan, apply the plan pipelined."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from fastalived.config.model import Config, LvsTimeouts, RealServerKey
from fastalived.ipvs.desired import DesiredTable, DestKey, DrainOverlay, IpvsTable, build_desired, service_keys
from fastalived.ipvs.netlink import IpvsClient, IpvsUnavailable
from fastalived.ipvs.reconciler import Op, OpKind, Reconciler, apply_op

log = logging.getLogger("fastalived.ipvs")


class _RealServerView(Protocol):
    @property
    def up(self) -> bool: ...

    @property
    def weight(self) -> int: ...


class _VirtualServerView(Protocol):
    @property
    def quorum_up(self) -> bool: ...

    @property
    def servers(self) -> Mapping[RealServerKey, _RealServerView]: ...


class CheckStateView(Protocol):
    """The part of ``fastalived.check.state.CheckState`` the director reads (read-only, hence properties)."""

    @property
    def virtual_servers(self) -> Mapping[str, _VirtualServerView]: ...

    @property
    def drained(self) -> DrainOverlay: ...


def desired_from_check_state(config: Config, check_state: CheckStateView) -> DesiredTable:
    """The table ``config`` asks for given the checker's verdicts (up/weight per real server, quorum)."""
    rs_state = {
        (vs_key, rs_key): (rs.up, rs.weight)
        for vs_key, vs in check_state.virtual_servers.items()
        for rs_key, rs in vs.servers.items()
    }
    quorum = {vs_key: vs.quorum_up for vs_key, vs in check_state.virtual_servers.items()}
    return build_desired(config, rs_state, quorum, check_state.drained)


@dataclass(slots=True)
class ReconcileReport:
    """What one :meth:`IpvsDirector.sync` did. Failed ops are retried by the next sync."""

    applied: Counter[OpKind] = field(default_factory=Counter)
    failed: list[tuple[Op, int]] = field(default_factory=list)  # (op, errno)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def total(self) -> int:
        return sum(self.applied.values())


class IpvsDirector:
    """Keeps the kernel's IPVS table equal to the last :class:`DesiredTable` it was given."""

    REFRESH_INTERVAL = 10.0  # seconds between kernel dumps when driven by :meth:`apply`

    def __init__(self, client: IpvsClient) -> None:
        self._client = client
        self._reconciler = Reconciler()
        self._lock = asyncio.Lock()
        self._known: IpvsTable | None = None  # kernel table as of the last sync, kept up to date
        self._timeouts: LvsTimeouts | None = None
        self._dumped_at = float("-inf")

    @classmethod
    async def open(cls, *, flush: bool = False) -> IpvsDirector | None:
        """Connect (loading ``ip_vs`` if needed); None, with one log line, without kernel IPVS.

        ``flush`` is ``lvs_flush``: empty the whole table first, as keepalived does.
        """
        try:
            client = await IpvsClient.connect()
        except IpvsUnavailable:
            await _load_ip_vs_module()
            try:
                client = await IpvsClient.connect()
            except IpvsUnavailable:
                log.warning(
                    "IPVS is not available in this kernel (no ip_vs): health checks run,"
                    " virtual servers are not programmed"
                )
                return None
        version, size = await client.info()
        log.info("IPVS version %s (size=%d)", version, size)
        if flush:
            await client.flush()
            log.info("Flushed the IPVS table (lvs_flush)")
        return cls(client)

    async def observe(self, config: Config) -> dict[str, dict[RealServerKey, int]]:
        """The kernel table in ``config``'s terms, for a checker taking over from a crashed one
        (``check.seed.KernelWeights``): for each virtual server whose kernel services all exist,
        the weight of each real server present in all of them (the lowest, for a group)."""
        wanted = {vs.key: service_keys(vs, config) for vs in config.virtual_servers}
        async with self._lock:
            table = await self._client.table({key for keys in wanted.values() for key in keys})
        observed: dict[str, dict[RealServerKey, int]] = {}
        for vs in config.virtual_servers:
            keys = wanted[vs.key]
            if not keys or any(key not in table for key in keys):
                continue
            weights: dict[RealServerKey, int] = {}
            for rs in vs.real_servers:
                found = [
                    table[key].dests.get(DestKey(str(rs.address), key.port if rs.port is None else rs.port))
                    for key in keys
                ]
                if all(dest is not None for dest in found):
                    weights[rs.key] = min(dest.weight for dest in found if dest is not None)
            observed[vs.key] = weights
        return observed

    @property
    def client(self) -> IpvsClient:
        return self._client

    async def apply(self, config: Config, check_state: CheckStateView, *, repair: bool = False) -> ReconcileReport:
        """The checker's sink: sync the table its state asks for.

        Check results come in bursts, so this plans against the cached table and dumps the
        kernel only every ``REFRESH_INTERVAL`` seconds (or after a failure). ``repair`` is the
        checker's periodic pass with no new verdicts: it always dumps, so anything it has to do
        undoes an outside edit (``ipvsadm -d``) or retries a failed op, and each op is logged.
        """
        refresh = repair or time.monotonic() - self._dumped_at >= self.REFRESH_INTERVAL
        return await self.sync(desired_from_check_state(config, check_state), refresh=refresh, repair=repair)

    async def sync(self, table: DesiredTable, *, refresh: bool = True, repair: bool = False) -> ReconcileReport:
        """Make the kernel match ``table``.

        ``refresh=True`` dumps the kernel first, so changes made by others are repaired;
        ``refresh=False`` plans against the table this director last saw and changed, which is
        what a burst of health-check events wants (a 10,000-destination dump is not free).
        """
        async with self._lock:
            started = time.monotonic()
            if table.timeouts is not None and table.timeouts != self._timeouts:
                await self._client.set_timeouts(table.timeouts.tcp, table.timeouts.tcpfin, table.timeouts.udp)
                self._timeouts = table.timeouts
            if refresh or self._known is None:
                self._known = None  # a dump that fails leaves nothing cached: the next sync dumps again
                self._known = await self._client.table(self._reconciler.owned | table.services.keys())
                self._dumped_at = time.monotonic()
            ops = self._reconciler.plan(table.services, self._known)
            if repair:
                for op in ops:
                    log.warning("IPVS: repairing a change made outside fastalived: %s", op)
            report = await self._apply(ops)
            report.seconds = time.monotonic() - started
            if report.total or report.failed:
                log.info(
                    "IPVS reconciled: %s, %d failed, %.3f s",
                    ", ".join(f"{n} {kind.name.lower()}" for kind, n in sorted(report.applied.items())) or "nothing",
                    len(report.failed),
                    report.seconds,
                )
            return report

    async def close(self, remove: bool, *, flush: bool = False) -> ReconcileReport:
        """Stop managing IPVS: ``remove`` deletes the services fastalived owns (False keeps them,
        like keepalived's ``dont_release``); ``flush`` (``lvs_flush_onstop``) empties the table."""
        async with self._lock:
            report = ReconcileReport()
            try:
                if flush:
                    await self._client.flush()
                elif remove:
                    report = await self._apply(self._reconciler.release(await self._client.table(())))
            finally:
                self._client.close()
            return report

    async def _apply(self, ops: list[Op]) -> ReconcileReport:
        report = ReconcileReport()
        known = self._known
        answered: set[Op] = set()

        def done(op: Op, code: int) -> None:
            answered.add(op)
            if code:
                report.failed.append((op, code))
                log.warning("IPVS: %s failed: %s (retried on the next sync)", op, os.strerror(code))
            else:
                report.applied[op.kind] += 1
                if known is not None:
                    apply_op(known, op)

        try:
            await self._client.execute(ops, done)
        except OSError as exc:  # e.g. ENOBUFS: acks were lost, so what the kernel did is unknown
            log.error("IPVS: netlink error while applying %d ops: %s", len(ops), exc)
            report.failed.extend((op, exc.errno or 0) for op in ops if op not in answered)
        if report.failed:
            self._known = None  # the next sync dumps the kernel again
        return report


async def _load_ip_vs_module() -> None:
    """keepalived and ipvsadm both ``modprobe ip_vs`` when the family is missing; so do we."""
    try:
        process = await asyncio.create_subprocess_exec(
            "modprobe", "-q", "ip_vs", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        await process.wait()
    except OSError:
        pass
