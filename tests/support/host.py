"""Helpers that look at the local host: free ports and processes through ``/proc``."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nobody listens on right now (connects to it are refused)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def process_alive(pid: int) -> bool:
    """True unless the pid is gone or a zombie (killed but not yet reaped by its parent)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def fd_count(pid: int) -> int:
    """Fewest open fds seen over 1.5 s: in-flight checks and closing HTTP sockets come and go, leaks stay."""
    samples = []
    for _ in range(15):
        samples.append(len(os.listdir(f"/proc/{pid}/fd")))
        time.sleep(0.1)
    return min(samples)


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of ``/proc/PID/status``)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
