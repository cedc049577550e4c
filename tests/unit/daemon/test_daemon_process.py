"""The real supervisor and child runner in separate processes, with network-free fake roles.

These prove the process machinery (spawn, reload orchestration, respawn, stall detection, graceful
stop, dumps, sd_notify, leaks) independently of VRRP and IPVS; tests/netns/test_daemon_*.py repeat
the important ones with the real roles inside namespaces.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import FakeDaemon, vrrp_config, wait_until
from prometheus_client.parser import text_string_to_metric_families

from fastalived.daemon.dumps import SIGJSON, SIGSTATS_CLEAR
from tests.support.host import fd_count, free_port, process_alive, rss_kib

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator:
    made: list[FakeDaemon] = []

    def make(config: str, **options) -> FakeDaemon:
        workdir = tmp_path / f"d{len(made)}"
        workdir.mkdir()
        made.append(FakeDaemon(workdir, config, **options))
        return made[-1]

    yield make
    for daemon in made:
        daemon.close()


def _metrics(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_reload_applies_the_diff_and_sigterm_stops_everything(daemons, tmp_path: Path) -> None:
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(20)
    daemon = daemons(vrrp_config(("VI_1", 100), ("VI_2", 100), servers=1))
    daemon.start({"NOTIFY_SOCKET": notify_path})
    daemon.wait_started("vrrp", "check")
    assert notify.recv(4096).startswith(b"READY=1")
    assert Path(daemon.options.pid_file).read_text().strip() == str(daemon.pid)
    vrrp_pid, check_pid = daemon.child_pid("vrrp"), daemon.child_pid("check")

    daemon.rewrite_config(vrrp_config(("VI_1", 100), ("VI_2", 150), ("VI_3", 100), servers=2))
    daemon.signal(signal.SIGHUP)
    reloading = notify.recv(4096).decode().split("\n")
    assert reloading[0] == "RELOADING=1" and reloading[1].startswith("MONOTONIC_USEC=")
    assert notify.recv(4096) == b"READY=1"
    vrrp_reload = daemon.events("reload", "vrrp")[0]
    assert (vrrp_reload["added"], vrrp_reload["changed"], vrrp_reload["removed"]) == (["VI_3"], ["VI_2"], [])
    assert daemon.events("reload", "check")[0]["added"] == ["TCP:198.51.100.102:80"]
    assert (daemon.child_pid("vrrp"), daemon.child_pid("check")) == (vrrp_pid, check_pid)
    assert "Reload complete" in daemon.log_text()

    assert daemon.stop() == 0
    assert notify.recv(4096) == b"STOPPING=1"
    assert {e["role"] for e in daemon.events("stop")} == {"vrrp", "check"}
    assert not process_alive(vrrp_pid) and not process_alive(check_pid)
    for path in (daemon.options.pid_file, daemon.options.vrrp_pid_file, daemon.options.checkers_pid_file):
        assert not Path(path).exists()
    log = daemon.log_text()
    assert f"Starting VRRP child process, pid={vrrp_pid}" in log and "Stopping" in log and "Stopped" in log


def test_systemd_watchdog_is_pinged_and_not_passed_to_children(daemons, tmp_path: Path) -> None:
    notify_path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(notify_path)
        notify.settimeout(20)
        daemon = daemons(vrrp_config(("VI_1", 100)))
        daemon.start({"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"})
        daemon.wait_started("vrrp")
        messages = [notify.recv(4096) for _ in range(4)]
    assert messages.count(b"WATCHDOG=1") >= 3  # every 0.2 s
    environ = Path(f"/proc/{daemon.child_pid('vrrp')}/environ").read_bytes().split(b"\0")
    assert not any(v.startswith((b"NOTIFY_SOCKET=", b"WATCHDOG_USEC=")) for v in environ)


def test_invalid_config_on_sighup_keeps_the_running_one(daemons) -> None:
    port = free_port()
    daemon = daemons(vrrp_config(("VI_1", 100), status_port=port)).start()
    daemon.wait_started("vrrp")
    vrrp_pid = daemon.child_pid("vrrp")
    good = daemon.config_path.read_text()
    daemon.rewrite_config(good.replace("priority 100", "priority 300").replace("virtual_router_id 1", "frobnicate 1"))
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: "Reload aborted" in daemon.log_text())
    log = daemon.log_text()
    assert f"{daemon.config_path}:" in log and "error" in log  # every diagnostic, file:line:col
    assert daemon.events("reload") == []
    assert daemon.child_pid("vrrp") == vrrp_pid
    metrics = _metrics(port)
    assert metrics[("fastalived_reloads_total", (("result", "invalid"),))] == 1
    assert metrics[("fastalived_fake_items", (("role", "vrrp"),))] == 1
    daemon.rewrite_config(good.replace("priority 100", "priority 120"))
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: daemon.events("reload", "vrrp"))
    assert daemon.events("reload", "vrrp")[0]["changed"] == ["VI_1"]


def test_killed_child_is_respawned_and_counted(daemons) -> None:
    port = free_port()
    daemon = daemons(vrrp_config(("VI_1", 100), status_port=port, servers=1)).start()
    daemon.wait_started("vrrp", "check")
    vrrp_pid, check_pid = daemon.child_pid("vrrp"), daemon.child_pid("check")
    killed_at = time.monotonic()
    os.kill(check_pid, signal.SIGKILL)
    wait_until(lambda: daemon.child_pid("check") not in (None, check_pid), interval=0.005)
    assert time.monotonic() - killed_at < 1.0  # respawned (new process started) within 1 s of the death
    wait_until(lambda: len(daemon.events("start", "check")) == 2)
    new_pid = daemon.child_pid("check")
    assert new_pid != check_pid and process_alive(new_pid)
    assert daemon.child_pid("vrrp") == vrrp_pid and len(daemon.events("start", "vrrp")) == 1
    assert f"Healthcheck child process({check_pid}) died: Respawning" in daemon.log_text()
    metrics = _metrics(port)
    assert metrics[("fastalived_process_restarts_total", (("role", "check"),))] == 1
    assert metrics[("fastalived_process_restarts_total", (("role", "vrrp"),))] == 0


def test_dont_respawn_takes_the_daemon_down(daemons) -> None:
    daemon = daemons(vrrp_config(("VI_1", 100), servers=1), dont_respawn=True).start()
    daemon.wait_started("vrrp", "check")
    os.kill(daemon.child_pid("vrrp"), signal.SIGKILL)
    assert daemon.process.wait(30) == 1
    assert [e["role"] for e in daemon.events("stop")] == ["check"]  # the survivor stopped gracefully


def test_stalled_child_is_killed_and_respawned(daemons) -> None:
    daemon = daemons(vrrp_config(("VI_1", 100), servers=1)).start()
    daemon.wait_started("vrrp", "check")
    check_pid = daemon.child_pid("check")
    (Path(daemon.options.run_dir) / "stall-check").touch()
    wait_until(lambda: len(daemon.events("start", "check")) == 2, timeout=20)
    assert not process_alive(check_pid)
    assert f"Healthcheck child process({check_pid}) stalled" in daemon.log_text()
    assert len(daemon.events("start", "vrrp")) == 1


def test_children_stop_gracefully_when_the_parent_is_killed(daemons) -> None:
    daemon = daemons(vrrp_config(("VI_1", 100), servers=1)).start()
    daemon.wait_started("vrrp", "check")
    pids = [daemon.child_pid("vrrp"), daemon.child_pid("check")]
    daemon.process.kill()
    daemon.process.wait()
    wait_until(lambda: {e["role"] for e in daemon.events("stop")} == {"vrrp", "check"})
    wait_until(lambda: not any(process_alive(pid) for pid in pids))


def test_dump_signals_write_0600_files(daemons) -> None:
    daemon = daemons(vrrp_config(("VI_1", 100), servers=1)).start()
    daemon.wait_started("vrrp", "check")
    run_dir = Path(daemon.options.run_dir)
    for signum in (signal.SIGUSR1, signal.SIGUSR2, SIGJSON):
        daemon.signal(signum)
    expected = [
        "fastalived_parent.data",
        "fastalived.data",
        "fastalived_check.data",
        "fastalived.stats",
        "fastalived_check.stats",
        "fastalived.json",
        "fastalived_check.json",
    ]
    wait_until(lambda: all((run_dir / name).exists() for name in expected))
    for name in expected:
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o600, name
    assert "VI_1" in (run_dir / "fastalived.json").read_text()
    assert "fastalived_fake_items" in (run_dir / "fastalived.stats").read_text()


def test_stats_clear_signal_writes_stats_instead_of_killing(daemons) -> None:
    daemon = daemons(vrrp_config(("VI_1", 100))).start()
    daemon.wait_started("vrrp")
    daemon.signal(SIGSTATS_CLEAR)
    wait_until(lambda: (Path(daemon.options.run_dir) / "fastalived.stats").exists())
    assert daemon.process.poll() is None and process_alive(daemon.child_pid("vrrp"))


def test_without_dont_fork_the_daemon_detaches(daemons) -> None:
    daemon = daemons(vrrp_config(("VI_1", 100)), dont_fork=False).start()
    assert daemon.process.wait(10) == 0  # the launching process returns at once, like keepalived
    daemon.wait_started("vrrp")
    parent = daemon.child_pid("parent")
    assert parent is not None and parent != daemon.pid and process_alive(parent)
    assert os.getsid(parent) != os.getsid(0)  # a new session: no controlling terminal of ours
    os.kill(parent, signal.SIGTERM)
    wait_until(lambda: daemon.events("stop", "vrrp") and not process_alive(parent))


def test_a_broken_config_is_reported_before_detaching(daemons) -> None:
    daemon = daemons("vrrp_instance VI_1 {\n  priority 300\n}\n", dont_fork=False).start()
    assert daemon.process.wait(10) == 1
    assert "keepalived.conf:" in daemon.log_text() and daemon.child_pid("parent") is None


def test_roles_follow_the_config_across_reloads(daemons) -> None:
    daemon = daemons(vrrp_config(("VI_1", 100))).start()
    daemon.wait_started("vrrp")
    time.sleep(0.5)
    assert daemon.child_pid("check") is None  # nothing to check: no checker child, like keepalived
    daemon.rewrite_config(vrrp_config(("VI_1", 100), servers=1))
    daemon.signal(signal.SIGHUP)
    daemon.wait_started("check")
    check_pid = daemon.child_pid("check")
    daemon.rewrite_config(vrrp_config(("VI_1", 100)))
    daemon.signal(signal.SIGHUP)
    wait_until(lambda: daemon.events("stop", "check"))
    wait_until(lambda: not process_alive(check_pid) and daemon.child_pid("check") is None)
    assert len(daemon.events("start", "vrrp")) == 1


def test_vrrp_only_flag_runs_only_the_vrrp_child(daemons) -> None:
    daemon = daemons(vrrp_config(("VI_1", 100), servers=1), vrrp_only=True).start()
    daemon.wait_started("vrrp")
    time.sleep(0.5)
    assert daemon.child_pid("check") is None and daemon.events("start", "check") == []


def test_second_daemon_with_the_same_pid_file_is_refused(daemons) -> None:
    first = daemons(vrrp_config(("VI_1", 100))).start()
    first.wait_started("vrrp")
    second = daemons(vrrp_config(("VI_1", 100)), pid_file=first.options.pid_file).start()
    assert second.process.wait(30) == 1
    assert "already running" in second.log_text()
    assert first.process.poll() is None


def test_invalid_config_at_start_is_refused(daemons) -> None:
    daemon = daemons("vrrp_instance VI_1 {\n  priority 300\n}\n").start()
    assert daemon.process.wait(30) == 1
    assert "keepalived.conf:" in daemon.log_text() and daemon.events("start") == []


@pytest.mark.slow
def test_a_hundred_reloads_leak_no_fds_and_bounded_memory(daemons) -> None:
    port = free_port()
    configs = [
        vrrp_config(("VI_1", 100), status_port=port, servers=1),
        vrrp_config(("VI_1", 101), status_port=port, servers=2),
    ]
    daemon = daemons(configs[0]).start()
    daemon.wait_started("vrrp", "check")
    pids = [daemon.pid, daemon.child_pid("vrrp"), daemon.child_pid("check")]

    def reload(n: int) -> None:
        daemon.rewrite_config(configs[n % 2])
        daemon.signal(signal.SIGHUP)
        parent_done = f"fastalived[{daemon.pid}]: Reload complete"
        wait_until(lambda: daemon.log_text().count(parent_done) >= n, interval=0.01)

    for n in range(1, 11):  # warm-up: caches, lazily imported modules
        reload(n)
    for title in ("VRRP", "Healthcheck"):  # each standby's channel is one more fd
        wait_until(lambda title=title: f"{title} standby child process" in daemon.log_text())
    _metrics(port)
    before = {pid: (fd_count(pid), rss_kib(pid)) for pid in pids}
    for n in range(11, 111):
        reload(n)
    _metrics(port)
    after = {pid: (fd_count(pid), rss_kib(pid)) for pid in pids}
    for pid in pids:
        assert after[pid][0] <= before[pid][0], (pid, before[pid], after[pid])
        assert after[pid][1] - before[pid][1] < 4096, (pid, before[pid], after[pid])  # KiB
    assert [daemon.child_pid("vrrp"), daemon.child_pid("check")] == pids[1:]
    print("fd/rss before", before, "after", after)
