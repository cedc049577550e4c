"""Real IPVS, inside the vmrun guest: every service kind, keepalived parity, checker-driven changes,
sorry server, adoption on restart, repair of outside edits, sync daemons across namespaces.

Every address virtual server names its ``protocol``: keepalived 2.2.7 falls back to UDP (with a
config warning) when it is missing, so the parity test would otherwise compare two defaults.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastalived.check.state import CheckState
from fastalived.config.model import LvsSyncDaemon
from fastalived.ipvs.desired import (
    AF_INET,
    DesiredTable,
    DestKey,
    DestSpec,
    ServiceEntry,
    ServiceKey,
    ServiceSpec,
    build_desired,
)
from fastalived.ipvs.director import IpvsDirector, ReconcileReport
from fastalived.ipvs.lvs_sync import MASTER_STATE, wanted_daemon
from fastalived.ipvs.netlink import IpvsClient
from fastalived.ipvs.reconciler import OpKind
from fastalived.ipvs.syncd import start_daemon, stop_daemon
from tests.support.testbed import in_netns

from .helpers import IN_GUEST, expected_view, ipvsadm_rules, ipvsadm_view, keepalived_programming, run, sh

pytestmark = [pytest.mark.vm, pytest.mark.skipif(not IN_GUEST, reason="needs the IPVS guest: tests/vm/vmrun")]

EVERY_KIND = """
global_defs {
    router_id guest
    lvs_timeouts tcp 900 tcpfin 120 udp 300
}
virtual_server_group WEB {
    198.51.100.20-22 443
    fwmark 21
}
virtual_server 198.51.100.1 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 203.0.113.1 8080 {
        weight 3
        uthreshold 100
        lthreshold 10
        TCP_CHECK {
            connect_ip 127.0.0.1
            connect_port %(check_port)d
            connect_timeout 2
        }
    }
    real_server 203.0.113.2 8080 {
        weight 2
    }
}
virtual_server 198.51.100.2 53 {
    lb_algo wrr
    lb_kind DR
    protocol UDP
    ops
    real_server 203.0.113.3 53 {
        weight 5
    }
    real_server 203.0.113.4 53 {
        weight 1
        lvs_method TUN
    }
}
virtual_server 198.51.100.3 5000 {
    lb_algo lc
    lb_kind TUN
    protocol SCTP
    real_server 203.0.113.5 5000 {
        weight 1
    }
}
virtual_server 198.51.100.4 80 {
    lb_algo wlc
    protocol TCP
    persistence_timeout 600
    persistence_granularity 255.255.255.0
    real_server 203.0.113.6 80 {
        weight 1
    }
}
%(one_per_scheduler)s
virtual_server 2001:db8::1 443 {
    lb_algo wrr
    protocol TCP
    lb_kind NAT
    persistence_timeout 60
    real_server 2001:db8::10 443 {
        weight 2
    }
    real_server 2001:db8::11 443 {
        weight 1
        lvs_method DR
    }
}
virtual_server fwmark 1 {
    lb_algo rr
    lb_kind DR
    real_server 203.0.113.30 0 {
        weight 4
    }
}
virtual_server fwmark 2 {
    ip_family inet6
    lb_algo wlc
    lb_kind DR
    real_server 2001:db8::30 0 {
        weight 1
    }
}
virtual_server group WEB {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 203.0.113.40 443 {
        weight 1
    }
}
"""
SCHEDULERS = {"lblc": "", "lblcr": "", "sh": "sh-port\n    sh-fallback", "dh": "", "sed": "", "nq": "",
              "mh": "mh-port\n    mh-fallback", "fo": "", "ovf": ""}  # fmt: skip
ONE_PER_SCHEDULER = "\n".join(
    f"virtual_server 198.51.100.{10 + n} 80 {{\n    lb_algo {name}\n    protocol TCP\n    {flags}\n"
    f"    real_server 203.0.113.{10 + n} 80 {{\n        weight 1\n    }}\n}}"
    for n, (name, flags) in enumerate(SCHEDULERS.items())
)
WEB_POOL = """
virtual_server 198.51.100.1 80 {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    %(extra)s
    real_server 203.0.113.1 8080 {
        weight 3
    }
    real_server 203.0.113.2 8080 {
        weight 2
        inhibit_on_failure
    }
    real_server 203.0.113.3 8080 {
        weight 1
    }
}
"""
VIP_KEY = ServiceKey(AF_INET, 6, "198.51.100.1", 80, 0)


@pytest.fixture
def check_port() -> Iterator[int]:
    """A listener TCP_CHECK can connect to (the kernel's backlog answers; nobody needs to accept)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def every_kind(config_file, check_port):
    return config_file(EVERY_KIND % {"check_port": check_port, "one_per_scheduler": ONE_PER_SCHEDULER})


def web_pool(config_file, extra: str = ""):
    return config_file(WEB_POOL % {"extra": extra})[1]


async def sync_once(table: DesiredTable, *, remove: bool = False) -> ReconcileReport:
    director = await IpvsDirector.open()
    assert director is not None
    try:
        return await director.sync(table)
    finally:
        await director.close(remove=remove)


def dests_of(key: ServiceKey = VIP_KEY) -> dict[tuple[str, int], tuple[int, int]]:
    return {(address, port): value for (service, address, port), value in ipvsadm_view()[1].items()
            if service == (key.protocol, key.address, key.port)}  # fmt: skip


def test_every_service_kind_reads_back_through_netlink_and_ipvsadm(every_kind):
    _, config = every_kind
    table = build_desired(config, {}, {})
    assert len(table.services) == 20

    async def scenario() -> tuple[ReconcileReport, dict]:
        director = await IpvsDirector.open()
        assert director is not None
        report = await director.sync(table)
        dumped = await director.client.table(table.services.keys())
        await director.close(remove=False)
        return report, dumped

    report, dumped = run(scenario())
    assert report.ok, report.failed
    assert report.applied[OpKind.ADD_SERVICE] == 20
    assert dumped == table.services
    assert ipvsadm_view() == expected_view(table.services)
    assert "900 120 300" in sh("ipvsadm", "-L", "--timeout")


def test_keepalived_programs_the_identical_table(every_kind, tmp_path: Path):
    path, config = every_kind
    table = build_desired(config, {}, {})
    lines = len(table.services) + sum(len(entry.dests) for entry in table.services.values())
    with keepalived_programming(path, tmp_path, lines) as log:
        time.sleep(1.0)  # let a late change land
        keepalived_rules = ipvsadm_rules()
        keepalived_timeouts = sh("ipvsadm", "-L", "--timeout")
    sh("ipvsadm", "-C")
    assert run(sync_once(table)).ok
    ours = ipvsadm_rules()
    assert ours == keepalived_rules, (
        f"only fastalived: {sorted(set(ours) - set(keepalived_rules))}\n"
        f"only keepalived: {sorted(set(keepalived_rules) - set(ours))}\n{log.read_text()[-3000:]}"
    )
    assert sh("ipvsadm", "-L", "--timeout") == keepalived_timeouts


def test_checker_changes_add_remove_and_reweight(config_file):
    config = web_pool(config_file)
    vs = config.virtual_servers[0]
    rs1, rs2, rs3 = (rs.key for rs in vs.real_servers)

    def table(**changes: tuple[bool, int]) -> DesiredTable:
        names = {"rs1": rs1, "rs2": rs2, "rs3": rs3}
        return build_desired(config, {(vs.key, names[n]): state for n, state in changes.items()}, {})

    async def scenario() -> list[Counter]:
        director = await IpvsDirector.open()
        assert director is not None
        steps = [
            table(),
            table(rs1=(False, 0)),  # down: removed
            table(rs1=(False, 0), rs2=(False, 0)),  # inhibit_on_failure: weight 0
            table(rs1=(True, 7), rs2=(False, 0)),  # back, with a new weight
            table(rs1=(True, 7), rs2=(False, 0), rs3=(True, 5)),  # reweighted while up
        ]
        applied = [(await director.sync(step)).applied for step in steps]
        await director.close(remove=False)
        return applied

    applied = run(scenario())
    assert applied[1:] == [
        Counter({OpKind.DEL_DEST: 1}),
        Counter({OpKind.SET_DEST: 1}),
        Counter({OpKind.ADD_DEST: 1}),
        Counter({OpKind.SET_DEST: 1}),
    ]
    assert dests_of() == {("203.0.113.1", 8080): (0, 7), ("203.0.113.2", 8080): (0, 0), ("203.0.113.3", 8080): (0, 5)}


def test_sorry_server_takes_over_and_hands_back(config_file):
    config = web_pool(config_file, "sorry_server 203.0.113.99 80")
    vs = config.virtual_servers[0]
    all_down = {(vs.key, rs.key): (False, 0) for rs in vs.real_servers}

    async def scenario() -> list[dict]:
        director = await IpvsDirector.open()
        assert director is not None
        views = []
        for rs_state, quorum in (({}, {}), (all_down, {vs.key: False}), ({}, {vs.key: True})):
            assert (await director.sync(build_desired(config, rs_state, quorum))).ok
            views.append(dests_of())
        await director.close(remove=False)
        return views

    pool, sorry, back = run(scenario())
    assert set(pool) == {("203.0.113.1", 8080), ("203.0.113.2", 8080), ("203.0.113.3", 8080)}
    assert sorry == {("203.0.113.99", 80): (0, 1), ("203.0.113.2", 8080): (0, 0)}  # + the inhibited one
    assert back == pool


def test_restart_adopts_existing_entries_without_deletes(config_file):
    config = web_pool(config_file)
    table = build_desired(config, {}, {})
    first = run(sync_once(table))
    assert first.applied == Counter({OpKind.ADD_SERVICE: 1, OpKind.ADD_DEST: 3})
    before = ipvsadm_rules()
    vs = config.virtual_servers[0]
    reweighted = build_desired(config, {(vs.key, vs.real_servers[2].key): (True, 4)}, {})

    async def restart() -> tuple[ReconcileReport, ReconcileReport]:
        director = await IpvsDirector.open()
        assert director is not None
        adopted = await director.sync(table)
        changed = await director.sync(reweighted)
        await director.close(remove=True)
        return adopted, changed

    assert ipvsadm_rules() == before
    adopted, changed = run(restart())
    assert adopted.total == 0 and adopted.ok
    assert changed.applied == Counter({OpKind.SET_DEST: 1})
    assert ipvsadm_rules() == []  # close(remove=True) took our service away


def test_outside_edits_are_repaired_and_foreign_services_left_alone(config_file):
    table = build_desired(web_pool(config_file), {}, {})
    sh("ipvsadm", "-A", "-t", "198.51.100.200:80", "-s", "rr")
    foreign = ipvsadm_rules()

    async def scenario() -> ReconcileReport:
        director = await IpvsDirector.open()
        assert director is not None
        await director.sync(table)
        sh("ipvsadm", "-d", "-t", "198.51.100.1:80", "-r", "203.0.113.2:8080")
        sh("ipvsadm", "-e", "-t", "198.51.100.1:80", "-r", "203.0.113.1:8080", "-m", "-w", "9")
        repaired = await director.sync(table)
        await director.close(remove=True)
        return repaired

    repaired = run(scenario())
    assert repaired.applied == Counter({OpKind.ADD_DEST: 1, OpKind.SET_DEST: 1})
    assert ipvsadm_rules() == foreign


def test_a_failing_op_does_not_stop_the_others_and_is_retried():
    good = ServiceKey(AF_INET, 6, "198.51.100.1", 80, 0)
    bad = ServiceKey(AF_INET, 6, "198.51.100.2", 80, 0)
    dest = {DestKey("203.0.113.1", 80): DestSpec(AF_INET, 0, 1)}
    table = DesiredTable({
        bad: ServiceEntry(ServiceSpec("no-such-scheduler", 0, 0, 0xFFFFFFFF), dict(dest)),
        good: ServiceEntry(ServiceSpec("rr", 0, 0, 0xFFFFFFFF), dict(dest)),
    })  # fmt: skip

    async def scenario() -> tuple[ReconcileReport, ReconcileReport]:
        director = await IpvsDirector.open()
        assert director is not None
        first = await director.sync(table)
        second = await director.sync(table)
        await director.close(remove=False)
        return first, second

    first, second = run(scenario())
    assert [op.kind for op, _ in first.failed] == [OpKind.ADD_SERVICE, OpKind.ADD_DEST]
    assert first.applied == Counter({OpKind.ADD_SERVICE: 1, OpKind.ADD_DEST: 1})
    assert [op.kind for op, _ in second.failed] == [OpKind.ADD_SERVICE, OpKind.ADD_DEST]
    assert second.total == 0
    assert [rule for rule in ipvsadm_rules() if rule.startswith("-A")] == ["-A -t 198.51.100.1:80 -s rr"]


def test_lvs_flush_on_open_and_on_close(config_file):
    sh("ipvsadm", "-A", "-t", "198.51.100.200:80", "-s", "rr")

    async def scenario() -> list[str]:
        director = await IpvsDirector.open(flush=True)
        assert director is not None
        flushed = ipvsadm_rules()
        await director.sync(build_desired(web_pool(config_file), {}, {}))
        sh("ipvsadm", "-A", "-t", "198.51.100.201:80", "-s", "rr")
        await director.close(remove=False, flush=True)
        return flushed

    assert run(scenario()) == []
    assert ipvsadm_rules() == []


def test_checker_state_drives_the_director(config_file):
    config = web_pool(config_file)
    state = CheckState()
    state.load(config, 0.0)
    vs_state = state.virtual_servers[config.virtual_servers[0].key]
    first = next(iter(vs_state.servers.values()))

    async def scenario() -> None:
        director = await IpvsDirector.open()
        assert director is not None
        await director.apply(config, state)
        first.up, first.weight = False, 0
        assert (await director.apply(config, state)).applied == Counter({OpKind.DEL_DEST: 1})
        await director.close(remove=False)

    run(scenario())
    assert ("203.0.113.1", 8080) not in dests_of() and len(dests_of()) == 2


@pytest.fixture
def sync_namespaces() -> Iterator[tuple[str, str]]:
    """Two namespaces joined by a veth pair whose ends are both called sync0."""
    names = ("sd1", "sd2")
    for name in names:
        sh("ip", "netns", "add", name)
    try:
        sh("ip", "link", "add", "sync0", "netns", "sd1", "type", "veth", "peer", "name", "sync0", "netns", "sd2")
        for n, name in enumerate(names, 1):
            sh("ip", "-n", name, "addr", "add", f"198.51.100.{240 + n}/24", "dev", "sync0")
            sh("ip", "-n", name, "link", "set", "sync0", "up")
            sh("ip", "-n", name, "link", "set", "lo", "up")
        yield names
    finally:
        for name in names:
            sh("ip", "netns", "del", name, check=False)


async def follow_vrrp_state(settings: LvsSyncDaemon, vrrp_state: str, syncid: int) -> bool:
    """What the VRRP child's sync-daemon driver does on a transition: the wanted daemon only."""
    wanted = wanted_daemon(MASTER_STATE if vrrp_state == "MASTER" else None)
    other = "backup" if wanted == "master" else "master"
    return await stop_daemon(other) and await start_daemon(wanted, settings.interface, syncid)


def test_sync_daemon_follows_vrrp_state_across_two_nodes(sync_namespaces):
    settings = LvsSyncDaemon("sync0", "VI_1")

    def transition(node: str, vrrp_state: str) -> None:
        with in_netns(node):
            assert run(follow_vrrp_state(settings, vrrp_state, 51))

    def daemons(node: str) -> tuple[str, list]:
        with in_netns(node):
            async def read() -> list:
                client = await IpvsClient.connect()
                try:
                    return await client.daemons()
                finally:
                    client.close()
            return sh("ipvsadm", "-L", "--daemon"), run(read())

    transition("sd1", "MASTER")
    transition("sd2", "BACKUP")
    text, running = daemons("sd1")
    assert "master sync daemon (mcast=sync0, syncid=51" in text and "backup" not in text
    assert [(d.state, d.interface, d.syncid) for d in running] == [("master", "sync0", 51)]
    text, _ = daemons("sd2")
    assert "backup sync daemon (mcast=sync0, syncid=51" in text and "master" not in text

    transition("sd1", "BACKUP")
    transition("sd2", "MASTER")
    assert "backup sync daemon" in daemons("sd1")[0] and "master" not in daemons("sd1")[0]
    assert "master sync daemon" in daemons("sd2")[0] and "backup" not in daemons("sd2")[0]
    transition("sd2", "MASTER")  # repeated: idempotent
    with in_netns("sd1"):
        sh("ipvsadm", "--stop-daemon", "backup")
    with in_netns("sd2"):
        sh("ipvsadm", "--stop-daemon", "master")
