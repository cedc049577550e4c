"""What ``fastalived -t`` can tell about the running kernel's IPVS before anything is programmed.

A scheduler or persistence engine whose module this kernel does not have, or a GUE/GRE tunnel on a
kernel older than the attributes (5.2 / 5.3), would only fail at run time, one refused netlink op
after another; ``-t`` on the target host says so up front. Where the kernel has no IPVS at all, or
its module list cannot be read (a container without /lib/modules), nothing is said: keepalived's
``-t`` does not look at the kernel either, and the checker reports a missing IPVS when it starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from fastalived.config.diagnostics import Diagnostic
from fastalived.config.model import Config, Tunnel

_LISTINGS = ("modules.dep", "modules.builtin")
_MODULE = re.compile(r"(?:^|/)(ip_vs[a-z0-9_]*)\.ko", re.MULTILINE)
# The first kernel with each tunnel's netlink attributes (IPVS_DEST_ATTR_TUN_TYPE/PORT, then FLAGS).
TUNNEL_KERNEL = {"gue": (5, 2), "gre": (5, 3)}
CHECKSUM_KERNEL = (5, 3)


def ipvs_modules(release: str, root: Path = Path("/")) -> set[str] | None:
    """The IPVS modules this kernel has, built in, loadable or loaded; None when it cannot be told
    or there is no IPVS at all."""
    names: set[str] = set()
    for listing in _LISTINGS:
        try:
            names.update(_MODULE.findall((root / "lib/modules" / release / listing).read_text()))
        except OSError:
            continue
    loaded = root / "sys/module"
    if loaded.is_dir():
        names.update(entry.name for entry in loaded.glob("ip_vs*"))
    return names if "ip_vs" in names else None


def kernel_version(release: str) -> tuple[int, int]:
    found = re.match(r"(\d+)\.(\d+)", release)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def audit(config: Config, release: str | None = None, root: Path = Path("/")) -> list[Diagnostic]:
    """Warnings for what this kernel's IPVS cannot do; [] when it has no IPVS or cannot be read."""
    release = release or os.uname().release
    modules = ipvs_modules(release, root)
    if modules is None:
        return []
    version = kernel_version(release)
    found: list[Diagnostic] = []
    for vs in config.virtual_servers:
        wanted = {f"ip_vs_{vs.lvs_sched}": ("lvs_sched", f"scheduler '{vs.lvs_sched}'")}
        if vs.persistence_engine:
            wanted[f"ip_vs_pe_{vs.persistence_engine}"] = (
                "persistence_engine",
                f"persistence engine '{vs.persistence_engine}'",
            )
        for module, (keyword, what) in wanted.items():
            if module not in modules:
                message = f"{what}: this kernel ({release}) has no {module}"
                found.append(Diagnostic("warning", vs.where, keyword, message))
        tunnels = [vs.tunnel, *(rs.tunnel for rs in vs.real_servers)]
        if vs.sorry_server is not None:
            tunnels.append(vs.sorry_server.tunnel)
        for tunnel in dict.fromkeys(t for t in tunnels if t is not None):  # each distinct tunnel once, in order
            problem = _tunnel_problem(tunnel, version)
            if problem is not None:
                found.append(Diagnostic("warning", vs.where, "lvs_method", f"{problem}; this kernel is {release}"))
    return found


def _tunnel_problem(tunnel: Tunnel, version: tuple[int, int]) -> str | None:
    needed = TUNNEL_KERNEL.get(tunnel.type)
    if needed is not None and version < needed:
        return f"{tunnel.type} tunnels need Linux {needed[0]}.{needed[1]}"
    if tunnel.checksum != "nocsum" and version < CHECKSUM_KERNEL:
        return f"tunnel checksum option {tunnel.checksum} needs Linux {CHECKSUM_KERNEL[0]}.{CHECKSUM_KERNEL[1]}"
    return None
