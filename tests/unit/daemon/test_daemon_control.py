"""``fastalived ctl``: the parent's overrides, the controller's answers and the control socket."""

from __future__ import annotations

import asyncio
import json
import stat
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from fastalived.config import parse_string
from fastalived.config.model import Config
from fastalived.daemon import overrides as state_file
from fastalived.daemon.control import Controller, ControlServer
from fastalived.daemon.ctl import ctl_main, request, socket_path
from fastalived.daemon.overrides import Overrides, Refused, match_real_servers

CONFIG_TEXT = """
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        198.51.100.1/24
    }
}
virtual_server 198.51.100.1 80 {
    protocol TCP
    real_server 203.0.113.1 8080 {
        weight 3
    }
    real_server 203.0.113.2 8080 {
    }
}
virtual_server 198.51.100.1 443 {
    protocol TCP
    real_server 203.0.113.1 8443 {
    }
}
"""
WEB, TLS = "TCP:198.51.100.1:80", "TCP:198.51.100.1:443"


def config() -> Config:
    result = parse_string(CONFIG_TEXT)
    assert result.ok, result.diagnostics
    return result.config


def key(vs: str, address: str, port: int) -> tuple[str, tuple[Any, int]]:
    return vs, (ip_address(address), port)


# --------------------------------------------------------------------------- overrides


def test_maintenance_is_checked_against_the_configuration() -> None:
    overrides = Overrides()
    with pytest.raises(Refused, match="no vrrp_instance 'VI_9' in the configuration \\(known: VI_1\\)"):
        overrides.set_maintenance(config(), "VI_9", True, False, 0.0)
    assert overrides.set_maintenance(config(), "VI_1", True, False, 1.0) == []
    assert overrides.set_maintenance(config(), "VI_1", True, False, 2.0) == [
        "nothing changed: VI_1 is already in maintenance"
    ]
    assert overrides.set_maintenance(config(), "VI_1", True, True, 2.0) == ["VI_1: maintenance now persisted"]
    assert overrides.for_role("vrrp") == {"maintenance": ["VI_1"]}
    assert overrides.set_maintenance(config(), "VI_1", False, False, 3.0) == []
    assert overrides.set_maintenance(config(), "VI_1", False, False, 3.0) == [
        "nothing changed: VI_1 is not in maintenance"
    ]


def test_real_servers_are_named_by_address_port_and_virtual_server_spellings() -> None:
    cfg = config()
    assert match_real_servers(cfg, "203.0.113.1", None) == [
        key(WEB, "203.0.113.1", 8080),
        key(TLS, "203.0.113.1", 8443),
    ]
    assert match_real_servers(cfg, "203.0.113.1:8443", None) == [key(TLS, "203.0.113.1", 8443)]
    for spelling in (WEB, "198.51.100.1:80"):
        assert match_real_servers(cfg, "203.0.113.1", spelling) == [key(WEB, "203.0.113.1", 8080)]
    with pytest.raises(Refused, match=r"no real_server 203\.0\.113\.9 in any virtual_server"):
        match_real_servers(cfg, "203.0.113.9", None)
    with pytest.raises(Refused, match=r"no virtual_server '198\.51\.100\.1:8080'"):
        match_real_servers(cfg, "203.0.113.1", "198.51.100.1:8080")
    with pytest.raises(Refused, match="not a real server address"):
        match_real_servers(cfg, "web-1", None)


def test_drain_restore_prune_and_the_wire_form() -> None:
    overrides = Overrides()
    with pytest.raises(Refused, match="cannot be negative"):
        overrides.drain(config(), "203.0.113.2", None, -1, False, 0.0)
    assert overrides.drain(config(), "203.0.113.2", None, 30, False, 100.0) == []
    assert overrides.for_role("check") == {"drains": [{"vs": WEB, "rs": "203.0.113.2", "port": 8080, "until": 130.0}]}
    assert overrides.drain(config(), "203.0.113.2", None, 30, False, 100.0) == [
        "nothing changed: 203.0.113.2:8080 in TCP:198.51.100.1:80 is already drained"
    ]
    assert overrides.restore(config(), "203.0.113.1", None) == ["nothing changed: 203.0.113.1 is not drained"]
    smaller = parse_string(CONFIG_TEXT.replace("    real_server 203.0.113.2 8080 {\n    }\n", ""))
    assert overrides.prune(smaller.config) == ["drain of 203.0.113.2:8080 in TCP:198.51.100.1:80"]
    assert overrides.drains == {}


def test_only_persisted_overrides_reach_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / state_file.STATE_FILE
    overrides = Overrides()
    overrides.set_maintenance(config(), "VI_1", True, True, 5.0)
    overrides.drain(config(), "203.0.113.1:8080", None, None, True, 6.0)
    overrides.drain(config(), "203.0.113.2", None, None, False, 7.0)
    state_file.save(overrides, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = state_file.load(path)
    assert list(back.maintenance) == ["VI_1"] and back.maintenance["VI_1"].persist
    assert (
        list(back.drains) == [key(WEB, "203.0.113.1", 8080)] and back.drains[key(WEB, "203.0.113.1", 8080)].since == 6.0
    )
    state_file.save(Overrides(), path)
    assert not path.exists()
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"fastalived\.state"):
        state_file.load(path)


