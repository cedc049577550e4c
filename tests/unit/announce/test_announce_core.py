"""The announce core with a fake clock: what gets announced, withdrawn, and why."""

from __future__ import annotations

import ipaddress

from fastalived.announce.core import MASTER, AddRoute, AnnounceCore, DeleteRoute, Route
from fastalived.config import parse_string
from fastalived.config.model import Config

VIP = ipaddress.ip_network("198.51.100.80/32")
VRRP = (
    "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 5\n priority 100\n virtual_ipaddress { 198.51.100.9 }\n}\n"
)


def _config(*services: str, extra: str = "") -> Config:
    text = VRRP + extra + "".join(services)
    result = parse_string(text)
    assert result.ok, result.diagnostics
    return result.config


def _service(port: int, options: str = "") -> str:
    return f"virtual_server 198.51.100.80 {port} {{\n protocol TCP\n fastalived_announce {{\n{options} }}\n}}\n"


WEB = "TCP:198.51.100.80:80"
TLS = "TCP:198.51.100.80:443"


def test_announced_only_after_the_first_checks_and_withdrawn_on_quorum_loss() -> None:
    core = AnnounceCore()
    assert core.configure(_config(_service(80)), 0.0) == []
    assert core.announcements[VIP].reason == "TCP:198.51.100.80:80: checker not running"
    assert core.set_health({}, 1.0) == []
    assert core.announcements[VIP].reason.endswith("first checks pending")
    assert core.set_health({WEB: True}, 2.0) == [AddRoute(Route(VIP))]
    assert core.set_health({WEB: True}, 2.5) == []
    assert core.set_health({WEB: False}, 3.0) == [DeleteRoute(Route(VIP))]
    entry = core.announcements[VIP]
    assert (entry.announced, entry.reason, entry.since, entry.changes) == (False, f"{WEB}: quorum lost", 3.0, 2)


def test_checker_death_and_stop_withdraw_for_good() -> None:
    core = AnnounceCore()
    core.configure(_config(_service(80, "  drain 3\n")), 0.0)
    assert core.set_health({WEB: True}, 1.0) == [AddRoute(Route(VIP))]
    assert core.set_health(None, 2.0) == [DeleteRoute(Route(VIP))]
    assert core.set_health({WEB: True}, 3.0) == [AddRoute(Route(VIP))]
    assert core.stop(4.0) == [DeleteRoute(Route(VIP))]
    assert core.set_health({WEB: True}, 5.0) == []
    assert core.drain_time() == 3.0


def test_require_master_follows_the_vrrp_child() -> None:
    core = AnnounceCore()
    core.configure(_config(_service(80, "  require_master VI_1\n")), 0.0)
    assert core.set_health({WEB: True}, 1.0) == []
    assert core.announcements[VIP].reason.endswith("VRRP not running")
    assert core.set_vrrp_states({"VI_1": 1}, 2.0) == []
    assert core.announcements[VIP].reason.endswith("VI_1 not MASTER")
    assert core.set_vrrp_states({"VI_1": MASTER}, 3.0) == [AddRoute(Route(VIP))]
    assert core.set_vrrp_states(None, 4.0) == [DeleteRoute(Route(VIP))]


def test_a_shared_prefix_needs_every_service_and_takes_the_lowest_metric() -> None:
    core = AnnounceCore()
    core.configure(_config(_service(80, "  metric 200\n"), _service(443, "  metric 100\n")), 0.0)
    assert core.set_health({WEB: True}, 1.0) == []
    assert core.set_health({WEB: True, TLS: True}, 2.0) == [AddRoute(Route(VIP, 100))]
    assert core.set_health({WEB: True, TLS: False}, 3.0) == [DeleteRoute(Route(VIP, 100))]


def test_reload_withdraws_removed_services_and_moves_a_changed_metric() -> None:
    core = AnnounceCore()
    core.configure(_config(_service(80)), 0.0)
    core.set_health({WEB: True}, 1.0)
    changed = core.configure(_config(_service(80, "  metric 50\n")), 2.0)
    assert changed == [AddRoute(Route(VIP, 50)), DeleteRoute(Route(VIP, 0))]
    assert core.configure(_config(), 3.0) == [DeleteRoute(Route(VIP, 50))]
    assert core.announcements == {}
