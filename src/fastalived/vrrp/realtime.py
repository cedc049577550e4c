"""Real-time scheduling for the VRRP loop thread (keepalived's vrrp_rt_priority / vrrp_rlimit_rttime)."""

from __future__ import annotations

import logging
import os
import resource

log = logging.getLogger("fastalived.vrrp")

RT_PRIORITY = 1  # lowest SCHED_RR priority: ahead of every normal task, behind other real-time ones
RT_CPU_LIMIT_US = 2_000_000  # CPU time without blocking after which the kernel stops the process


class RealtimeScheduling:
    """Runs the loop thread at a low SCHED_RR priority while the role is up (keepalived offers the
    same through vrrp_rt_priority / vrrp_rlimit_rttime) and restores the previous policy on stop.

    A busy host must not delay adverts by tens of milliseconds (a 10 ms advert_int gives a
    backup 36 ms). Only this thread is real-time: RESET_ON_FORK keeps threads and scripts we
    start on the normal scheduler, and RLIMIT_RTTIME kills a runaway loop. Without the privilege
    we simply stay on the normal scheduler.
    """

    def __init__(self) -> None:
        self._saved: tuple[int, os.sched_param, tuple[int, int]] | None = None
        self._boosted: tuple[int, int, os.sched_param] | None = None  # a helper thread: tid, policy, param

    def enter(self) -> None:
        if self._saved is not None:
            return  # already (a standby child enters before it is promoted; start enters again)
        try:
            rttime = resource.getrlimit(resource.RLIMIT_RTTIME)
            saved = (os.sched_getscheduler(0), os.sched_getparam(0), rttime)
            resource.setrlimit(resource.RLIMIT_RTTIME, (RT_CPU_LIMIT_US, rttime[1]))  # SIGXCPU past it
            os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(RT_PRIORITY))
        except (OSError, ValueError, AttributeError) as exc:
            log.debug("real-time scheduling unavailable (%s); using the normal scheduler", exc)
            return
        self._saved = saved

    def boost(self, tid: int | None) -> None:
        """Run helper thread ``tid`` real-time too, until :meth:`unboost`: a promoted standby's
        start waits on the netlink thread, which a busy host would otherwise delay past the peers'
        Master_Down_Timer. Only while this thread is real-time itself."""
        if self._saved is None or self._boosted is not None or tid is None:
            return
        try:
            saved = (tid, os.sched_getscheduler(tid), os.sched_getparam(tid))
            os.sched_setscheduler(tid, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(RT_PRIORITY))
        except (OSError, ValueError, AttributeError) as exc:
            log.debug("cannot make thread %d real-time (%s)", tid, exc)
            return
        self._boosted = saved

    def unboost(self) -> None:
        if self._boosted is None:
            return
        tid, policy, param = self._boosted
        self._boosted = None
        try:
            os.sched_setscheduler(tid, policy, param)
        except (OSError, ValueError) as exc:
            log.debug("cannot restore thread %d's scheduling policy: %s", tid, exc)

    def leave(self) -> None:
        self.unboost()
        if self._saved is None:
            return
        policy, param, rttime = self._saved
        self._saved = None
        try:
            os.sched_setscheduler(0, policy, param)
            resource.setrlimit(resource.RLIMIT_RTTIME, rttime)
        except (OSError, ValueError) as exc:
            log.debug("cannot restore the scheduling policy: %s", exc)
