"""The whole daemon under abuse: SIGTERM during a reload, a SIGHUP storm, full and read-only /run,
no kernel IPVS. It keeps its running state (VIP, VRRP state, child processes, checks) and logs what
happened, without a traceback.

One node (VRRPv3 master alone on its segment) runs the full daemon with a TCP-checked virtual
server whose real servers listen on loopback inside the node. Each daemon has a private tmpfs on
``/run`` (``tests/support/full_daemon.py``), so filling it or remounting it read-only never
touches the host.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.full_daemon import (
    FullDaemon,
    VipPresence,
    checked_virtual_server,
    daemon_config,
    kill_tree,
    listeners,
    on_none,
)
from tests.support.netns import Node, Testbed, wait_for
from tests.support.testbed import vrrp_instance_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(300)]

VIP = "198.51.100.150"
PORTS = range(18080, 18083)


def config(priority: int = 150) -> str:
    instance = vrrp_instance_config("VI_1", 50, priority, [f"{VIP}/24"], version=3, advert_int=0.1)
    return daemon_config("robust", instance, checked_virtual_server(VIP, PORTS))


def vip_watch(node: Node) -> VipPresence:
    """Samples the VIP on the node every 5 ms while used as a context manager."""
    return VipPresence([node], VIP, period=0.005)


def missing(watch: VipPresence) -> int:
    return watch.count(on_none)


@pytest.fixture
def node(testbed: Callable[..., Testbed]) -> Node:
    return testbed(1).node(1)


@pytest.fixture
def servers(node: Node) -> Iterator[subprocess.Popen[bytes]]:
    """The real servers: listeners on PORTS at 127.0.0.1 inside the node."""
    process = listeners(node, PORTS)
    yield process
    kill_tree(process)


@pytest.fixture
def start(node: Node, servers: subprocess.Popen[bytes], tmp_path: Path) -> Iterator[Callable[..., FullDaemon]]:
    """``start(**kw)``: a running daemon, master with all real servers up (``wait=False``: just started)."""
    started: list[FullDaemon] = []

    def make(wait: bool = True, **kw: bool) -> FullDaemon:
        daemon = FullDaemon(node, tmp_path / f"d{len(started)}", config(), **kw)
        started.append(daemon)
        daemon.start(wait)
        if wait:
            settled(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.stop()


def settled(daemon: FullDaemon, timeout: float = 20) -> None:
    """Master, VIP on the node, every real server up."""

    def ok() -> bool:
        return (
            daemon.instance_states() == {"VI_1": "MASTER"}
            and daemon.node.has_address(VIP)
            and daemon.real_servers_up() == {f"127.0.0.1:{p}": True for p in PORTS}
        )

    assert wait_for(ok, timeout, 0.1), (daemon.status_or_none(), daemon.log_text()[-3000:])


def assert_clean_log(daemon: FullDaemon) -> None:
    assert "Traceback" not in daemon.log_text(), daemon.log_text()[-4000:]


def checks_continue(daemon: FullDaemon) -> None:
    before = daemon.check_runs()
    assert wait_for(lambda: daemon.check_runs() >= before + len(PORTS), 5, 0.1), daemon.status()


# ---------------------------------------------------------------------------------- signals


@pytest.mark.parametrize("delay", [0.0, 0.05], ids=["same-moment", "mid-reload"])
def test_sigterm_during_a_reload_stops_cleanly(start: Callable[..., FullDaemon], delay: float) -> None:
    daemon = start()
    children = daemon.child_pids()
    daemon.config_path.write_text(config(priority=160))
    daemon.signal(signal.SIGHUP)
    time.sleep(delay)
    daemon.signal(signal.SIGTERM)
    assert daemon.proc is not None
    assert daemon.proc.wait(30) == 0, daemon.log_text()[-3000:]
    daemon.wait_log("Stopped fastalived")
    assert not daemon.node.has_address(VIP)  # a graceful stop releases the VIP
    for pid in children.values():
        assert pid is not None and not Path(f"/proc/{pid}").exists()
    assert not any(daemon.pid_file(role).exists() for role in ("parent", "vrrp", "check"))
    assert_clean_log(daemon)


def storm(daemon: FullDaemon, signals: int, spacing: float) -> dict[str, int]:
    """Send ``signals`` SIGHUPs ``spacing`` s apart; the reload counters once the daemon is quiet again."""
    started = time.monotonic()
    for _ in range(signals):
        daemon.signal(signal.SIGHUP)
        time.sleep(spacing)

    def quiet() -> bool:
        reloads = daemon.status()["parent"]["reloads"]
        time.sleep(0.5)
        return bool(daemon.status()["parent"]["reloads"] == reloads)

    assert wait_for(quiet, 60, 0.1)
    reloads: dict[str, int] = daemon.status()["parent"]["reloads"]
    print(f"{signals} SIGHUPs {spacing * 1000:.0f} ms apart: {reloads}, quiet after {time.monotonic() - started:.1f} s")
    return reloads


def test_sighup_storm_keeps_state_and_coalesces(start: Callable[..., FullDaemon]) -> None:
    daemon = start()
    children = daemon.child_pids()
    with vip_watch(daemon.node) as watch:
        paced = storm(daemon, 100, 0.01)  # 100 in a second
        burst = storm(daemon, 100, 0.0)  # 100 at once: they collapse into the reload already queued
    assert paced["failed"] == paced["invalid"] == burst["failed"] == burst["invalid"] == 0
    assert 1 <= paced["ok"] <= 100
    assert 1 <= burst["ok"] - paced["ok"] <= 10
    assert missing(watch) == 0 and len(watch.times) > 100
    assert daemon.child_pids() == children
    assert daemon.instance_states() == {"VI_1": "MASTER"}
    checks_continue(daemon)
    assert_clean_log(daemon)


# ---------------------------------------------------------------------------------- files


def test_dumps_to_a_full_disk_fail_cleanly_and_are_logged(start: Callable[..., FullDaemon]) -> None:
    daemon = start()
    children = daemon.child_pids()
    daemon.in_mounts("dd", "if=/dev/zero", "of=/run/fill", "bs=64k")  # stops at ENOSPC
    with vip_watch(daemon.node) as watch:
        for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGRTMIN + 2):
            daemon.signal(signum)
        daemon.wait_log("No space left on device", count=6)  # parent data + 2 children x 3 dumps
        checks_continue(daemon)
    assert missing(watch) == 0
    assert daemon.child_pids() == children
    assert daemon.instance_states() == {"VI_1": "MASTER"}
    files = [p.name for d in ("fastalived", "tmp") for p in daemon.run_path(d).iterdir()]
    # the control socket and the parent's config snapshot for its children live there
    leftovers = [name for name in files if name != "fastalived.ctl" and not name.endswith(".snapshot")]
    assert leftovers == [], leftovers  # no half-written temporary files
    daemon.in_mounts("rm", "/run/fill")
    daemon.signal(signal.SIGUSR1)
    assert wait_for(lambda: daemon.run_path("fastalived/fastalived_check.data").exists(), 10)
    assert daemon.run_path("fastalived/fastalived_parent.data").exists()
    assert_clean_log(daemon)


def test_run_turning_read_only_keeps_the_daemon_running(start: Callable[..., FullDaemon]) -> None:
    daemon = start(pid_files=False)  # keepalived's default pid files: in the private /run
    assert daemon.run_path("fastalived_checkers.pid").exists()
    # A remount would be refused while the pid file lock is open for writing: cover /run instead.
    assert daemon.in_mounts("mount", "-t", "tmpfs", "-o", "ro,size=64k", "fastalived-ro", "/run").returncode == 0
    with vip_watch(daemon.node) as watch:
        old_check = daemon.child_pids()["check"]
        assert old_check is not None
        subprocess.run(["kill", "-9", str(old_check)], check=True)
        assert wait_for(lambda: daemon.child_pids().get("check") not in (None, old_check), 15), daemon.log_text()
        daemon.wait_log("cannot write pid file")
        settled(daemon)
        daemon.signal(signal.SIGUSR1)
        daemon.wait_log("Cannot write the data dump", count=3)  # parent and both children, none died
        daemon.signal(signal.SIGHUP)
        daemon.wait_log("Reload complete")
        checks_continue(daemon)
    assert missing(watch) == 0
    assert daemon.stop() == 0
    assert_clean_log(daemon)


def test_read_only_run_at_start_is_refused_with_one_clear_line(start: Callable[..., FullDaemon]) -> None:
    daemon = start(wait=False, pid_files=False, read_only_run=True)
    assert daemon.proc is not None
    assert daemon.proc.wait(30) == 1, daemon.log_text()
    assert "cannot write pid file /run/fastalived.pid: Read-only file system" in daemon.log_text()
    assert not daemon.node.has_address(VIP)
    assert_clean_log(daemon)


# ---------------------------------------------------------------------------------- kernel


@pytest.mark.skipif(Path("/proc/net/ip_vs").exists(), reason="this kernel has IPVS")
def test_without_ip_vs_checks_keep_running_and_say_so(
    start: Callable[..., FullDaemon], servers: subprocess.Popen[bytes]
) -> None:
    daemon = start()
    assert daemon.status()["roles"]["check"]["ipvs"] == "unavailable"
    assert "IPVS is not available in this kernel" in daemon.log_text()
    checks_continue(daemon)
    kill_tree(servers)  # the real servers go away: the checks see it although nothing can be programmed
    assert wait_for(lambda: not any(daemon.real_servers_up().values()), 15, 0.1), daemon.status()
    assert daemon.instance_states() == {"VI_1": "MASTER"}
    assert_clean_log(daemon)
