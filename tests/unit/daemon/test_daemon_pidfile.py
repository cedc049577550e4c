"""Pid files: the parent's is a lock held for its life; child files are removed only by their owner."""

import subprocess
import sys

import pytest

from fastalived.daemon import pidfile


def test_write_and_remove_only_our_own(tmp_path) -> None:
    path = tmp_path / "x.pid"
    pidfile.write(path, 4242)
    assert path.read_text() == "4242\n"
    pidfile.remove(path, 1)  # someone else's pid now: leave it
    assert path.exists()
    pidfile.remove(path, 4242)
    assert not path.exists()


def test_a_stale_file_does_not_block_but_a_live_holder_does(tmp_path) -> None:
    path = tmp_path / "parent.pid"
    path.write_text("999999\n")  # left behind by a SIGKILLed daemon
    holder_code = (
        "import sys, time\n"
        "from fastalived.daemon.pidfile import PidFileLock\n"
        "lock = PidFileLock(sys.argv[1]); lock.acquire(); print(flush=True); time.sleep(30)\n"
    )
    with subprocess.Popen([sys.executable, "-c", holder_code, str(path)], stdout=subprocess.PIPE) as holder:
        try:
            holder.stdout.readline()
            assert path.read_text() == f"{holder.pid}\n"
            with pytest.raises(pidfile.AlreadyRunning) as info:
                pidfile.PidFileLock(path).acquire()
            assert info.value.pid == holder.pid
        finally:
            holder.kill()
    lock = pidfile.PidFileLock(path)
    lock.acquire()  # the holder died, its lock with it
    lock.release()
    assert not path.exists()
