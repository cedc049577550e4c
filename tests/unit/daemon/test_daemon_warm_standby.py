"""A standby child's head start (``fastalived.daemon.standby``) and its own take-over.

While it waits, a standby loads the config and prepares a ``Preparable`` role; a config file
changed by the time it is promoted is loaded afresh. Armed by the parent with the active VRRP
child's pid, it watches that process itself and takes over after a crash or a kill even when the
parent cannot run (stopped with SIGSTOP here); a clean exit is left to the parent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import FakeDaemon, vrrp_config, wait_until

from fastalived.config.model import Config
from fastalived.daemon.child import EXIT_FATAL, EXIT_OK, _load
from fastalived.daemon.standby import PredecessorWatch, Preparable, crashed, warm_up, zombie_status
from fastalived.options import RunOptions

pytestmark = pytest.mark.timeout(120)


class PreparedRole:
    """Just enough of a role to see what the warm-up does with it."""

    name = "vrrp"

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.prepared = 0

    async def prepare(self) -> None:
        self.prepared += 1

    async def start(self, config: Config) -> None: ...


def test_the_warm_up_loads_the_config_and_prepares_the_role(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(vrrp_config(("VI_1", 100)))
    options = RunOptions(config_file=str(conf))
    warm = asyncio.run(warm_up(options, _load, PreparedRole))
    assert warm is not None and [i.name for i in warm.config.vrrp_instances] == ["VI_1"]
    role = warm.role
    assert isinstance(role, PreparedRole) and isinstance(role, Preparable) and role.prepared == 1
    promoted = dataclasses.replace(options, adopt_masters=("VI_1",), adopt_since=1.0)
    assert warm.config_for(promoted) is warm.config  # same file, unchanged: no second load
    assert warm.role_for(promoted) is role and role.options == promoted  # runs with what it was promoted with
    assert warm.config_for(dataclasses.replace(promoted, config_id="other")) is None
    conf.write_text(vrrp_config(("VI_1", 100), ("VI_2", 100)))
    assert warm.config_for(promoted) is None  # edited since: loaded afresh


def test_a_config_that_does_not_load_leaves_the_promotion_a_cold_start(tmp_path: Path) -> None:
    options = RunOptions(config_file=str(tmp_path / "missing.conf"))
    assert asyncio.run(warm_up(options, _load, PreparedRole)) is None


def test_a_role_that_is_not_preparable_is_built_at_promotion(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(vrrp_config(("VI_1", 100)))
    warm = asyncio.run(warm_up(RunOptions(config_file=str(conf)), _load, lambda _options: object()))  # type: ignore[arg-type,return-value]
    assert warm is not None and warm.role is None


def exited(argv: list[str]) -> subprocess.Popen[bytes]:
    """A child of ours that has exited and is a zombie (not reaped) now."""
    process = subprocess.Popen(argv)
    wait_until(lambda: zombie_status(process.pid) is not None)
    return process


def test_the_exit_status_is_read_from_the_zombie() -> None:
    killed = subprocess.Popen(["sleep", "100"])
    killed.kill()
    wait_until(lambda: zombie_status(killed.pid) is not None)
    assert crashed(zombie_status(killed.pid), EXIT_OK, EXIT_FATAL)
    killed.wait()
    assert zombie_status(killed.pid) is None  # reaped: nothing to read any more
    for code, abnormal in ((0, False), (EXIT_FATAL, False), (1, True)):
        process = exited(["sh", "-c", f"exit {code}"])
        assert crashed(zombie_status(process.pid), EXIT_OK, EXIT_FATAL) is abnormal
        process.wait()
    assert zombie_status(os.getpid()) is None  # alive
    assert not crashed(None, EXIT_OK, EXIT_FATAL)


def test_the_watch_reports_the_death_of_the_process() -> None:
    async def scenario() -> int | None:
        died: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        watch = PredecessorWatch(died.set_result)
        process = subprocess.Popen(["sleep", "100"])
        try:
            watch.watch(process.pid)
            await asyncio.sleep(0.05)
            assert not died.done()
            process.send_signal(signal.SIGKILL)
            return await asyncio.wait_for(died, 10)
        finally:
            watch.close()
            process.wait()

    status = asyncio.run(scenario())
    assert status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


# ---------------------------------------------------------------- with the real supervisor


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeDaemon]:
    made = FakeDaemon(tmp_path, vrrp_config(("VI_1", 100), ("VI_2", 100)))
    yield made
    made.close()


def armed_standby(daemon: FakeDaemon) -> int:
    """The standby's pid, once the parent told it which child to watch (it holds a pidfd then)."""

    def standby() -> int | None:
        found = re.findall(r"VRRP standby child process, pid=(\d+)", daemon.log_text())
        return int(found[0]) if found else None

    pid = wait_until(standby)

    def watching() -> bool:
        try:
            return any(
                os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[pidfd]" for fd in os.listdir(f"/proc/{pid}/fd")
            )
        except OSError:
            return False

    wait_until(watching)
    return pid


def test_the_standby_takes_over_a_killed_child_while_the_parent_cannot_run(daemon: FakeDaemon) -> None:
    daemon.start()
    daemon.wait_started("vrrp")
    standby = armed_standby(daemon)
    first = daemon.child_pid("vrrp")
    assert first is not None
    daemon.signal(signal.SIGSTOP)
    try:
        os.kill(first, signal.SIGKILL)
        starts = wait_until(lambda: daemon.events("start", "vrrp")[1:])
    finally:
        daemon.signal(signal.SIGCONT)
    assert starts[0]["pid"] == standby and starts[0]["adopt"] == ["VI_1", "VI_2"]  # what the parent would hand over
    wait_until(lambda: f"Starting VRRP child process, pid={standby} (standby)" in daemon.log_text())
    wait_until(lambda: daemon.child_pid("vrrp") == standby)
    assert len(daemon.events("start", "vrrp")) == 2  # the parent's promotion found it started


def test_a_clean_exit_is_left_to_the_parent(daemon: FakeDaemon) -> None:
    daemon.start()
    daemon.wait_started("vrrp")
    armed_standby(daemon)
    first = daemon.child_pid("vrrp")
    assert first is not None
    daemon.signal(signal.SIGSTOP)
    try:
        os.kill(first, signal.SIGTERM)
        wait_until(lambda: zombie_status(first) is not None)
        time.sleep(0.3)
        assert len(daemon.events("start", "vrrp")) == 1  # no take-over: the masters were released
    finally:
        daemon.signal(signal.SIGCONT)
    starts = wait_until(lambda: daemon.events("start", "vrrp")[1:])
    assert starts[0]["adopt"] == []
