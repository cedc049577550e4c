"""FRR routing daemons (zebra, bgpd, bfdd) inside testbed namespaces, fully isolated.

Each namespace gets its own directory (config, pid files, vty sockets, zserv socket, logs) under
one temp dir, so nothing touches ``/etc/frr`` or ``/var/run/frr`` and concurrent runs never meet.
Daemons run in the foreground as our own children and are stopped by pid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FRR_DIR = Path("/usr/lib/frr")


def frr_unavailable() -> str | None:
    """Why FRR cannot run here (``apt-get install frr``), or None."""
    missing = [d for d in ("zebra", "bgpd", "bfdd") if not (FRR_DIR / d).exists()]
    if missing:
        return f"FRR daemons missing: {', '.join(missing)} (apt-get install frr)"
    if shutil.which("vtysh") is None:
        return "vtysh missing (apt-get install frr)"
    return None


@dataclass
class FrrNode:
    """The FRR daemons of one namespace."""

    netns: str
    root: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.root / self.netns

    def start(self, daemon: str, config: str) -> None:
        """Start ``daemon`` (zebra first: the others connect to its zserv socket)."""
        directory = self.directory
        directory.mkdir(exist_ok=True)
        shutil.chown(directory, "frr", "frr")
        conf = directory / f"{daemon}.conf"
        conf.write_text(config)
        shutil.chown(conf, "frr", "frr")
        argv = [
            "ip",
            "netns",
            "exec",
            self.netns,
            str(FRR_DIR / daemon),
            "-f",
            str(conf),
            "-i",
            str(directory / f"{daemon}.pid"),
            "-P",
            "0",
            "--vty_socket",
            str(directory),
            "-z",
            str(directory / "zserv.api"),
            "--log",
            f"file:{directory / daemon}.log",
        ]
        self.procs[daemon] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def vtysh(self, *commands: str) -> str:
        argv = ["ip", "netns", "exec", self.netns, "vtysh", "--vty_socket", str(self.directory)]
        for command in commands:
            argv += ["-c", command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout

    def kill(self) -> None:
        """A crash: SIGKILL every daemon."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            proc.wait(5)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def frr_root() -> Path:
    """A temp dir the ``frr`` user can enter (its daemons drop to that user)."""
    root = Path(tempfile.mkdtemp(prefix="fastalived-frr-"))
    os.chmod(root, 0o755)
    return root


def zebra_config(hostname: str, import_table: int | None = None) -> str:
    lines = [f"hostname {hostname}"]
    if import_table is not None:
        lines.append(f"ip import-table {import_table}")
    return "\n".join(lines) + "\n"


def bgpd_config(
    asn: int,
    router_id: str,
    neighbors: dict[str, int],
    *,
    multipath: int = 0,
    redistribute_table: int | None = None,
    bfd: bool = False,
) -> str:
    """eBGP with fast timers (keepalive 1, hold 3, connect retry 1) and no policy requirement."""
    lines = [
        f"router bgp {asn}",
        f" bgp router-id {router_id}",
        " no bgp ebgp-requires-policy",
        " no bgp network import-check",
        " bgp bestpath as-path multipath-relax",
    ]
    for address, remote_as in neighbors.items():
        lines += [
            f" neighbor {address} remote-as {remote_as}",
            f" neighbor {address} timers 1 3",
            f" neighbor {address} timers connect 1",
            f" neighbor {address} advertisement-interval 0",
        ]
        if bfd:
            lines.append(f" neighbor {address} bfd")
    lines.append(" address-family ipv4 unicast")
    if multipath:
        lines.append(f"  maximum-paths {multipath}")
    if redistribute_table is not None:
        lines.append(f"  redistribute table {redistribute_table}")
    lines += [" exit-address-family", ""]
    return "\n".join(lines)
