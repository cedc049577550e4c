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
CONTRIB = Path(__file__).resolve().parents[2] / "contrib" / "frr"


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

    def start(self, daemon: str) -> None:
        """Start ``daemon`` with an empty config (zebra first: the others connect to its zserv
        socket); :meth:`apply` then loads the real one into all of them."""
        directory = self.directory
        directory.mkdir(exist_ok=True)
        shutil.chown(directory, "frr", "frr")
        conf = directory / f"{daemon}.conf"
        conf.write_text("")
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
        if daemon == "bfdd":
            argv += ["--bfdctl", str(directory / "bfdd.sock")]
        self.procs[daemon] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def apply(self, config: str) -> None:
        """Load an integrated ``frr.conf`` into the running daemons, as ``vtysh -b`` does at boot."""
        (self.directory / "frr.conf").write_text(config)
        argv = [
            "ip",
            "netns",
            "exec",
            self.netns,
            "vtysh",
            "-b",
            "--config_dir",
            str(self.directory),
            "--vty_socket",
            str(self.directory),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"vtysh -b in {self.netns}: {done.stdout}{done.stderr}")

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


def contrib_frr_config(name: str, replace: dict[str, str]) -> str:
    """A shipped ``contrib/frr`` config with this node's own values (hostname, addresses, AS) put in."""
    text = (CONTRIB / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return text
