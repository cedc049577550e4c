"""Real IPVS in the vmrun guest: the checker role alone repairs an ``ipvsadm -d`` of a static
destination (no checker, so no event ever comes) within its repair interval, and logs it; and
``persistence_engine sip`` is programmed as keepalived programs it."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import uvloop

from fastalived import cli
from fastalived.check import process
from fastalived.check.process import CheckRole
from fastalived.ipvs.desired import build_desired
from fastalived.ipvs.director import IpvsDirector

from .helpers import IN_GUEST, ipvsadm_rules, keepalived_programming, run, sh

pytestmark = [pytest.mark.vm, pytest.mark.skipif(not IN_GUEST, reason="needs the IPVS guest: tests/vm/vmrun")]

STATIC_POOL = """
virtual_server 198.51.100.1 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 203.0.113.1 8080 {
        weight 2
    }
    real_server 203.0.113.2 8080 {
        weight 3
    }
}
"""
INTERVAL = 1.0


def test_ipvsadm_delete_of_a_static_destination_is_repaired(config_file, monkeypatch, caplog) -> None:
    _, config = config_file(STATIC_POOL)
    monkeypatch.setattr(process, "IPVS_REPAIR_INTERVAL", INTERVAL)

    async def open_director(cfg: object) -> IpvsDirector | None:
        return await IpvsDirector.open()

    async def main() -> float:
        role = CheckRole(open_ipvs=open_director)
        await role.start(config)
        deadline = time.monotonic() + 30
        while "-a -t 198.51.100.1:80 -r 203.0.113.2:8080 -m -w 3" not in ipvsadm_rules():
            assert time.monotonic() < deadline, ipvsadm_rules()
            await asyncio.sleep(0.05)
        sh("ipvsadm", "-d", "-t", "198.51.100.1:80", "-r", "203.0.113.2:8080")
        deleted = time.monotonic()
        while "-a -t 198.51.100.1:80 -r 203.0.113.2:8080 -m -w 3" not in ipvsadm_rules():
            assert time.monotonic() - deleted < 30, ipvsadm_rules()
            await asyncio.sleep(0.05)
        repaired_after = time.monotonic() - deleted
        await role.stop()
        return repaired_after

    with caplog.at_level(logging.INFO, logger="fastalived.ipvs"):
        repaired_after = uvloop.run(main())
    # one interval, plus the guest's TCG slowness for the dump and the ipvsadm polling
    assert repaired_after < INTERVAL + 5
    assert any("repairing a change made outside fastalived: add_dest 203.0.113.2:8080" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    assert ipvsadm_rules() == []  # released at stop


SIP_POOL = """
virtual_server 198.51.100.5 5060 {
    lb_algo rr
    lb_kind DR
    protocol UDP
    persistence_timeout 120
    persistence_engine sip
    real_server 203.0.113.1 5060 {
        weight 1
    }
}
"""


def test_persistence_engine_sip_matches_keepalived(config_file, tmp_path: Path) -> None:
    path, config = config_file(SIP_POOL)
    with keepalived_programming(path, tmp_path, 2):
        theirs = ipvsadm_rules()
    sh("ipvsadm", "-C")

    async def program() -> int:
        director = await IpvsDirector.open()
        assert director is not None
        table = build_desired(config, {}, {})
        assert (await director.sync(table)).ok
        adopted = await director.sync(table)  # read back through our own dump: nothing to change
        await director.close(remove=False)
        return adopted.total

    assert run(program()) == 0
    ours = ipvsadm_rules()
    assert any("--pe sip" in rule for rule in ours), ours
    assert ours == theirs


TUNNELS = """
virtual_server 198.51.100.6 80 {
    lb_algo rr
    lb_kind TUN type gue port 6080 csum
    protocol TCP
    real_server 203.0.113.1 80 {
        weight 1
    }
    real_server 203.0.113.2 80 {
        lvs_method TUN type gre csum
        weight 2
    }
    real_server 203.0.113.3 80 {
        lvs_method TUN
        weight 3
    }
}
virtual_server 2001:db8::6 80 {
    lb_algo rr
    lb_kind TUN
    protocol TCP
    real_server 203.0.113.4 80 {
        weight 4
    }
    real_server 2001:db8::7 80 {
        weight 5
    }
}
virtual_server 198.51.100.7 80 {
    lb_algo rr
    lb_kind TUN type gue port 5555 remcsum
    protocol TCP
    real_server 2001:db8::8 80 {
        weight 6
    }
}
"""


def test_gue_gre_and_mixed_family_tunnels_match_keepalived(config_file, tmp_path: Path) -> None:
    path, config = config_file(TUNNELS)
    table = build_desired(config, {}, {})
    lines = len(table.services) + sum(len(entry.dests) for entry in table.services.values())
    with keepalived_programming(path, tmp_path, lines):
        theirs = ipvsadm_rules()
    sh("ipvsadm", "-C")

    async def program() -> int:
        director = await IpvsDirector.open()
        assert director is not None
        assert (await director.sync(table)).ok
        adopted = await director.sync(table)  # our own dump reads the tunnels back: nothing to change
        await director.close(remove=False)
        return adopted.total

    assert run(program()) == 0
    ours = ipvsadm_rules()
    only_ours, only_theirs = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    assert ours == theirs, f"only fastalived: {only_ours}\nonly keepalived: {only_theirs}"
    assert any("--tun-type gue" in rule for rule in ours) and any("--tun-type gre" in rule for rule in ours), ours


def test_config_test_finds_every_module_on_a_stock_kernel(config_file, capsys) -> None:
    """``-t`` reads the guest's real module list: sip, mh and GUE/GRE tunnels are all there."""
    path, _ = config_file(TUNNELS + SIP_POOL.replace("lb_algo rr", "lb_algo mh"))
    assert cli.main(["-t", "-f", str(path)]) == 0, capsys.readouterr().err
