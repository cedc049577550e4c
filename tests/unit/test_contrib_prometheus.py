"""contrib/prometheus alert rules and contrib/grafana dashboard: valid, exercised, and in step with /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fastalived.daemon.metrics import render
from fastalived.runtime.role import Metric
from tests.support.prometheus import (
    ALERT_RULES,
    ALERT_TESTS,
    DASHBOARD,
    alert_expressions,
    alert_rules,
    dashboard_expressions,
    metric_families,
    promtool,
    promtool_missing,
)

README = ALERT_RULES.with_name("README.md")
needs_promtool = pytest.mark.skipif(promtool_missing() is not None, reason=str(promtool_missing()))

REQUIRED_ALERTS = {
    "FastalivedVrrpSplitBrain",
    "FastalivedVrrpNoMaster",
    "FastalivedVirtualServerBelowQuorum",
    "FastalivedChildRestarted",
    "FastalivedConfigReloadFailed",
}


@needs_promtool
def test_alert_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", str(ALERT_RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_alert_rules_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_required_alert_is_defined_and_tested() -> None:
    defined = {rule["alert"] for rule in alert_rules()}
    tested = ALERT_TESTS.read_text()
    assert defined >= REQUIRED_ALERTS
    for alert in defined:
        assert f"alertname: {alert}" in tested, f"{alert} has no promtool test"


def test_readme_table_lists_the_rules_as_they_are() -> None:
    rows = [
        [cell.strip().strip("`").replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in README.read_text().splitlines()
        if line.startswith("| Fastalived")
    ]
    expected = [[r["alert"], r["expr"], r["for"] or "—", r["severity"]] for r in alert_rules()]
    assert rows == expected


def test_dashboard_is_grafana_json_with_unique_panel_ids() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert {"datasource", "instance"} <= {variable["name"] for variable in dashboard["templating"]["list"]}
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}", panel["title"]


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each dashboard query as a recording rule (it has no bare query checker)."""
    rules = {
        "groups": [
            {"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": e}
                                            for i, e in enumerate(dashboard_expressions())]}
        ]
    }  # fmt: skip
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_and_alerts_cover_vrrp_checks_and_the_daemon() -> None:
    used = metric_families(dashboard_expressions()) | metric_families(alert_expressions())
    for family in (
        "fastalived_vrrp_state",
        "fastalived_vrrp_transitions_total",
        "fastalived_vrrp_adverts_dropped_total",
        "fastalived_check_real_server_up",
        "fastalived_check_latency_seconds",
        "fastalived_process_restarts_total",
        "fastalived_reloads_total",
        "fastalived_announce_up",
    ):
        assert family in used


@needs_promtool
def test_rendering_passes_promtool_metric_lint() -> None:
    """The renderer's output for every metric type satisfies ``promtool check metrics``."""
    text = render(
        [
            Metric("fastalived_example_up", 1, (("role", "vrrp"),), help="1 while running."),
            Metric("fastalived_example_events_total", 3, (("reason", 'odd "one"'),), "counter", "Events seen."),
            Metric("fastalived_example_duration_seconds", 2, (), "histogram", "Durations.", ((0.1, 1), (1.0, 2)), 0.6),
        ]
    )
    result = promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr
