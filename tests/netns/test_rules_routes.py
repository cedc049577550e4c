"""Policy rules, multipath routes, ``net_namespace`` and the start-up/shut-down scripts, end to end.

Two whole daemons (``fastalived -P``) in testbed nodes: ``virtual_rules`` and a multipath
``virtual_routes`` entry live on the master only and move with it; ``static_rules`` are on
both from the start. The ``net_namespace`` test starts the daemon from the root namespace and
only *reads* the root namespace, to check that nothing landed there.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.keepalived import DaemonSet
from tests.support.netns import Node, wait_for
from tests.support.testbed import (
    fastalived_executable,
    global_defs_config,
    stop_process_group,
    vrrp_instance_config,
)

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]

VIP = "198.51.100.100"
STATIC_RULE = "from 198.51.100.0/24 lookup 300"
VIRTUAL_RULES = ("from 198.51.100.100 lookup 100", "from all to 203.0.113.0/24 lookup 101")
MULTIPATH = "203.0.113.0/24"
RULES_AND_ROUTES = f"""\
    virtual_rules {{
        from {VIP} table 100 priority 100
        to 203.0.113.0/24 table 101 preference 101
    }}
    virtual_routes {{
        {MULTIPATH} nexthop via 198.51.100.1 dev eth0 weight 2 nexthop via 198.51.100.2 dev eth0
    }}"""


def config(node: Node, priority: int) -> str:
    return (
        global_defs_config(f"n{node.index}")
        + "static_rules {\n    from 198.51.100.0/24 table 300 priority 300\n}\n"
        + vrrp_instance_config("VI_1", 61, priority, [VIP], version=3, advert_int=0.1, extra=RULES_AND_ROUTES)
    )


def rules(node: Node) -> str:
    return node.check_output(["ip", "-4", "rule", "show"])


def has_virtual_rules(node: Node) -> bool:
    text = rules(node)
    return all(rule in text for rule in VIRTUAL_RULES)


def has_no_virtual_rules(node: Node) -> bool:
    text = rules(node)
    return not any(rule in text for rule in VIRTUAL_RULES)


def multipath(node: Node) -> str:
    return node.check_output(["ip", "-4", "route", "show", MULTIPATH])


def test_virtual_rules_and_multipath_routes_follow_the_master(testbed, vrrp_daemons: DaemonSet) -> None:
    bed = testbed(2)
    first, second = bed.node(1), bed.node(2)
    daemons = [
        vrrp_daemons.start("fastalived", node, config(node, prio)) for node, prio in ((first, 200), (second, 100))
    ]

    assert wait_for(lambda: has_virtual_rules(first) and first.has_address(VIP), 10), rules(first)
    route = multipath(first)
    assert "nexthop via 198.51.100.1 dev eth0 weight 2" in route, route
    assert "nexthop via 198.51.100.2 dev eth0 weight 1" in route, route
    for node in (first, second):  # static rules: on both from the start, tagged as keepalived's
        assert wait_for(lambda n=node: STATIC_RULE in rules(n), 5), rules(node)
        assert "300:\tfrom 198.51.100.0/24 lookup 300 proto keepalived" in rules(node)
    assert has_no_virtual_rules(second), rules(second)
    assert multipath(second) == ""

    daemons[0].terminate()  # failover: the backup takes the rules and the route over
    assert wait_for(lambda: has_virtual_rules(second) and "nexthop" in multipath(second), 10), rules(second)
    assert daemons[0].proc is not None and daemons[0].proc.wait(10) == 0
    assert has_no_virtual_rules(first), rules(first)
    assert STATIC_RULE not in rules(first), rules(first)  # a stop removes the static rules too
    assert multipath(first) == ""

    # A reload of the master swaps a changed virtual rule and a changed static rule in place.
    reloaded = config(second, 100).replace("table 100 priority 100", "table 102 priority 102")
    daemons[1].config_path.write_text(reloaded.replace("table 300 priority 300", "table 301 priority 301"))
    assert daemons[1].proc is not None
    daemons[1].proc.send_signal(signal.SIGHUP)
    swapped = ("102:\tfrom 198.51.100.100 lookup 102", "301:\tfrom 198.51.100.0/24 lookup 301")
    assert wait_for(lambda: all(rule in rules(second) for rule in swapped), 10), rules(second)
    assert VIRTUAL_RULES[0] not in rules(second) and STATIC_RULE not in rules(second), rules(second)
    assert VIRTUAL_RULES[1] in rules(second) and "nexthop" in multipath(second)  # unchanged: kept


def script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_net_namespace_runs_every_role_there_and_leaves_the_root_namespace_alone(testbed, tmp_path: Path) -> None:
    bed = testbed(1)
    node = bed.node(1)
    root_rules, root_addresses = _root_view()
    startup = script(tmp_path / "startup.sh", f"readlink /proc/self/ns/net > {tmp_path}/started")
    shutdown = script(tmp_path / "shutdown.sh", f"readlink /proc/self/ns/net > {tmp_path}/stopped")
    extra = f"    startup_script {startup}\n    shutdown_script {shutdown}\n    shutdown_script_timeout 5\n"
    text = (
        f"net_namespace {node.netns}\n"
        + global_defs_config("n1", extra)
        + "static_rules {\n    from 198.51.100.0/24 table 300 priority 300\n}\n"
        + vrrp_instance_config("VI_1", 62, 150, [VIP], version=3, advert_int=0.1)
    )
    (tmp_path / "keepalived.conf").write_text(text)
    argv = [fastalived_executable(), "-n", "-l", "-D", "-P", "-f", str(tmp_path / "keepalived.conf"),
            "--run-dir", str(tmp_path / "run")]  # fmt: skip
    for flag, role in (("-p", "parent"), ("-r", "vrrp"), ("-c", "check")):
        argv += [flag, str(tmp_path / f"{role}.pid")]
    log_path = tmp_path / "daemon.log"
    with log_path.open("ab") as log:  # started from the root namespace: no ``ip netns exec``
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
    try:
        assert wait_for(lambda: node.has_address(VIP) or proc.poll() is not None, 15), log_path.read_text()
        assert node.has_address(VIP), log_path.read_text()
        assert STATIC_RULE in rules(node)
        namespace = f"net:[{os.stat(f'/run/netns/{node.netns}').st_ino}]"
        assert (tmp_path / "started").read_text().strip() == namespace  # the script ran in there
        log_text = log_path.read_text()
        assert log_text.index("Running startup script") < log_text.index("Starting VRRP child process")
        assert _root_view() == (root_rules, root_addresses)  # read, never changed
    finally:
        status = stop_process_group(proc, 15)
    assert status == 0, log_path.read_text()
    assert (tmp_path / "stopped").read_text().strip() == namespace
    assert not node.has_address(VIP)
    assert _root_view() == (root_rules, root_addresses)


def _root_view() -> tuple[str, list[str]]:
    """The root namespace's IPv4 rules and whether it holds the VIP (read only)."""
    rules_text = subprocess.run(["ip", "-4", "rule", "show"], check=True, capture_output=True, text=True).stdout
    addresses = subprocess.run(["ip", "-4", "-o", "addr", "show"], check=True, capture_output=True, text=True).stdout
    return rules_text, [line for line in addresses.splitlines() if VIP in line]


def test_a_missing_net_namespace_stops_the_start(tmp_path: Path) -> None:
    name = f"fastalived-absent-{secrets.token_hex(4)}"
    (tmp_path / "keepalived.conf").write_text(f"net_namespace {name}\n" + vrrp_instance_config("VI_1", 63, 100, [VIP]))
    done = subprocess.run(
        [sys.executable, "-m", "fastalived", "-n", "-l", "-f", str(tmp_path / "keepalived.conf"),
         "-p", str(tmp_path / "parent.pid"), "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot enter network namespace: [Errno 2] No such file or directory: '/run/netns/{name}'" in done.stderr
