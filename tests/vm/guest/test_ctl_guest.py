"""``fastalived ctl drain`` / ``restore`` against the real IPVS table, inside the vmrun guest.

A drained real server stays in the kernel table at weight 0 (``ipvsadm`` shows it) while its
checks go on; a restore gives its weight back; a drain with a timeout removes it once the timeout
has passed; a reload keeps a drain.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.testbed import fastalived_executable, stop_process_group, wait_for

from .helpers import IN_GUEST, start_checker_daemon
from .test_daemon_guest import OUTCOME_TIMEOUT, START_TIMEOUT, Listeners, checker_config, destinations

pytestmark = [pytest.mark.vm, pytest.mark.skipif(not IN_GUEST, reason="needs the IPVS guest: tests/vm/vmrun")]


def test_drain_sets_weight_zero_restore_brings_it_back_and_a_timeout_removes_it(tmp_path: Path):
    listeners = Listeners()
    servers = {address: (listeners.open(address), "") for address in ("127.0.0.2", "127.0.0.3")}
    conf = tmp_path / "keepalived.conf"
    conf.write_text(checker_config(servers))
    run_dir = tmp_path / "run"
    proc, log_path = start_checker_daemon(conf, tmp_path, "--run-dir", str(run_dir))

    def logs() -> str:
        return log_path.read_text(errors="replace")[-4000:]

    def ctl(*args: str) -> str:
        done = subprocess.run([fastalived_executable(), "ctl", "--run-dir", str(run_dir), *args],
                              capture_output=True, text=True, timeout=START_TIMEOUT)  # fmt: skip
        assert done.returncode == 0, (done.stdout, done.stderr, logs())
        return done.stdout

    try:
        both = {"127.0.0.2": 1, "127.0.0.3": 1}
        assert wait_for(lambda: destinations() == both, START_TIMEOUT, 0.2), (destinations(), logs())

        out = ctl("drain", "127.0.0.3")
        assert "127.0.0.3:8080: drained, weight 1 -> 0" in out, out
        assert wait_for(lambda: destinations() == {**both, "127.0.0.3": 0}, OUTCOME_TIMEOUT, 0.2), logs()

        proc.send_signal(signal.SIGHUP)  # the drain outlives a reload
        assert wait_for(lambda: "Reload complete" in logs(), OUTCOME_TIMEOUT, 0.2), logs()
        assert destinations() == {**both, "127.0.0.3": 0}

        out = ctl("restore", "127.0.0.3:8080")
        assert "127.0.0.3:8080: restored, weight 0 -> 1" in out, out
        assert wait_for(lambda: destinations() == both, OUTCOME_TIMEOUT, 0.2), logs()

        ctl("drain", "127.0.0.2", "--timeout", "3")
        assert wait_for(lambda: destinations() == {**both, "127.0.0.2": 0}, OUTCOME_TIMEOUT, 0.1), logs()
        assert wait_for(lambda: destinations() == {"127.0.0.3": 1}, OUTCOME_TIMEOUT, 0.2), logs()
        ctl("restore", "127.0.0.2")
        assert wait_for(lambda: destinations() == both, OUTCOME_TIMEOUT, 0.2), logs()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(OUTCOME_TIMEOUT) == 0, logs()
    finally:
        stop_process_group(proc)  # after a failure above: nothing of the daemon's group outlives the test
        listeners.close_all()
