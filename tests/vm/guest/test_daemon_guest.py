"""The real ``fastalived`` daemon against real IPVS, inside the vmrun guest.

* ``lvs_sync_daemon``: two VRRP nodes (``-P``) in namespaces on one bridge; the master node runs
  the master sync daemon and the other the backup one, and they swap when the master stops.
* the checker (``-C``): TCP_CHECK results become IPVS destinations, a reload adds a real server
  without disturbing the others, and SIGTERM leaves no IPVS entry and no process behind.

The guest's CPU is emulated (16-34x slower than the host), so timers are generous and every wait
is on an observed outcome with a deadline well above what the guest needs.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.testbed import Testbed, VrrpDaemon, stop_process_group, wait_for

from .helpers import IN_GUEST, ipvsadm_rules, start_checker_daemon

pytestmark = [pytest.mark.vm, pytest.mark.skipif(not IN_GUEST, reason="needs the IPVS guest: tests/vm/vmrun")]

START_TIMEOUT = 90.0  # Python daemons starting under TCG: two VRRP children took 13 and 25 s
OUTCOME_TIMEOUT = 30.0
VIP = "198.51.100.100"


# ------------------------------------------------------------------------------ lvs_sync_daemon


def vrrp_node_config(router_id: str, priority: int) -> str:
    return f"""
global_defs {{
    router_id {router_id}
    script_user root
    enable_script_security
    lvs_sync_daemon eth0 VI_1
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    version 3
    virtual_ipaddress {{
        {VIP}/24 dev eth0
    }}
}}
"""


def sync_daemons(node) -> str:
    """``ipvsadm -L --daemon`` in the node's namespace: one line per running sync daemon."""
    return node.check_output(["ipvsadm", "-L", "--daemon"])


def runs_only(node, state: str) -> bool:
    text = sync_daemons(node)
    other = "backup" if state == "master" else "master"
    return f"{state} sync daemon (mcast=eth0, syncid=51" in text and f"{other} sync daemon" not in text


@pytest.fixture
def testbed() -> Iterator[Testbed]:
    with Testbed(2, prefix="lvs") as bed:
        yield bed


def test_sync_daemon_follows_the_vrrp_master_across_two_nodes(testbed: Testbed, tmp_path: Path):
    n1, n2 = testbed.node(1), testbed.node(2)
    first = VrrpDaemon(n1, vrrp_node_config("n1", 150), run_dir=tmp_path / "n1")
    second = VrrpDaemon(n2, vrrp_node_config("n2", 100), run_dir=tmp_path / "n2")
    daemons = [first, second]

    def logs() -> str:
        return "\n".join(f"--- {d.name}\n{d.log_text()[-3000:]}" for d in daemons)

    def master_is(master, backup) -> bool:
        return master.has_address(VIP) and runs_only(master, "master") and runs_only(backup, "backup")

    try:
        for daemon in daemons:
            daemon.start(wait_vrrp=START_TIMEOUT)
        assert wait_for(lambda: master_is(n1, n2), START_TIMEOUT, 0.2), logs()

        # n1 reloads with a lower priority: n2 preempts, n1 leaves MASTER for the backup daemon.
        first.config_path.write_text(vrrp_node_config("n1", 50))
        assert first.proc is not None
        first.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: master_is(n2, n1), OUTCOME_TIMEOUT, 0.2), logs()
        assert not n1.has_address(VIP)

        # The master stops gracefully (priority 0): n1 takes over, n2 leaves neither daemon behind.
        second.terminate()
        assert second.proc is not None and second.proc.wait(OUTCOME_TIMEOUT) == 0, logs()
        assert wait_for(lambda: n1.has_address(VIP) and runs_only(n1, "master"), OUTCOME_TIMEOUT, 0.2), logs()
        assert sync_daemons(n2).strip() == "", logs()
        assert first.log_text().count("(VI_1) Entering MASTER STATE") == 2, logs()
    finally:
        for daemon in daemons:
            daemon.close()


# ------------------------------------------------------------------------------ checker daemon

DELAY_LOOP = 1


