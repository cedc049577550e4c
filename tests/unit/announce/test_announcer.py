"""The parent's announcer over a recording table: route calls, stale-route flush, table moves, rows."""

from __future__ import annotations

import ipaddress

from fastalived.announce.announcer import Announcer
from fastalived.announce.core import Route
from fastalived.config import parse_string
from fastalived.config.model import Config

VIP = ipaddress.ip_network("198.51.100.80/32")
WEB = "TCP:198.51.100.80:80"


class RecordingTable:
    """Stands in for :class:`fastalived.announce.routes.RouteTable`."""

    def __init__(self, table: int, calls: list[tuple[str, object]]) -> None:
        self.table = table
        self._calls = calls

    def add(self, route: Route) -> None:
        self._calls.append(("add", self.table, route.prefix))

    def delete(self, route: Route) -> None:
        self._calls.append(("delete", self.table, route.prefix))

    def flush(self) -> list[Route]:
        self._calls.append(("flush", self.table))
        return []

    def close(self) -> None:
        self._calls.append(("close", self.table))


def _config(table: int = 201) -> Config:
    text = f"global_defs {{\n fastalived_announce_table {table}\n}}\n"
    text += "virtual_server 198.51.100.80 80 {\n protocol TCP\n fastalived_announce {\n  drain 2\n }\n}\n"
    return parse_string(text).config


def _announcer(calls: list[tuple[str, object]], clock: list[float]) -> Announcer:
    return Announcer(clock=lambda: clock[0], open_table=lambda table: RecordingTable(table, calls))  # type: ignore[arg-type,return-value]


def test_routes_follow_the_core_and_a_stop_reports_the_drain() -> None:
    calls: list[tuple[str, object]] = []
    clock = [10.0]
    announcer = _announcer(calls, clock)
    announcer.configure(_config())
    assert calls == [("flush", 201)]
    clock[0] = 11.0
    announcer.set_health({WEB: True})
    assert calls[-1] == ("add", 201, VIP)
    (row,) = announcer.snapshot()
    assert (row["prefix"], row["state"], row["reason"], row["table"], row["changes"]) == (
        "198.51.100.80/32",
        "announced",
        "healthy",
        201,
        1,
    )
    names = {metric.name for metric in announcer.metrics()}
    assert "fastalived_announce_up" in names
    assert announcer.withdraw_all() == 2.0
    assert calls[-1] == ("delete", 201, VIP)
    assert announcer.withdraw_all() == 0.0  # nothing left to drain


def test_a_new_table_id_moves_the_routes() -> None:
    calls: list[tuple[str, object]] = []
    clock = [0.0]
    announcer = _announcer(calls, clock)
    announcer.configure(_config(201))
    announcer.set_health({WEB: True})
    calls.clear()
    announcer.configure(_config(300))
    assert calls == [("delete", 201, VIP), ("close", 201), ("flush", 300), ("add", 300, VIP)]


def test_no_announcement_opens_no_table() -> None:
    calls: list[tuple[str, object]] = []
    announcer = _announcer(calls, [0.0])
    announcer.configure(parse_string("virtual_server 198.51.100.80 80 {\n protocol TCP\n}\n").config)
    announcer.set_health(None)
    assert calls == [] and announcer.snapshot() == []
