"""``fastalived ctl`` through the real supervisor and child runner, with the network-free fake roles.

The overrides live in the parent: each child gets its role's full set after a command, applies it
again after its own reload, and a respawned child gets it before it reports ready.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from daemon_harness import FakeDaemon, vrrp_config, wait_until

from fastalived.cli import main as cli_main
from fastalived.daemon.ctl import request, socket_path

pytestmark = pytest.mark.timeout(120)


def test_overrides_reach_children_survive_reload_and_respawn(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    daemon = FakeDaemon(tmp_path, vrrp_config(("VI_1", 100), ("VI_2", 100), servers=1)).start()
    try:
        daemon.wait_started("vrrp", "check")
        run_dir = daemon.options.run_dir
        path = socket_path(run_dir)
        wait_until(path.exists)
        assert oct(path.stat().st_mode & 0o777) == "0o600"

        assert cli_main(["ctl", "--run-dir", run_dir, "maintenance", "VI_2"]) == 0
        assert capsys.readouterr().out == 'vrrp: {"maintenance": ["VI_2"]}\n'
        assert daemon.events("steer", "vrrp")[-1]["overrides"] == {"maintenance": ["VI_2"]}
        answer = request(path, {"cmd": "drain", "rs": "203.0.113.1:80", "timeout": 600})
        assert answer["ok"] and answer["changed"][0].startswith('check: {"drains": [{"port": 80, "rs": "203.0.113.1"')

        steers = len(daemon.events("steer", "vrrp"))
        daemon.signal(signal.SIGHUP)  # the child applies the set again after its reload
        wait_until(lambda: len(daemon.events("steer", "vrrp")) > steers and daemon.events("reload", "vrrp"))
        status = request(path, {"cmd": "status"})["status"]
        assert [row["instance"] for row in status["overrides"]["maintenance"]] == ["VI_2"]
        assert status["overrides"]["drains"][0]["real_server"] == "203.0.113.1:80"

        vrrp_pid = daemon.child_pid("vrrp")
        os.kill(vrrp_pid, signal.SIGKILL)
        wait_until(lambda: len(daemon.events("start", "vrrp")) == 2, timeout=20)
        respawned = wait_until(lambda: [e for e in daemon.events("steer", "vrrp") if e["pid"] != vrrp_pid])
        assert respawned[0]["overrides"] == {"maintenance": ["VI_2"]}

        assert cli_main(["ctl", "--run-dir", run_dir, "resume", "VI_9"]) == 1
        assert "no vrrp_instance 'VI_9'" in capsys.readouterr().err
        assert cli_main(["ctl", "--run-dir", run_dir, "resume", "VI_2"]) == 0
        assert daemon.events("steer", "vrrp")[-1]["overrides"] == {"maintenance": []}
        assert daemon.stop() == 0
        assert not path.exists()
    finally:
        daemon.close()
