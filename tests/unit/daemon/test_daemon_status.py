"""The status endpoint: loopback only, /metrics and /status over real HTTP, the readable table."""

import asyncio
import io
import json
import urllib.error
import urllib.request

import pytest

from fastalived.daemon.status import (
    StatusServer,
    format_status,
    print_status,
    require_loopback,
    status_main,
)
from fastalived.runtime.role import Metric
from tests.support.host import free_port

STATUS = {
    "parent": {
        "pid": 10,
        "version": "0.1.0",
        "uptime": 12.4,
        "config_file": "/etc/keepalived/keepalived.conf",
        "reloads": {"ok": 2, "invalid": 1, "failed": 0},
        "children": {"vrrp": {"pid": 11, "restarts": 0, "ready": True}},
    },
    "roles": {
        "vrrp": {
            "instances": [
                {"name": "VI_1", "state": "MASTER", "priority": 150, "vips": ["198.51.100.1/24"]},
                {"name": "VI_2", "state": "BACKUP", "priority": 100, "vips": []},
            ],
            "sync_groups": {"G1": {"state": "MASTER"}},
            "transitions": [[float(n), "VI_1", "BACKUP", "MASTER"] for n in range(15)],
            "generation": 3,
        }
    },
}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1"])
def test_loopback_addresses_are_accepted(host: str) -> None:
    require_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "198.51.100.1", "::", "localhost"])
def test_anything_else_is_refused(host: str) -> None:
    with pytest.raises(ValueError):
        require_loopback(host)


def test_format_status_renders_tables() -> None:
    text = format_status(STATUS)
    assert "pid 10" in text and "reloads: ok=2, invalid=1, failed=0" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.strip().startswith("NAME") and "PRIORITY" in line)
    assert header.split() == ["NAME", "STATE", "PRIORITY", "VIPS"]
    assert any(line.split()[:3] == ["VI_1", "MASTER", "150"] for line in lines)
    assert any(line.split() == ["G1", "MASTER"] for line in lines)
    assert "generation: 3" in text
    assert "transitions: (5 older not shown)" in text
    assert "  14  VI_1  BACKUP  MASTER" in lines and "  4  VI_1  BACKUP  MASTER" not in lines


def test_nested_rows_become_sub_tables_and_dicts_read_as_pairs() -> None:
    check = {
        "virtual_servers": [
            {
                "key": "TCP:198.51.100.1:80",
                "quorum_up": True,
                "real_servers": [
                    {"address": "203.0.113.1", "up": True, "checkers": [{"kind": "TCP_CHECK", "latency": 0.000125}]}
                ],
            }
        ],
        "scheduler": {"lag_p50": 0.00133, "scheduled": 1},
    }
    lines = format_status({"parent": {}, "roles": {"check": check}}).splitlines()
    assert lines[lines.index("virtual_servers:") + 1].split() == ["KEY", "QUORUM_UP"]
    assert "  TCP:198.51.100.1:80 real_servers:" in lines
    assert "    203.0.113.1 checkers:" in lines
    assert lines[lines.index("    203.0.113.1 checkers:") + 2].split() == ["TCP_CHECK", "0.000125"]
    assert "scheduler: lag_p50=0.00133, scheduled=1" in lines


def _serve_in_thread(port: int, work) -> None:
    async def collect():
        return STATUS, [Metric("fastalived_vrrp_state", 2, (("instance", "VI_1"),))]

    async def main() -> None:
        server = StatusServer(collect)
        await server.start("127.0.0.1", port)
        try:
            await asyncio.to_thread(work)
        finally:
            await server.close()

    asyncio.run(main())


def test_server_answers_metrics_status_and_404() -> None:
    port = free_port()
    seen = {}

    def work() -> None:
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            seen["metrics"] = (r.headers["Content-Type"], r.read().decode())
        with urllib.request.urlopen(base + "/status", timeout=5) as r:
            seen["status"] = json.loads(r.read())
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(base + "/nope", timeout=5)
        seen["404"] = info.value.code
        out = io.StringIO()
        seen["print_rc"] = print_status(f"127.0.0.1:{port}", out)
        seen["printed"] = out.getvalue()

    _serve_in_thread(port, work)
    content_type, body = seen["metrics"]
    assert content_type.startswith("text/plain; version=0.0.4")
    assert 'fastalived_vrrp_state{instance="VI_1"} 2' in body
    assert seen["status"] == STATUS
    assert seen["404"] == 404
    assert seen["print_rc"] == 0 and "VI_1" in seen["printed"]


def test_refuses_to_listen_on_a_public_address() -> None:
    async def collect():
        return {}, []

    async def main() -> None:
        with pytest.raises(ValueError):
            await StatusServer(collect).start("0.0.0.0", free_port())

    asyncio.run(main())


def test_print_status_reports_an_unreachable_daemon() -> None:
    assert print_status(f"127.0.0.1:{free_port()}", io.StringIO()) == 1


def test_status_subcommand_parses_its_address() -> None:
    assert status_main(["--address", f"127.0.0.1:{free_port()}"]) == 1
