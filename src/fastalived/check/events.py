"""The decisions of the checker's sans-IO core (:mod:`.state`), as small immutable records.

``CheckState.record`` returns them in order; the role turns them into log lines and alerts
(notify_up/down, quorum scripts, smtp_alert) and hands them to an optional ``on_events`` observer.
IPVS does not consume them: after any change the role gives its IPVS sink the whole
:class:`~fastalived.check.state.CheckState`, so a sink that missed something (a restart, a
reload) is never out of step.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastalived.config.model import RealServerKey

INITIAL = "initial"  # the reason on a server's first state (start, or added by a reload)
WEIGHT_CHANGED = "weight changed"  # the reason when a live server only changed weight (misc_dynamic, reload)


@dataclass(frozen=True, slots=True)
class RealServerChange:
    """A real server went up or down, or its weight changed while up.

    ``vs_key`` is ``VirtualServer.key``. ``weight`` is the weight IPVS should now use: the
    configured weight (adjusted by ``misc_dynamic``) when up, 0 when down. Whether a down server is
    removed or kept at weight 0 (``inhibit_on_failure``) is the config's call, not the event's.
    ``reason`` is a short human text (``"url(1) HTTP status 503"``, ``"timeout"``, :data:`INITIAL`, or
    :data:`WEIGHT_CHANGED` when the server stayed up and only its weight moved).
    """

    vs_key: str
    rs_key: RealServerKey
    up: bool
    weight: int
    reason: str


@dataclass(frozen=True, slots=True)
class VirtualServerChange:
    """A virtual server gained (``quorum_up=True``) or lost its quorum.

    While the quorum is lost and a ``sorry_server`` is configured, IPVS should hold only the sorry
    server for this service (``fastalived.ipvs.desired`` applies that rule).
    """

    vs_key: str
    quorum_up: bool


CheckEvent = RealServerChange | VirtualServerChange
