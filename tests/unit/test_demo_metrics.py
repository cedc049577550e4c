"""The client-side numbers of the demo's table: how requests become failures, outage and recovery."""

from __future__ import annotations

from tests.support.http_probe import _classify, _parse
from tests.support.lb_pair import Request, StepResult


def _step(requests: list[Request], web: str | None = None) -> StepResult:
    step = StepResult("fault", fault_at=100.0, ended=103.0, vip_on=("lb2",), served_before="lb1", via="lb2",
                      web=web, daemon_delay=1.0, daemon_event="VIP added on lb2", explanation="", expected=2.0)
    step.requests = requests
    return step


def test_outage_runs_from_first_failure_to_first_answer_after_the_last() -> None:
    step = _step([Request(100.1, "ok", "lb1", "web1"), Request(100.5, "refused"), Request(100.7, "ok", "lb1", "web2"),
                  Request(101.0, "timeout"), Request(101.6, "ok", "lb2", "web1"), Request(102.9, "ok", "lb2", "web2")])
    assert step.failures == {"refused": 1, "timeout": 1}
    assert round(step.outage, 3) == 1.1  # 100.5 -> 101.6
    assert round(step.recovery, 3) == 1.6  # fault -> start of the clean run via lb2


def test_recovery_counts_the_path_switch_even_without_failures() -> None:
    step = _step([Request(100.2, "ok", "lb1", "web1"), Request(101.2, "ok", "lb2", "web1"),
                  Request(102.2, "ok", "lb2", "web2")])
    assert not step.failures and step.outage == 0.0
    assert round(step.recovery, 3) == 1.2
    assert step.webs_after == {"web1", "web2"}


def test_recovery_with_one_web_server_expected() -> None:
    step = _step([Request(100.1, "ok", "lb2", "web1"), Request(100.4, "ok", "lb2", "web2"),
                  Request(100.6, "ok", "lb2", "web2")], web="web2")
    assert round(step.recovery, 3) == 0.4


def test_probe_parses_answers_and_names_failures() -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-load-balancer: lb2\r\n\r\nweb1\n"
    assert _parse(answer) == {"outcome": "ok", "lb": "lb2", "web": "web1"}
    assert _parse(b"HTTP/1.1 503 Service Unavailable\r\n\r\n<html>")["outcome"] == "http 503"
    assert _parse(b"")["outcome"] == "reset"
    assert [_classify(e) for e in (TimeoutError(), ConnectionRefusedError(), ConnectionResetError())] == [
        "timeout", "refused", "reset"]
