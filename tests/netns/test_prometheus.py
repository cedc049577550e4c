"""A real Prometheus server scrapes a real fastalived and answers for it through its own HTTP API.

Node 1 runs the full daemon (VRRP + checker) and, on its loopback, a Prometheus server that loads
contrib/prometheus's alert rules. Node 2 is a VRRP-only peer that also serves TCP on port 80, so
node 1 has one instance it masters (VI_1), one it backs up (VI_2), one whose adverts it must drop
(VI_3: node 2 advertises two addresses where node 1 expects one), a real server up and one down,
and the virtual server's address announced into the route table (it keeps its quorum).
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.netns.test_daemon_real_roles import STATUS_PORT, Daemon, global_defs, instance
from tests.support.netns import Testbed, unavailable_reason, wait_for
from tests.support.prometheus import (
    JOB,
    PrometheusServer,
    alert_expressions,
    dashboard_expressions,
    metric_families,
    promtool,
    promtool_missing,
)
from tests.support.testbed import in_netns, stop_process_group

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]

SERVING_REAL = "198.51.100.12"  # node 2, listening on port 80
SILENT_REAL = "198.51.100.13"  # nobody


@dataclass
class Scraped:
    director: Daemon
    prometheus: PrometheusServer

    def value(self, expr: str) -> float:
        """The single value of ``expr`` once Prometheus has one."""
        answer = self.prometheus.wait_query(expr)
        assert len(answer) == 1, answer
        return next(iter(answer.values()))


def _node1_config() -> str:
    reals = "".join(
        f"    real_server {address} 80 {{\n        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n"
        for address in (SERVING_REAL, SILENT_REAL)
    )
    return (
        global_defs("node1")
        + instance("VI_1", 1, 150, ["198.51.100.101/24"])
        + instance("VI_2", 2, 100, ["198.51.100.102/24"])
        + instance("VI_3", 3, 100, ["198.51.100.103/24"])
        + "virtual_server 198.51.100.101 80 {\n    protocol TCP\n    delay_loop 1\n    lb_kind NAT\n"
        + f"    fastalived_announce {{\n        metric 10\n    }}\n{reals}}}\n"
    )


def _node2_config() -> str:
    return (
        global_defs("node2")
        + instance("VI_1", 1, 100, ["198.51.100.101/24"])
        + instance("VI_2", 2, 150, ["198.51.100.102/24"])
        + instance("VI_3", 3, 150, ["198.51.100.103/24", "198.51.100.113/24"])
    )


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    if reason := unavailable_reason() or promtool_missing():
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("prometheus")
    bed = Testbed(2)
    started: list[Daemon] = []
    web = None
    prometheus = None
    try:
        web = bed.node(2).run(
            [sys.executable, "-m", "http.server", "80", "--bind", SERVING_REAL],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        director = Daemon(bed.node(1), workdir, _node1_config())
        peer = Daemon(bed.node(2), workdir, _node2_config(), "-P")
        started += [director, peer]
        director.start()
        peer.start()
        prometheus = PrometheusServer(bed.node(1).netns, workdir, [f"127.0.0.1:{STATUS_PORT}"]).start()
        yield Scraped(director, prometheus)
    finally:
        if prometheus is not None:
            prometheus.close()
        for daemon in started:
            daemon.close()
        if web is not None:
            stop_process_group(web)
        bed.destroy()


def test_the_target_is_up(scraped: Scraped) -> None:
    assert scraped.value(f'up{{job="{JOB}"}} == 1') == 1
    assert scraped.value('fastalived_process_up{role="vrrp"} == 1') == 1
    assert scraped.value('fastalived_process_up{role="check"} == 1') == 1
    assert scraped.value('fastalived_reloads_total{result="ok"}') == 0
    assert scraped.value('fastalived_build_info{codec=~"cython|python"}') == 1
    assert scraped.value("fastalived_config_last_reload_successful") == 1
    assert scraped.value("time() - fastalived_config_last_reload_success_timestamp_seconds < 600") > 0


def test_vrrp_state_priority_transitions_and_adverts(scraped: Scraped) -> None:
    assert scraped.value('fastalived_vrrp_state{vrid="1"} == 2') == 2  # MASTER
    assert scraped.value('fastalived_vrrp_state{vrid="2"} == 1') == 1  # BACKUP
    assert scraped.value('fastalived_vrrp_priority{vrid="1"}') == 150
    assert scraped.value('fastalived_vrrp_effective_priority{vrid="2"}') == 100
    assert scraped.value('fastalived_vrrp_transitions_total{vrid="1"} > 0') >= 2  # INIT -> BACKUP -> MASTER
    assert scraped.value('rate(fastalived_vrrp_adverts_sent_total{vrid="1"}[5s]) > 0') > 0
    assert scraped.value('rate(fastalived_vrrp_adverts_received_total{vrid="2"}[5s]) > 0') > 0
    assert scraped.value('fastalived_vrrp_adverts_dropped_total{vrid="3", reason="BAD_ADDR_COUNT"} > 0') > 0


def test_checkers_up_down_and_latency_histograms(scraped: Scraped) -> None:
    assert scraped.value(f'fastalived_check_real_server_up{{rs="{SERVING_REAL}:80"}} == 1') == 1
    assert scraped.value(f'fastalived_check_real_server_up{{rs="{SILENT_REAL}:80"}} == 0') == 0
    assert scraped.value('fastalived_check_runs_total{result="success"} > 0') > 0
    assert scraped.value('fastalived_check_runs_total{result="failure"} > 0') > 0
    p99 = scraped.value("histogram_quantile(0.99, rate(fastalived_check_latency_seconds_bucket[10s])) > 0")
    assert 0 < p99 <= 5  # seconds, not milliseconds
    assert scraped.value("fastalived_check_scheduler_lag_seconds_count > 0") > 0


def test_a_healthy_service_announces_its_prefix(scraped: Scraped) -> None:
    assert scraped.value('fastalived_announce_up{prefix="198.51.100.101/32"} == 1') == 1
    assert scraped.value("fastalived_announce_changes_total > 0") >= 1


def test_every_metric_the_dashboard_and_alerts_use_is_scraped(scraped: Scraped) -> None:
    scraped.value("fastalived_check_latency_seconds_count > 0")  # the checker child has reported
    names = set(scraped.prometheus.api("label/__name__/values"))
    used = metric_families(dashboard_expressions()) | metric_families(alert_expressions())
    missing = {family for family in used if family not in names and f"{family}_bucket" not in names}
    assert not missing, f"used by contrib/ but not exported: {sorted(missing)}"


def test_alert_rules_evaluate_on_the_real_series(scraped: Scraped) -> None:
    """Only node 1 is scraped, so VRID 2 (node 1 is its BACKUP) has no master as far as Prometheus
    knows: the no-master rule must say so, for that VRID alone, from the daemon's real labels."""

    def alerts() -> set[tuple[str, str]]:
        return {
            (a["labels"]["alertname"], a["labels"].get("vrid", "")) for a in scraped.prometheus.api("alerts")["alerts"]
        }

    assert wait_for(lambda: ("FastalivedVrrpNoMaster", "2") in alerts(), 20, 0.25), alerts()
    groups = scraped.prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules and all(rule["health"] == "ok" for rule in rules), rules
    raised = alerts()
    assert ("FastalivedVrrpNoMaster", "1") not in raised and ("FastalivedVrrpSplitBrain", "1") not in raised
    quiet = {"FastalivedDown", "FastalivedChildDown", "FastalivedConfigReloadFailed", "FastalivedPrefixNotAnnounced"}
    assert not {name for name, _ in raised} & quiet, raised


def test_metrics_pass_promtool_lint(scraped: Scraped) -> None:
    """Prometheus naming conventions: ``_total`` counters, base units, no reserved labels, help text."""
    with (
        in_netns(scraped.director.node.netns),
        urllib.request.urlopen(f"http://127.0.0.1:{STATUS_PORT}/metrics", timeout=5) as reply,
    ):
        text = reply.read().decode()
    result = promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr
