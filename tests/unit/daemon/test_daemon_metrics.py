"""The Prometheus text rendering must parse with prometheus_client's own parser."""

import math

from prometheus_client.parser import text_string_to_metric_families

from fastalived.daemon.metrics import metric_from_wire, metric_to_wire, render
from fastalived.runtime.role import Metric

SAMPLES = [
    Metric("fastalived_vrrp_state", 2, (("instance", "VI_1"),), help="0 INIT 1 BACKUP 2 MASTER"),
    Metric("fastalived_vrrp_state", 1, (("instance", 'we"ird\\name\n'),)),
    Metric("fastalived_vrrp_adverts_sent_total", 12345, (("instance", "VI_1"),), "counter", "Adverts sent."),
    Metric(
        "fastalived_check_latency_seconds",
        10,
        (("vs", "TCP:198.51.100.1:80"),),
        "histogram",
        "Check latency.",
        buckets=((0.005, 4), (0.05, 9)),
        sum=0.25,
    ),
    Metric("fastalived_scheduler_lag_seconds", 0.00125),
]


def test_rendered_text_parses_back_to_the_same_values() -> None:
    families = {f.name: f for f in text_string_to_metric_families(render(SAMPLES))}
    state = families["fastalived_vrrp_state"]
    assert state.type == "gauge" and state.documentation == "0 INIT 1 BACKUP 2 MASTER"
    assert [(s.labels["instance"], s.value) for s in state.samples] == [("VI_1", 2), ('we"ird\\name\n', 1)]
    sent = families["fastalived_vrrp_adverts_sent"]
    assert sent.type == "counter" and sent.samples[0].value == 12345
    histogram = families["fastalived_check_latency_seconds"]
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name.endswith("_bucket")}
    assert buckets == {"0.005": 4, "0.05": 9, "+Inf": 10}
    by_name = {s.name: s.value for s in histogram.samples}
    assert by_name["fastalived_check_latency_seconds_count"] == 10
    assert math.isclose(by_name["fastalived_check_latency_seconds_sum"], 0.25)
    assert families["fastalived_scheduler_lag_seconds"].samples[0].value == 0.00125


def test_help_and_type_appear_once_per_family() -> None:
    text = render(SAMPLES)
    assert text.count("# TYPE fastalived_vrrp_state gauge") == 1
    assert text.count("# HELP fastalived_vrrp_state") == 1


def test_wire_round_trip_keeps_every_field() -> None:
    assert [metric_from_wire(metric_to_wire(m)) for m in SAMPLES] == SAMPLES


def test_empty_input_renders_nothing() -> None:
    assert render([]) == ""


def test_build_info_and_reload_health_pass_promtool() -> None:
    import pytest

    from fastalived import __version__
    from fastalived.daemon.metrics import build_info, reload_metrics
    from tests.support.prometheus import promtool, promtool_missing

    text = render([build_info(), *reload_metrics(False, 1_700_000_000.5)])
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["fastalived_build_info"].samples[0].labels["version"] == __version__
    assert families["fastalived_build_info"].samples[0].value == 1
    assert families["fastalived_config_last_reload_successful"].samples[0].value == 0
    assert families["fastalived_config_last_reload_success_timestamp_seconds"].samples[0].value == 1_700_000_000.5
    if promtool_missing() is not None:
        pytest.skip(str(promtool_missing()))
    result = promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr
