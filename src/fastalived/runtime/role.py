"""The contract between the supervisor's generic child runner and each role (VRRP, checker).

A role is the uvloop-side of one child process. The runner (``fastalived.daemon.child``) owns the
event loop, signals, heartbeat, config loading and the status channel; the role only applies
configs and reports state. Keeping this boundary small is what lets a reload touch only the diff.

The runner guarantees: ``start`` runs once, before anything else; ``reload`` only ever gets a config
that loaded without errors and never overlaps ``start``, another ``reload`` or ``stop``; ``stop``
runs once (SIGTERM, parent death) and is bounded in time. An exception from ``start`` ends the
process with ``EXIT_FATAL`` (no respawn loop); one from ``reload`` is logged and reported to the
parent as a failed reload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from fastalived.config.model import Config

MetricType = Literal["gauge", "counter", "histogram"]
DumpKind = Literal["data", "stats", "json"]  # SIGUSR1, SIGUSR2, SIGRTMIN+2


@dataclass(frozen=True, slots=True)
class Metric:
    """One Prometheus sample family member; histograms give ``buckets`` as (le, cumulative count)."""

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()
    type: MetricType = "gauge"
    help: str = ""
    buckets: tuple[tuple[float, int], ...] = field(default=())
    sum: float = 0.0


class Role(Protocol):
    """What a child role implements. All methods run on the child's single event loop."""

    name: str  # "vrrp" or "check"

    async def start(self, config: Config) -> None:
        """Bring the role up from the first valid config."""

    async def reload(self, config: Config) -> None:
        """Apply only the difference to the new, already validated config."""

    async def stop(self) -> None:
        """Graceful stop: priority-0 adverts, VIPs / IPVS entries removed as configured."""

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for ``/status`` and the JSON dump."""

    def metrics(self) -> Iterable[Metric]:
        """Samples for ``/metrics``."""

    def keepalived_dump(self, kind: DumpKind) -> str | None:
        """The dump in keepalived's own layout (its exporters read those files), or None."""


@runtime_checkable
class Steerable(Protocol):
    """A role that takes operator overrides (``fastalived ctl``) from the parent.

    ``overrides`` is always the parent's full set for this role (idempotent, so the runner can
    re-apply it after a start or reload); the answer says what changed, one line each.
    """

    def steer(self, overrides: Mapping[str, Any]) -> list[str]: ...