def real_server(port: int, address: str, extra: str = "") -> str:
    return f"""
    real_server {address} 8080 {{
        weight 1
        {extra}
        TCP_CHECK {{
            connect_port {port}
            connect_timeout 2
            retry 0
        }}
    }}"""


def checker_config(servers: dict[str, tuple[int, str]]) -> str:
    blocks = "".join(real_server(port, address, extra) for address, (port, extra) in servers.items())
    return f"""
global_defs {{
    router_id guest-checker
    script_user root
    enable_script_security
}}
virtual_server 198.51.100.1 80 {{
    delay_loop {DELAY_LOOP}
    lb_algo rr
    lb_kind NAT
    protocol TCP
{blocks}
}}
"""


class Listeners:
    """One TCP listener per real server on a loopback address (the kernel's backlog answers)."""

    def __init__(self) -> None:
        self.sockets: dict[str, socket.socket] = {}

    def open(self, address: str) -> int:
        sock = socket.create_server((address, 0))
        self.sockets[address] = sock
        return sock.getsockname()[1]

    def close(self, address: str) -> None:
        self.sockets.pop(address).close()

    def close_all(self) -> None:
        for address in list(self.sockets):
            self.close(address)


def destinations() -> dict[str, int]:
    """Real server address -> weight under 198.51.100.1:80, from ``ipvsadm -Sn``."""
    found = {}
    for line in ipvsadm_rules():
        tokens = line.split()
        if tokens[:3] == ["-a", "-t", "198.51.100.1:80"]:
            found[tokens[tokens.index("-r") + 1].rsplit(":", 1)[0]] = int(tokens[tokens.index("-w") + 1])
    return found


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def processes_using(path: Path) -> list[int]:
    """Live processes whose command line names ``path`` (our daemon and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(path).encode() in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_checker_daemon_programs_ipvs_reloads_and_cleans_up(tmp_path: Path):
    listeners = Listeners()
    ports = {address: listeners.open(address) for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")}
    servers = {
        "127.0.0.2": (ports["127.0.0.2"], ""),  # goes down: removed
        "127.0.0.3": (ports["127.0.0.3"], "inhibit_on_failure"),  # goes down: weight 0
        "127.0.0.4": (ports["127.0.0.4"], ""),  # stays up, untouched by everything
    }
    conf = tmp_path / "keepalived.conf"
    conf.write_text(checker_config(servers))
    proc, log_path = start_checker_daemon(conf, tmp_path, "-D")

    def logs() -> str:
        return log_path.read_text(errors="replace")[-4000:]

    try:
        everyone = {"127.0.0.2": 1, "127.0.0.3": 1, "127.0.0.4": 1}
        assert wait_for(lambda: destinations() == everyone, START_TIMEOUT, 0.2), (destinations(), logs())
        assert proc.poll() is None, logs()

        listeners.close("127.0.0.2")
        listeners.close("127.0.0.3")
        after_failures = {"127.0.0.3": 0, "127.0.0.4": 1}
        assert wait_for(lambda: destinations() == after_failures, OUTCOME_TIMEOUT, 0.2), (destinations(), logs())
        before = ipvsadm_rules()

        conf.write_text(checker_config({**servers, "127.0.0.5": (ports["127.0.0.5"], "")}))
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "127.0.0.5" in destinations(), OUTCOME_TIMEOUT, 0.2), (destinations(), logs())
        time.sleep(2 * DELAY_LOOP)  # more check rounds: nothing else may move
        after = ipvsadm_rules()
        assert [rule for rule in after if "127.0.0.5:" not in rule] == before, logs()
        assert destinations() == {**after_failures, "127.0.0.5": 1}

        pids = [int((tmp_path / name).read_text()) for name in ("main.pid", "check.pid")]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(OUTCOME_TIMEOUT) == 0, logs()
        assert ipvsadm_rules() == [], logs()
        assert not [pid for pid in pids if pid_alive(pid)], logs()
        assert processes_using(conf) == [], logs()
    finally:
        stop_process_group(proc)  # after a failure above: nothing of the daemon's group outlives the test
        listeners.close_all()
