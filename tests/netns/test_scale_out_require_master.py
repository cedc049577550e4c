"""``require_master`` end to end: the whole daemon (VRRP and checker children) keeps the prefix in
the announce table only while its instance is MASTER and its service healthy; the instance going
to FAULT (link down) or the VRRP child dying withdraws it, and it comes back with mastership."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.testbed import (
    Node,
    Testbed,
    fastalived_executable,
    global_defs_config,
    stop_process_group,
    unavailable_reason,
    vrrp_instance_config,
    wait_for,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

PREFIX = "198.51.100.80"
CHECKED_PORT = 8080
CONFIG = (
    global_defs_config("rm", "    fastalived_announce_table 201\n")
    + vrrp_instance_config("VI_1", 51, 100, ["198.51.100.100/24"], version=3, advert_int=0.1)
    + f"""virtual_server {PREFIX} 80 {{
    protocol TCP
    delay_loop 0.2
    real_server 127.0.0.1 {CHECKED_PORT} {{
        TCP_CHECK {{
            connect_timeout 0.5
        }}
    }}
    fastalived_announce {{
        require_master VI_1
        drain 0
    }}
}}
"""
)


def _announced(node: Node) -> bool:
    out = subprocess.run(["ip", "-n", node.netns, "route", "show", "table", "201"], capture_output=True, text=True)
    return PREFIX in out.stdout


@pytest.fixture
def node() -> Iterator[Node]:
    if reason := unavailable_reason():
        pytest.skip(reason)
    with Testbed(1, prefix="fsr") as testbed:
        yield testbed.node(1)


def test_announced_only_while_master(node: Node) -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="fastalived-rm-"))
    (run_dir / "keepalived.conf").write_text(CONFIG)
    server = node.run(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(CHECKED_PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=run_dir,
    )
    argv = [fastalived_executable(), "-n", "-l", "-D", "-f", str(run_dir / "keepalived.conf")]
    for flag, name in (("-p", "main"), ("-r", "vrrp"), ("-c", "check")):
        argv += [flag, str(run_dir / f"{name}.pid")]
    with (run_dir / "daemon.log").open("ab") as log:
        daemon = node.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_for(lambda: _announced(node), 20), (run_dir / "daemon.log").read_text()
        node.set_link(False)  # FAULT
        assert wait_for(lambda: not _announced(node), 5)
        node.set_link(True)
        assert wait_for(lambda: _announced(node), 10)
        os.kill(int((run_dir / "vrrp.pid").read_text()), signal.SIGKILL)
        assert wait_for(lambda: not _announced(node), 5)
        assert wait_for(lambda: _announced(node), 20)  # the respawned VRRP child is MASTER again
        log = (run_dir / "daemon.log").read_text()
        assert "announce: withdrawing 198.51.100.80/32 (TCP:198.51.100.80:80: VI_1 not MASTER)" in log
        assert "announce: withdrawing 198.51.100.80/32 (TCP:198.51.100.80:80: VRRP not running)" in log
    finally:
        stop_process_group(daemon, 10)
        server.kill()
        server.wait(5)
        shutil.rmtree(run_dir, ignore_errors=True)
