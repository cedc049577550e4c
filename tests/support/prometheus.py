"""A real Prometheus server for tests, and the checks shared by the contrib/prometheus tests.

The server runs inside a network namespace the test created, on that namespace's loopback, with a
generated config and a throw-away storage directory; it is queried through its own HTTP API.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .testbed import in_netns, stop_process_group, wait_for

ROOT = Path(__file__).resolve().parents[2]
ALERT_RULES = ROOT / "contrib" / "prometheus" / "fastalived-alerts.yml"
ALERT_TESTS = ROOT / "contrib" / "prometheus" / "fastalived-alerts.test.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "fastalived-dashboard.json"

JOB = "fastalived"
_METRIC_NAME = re.compile(r"\bfastalived_[a-z0-9_]+")
_HISTOGRAM_SERIES = re.compile(r"_(?:bucket|sum|count)$")
# Grafana's own variables, replaced by what they mean so promtool can parse the expressions
_GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$instance": ".*"}


def promtool_missing() -> str | None:
    """Why promtool tests cannot run here, or None."""
    return None if shutil.which("promtool") else "promtool not installed (Debian package 'prometheus')"


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True, timeout=60)


def dashboard_expressions() -> list[str]:
    """Every PromQL expression of the Grafana dashboard, Grafana variables substituted."""
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            expr = target["expr"]
            for variable, value in _GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            expressions.append(expr)
    return expressions


def alert_rules() -> list[dict[str, str]]:
    """Each alert rule's ``alert``, ``expr``, ``for`` and ``severity`` (one line each in the file)."""
    rules: list[dict[str, str]] = []
    for line in ALERT_RULES.read_text().splitlines():
        key, _, value = line.strip().removeprefix("- ").partition(": ")
        if key == "alert":
            rules.append({"alert": value, "for": ""})
        elif rules and key in ("expr", "for", "severity"):
            rules[-1][key] = value
    return rules


def alert_expressions() -> list[str]:
    return [rule["expr"] for rule in alert_rules()]


def metric_families(expressions: list[str]) -> set[str]:
    """fastalived metric families named in PromQL ``expressions`` (histogram series -> family)."""
    return {_HISTOGRAM_SERIES.sub("", name) for expr in expressions for name in _METRIC_NAME.findall(expr)}


class PrometheusServer:
    """``prometheus`` in ``netns`` on 127.0.0.1:``port``, scraping ``targets`` every 0.5 s as job ``fastalived``."""

    def __init__(self, netns: str, workdir: Path, targets: list[str], port: int = 9090) -> None:
        self.netns = netns
        self.port = port
        self.log_path = workdir / "prometheus.log"
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n"
            f"rule_files:\n  - {ALERT_RULES}\n"
            f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: {json.dumps(targets)}\n"
        )
        self._argv = [
            "ip", "netns", "exec", netns, "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        if not wait_for(self._ready, timeout, 0.2):
            raise RuntimeError(f"prometheus did not become ready:\n{self.log_text()[-3000:]}")
        return self

    def _ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self._process.returncode}:\n{self.log_text()[-3000:]}")
        try:
            return self._get("/-/ready").startswith(b"Prometheus")
        except OSError:
            return False

    def _get(self, path: str) -> bytes:
        with in_netns(self.netns), urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as reply:
            body: bytes = reply.read()
        return body

    def api(self, endpoint: str, **params: str) -> Any:
        """``data`` of an ``/api/v1/<endpoint>`` answer; AssertionError unless its status is success."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        answer = json.loads(self._get(f"/api/v1/{endpoint}{query}"))
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query: {sorted labels without __name__: value}."""
        result = self.api("query", query=expr)["result"]
        return {
            tuple(sorted((k, v) for k, v in sample["metric"].items() if k != "__name__")): float(sample["value"][1])
            for sample in result
        }

    def wait_query(self, expr: str, timeout: float = 20.0) -> dict[tuple[tuple[str, str], ...], float]:
        """The first non-empty answer to ``expr``; AssertionError after ``timeout``."""
        answer = wait_for(lambda: self.query(expr), timeout, 0.25)
        assert answer, f"no result for {expr!r} within {timeout} s"
        return answer

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        if self._process is not None:
            stop_process_group(self._process, 10)
