"""Prometheus text exposition (format 0.0.4) of :class:`fastalived.runtime.role.Metric` samples.

Roles report flat samples; this module groups them into families, writes HELP/TYPE once per family
and expands histograms into ``_bucket``/``_sum``/``_count``. Hand-written instead of using
prometheus_client's registry because samples arrive as plain data from child processes.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import Any

from fastalived import __version__
from fastalived._compat import extension_in_use
from fastalived.runtime.role import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def build_info() -> Metric:
    """The usual ``*_build_info`` gauge: always 1, the facts in its labels."""
    labels = (
        ("version", __version__),
        ("python", ".".join(map(str, sys.version_info[:3]))),
        ("codec", "cython" if extension_in_use() else "python"),
    )
    return Metric("fastalived_build_info", 1, labels, help="Version of fastalived, its Python and VRRP codec build.")


def reload_metrics(ok: bool, last_success: float) -> list[Metric]:
    """Prometheus' own spelling of config reload health (``prometheus_config_last_reload_*``)."""
    return [
        Metric(
            "fastalived_config_last_reload_successful",
            float(ok),
            help="1 if the last configuration reload (or the start) succeeded.",
        ),
        Metric(
            "fastalived_config_last_reload_success_timestamp_seconds",
            last_success,
            help="Wall clock of the last successful configuration load.",
        ),
    ]


def metric_to_wire(metric: Metric) -> dict[str, Any]:
    """JSON-ready form for the child -> parent channel."""
    return {
        "name": metric.name,
        "value": metric.value,
        "labels": [list(pair) for pair in metric.labels],
        "type": metric.type,
        "help": metric.help,
        "buckets": [list(bucket) for bucket in metric.buckets],
        "sum": metric.sum,
    }


def metric_from_wire(data: dict[str, Any]) -> Metric:
    return Metric(
        name=data["name"],
        value=float(data["value"]),
        labels=tuple((str(k), str(v)) for k, v in data.get("labels", ())),
        type=data.get("type", "gauge"),
        help=data.get("help", ""),
        buckets=tuple((float(le), int(count)) for le, count in data.get("buckets", ())),
        sum=float(data.get("sum", 0.0)),
    )


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    body = ",".join(f'{key}="{_escape_label(value)}"' for key, value in pairs)
    return "{" + body + "}" if body else ""


def _histogram_lines(metric: Metric) -> list[str]:
    buckets = list(metric.buckets)
    if not buckets or not math.isinf(buckets[-1][0]):
        total = buckets[-1][1] if buckets else int(metric.value)
        buckets.append((math.inf, max(total, int(metric.value))))
    lines = [
        f"{metric.name}_bucket{_labels((*metric.labels, ('le', _format_value(le))))} {count}" for le, count in buckets
    ]
    lines.append(f"{metric.name}_sum{_labels(metric.labels)} {_format_value(metric.sum)}")
    lines.append(f"{metric.name}_count{_labels(metric.labels)} {buckets[-1][1]}")
    return lines


def render(metrics: Iterable[Metric]) -> str:
    """The exposition text; samples sharing a name form one family, in first-seen order."""
    families: dict[str, list[Metric]] = {}
    for metric in metrics:
        families.setdefault(metric.name, []).append(metric)
    out: list[str] = []
    for name, members in families.items():
        first = members[0]
        if first.help:
            out.append(f"# HELP {name} {_escape_help(first.help)}")
        out.append(f"# TYPE {name} {first.type}")
        for metric in members:
            if metric.type == "histogram":
                out.extend(_histogram_lines(metric))
            else:
                out.append(f"{name}{_labels(metric.labels)} {_format_value(metric.value)}")
    return "\n".join(out) + "\n" if out else ""