# --------------------------------------------------------------------------- controller


class FakeParent:
    """The supervisor's side: which child got which set, and what it answers."""

    def __init__(self, answers: dict[str, dict[str, Any] | None]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def steer(self, role: str, overrides: dict[str, Any]) -> dict[str, Any] | None:
        self.sent.append((role, overrides))
        return self.answers.get(role)

    async def collect(self) -> tuple[dict[str, Any], list[Any]]:
        return {"parent": {"pid": 1}}, []


def controller(tmp_path: Path, parent: FakeParent) -> Controller:
    control = Controller(str(tmp_path), parent.steer, parent.collect, clock=lambda: 1000.0)
    control.start(config())
    return control


def test_controller_forwards_and_answers_with_what_the_child_changed(tmp_path: Path) -> None:
    parent = FakeParent({"vrrp": {"ok": True, "changed": ["VI_1: maintenance on (VI_1 MASTER -> BACKUP)"]}})
    control = controller(tmp_path, parent)
    answer = asyncio.run(control.handle({"cmd": "maintenance", "instance": "VI_1"}))
    assert answer == {"ok": True, "changed": ["VI_1: maintenance on (VI_1 MASTER -> BACKUP)"], "notes": []}
    assert parent.sent == [("vrrp", {"maintenance": ["VI_1"]})]
    again = asyncio.run(control.handle({"cmd": "maintenance", "instance": "VI_1"}))
    assert again["changed"] == [] and again["notes"] == ["nothing changed: VI_1 is already in maintenance"]
    assert len(parent.sent) == 1  # nothing to forward
    refused = asyncio.run(control.handle({"cmd": "resume", "instance": "VI_2"}))
    assert refused["ok"] is False and "no vrrp_instance 'VI_2'" in refused["error"]
    assert asyncio.run(control.handle({"cmd": "reboot"}))["ok"] is False
    assert asyncio.run(control.handle({"cmd": "drain"}))["error"].startswith("malformed request")
    assert asyncio.run(control.handle({"cmd": "status"})) == {"ok": True, "status": {"parent": {"pid": 1}}}


def test_a_child_not_running_gets_the_override_at_its_start(tmp_path: Path) -> None:
    parent = FakeParent({"check": None})
    control = controller(tmp_path, parent)
    answer = asyncio.run(control.handle({"cmd": "drain", "rs": "203.0.113.2", "timeout": 5}))
    assert answer["ok"] and answer["notes"] == ["the checker child is not running: applied when it starts"]
    assert control.for_role("check") == {"drains": [{"vs": WEB, "rs": "203.0.113.2", "port": 8080, "until": 1005.0}]}
    assert control.for_role("vrrp") is None


def test_persisted_overrides_survive_a_restart_and_others_do_not(tmp_path: Path) -> None:
    parent = FakeParent({"vrrp": {"ok": True, "changed": []}, "check": {"ok": True, "changed": []}})
    control = controller(tmp_path, parent)
    asyncio.run(control.handle({"cmd": "maintenance", "instance": "VI_1", "persist": True}))
    asyncio.run(control.handle({"cmd": "drain", "rs": "203.0.113.2"}))
    restarted = controller(tmp_path, FakeParent({}))
    assert restarted.for_role("vrrp") == {"maintenance": ["VI_1"]}
    assert restarted.for_role("check") is None
    asyncio.run(restarted.handle({"cmd": "resume", "instance": "VI_1"}))
    assert not (tmp_path / state_file.STATE_FILE).exists()


# --------------------------------------------------------------------------- socket and client


def test_the_socket_is_private_and_carries_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parent = FakeParent({"vrrp": {"ok": True, "changed": ["VI_1: maintenance on"]}})
    control = controller(tmp_path, parent)

    async def scenario() -> tuple[int, dict[str, Any], int, int, str]:
        server = ControlServer(control.handle)
        path = socket_path(str(tmp_path))
        await server.start(path)
        mode = stat.S_IMODE(path.stat().st_mode)
        second = ControlServer(control.handle)
        try:
            await second.start(path)
            in_use = ""
        except OSError as exc:
            in_use = str(exc)
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b"[1]\n")
        malformed = json.loads(await reader.readline())
        writer.close()
        done = await asyncio.to_thread(ctl_main, ["--run-dir", str(tmp_path), "maintenance", "VI_1"])
        refused = await asyncio.to_thread(ctl_main, ["--socket", str(path), "resume", "VI_7"])
        await server.close()
        assert not path.exists()
        return mode, malformed, done, refused, in_use

    mode, malformed, done, refused, in_use = asyncio.run(scenario())
    assert mode == 0o600
    assert "in use by another daemon" in in_use
    assert malformed == {"ok": False, "error": "malformed request: not a JSON object"}
    assert (done, refused) == (0, 1)
    out, err = capsys.readouterr()
    assert out == "VI_1: maintenance on\n"
    assert "fastalived ctl: no vrrp_instance 'VI_7'" in err
    assert ctl_main(["--run-dir", str(tmp_path), "status"]) == 1  # nobody listens any more
    with pytest.raises(OSError):
        request(socket_path(str(tmp_path)), {"cmd": "status"}, timeout=1)
