"""``garp_extra_if`` (keepalived's ``vmac_garp_intvl``): a master's periodic GARP / NA on the
other interfaces its VIPs live on, sans-IO.

keepalived arms the timer on becoming MASTER (now + interval) and looks at it only when the
Adver_Timer sends an advert (``vrrp_state_master_tx``): the first timed advert after the timer
expired sends one GARP/NA per such interface and re-arms it from that moment. Adverts that answer
another master do not look. Which interfaces get one is the shell's part
(:func:`fastalived.vrrp.vips.extra_if_vips`); the router only emits ``SendGarp(GARP_EXTRA_IF)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastalived.config.model import VrrpInstance
from fastalived.vrrp.actions import GARP_EXTRA_IF, Action, SendAdvert, SendGarp
from fastalived.vrrp.machine import MASTER


@dataclass(slots=True)
class ExtraIfTimer:
    """One instance's extra-interface GARP timer; ``deadline`` None while off or not MASTER."""

    deadline: float | None = None

    def entered(self, cfg: VrrpInstance, state: int, now: float) -> None:
        """A state change: MASTER arms the timer, any other state stops it."""
        self.deadline = now + cfg.garp_extra_if if state == MASTER and cfg.garp_extra_if > 0 else None

    def reconfigured(self, cfg: VrrpInstance, state: int, now: float) -> None:
        """Reload of a master: keepalived's re-created instance has an expired timer, so the next
        advert sends (a stopped one stays stopped until it is checked with the interval gone)."""
        if state == MASTER and cfg.garp_extra_if > 0 and self.deadline is None:
            self.deadline = now

    def due(self, now: float) -> bool:
        """Whether the next timed advert must go the slow way (:meth:`after_adverts`)."""
        return self.deadline is not None and now > self.deadline

    def after_adverts(self, cfg: VrrpInstance, actions: list[Action], now: float) -> list[Action]:
        """The machine's timer actions, plus ``SendGarp(GARP_EXTRA_IF)`` after a master's advert
        when the timer has expired (and the timer re-armed)."""
        if not self.due(now) or not any(isinstance(a, SendAdvert) and a.priority for a in actions):
            return actions
        if cfg.garp_extra_if <= 0:  # a reload turned it off
            self.deadline = None
            return actions
        self.deadline = now + cfg.garp_extra_if
        return [*actions, SendGarp(GARP_EXTRA_IF)]
