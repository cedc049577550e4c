"""A command line written for keepalived starts fastalived unchanged (issue: drop-in parity I).

Debian's keepalived unit reads ``DAEMON_ARGS`` from /etc/default/keepalived; the common
``-D -d -S 0 -x`` (detail, dump the config, syslog local0, SNMP) must start the daemon, with the
flags fastalived has no feature for said once in the log. ``-s NAME`` enters an ``ip netns``
namespace the way keepalived's does, and ``-g`` writes keepalived's per-process log files.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fastalived.daemon.dumps import SIGJSON
from tests.support.netns import wait_for
from tests.support.testbed import fastalived_executable, global_defs_config, stop_process_group, vrrp_instance_config

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

VIP = "198.51.100.77"


def test_a_keepalived_unit_file_command_line_starts_fastalived(testbed, tmp_path: Path) -> None:
    bed = testbed(1)
    node = bed.node(1)
    config = tmp_path / "keepalived.conf"
    instance = f"VI_flags_{secrets.token_hex(3)}"  # /tmp/keepalived.* is one path for every daemon
    config.write_text(global_defs_config("lb1") + vrrp_instance_config(instance, 51, 150, [f"{VIP}/24"], version=3,
                                                                       advert_int=0.1))
    log_file = tmp_path / "keepalived.log"
    argv = [fastalived_executable(), "-D", "-d", "-S", "0", "-x", "-n", "-l", "-P", "-s", node.netns,
            "-g", str(log_file), "-f", str(config), "-p", str(tmp_path / "parent.pid"),
            "-r", str(tmp_path / "vrrp.pid"), "--run-dir", str(tmp_path / "run")]  # fmt: skip
    console = tmp_path / "console.log"
    with console.open("wb") as out:
        # Started in the root namespace on purpose: -s must move the daemon into the node.
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_for(lambda: node.has_address(VIP), 10), console.read_text()
        text = console.read_text()
        assert "keepalived option --snmp: no SNMP agent" in text
        assert '"virtual_router_id": 51' in text  # -d: the resolved configuration in the log
        assert wait_for(lambda: "Entering MASTER STATE" in (tmp_path / "keepalived_vrrp.log").read_text(), 5)
        assert "Starting fastalived" in log_file.read_text()

        # keepalived's dump signals, forwarded by the parent, write keepalived's files and layouts.
        started = time.time()
        for signum in (SIGJSON, signal.SIGUSR2, signal.SIGUSR1):
            os.kill(proc.pid, signum)
        json_dump, stats_dump = Path("/tmp/keepalived.json"), Path("/tmp/keepalived.stats")
        data_dump = Path("/tmp/keepalived.data")
        dumps = (json_dump, stats_dump, data_dump)
        assert wait_for(lambda: all(p.exists() and p.stat().st_mtime >= started for p in dumps), 5)
        [entry] = [e for e in json.loads(json_dump.read_text()) if e["data"]["iname"] == instance]
        assert entry["data"]["state"] == 2 and entry["data"]["vrid"] == 51
        assert entry["data"]["vips"] == [f"{VIP}/24 dev eth0 scope global"]  # keepalived's format_ipaddress
        assert entry["stats"]["become_master"] == 1 and entry["stats"]["advert_sent"] > 0
        assert f"VRRP Instance: {instance}\n  Advertisements:\n" in stats_dump.read_text()
        data = data_dump.read_text()  # keepalived's SIGUSR1 layout, as exporters parse it
        assert "------< VRRP Topology >------\n" in data
        block = data.split(f" VRRP Instance = {instance}\n", 1)[1].split(" VRRP Instance = ", 1)[0]
        expected = ("   VRRP Version = 3", "   State = MASTER", "   Virtual Router ID = 51", "   Priority = 150",
                    "   Advert interval = 100 milli-sec", "   Virtual IP (1):", f"     {VIP}/24 dev eth0 scope global")
        for line in expected:
            assert line + "\n" in block, block
    finally:
        stop_process_group(proc)
    assert proc.returncode is not None
    assert not node.has_address(VIP)


def test_flags_for_features_we_lack_parse_and_are_listed(tmp_path: Path) -> None:
    config = tmp_path / "keepalived.conf"
    config.write_text(global_defs_config("lb1"))
    every_ignored = ["-B", "--all", "-e", "--flush-log-file", "-X", "-a", "-b", "/x", "-x", "-A", "/s",
                     "--no-mem-check", "-L", "--config-fd", "3", "--perf", "--debug", "-m", "-M", "-u", "022"]
    result = subprocess.run([fastalived_executable(), *every_ignored, "-t", "-f", str(config)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
