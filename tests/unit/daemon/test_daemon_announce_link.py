"""What the children report for announcements: settled health per service, VRRP states."""

from __future__ import annotations

from fastalived.check.state import CheckResult, CheckState
from fastalived.config import parse_string
from fastalived.daemon.announce_link import VrrpStateReport, settled_health
from fastalived.daemon.channel import Message
from fastalived.vrrp.notify import NoSyncDaemon

CONFIG = """virtual_server 198.51.100.80 80 {
    protocol TCP
    real_server 203.0.113.21 80 {
        TCP_CHECK {
        }
    }
    real_server 203.0.113.22 80 {
        TCP_CHECK {
        }
    }
    fastalived_announce {
    }
}
"""


def test_health_is_settled_only_once_every_checker_ran() -> None:
    state = CheckState()
    state.load(parse_string(CONFIG).config, 0.0)
    (vs,) = state.virtual_servers.values()
    first, second = (checker for checker in state.checkers())
    assert settled_health(vs) is None  # quorum starts up, but nothing has been checked yet
    state.record(first, CheckResult(True), 1.0)
    assert settled_health(vs) is None
    state.record(second, CheckResult(False), 1.0)  # retry 1: still up after one failure
    assert settled_health(vs) is True


def test_vrrp_states_are_sent_on_change_only() -> None:
    sent: list[Message] = []
    report = VrrpStateReport(NoSyncDaemon(), sent.append)
    report.configure(parse_string("").config, {})
    report.instance_changed("VI_1", 1)
    report.instance_changed("VI_1", 1)
    report.instance_changed("VI_1", 2)
    assert [message["states"] for message in sent] == [{}, {"VI_1": 1}, {"VI_1": 2}]
    assert all(message["op"] == "vrrp" for message in sent)
