"""Start the real supervisor (with the fake roles) as a separate process and observe it.

Everything the daemon writes (config, pid files, dumps, journal, log) lives in one temporary
directory per test, so tests never touch /run and can run side by side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fake_role import read_journal

from fastalived.options import RunOptions
from tests.support.host import process_alive
from tests.support.testbed import wait_for

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]  # fake_daemon.py imports this module, and this module imports tests.support

ROLE_CLASSES = {"vrrp": "fake_role:FakeVrrpRole", "check": "fake_role:FakeCheckRole"}


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """``predicate``'s first truthy value; AssertionError if none comes within ``timeout``."""
    value = wait_for(predicate, timeout, interval)
    if not value:
        raise AssertionError(f"condition not met within {timeout} s")
    return value


def vrrp_config(*instances: tuple[str, int], status_port: int | None = None, servers: int = 0) -> str:
    """A small keepalived.conf: ``instances`` as (name, priority), plus ``servers`` virtual servers."""
    parts = ["global_defs {\n  router_id fake\n"]
    if status_port is not None:
        parts.append(f"  fastalived_status_listen 127.0.0.1 {status_port}\n")
    parts.append("}\n")
    for number, (name, priority) in enumerate(instances, start=1):
        parts.append(
            f"vrrp_instance {name} {{\n  interface lo\n  virtual_router_id {number}\n  priority {priority}\n"
            f"  virtual_ipaddress {{\n    198.51.100.{number}/32\n  }}\n}}\n"
        )
    for number in range(1, servers + 1):
        parts.append(
            f"virtual_server 198.51.100.{100 + number} 80 {{\n  protocol TCP\n"
            f"  real_server 203.0.113.{number} 80 {{\n    TCP_CHECK {{\n      connect_timeout 1\n    }}\n  }}\n}}\n"
        )
    return "".join(parts)


class FakeDaemon:
    """One supervisor process in the foreground (-n -l) with fake roles, in ``workdir``."""

    def __init__(self, workdir: Path, config: str, **option_overrides: Any) -> None:
        self.workdir = workdir
        self.config_path = workdir / "keepalived.conf"
        self.config_path.write_text(config)
        defaults = {
            "config_file": str(self.config_path),
            "dont_fork": True,
            "log_console": True,
            "pid_file": str(workdir / "parent.pid"),
            "vrrp_pid_file": str(workdir / "vrrp.pid"),
            "checkers_pid_file": str(workdir / "check.pid"),
            "run_dir": str(workdir / "run"),
        }
        self.options = RunOptions(**{**defaults, **option_overrides})
        self.log_path = workdir / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, extra_env: dict[str, str] | None = None) -> FakeDaemon:
        from fastalived.daemon.child import encode_options

        env = {**os.environ, **(extra_env or {})}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(ROOT), env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / "fake_daemon.py"), encode_options(self.options)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def child_pid(self, role: str) -> int | None:
        files = {"parent": self.options.pid_file, "vrrp": self.options.vrrp_pid_file}
        path = Path(files.get(role, self.options.checkers_pid_file))
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            return None

    def journal(self) -> list[dict]:
        return read_journal(self.options.run_dir)

    def events(self, event: str, role: str | None = None) -> list[dict]:
        return [e for e in self.journal() if e["event"] == event and (role is None or e["role"] == role)]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_started(self, *roles: str, timeout: float = 20.0) -> None:
        for role in roles:
            try:
                wait_until(lambda role=role: self.events("start", role) and self.child_pid(role), timeout)
            except AssertionError:
                raise AssertionError(f"{role} child did not start; daemon log:\n{self.log_text()[-3000:]}") from None

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def rewrite_config(self, config: str) -> None:
        self.config_path.write_text(config)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for role in ("parent", "vrrp", "check"):  # a detached (no -n) parent is only in its pid file
            pid = self.child_pid(role)
            if pid is not None and process_alive(pid):
                os.kill(pid, signal.SIGKILL)
