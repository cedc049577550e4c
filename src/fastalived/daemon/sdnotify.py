"""systemd readiness notifications (``Type=notify``) written straight to ``$NOTIFY_SOCKET``.

The protocol is one datagram of ``KEY=VALUE`` lines on a unix socket; doing it by hand avoids a
libsystemd dependency. Without ``$NOTIFY_SOCKET`` (not under systemd) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


def _address(raw: str) -> str | bytes:
    # A leading '@' names a Linux abstract socket.
    return b"\0" + raw[1:].encode() if raw.startswith("@") else raw


def notify(*fields: str) -> bool:
    """Send ``fields`` (e.g. ``"READY=1"``) as one notification; False when not under systemd."""
    raw = os.environ.get("NOTIFY_SOCKET")
    if not raw:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(fields).encode(), _address(raw))
    except OSError as exc:
        log.warning("sd_notify to %s failed: %s", raw, exc)
        return False
    return True


def ready(status: str = "") -> bool:
    return notify("READY=1", *([f"STATUS={status}"] if status else []))


def reloading() -> bool:
    """RELOADING=1 must carry the CLOCK_MONOTONIC time in µs (systemd >= 253, Type=notify-reload)."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}")


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog_interval() -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``WatchdogSec``), None when not requested.

    systemd sets ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``, which must be us) when the unit has
    ``WatchdogSec=``.
    """
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


def watchdog() -> bool:
    return notify("WATCHDOG=1")
