"""CheckRole end to end on uvloop: real loopback servers, notify scripts, IPVS sink, reload, snapshot."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest
import uvloop

from fastalived.check.events import CheckEvent, RealServerChange, VirtualServerChange
from fastalived.check.process import CheckRole, NoIpvs
from fastalived.check.state import CheckState
from fastalived.config.model import Command, Config, UrlSpec
from tests.check.builders import (
    LOOPBACK,
    config,
    http_check,
    ipvs_weights,
    notify_script,
    real_server,
    tcp_check,
    virtual_server,
)
from tests.support.host import free_port

FAST = {"delay_loop": 0.05, "warmup": 0.0, "retry": 1, "delay_before_retry": 0.02, "connect_timeout": 0.5}


class Switchable:
    """An HTTP server whose answer the test flips between 200 and 503."""

    def __init__(self) -> None:
        self.status = 200
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.0 %d X\r\nContent-Length: 0\r\n\r\n" % self.status)
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(respond, LOOPBACK, 0)
        return int(self.server.sockets[0].getsockname()[1])


class RecordingSink:
    """An IPVS sink that records the table fastalived.ipvs would program after each change."""

    def __init__(self) -> None:
        self.tables: list[dict] = []
        self.closed: bool | None = None

    async def apply(self, config: Config, check_state: CheckState, *, repair: bool = False) -> None:
        self.tables.append(ipvs_weights(config, check_state))

    async def close(self, remove: bool, *, flush: bool = False) -> None:
        self.closed = remove


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_changes_notify_scripts_and_reach_the_ipvs_sink(tmp_path: Path) -> None:
    notify, log_file = notify_script(tmp_path)

    async def main() -> None:
        web = Switchable()
        port = await web.start()
        rs = real_server(
            port,
            http_check(port, UrlSpec("/"), **FAST),
            notify_up=Command(f"{notify} up"),
            notify_down=Command(f"{notify} down"),
        )
        vs = virtual_server(rs, quorum_up=Command(f"{notify} quorum-up"), quorum_down=Command(f"{notify} quorum-down"))
        events: list[CheckEvent] = []
        sink = RecordingSink()
        role = CheckRole(ipvs=sink, on_events=events.extend)
        await role.start(config(vs))
        await until(lambda: role.runs["success"] >= 2)
        web.status = 503
        await until(lambda: any(isinstance(e, RealServerChange) and not e.up for e in events))
        assert events[-2:] == [
            RealServerChange(vs.key, rs.key, False, 0, "url(1) HTTP status 503"),
            VirtualServerChange(vs.key, False),
        ]
        service = "TCP 192.0.2.10:80"
        assert sink.tables[-1] == {service: {}}
        web.status = 200
        await until(lambda: isinstance(events[-1], VirtualServerChange) and events[-1].quorum_up)
        assert sink.tables[-1] == {service: {(LOOPBACK, port): 1}}
        await until(lambda: log_file.exists() and len(log_file.read_text().split()) == 4)
        await role.stop()
        assert sink.closed is True  # IPVS entries released at stop (no -I)
        lines = log_file.read_text().split()  # per server and per quorum in order; the two queues run in parallel
        assert [w for w in lines if not w.startswith("quorum")] == ["down", "up"]
        assert [w for w in lines if w.startswith("quorum")] == ["quorum-down", "quorum-up"]

        snapshot = role.snapshot()
        (server,) = snapshot["virtual_servers"][0]["real_servers"]
        assert server["up"] is True and server["checkers"][0]["last_result"] == "success"
        assert snapshot["scheduler"]["lag_p99"] >= snapshot["scheduler"]["lag_p50"] >= 0
        names = {m.name for m in role.metrics()}
        assert {
            "fastalived_check_real_server_up",
            "fastalived_check_real_server_weight",
            "fastalived_check_latency_seconds",
            "fastalived_check_scheduler_lag_seconds",
            "fastalived_check_runs_total",
        } <= names
        web.server.close()

    uvloop.run(main())


def test_a_hung_server_costs_one_slot_not_the_loop() -> None:
    async def main() -> None:
        web = Switchable()
        port = await web.start()
        hung = await asyncio.start_server(lambda r, w: None, LOOPBACK, 0)  # accepts, never answers
        hung_port = hung.sockets[0].getsockname()[1]
        slow = {**FAST, "connect_timeout": 1.0, "retry": 0}
        vs = virtual_server(
            real_server(port, http_check(port, **FAST)),
            real_server(hung_port, http_check(hung_port, **slow)),
        )
        role = CheckRole(ipvs=NoIpvs())
        await role.start(config(vs))
        await until(lambda: role.runs["success"] >= 10)  # the healthy server keeps being checked meanwhile
        assert role.runs["failure"] == 0  # the hung check is still waiting for its timeout
        assert role.snapshot()["scheduler"]["in_flight"] in (1, 2)  # the hung one (and maybe a healthy one)
        await until(lambda: role.runs["failure"] >= 1)
        snapshot = role.snapshot()
        hung_state = snapshot["virtual_servers"][0]["real_servers"][1]
        assert hung_state["up"] is False and hung_state["checkers"][0]["last_reason"] == "url(1) timeout"
        await until(lambda: any(c.server.key[1] == hung_port for c in role._in_flight))  # hanging again
        await role.reload(config(replace(vs, real_servers=vs.real_servers[:1])))
        assert not any(c.server.key[1] == hung_port for c in role._in_flight)  # removed: its check is cancelled
        await role.stop()
        hung.close()
        web.server.close()

    uvloop.run(main())


def test_reload_keeps_state_starts_new_and_stops_removed_servers() -> None:
    async def main() -> None:
        down_port = free_port()
        web = Switchable()
        port = await web.start()
        kept = real_server(down_port, tcp_check(down_port, **FAST))
        removed = real_server(port, tcp_check(port, **FAST))
        vs = virtual_server(kept, removed)
        role = CheckRole(ipvs=NoIpvs())
        await role.start(config(vs))
        await until(lambda: role.state.real_server(vs.key, kept.key).up is False)
        kept_checker = role.state.real_server(vs.key, kept.key).checkers[0]
        removed_checker = role.state.real_server(vs.key, removed.key).checkers[0]
        added = real_server(port, http_check(port, alpha=True, **FAST))
        await role.reload(config(replace(vs, real_servers=(kept, added))))
        assert role.state.real_server(vs.key, kept.key).checkers[0] is kept_checker
        assert not removed_checker.live
        assert role.state.real_server(vs.key, added.key).up is False  # alpha: starts down
        await until(lambda: role.state.real_server(vs.key, added.key).up)
        assert role.state.real_server(vs.key, kept.key).up is False
        await role.stop()
        web.server.close()

    uvloop.run(main())


def test_without_ipvs_the_checker_says_so_once_and_keeps_checking(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        web = Switchable()
        port = await web.start()
        role = CheckRole(ipvs=NoIpvs())
        with caplog.at_level(logging.INFO, logger="fastalived.check"):
            await role.start(config(virtual_server(real_server(port, http_check(port, **FAST)))))
            web.status = 500
            await until(lambda: role.runs["failure"] >= 3)
            await role.reload(config(virtual_server(real_server(port, http_check(port, **FAST)))))
        await role.stop()
        web.server.close()
        messages = [r.getMessage() for r in caplog.records]
        assert messages.count("IPVS: kernel has no IPVS support; health checks continue without programming LVS") == 1
        assert any(m.startswith("Removing service [127.0.0.1]:tcp:") for m in messages)
        assert role.snapshot()["ipvs"] == "unavailable"

    uvloop.run(main())


def test_ha_suspend_skips_checks_while_the_virtual_address_is_not_local() -> None:
    async def main() -> None:
        web = Switchable()
        port = await web.start()
        here = virtual_server(real_server(port, http_check(port, **FAST)), address=LOOPBACK, ha_suspend=True)
        away = virtual_server(real_server(port, http_check(port, **FAST)), address="192.0.2.55", ha_suspend=True)
        role = CheckRole(ipvs=NoIpvs())
        await role.start(config(here, away))
        await until(lambda: role.runs["success"] >= 5)
        snapshot = {vs["key"]: vs for vs in role.snapshot()["virtual_servers"]}
        assert snapshot[here.key]["suspended"] is False
        assert snapshot[away.key]["suspended"] is True
        assert snapshot[away.key]["real_servers"][0]["checkers"][0]["last_result"] is None  # never checked
        await role.stop()
        web.server.close()

    uvloop.run(main())


def test_metrics_render_as_prometheus_text() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from fastalived.daemon.metrics import render

    async def main() -> str:
        web = Switchable()
        port = await web.start()
        role = CheckRole(ipvs=NoIpvs())
        await role.start(config(virtual_server(real_server(port, http_check(port, **FAST)))))
        await until(lambda: role.runs["success"] >= 3)
        await role.stop()
        web.server.close()
        return render(role.metrics())

    families = {f.name: f for f in text_string_to_metric_families(uvloop.run(main()))}
    assert families["fastalived_check_latency_seconds"].type == "histogram"
    assert families["fastalived_check_scheduler_lag_seconds"].type == "histogram"
    assert families["fastalived_check_runs"].type == "counter"
    (up,) = families["fastalived_check_real_server_up"].samples
    assert up.value == 1.0 and up.labels["vs"] == "TCP:192.0.2.10:80"


def test_smtp_alert_on_real_server_and_quorum_changes() -> None:
    from aiosmtpd.controller import Controller

    from fastalived.config.model import GlobalDefs

    class Inbox:
        def __init__(self) -> None:
            self.subjects: list[str] = []

        async def handle_DATA(self, server, session, envelope) -> str:
            text = envelope.content.decode()
            self.subjects.append(next(ln[9:] for ln in text.splitlines() if ln.startswith("Subject: ")))
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname=LOOPBACK, port=free_port())
    controller.start()

    async def main() -> int:
        web = Switchable()
        port = await web.start()
        rs = real_server(port, http_check(port, **FAST), smtp_alert=True)
        vs = virtual_server(rs, smtp_alert=True)
        defs = GlobalDefs(
            smtp_server=LOOPBACK, smtp_port=controller.port, notification_email=("ops@example.com",), router_id="lb1"
        )
        role = CheckRole(ipvs=NoIpvs())
        await role.start(config(vs, global_defs=defs))
        web.status = 500
        await until(lambda: len(inbox.subjects) >= 2)
        await role.stop()
        web.server.close()
        return port

    try:
        port = uvloop.run(main())
    finally:
        controller.stop()
    assert sorted(inbox.subjects) == [
        f"[lb1] Realserver [127.0.0.1]:tcp:{port} of virtual server [192.0.2.10]:tcp:80 - DOWN",
        "[lb1] Virtualserver [192.0.2.10]:tcp:80 - DOWN",
    ]
