"""FILE_CHECK (inotify), HTTP regex / regex_no_match, fast_recovery and the IPVS repair pass,
through CheckRole on uvloop with loopback servers."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
import uvloop

from fastalived.check import process
from fastalived.check.events import CheckEvent, RealServerChange
from fastalived.check.http import HttpProbe
from fastalived.check.process import CheckRole
from fastalived.config.model import CheckerCommon, Command, Config, FileCheck, GlobalDefs, HttpCheck, TrackFile, UrlSpec
from tests.check.builders import (
    LOOPBACK,
    common,
    config,
    notify_script,
    probe_once,
    real_server,
    tcp_check,
    virtual_server,
)
from tests.check.test_check_role import RecordingSink, until
from tests.support.host import free_port

SERVICE = "TCP 192.0.2.10:80"


async def http_server(bodies: dict[str, bytes]) -> tuple[asyncio.Server, int]:
    """Serves ``bodies[path]`` with 200 (the dict may change while it runs), 404 otherwise."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ")[1].decode()
        body = bodies.get(path)
        status = b"200 OK" if body is not None else b"404 Not Found"
        body = body or b""
        writer.write(b"HTTP/1.0 %s\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(respond, LOOPBACK, 0)
    return server, int(server.sockets[0].getsockname()[1])


def test_regex_match_and_no_match() -> None:
    async def main() -> None:
        server, port = await http_server({"/": b"<html>status: healthy, load 3</html>"})

        def check(**url: object) -> HttpCheck:
            return HttpCheck("HTTP_GET", common(port), (UrlSpec("/", **url),))  # type: ignore[arg-type]

        assert (await probe_once(HttpProbe(check(regex=r"status: (healthy|ok)")))).ok
        assert (await probe_once(HttpProbe(check(regex="HEALTHY")))).reason == "url(1) regex did not match"
        assert (await probe_once(HttpProbe(check(regex="HEALTHY", regex_options=("caseless",))))).ok
        assert not (await probe_once(HttpProbe(check(regex="healthy", regex_no_match=True)))).ok
        assert (await probe_once(HttpProbe(check(regex="maintenance", regex_no_match=True)))).ok
        assert not (await probe_once(HttpProbe(check(regex="healthy", regex_max_offset=5)))).ok
        assert not (await probe_once(HttpProbe(check(regex="status", regex_min_offset=10)))).ok
        assert (await probe_once(HttpProbe(check(regex="load", regex_min_offset=10, regex_max_offset=40)))).ok
        server.close()

    uvloop.run(main())


def test_without_fast_recovery_a_down_checker_comes_back_one_url_per_delay_loop() -> None:
    """keepalived: recovering takes one delay_loop per url; fast_recovery checks them all at once."""

    async def main() -> None:
        bodies: dict[str, bytes] = {}
        server, port = await http_server(bodies)
        urls = (UrlSpec("/a"), UrlSpec("/b"), UrlSpec("/c"))
        timing = {"delay_loop": 0.3, "retry": 0, "connect_timeout": 0.5, "warmup": 0.0}
        slow = real_server(port, HttpCheck("HTTP_GET", common(port, **timing), urls))
        fast = real_server(port + 1, HttpCheck("HTTP_GET", common(port, **timing), urls, fast_recovery=True))
        vs = virtual_server(slow, fast)
        events: list[CheckEvent] = []
        role = CheckRole(ipvs=RecordingSink(), on_events=events.extend)
        await role.start(config(vs))
        await until(lambda: sum(1 for e in events if isinstance(e, RealServerChange) and not e.up) == 2)
        bodies.update({"/a": b"a", "/b": b"b", "/c": b"c"})
        healed, seen = time.monotonic(), len(events)
        came_up: dict[int | None, float] = {}

        def record() -> bool:
            for event in events[seen:]:
                if isinstance(event, RealServerChange) and event.up and event.rs_key[1] not in came_up:
                    came_up[event.rs_key[1]] = time.monotonic() - healed
            return len(came_up) == 2

        await until(record)
        assert came_up[port + 1] < 0.45  # the next check fetches all three urls
        assert came_up[port] >= 0.6  # three checks, a delay_loop apart
        await role.stop()
        server.close()

    uvloop.run(main())


def test_file_check_follows_the_file_through_inotify(tmp_path: Path) -> None:
    path = tmp_path / "weight"
    tracked = TrackFile("app", str(path), weight=2, init_value=0, init_overwrite=True)
    common_ = CheckerCommon(connect_ip=common().connect_ip, connect_port=80, delay_loop=3600.0, warmup=0.0, retry=0)
    weighted = FileCheck("FILE_CHECK", common_, tracked, weight=2)
    gate = FileCheck("FILE_CHECK", common_, tracked, weight=0)

    async def main() -> None:
        path.write_text("5\n")  # overwritten by init_file ... overwrite at start
        rs_weighted = real_server(80, weighted, weight=10)
        rs_gate = real_server(81, gate, weight=1)
        vs = virtual_server(rs_weighted, rs_gate)
        sink = RecordingSink()
        role = CheckRole(ipvs=sink, on_events=lambda events: None)
        await role.start(config(vs, track_files=(tracked,)))
        assert path.read_text() == "0\n"
        await until(lambda: bool(sink.tables) and sink.tables[-1] == {SERVICE: {(LOOPBACK, 80): 10, (LOOPBACK, 81): 1}})
        path.write_text("3\n")  # weight 10 + 3*2; the weight-0 checker: non-zero means down
        await until(lambda: sink.tables[-1] == {SERVICE: {(LOOPBACK, 80): 16}}, timeout=2)
        replacement = tmp_path / "weight.new"
        replacement.write_text("-2\n")
        replacement.rename(path)  # replaced by mv: seen through the directory watch
        await until(lambda: sink.tables[-1] == {SERVICE: {(LOOPBACK, 80): 6}}, timeout=2)
        path.unlink()  # missing reads as 0
        await until(lambda: sink.tables[-1] == {SERVICE: {(LOOPBACK, 80): 10, (LOOPBACK, 81): 1}}, timeout=2)
        await role.stop()

    uvloop.run(main())


def test_rs_init_notifies_reports_the_first_up(tmp_path: Path) -> None:
    script, log_file = notify_script(tmp_path)

    async def main() -> None:
        rs = real_server(80, notify_up=Command(f"{script} up"))
        role = CheckRole(ipvs=RecordingSink())
        await role.start(config(virtual_server(rs), global_defs=GlobalDefs(rs_init_notifies=True)))
        await until(lambda: log_file.exists() and log_file.read_text().split() == ["up"])
        await role.stop()

    uvloop.run(main())


class RepairingSink(RecordingSink):
    def __init__(self) -> None:
        super().__init__()
        self.repairs = 0

    async def apply(self, config: Config, check_state: object, *, repair: bool = False) -> None:
        self.repairs += repair


def test_the_ipvs_sink_gets_a_repair_pass_without_any_checker_event(monkeypatch: object) -> None:
    """Static real servers produce no events; the timer still re-reads the kernel (``ipvsadm -d`` repair)."""
    monkeypatch.setattr(process, "IPVS_REPAIR_INTERVAL", 0.05)  # type: ignore[attr-defined]

    async def main() -> None:
        sink = RepairingSink()
        role = CheckRole(ipvs=sink)
        await role.start(config(virtual_server(real_server(80))))
        await until(lambda: sink.repairs >= 3)
        await role.stop()

    uvloop.run(main())


def test_log_all_failures_logs_each_failure_while_up(caplog: pytest.LogCaptureFixture) -> None:
    """Without it only the change is logged; with it (or checker_log_all_failures) every failed retry too."""

    loud_port = free_port()

    async def main() -> None:
        timing = {"delay_loop": 0.05, "retry": 3, "delay_before_retry": 0.02, "connect_timeout": 0.2}
        quiet = real_server(free_port(), tcp_check(free_port(), warmup=0.0, **timing))
        loud = real_server(loud_port, tcp_check(free_port(), warmup=0.0, log_all_failures=True, **timing))
        events: list[CheckEvent] = []
        role = CheckRole(ipvs=RecordingSink(), on_events=events.extend)
        await role.start(config(virtual_server(quiet, loud)))
        await until(lambda: sum(1 for e in events if isinstance(e, RealServerChange) and not e.up) == 2)
        await role.stop()

    with caplog.at_level(logging.INFO, logger="fastalived.check"):
        uvloop.run(main())
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("TCP_CHECK on")]
    assert len(failures) == 4  # the loud checker: 3 retries and the failure that takes it down
    assert all(f":{loud_port}|" in failure for failure in failures)
