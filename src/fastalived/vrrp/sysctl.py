"""The sysctls keepalived sets while it runs and puts back at stop.

``promote_secondaries`` (per interface): without it, removing a VIP that is the primary address of
its subnet makes the kernel remove every secondary address of that subnet too (another instance's
VIP, say); with it, one is promoted. ``disable_local_igmp`` (``igmp_link_local_mcast_reports``, per
network namespace): no IGMP reports for 224.0.0.0/24, which switches must flood anyway (RFC 4541).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("fastalived.vrrp")

CONF = Path("/proc/sys/net/ipv4/conf")
LOCAL_IGMP_REPORTS = Path("/proc/sys/net/ipv4/igmp_link_local_mcast_reports")


class PromoteSecondaries:
    """Turns promote_secondaries on for interfaces that want it; :meth:`restore` turns off those
    it turned on (at stop, as keepalived does)."""

    def __init__(self, conf: Path = CONF) -> None:
        self._conf = conf
        self._changed: set[str] = set()

    def want(self, ifname: str) -> None:
        path = self._conf / ifname / "promote_secondaries"
        try:
            if path.read_text().strip() != "0":
                return
            path.write_text("1\n")
        except OSError as exc:
            log.warning("cannot set promote_secondaries on %s: %s", ifname, exc)
            return
        self._changed.add(ifname)

    def restore(self) -> None:
        for ifname in sorted(self._changed):
            try:
                (self._conf / ifname / "promote_secondaries").write_text("0\n")
            except OSError:
                pass  # the interface is gone: nothing to put back
        self._changed.clear()


class LocalIgmpReports:
    """``disable_local_igmp``: reports for link-local groups off while running, back on at stop
    if they were on."""

    def __init__(self, path: Path = LOCAL_IGMP_REPORTS) -> None:
        self._path = path
        self._disabled = False

    def disable(self) -> None:
        try:
            if self._path.read_text().strip() != "1":
                return
            self._path.write_text("0\n")
        except OSError as exc:
            log.info("Unable to disable local IGMP reports (%s): %s", self._path, exc)
            return
        self._disabled = True

    def restore(self) -> None:
        if self._disabled:
            try:
                self._path.write_text("1\n")
            except OSError as exc:
                log.info("Unable to restore %s: %s", self._path, exc)
            self._disabled = False
