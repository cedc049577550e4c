"""Pid files: a live fastalived blocks a second start; stale or foreign pids do not."""

import os
import subprocess
import sys

from fastalived.daemon import pidfile


def test_write_and_remove_only_our_own(tmp_path) -> None:
    path = tmp_path / "x.pid"
    pidfile.write(path, 4242)
    assert path.read_text() == "4242\n"
    pidfile.remove(path, 1)  # someone else's pid now: leave it
    assert path.exists()
    pidfile.remove(path, 4242)
    assert not path.exists()


def test_stale_and_foreign_pids_are_not_running(tmp_path) -> None:
    path = tmp_path / "x.pid"
    assert pidfile.running_pid(path) is None  # missing
    path.write_text("garbage")
    assert pidfile.running_pid(path) is None
    path.write_text(f"{os.getpid()}\n")
    assert pidfile.running_pid(path) is None  # ourselves
    with subprocess.Popen(["sleep", "30"]) as other:
        try:
            path.write_text(f"{other.pid}\n")
            assert pidfile.running_pid(path) is None  # alive but not fastalived
        finally:
            other.kill()


def test_a_live_fastalived_process_is_detected(tmp_path) -> None:
    path = tmp_path / "x.pid"
    code = "import sys, time; print(flush=True); time.sleep(30)"
    with subprocess.Popen([sys.executable, "-c", code, "fastalived"], stdout=subprocess.PIPE) as other:
        try:
            other.stdout.readline()  # exec done: /proc/PID/cmdline is the new one
            path.write_text(f"{other.pid}\n")
            assert pidfile.running_pid(path) == other.pid
        finally:
            other.kill()
