"""The HAProxy-pair scenario (README command 1) with fastalived: VIP holder and traffic at every step."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.keepalived import fastalived_unavailable
from tests.support.lb_pair import QUICK_TIMINGS, run_scenario
from tests.support.testbed import unavailable_reason

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(120)]

# A request in flight at a fault can fail without anything being wrong: its packets reach the other
# node once the client's ARP entry moves (reset), or its web server dies under it (HAProxy's 502).
IN_FLIGHT = 2


def test_haproxy_pair_fails_over_under_traffic(tmp_path: Path) -> None:
    if reason := unavailable_reason() or fastalived_unavailable():
        pytest.skip(reason)
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy not installed")
    lines: list[str] = []
    result = run_scenario("fastalived", QUICK_TIMINGS, lines.append, tmp_path)
    log = "\n".join(lines)
    up, haproxy_killed, haproxy_back, daemon_killed, web_died = result.steps

    assert up.vip_on == ("lb1",), log
    assert up.webs_after == {"web1", "web2"}, log  # HAProxy balances over both web servers

    # every failover: served through the VIP via the old holder before, via the new one after
    assert (haproxy_killed.served_before, haproxy_killed.vip_on, haproxy_killed.via) == ("lb1", ("lb2",), "lb2"), log
    assert haproxy_killed.failures["refused"] > 0, log  # lb1 kept the VIP with nothing listening
    assert (haproxy_back.served_before, haproxy_back.vip_on, haproxy_back.via) == ("lb2", ("lb1",), "lb1"), log
    assert sum(haproxy_back.failures.values()) <= IN_FLIGHT, log
    # kill -9 leaves lb1's VIP behind (as with keepalived); lb2's gratuitous ARP moves the client
    assert (daemon_killed.served_before, daemon_killed.via) == ("lb1", "lb2"), log
    assert set(daemon_killed.vip_on) == {"lb1", "lb2"}, log
    assert sum(daemon_killed.failures.values()) <= IN_FLIGHT, log
    assert (web_died.served_before, web_died.via, web_died.webs_after) == ("lb2", "lb2", {"web2"}), log
    # option redispatch retries refused connections on web2: the dead server stays hidden from the client
    assert sum(web_died.failures.values()) <= IN_FLIGHT and not web_died.failures["refused"], log

    for step in result.steps[1:]:
        assert step.daemon_delay is not None and step.expected is not None, step.title
        assert step.daemon_delay < step.expected + 1.0, (step.title, step.daemon_delay, log)
        assert any(r.ok for r in step.requests), step.title
    assert any(" MASTER " in line for line in result.notify_lines["lb2"]), result.notify_lines
    assert not list(Path("/run/netns").glob(f"{result.testbed_tag}-*")), "namespaces left behind"
