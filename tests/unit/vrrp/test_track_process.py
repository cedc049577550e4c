"""vrrp_track_process: matching, quorum and delays (sans-IO, fake clock), and the connector's
message decoding."""

from __future__ import annotations

import struct

import pytest

from fastalived.config import parse_string
from fastalived.config.model import TrackProcess
from fastalived.vrrp.proc_events import Ack, Comm, Exec, Exit, Fork, decode, subscribe_message
from fastalived.vrrp.router import VrrpRouter
from fastalived.vrrp.track_process import ProcessStatus, ProcessTracker, Seen, matches, params_match
from fastalived.vrrp.tracking import track_definitions


def seen(pid: int, comm: str, *argv: str) -> Seen:
    cmdline = b"".join(a.encode() + b"\0" for a in argv) if argv else None
    return Seen(pid, comm, cmdline)


def full(process: str, *params: str, match: str = "exact") -> TrackProcess:
    return TrackProcess("t", process, params=params, param_match=match, full_command=True)  # type: ignore[arg-type]


# ------------------------------------------------------------------ matching


def test_name_match_is_exact_not_a_pattern() -> None:
    track = TrackProcess("t", "ssh")
    assert matches(track, "ssh", None)
    assert not matches(track, "sshd", None)  # pgrep ssh would match; keepalived does not


def test_full_command_compares_the_first_word_only() -> None:
    track = TrackProcess("t", "/usr/sbin/haproxy", full_command=True)
    assert matches(track, None, b"/usr/sbin/haproxy\0-f\0/etc/h.cfg\0")
    assert not matches(track, None, b"haproxy\0")
    assert not matches(track, None, None)


@pytest.mark.parametrize(
    ("match", "params", "argv", "expected"),
    [
        ("exact", ("-f", "a.cfg"), ("-f", "a.cfg"), True),
        ("exact", ("-f", "a.cfg"), ("-f", "a.cfg", "-d"), False),
        ("exact", ("-f", "a.cfg"), ("-f", "a.cf"), False),
        ("exact", (), (), True),  # bare param_match: no parameters at all
        ("exact", (), ("-d",), False),
        ("partial", ("-f", "a.cfg"), ("-f", "a.cfg", "-d"), True),
        ("partial", ("-f", "a"), ("-f", "a.cfg"), False),
        ("partial", (), ("-d",), True),
        ("initial", ("-f", "a"), ("-f", "a.cfg", "-d"), True),
        ("initial", ("-f", "a"), ("-x", "a.cfg"), False),
        ("initial", ("-f", "a.cfg"), ("-f",), False),
    ],
)
def test_param_match_as_keepalived(match: str, params: tuple[str, ...], argv: tuple[str, ...], expected: bool) -> None:
    track = full("/bin/p", *params, match=match)
    assert params_match(track, b"".join(a.encode() + b"\0" for a in argv)) is expected
    assert matches(track, None, b"/bin/p\0" + b"".join(a.encode() + b"\0" for a in argv)) is expected


# ------------------------------------------------------------------ quorum and events


def test_first_scan_reports_every_status_and_later_ones_only_changes() -> None:
    tracker = ProcessTracker([TrackProcess("a", "nginx"), TrackProcess("b", "redis")])
    assert tracker.scan([seen(10, "nginx"), seen(11, "bash")], 0.0) == [
        ProcessStatus("a", True),
        ProcessStatus("b", False),
    ]
    assert tracker.scan([seen(10, "nginx")], 1.0) == []
    assert tracker.scan([seen(12, "redis")], 2.0) == [ProcessStatus("a", False), ProcessStatus("b", True)]


def test_quorum_and_quorum_max() -> None:
    tracker = ProcessTracker([TrackProcess("w", "worker", quorum=2, quorum_max=3)])
    assert tracker.scan([seen(1, "worker")], 0.0) == [ProcessStatus("w", False)]
    assert tracker.exec(seen(2, "worker"), 1.0) == [ProcessStatus("w", True)]
    assert tracker.exec(seen(3, "worker"), 1.0) == []
    assert tracker.exec(seen(4, "worker"), 1.0) == [ProcessStatus("w", False)]  # 4 > quorum_max
    assert tracker.exit(4, 2.0) == [ProcessStatus("w", True)]
    assert tracker.exit(99, 2.0) == []  # never counted
    assert tracker.count("w") == 3


def test_quorum_max_zero_means_up_while_none_runs() -> None:
    tracker = ProcessTracker([TrackProcess("none", "evil", quorum=0, quorum_max=0)])
    assert tracker.scan([], 0.0) == [ProcessStatus("none", True)]
    assert tracker.exec(seen(5, "evil"), 1.0) == [ProcessStatus("none", False)]
    assert tracker.exit(5, 2.0) == [ProcessStatus("none", True)]


def test_a_forked_child_counts_where_its_parent_does_until_it_execs_something_else() -> None:
    tracker = ProcessTracker([TrackProcess("w", "worker", quorum=2)])
    tracker.scan([seen(1, "worker")], 0.0)
    assert tracker.fork(50, 51, 1.0) == []  # not a tracked parent
    assert tracker.fork(1, 2, 1.0) == [ProcessStatus("w", True)]
    assert tracker.fork(1, 2, 1.0) == []  # seen twice (scan raced the event): counted once
    assert tracker.exec(seen(2, "sh"), 2.0) == [ProcessStatus("w", False)]


def test_fork_delay_holds_the_gain_and_a_quick_exit_cancels_it() -> None:
    tracker = ProcessTracker([TrackProcess("w", "worker", quorum=2, fork_delay=0.5)])
    tracker.scan([seen(1, "worker")], 0.0)
    assert tracker.fork(1, 2, 10.0) == []
    assert tracker.next_deadline() == 10.5
    assert tracker.expire(10.4) == []
    assert tracker.expire(10.5) == [ProcessStatus("w", True)]
    assert tracker.next_deadline() is None
    assert tracker.exit(2, 11.0) == [ProcessStatus("w", False)]  # no terminate_delay: at once
    # a fork that exits before the delay ends never shows up
    tracker.fork(1, 3, 12.0)
    assert tracker.exit(3, 12.1) == [] and tracker.next_deadline() is None
    assert tracker.status("w") is False


def test_terminate_delay_holds_the_loss_and_a_respawn_cancels_it() -> None:
    tracker = ProcessTracker([TrackProcess("h", "haproxy", terminate_delay=2.0)])
    tracker.scan([seen(1, "haproxy"), seen(9, "init")], 0.0)
    assert tracker.exit(1, 5.0) == []
    assert tracker.next_deadline() == 7.0
    # the supervisor re-forks and the child execs haproxy: counts at once, the delay is cancelled
    assert tracker.fork(9, 2, 6.0) == []
    assert tracker.exec(seen(2, "haproxy"), 6.1) == []
    assert tracker.next_deadline() is None and tracker.status("h") is True
    assert tracker.exit(2, 8.0) == []
    assert tracker.expire(10.0) == [ProcessStatus("h", False)]


def test_delay_sets_both_and_the_count_at_expiry_decides() -> None:
    (track,) = parse_string("vrrp_track_process p {\n process worker\n delay 1.5\n}\n").config.track_processes
    assert (track.fork_delay, track.terminate_delay) == (1.5, 1.5)
    tracker = ProcessTracker([track])
    tracker.scan([seen(1, "worker")], 0.0)
    assert tracker.exit(1, 1.0) == []
    assert tracker.exec(seen(2, "worker"), 1.2) == []  # back before the delay: nothing to report
    assert tracker.expire(5.0) == []


def test_rename_moves_a_process_between_name_matched_definitions() -> None:
    tracker = ProcessTracker([TrackProcess("a", "old"), TrackProcess("b", "new"), full("/bin/new")])
    tracker.scan([seen(1, "old", "/bin/new")], 0.0)
    assert tracker.comm(1, "new", 1.0) == [ProcessStatus("a", False), ProcessStatus("b", True)]
    assert tracker.status("t") is True  # command-line matching ignores renames


def test_a_rescan_after_lost_events_recounts_with_the_terminate_delay() -> None:
    tracker = ProcessTracker([TrackProcess("h", "haproxy", terminate_delay=1.0)])
    tracker.scan([seen(1, "haproxy")], 0.0)
    assert tracker.scan([], 5.0) == []
    assert tracker.expire(6.0) == [ProcessStatus("h", False)]
    assert tracker.scan([seen(3, "haproxy")], 7.0) == [ProcessStatus("h", True)]


def test_only_what_the_definitions_need_is_read() -> None:
    assert ProcessTracker([TrackProcess("a", "x")]).needs_cmdline is False
    tracker = ProcessTracker([full("/bin/p", "-f", "c")])
    assert (tracker.needs_comm, tracker.needs_cmdline) == (False, True)
    assert tracker.cmdline_limit == len(b"/bin/p\0-f\0c\0") + 2


# ------------------------------------------------------------------ into the router


def test_router_faults_an_instance_without_quorum_and_applies_weights() -> None:
    config = parse_string("""\
vrrp_track_process two {
    process worker
    quorum 2
}
vrrp_track_process web {
    process nginx
    weight -60
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 150
    track_process {
        two
        web
    }
}
""").config
    assert track_definitions(config)["process"]["web"].weight == -60
    router = VrrpRouter()
    router.configure(config)
    inst = router.add(config.vrrp_instances[0])
    router.tracked_changed("process", "two", False, 0.0)
    router.tracked_changed("process", "web", False, 0.0)
    assert inst.tracking.faulted and inst.tracking.effective_priority == 90
    router.tracked_changed("process", "two", True, 1.0)
    router.tracked_changed("process", "web", True, 1.0)
    assert not inst.tracking.faulted and inst.tracking.effective_priority == 150


# ------------------------------------------------------------------ the connector's messages


def _message(what: int, ids: tuple[int, ...], ack: int = 0, comm: bytes = b"") -> bytes:
    data = struct.pack(f"={len(ids)}i", *ids) + (comm.ljust(16, b"\0") if comm else b"")
    event = struct.pack("=IIQ", what, 0, 123) + data.ljust(24, b"\0")
    cn = struct.pack("=IIIIHH", 1, 1, 7, ack, len(event), 0)
    return struct.pack("=IHHII", 16 + len(cn) + len(event), 3, 0, 0, 0) + cn + event


def test_decode_keeps_whole_process_events_and_drops_threads() -> None:
    assert decode(_message(0, (), ack=1)) == Ack()
    assert decode(_message(0x1, (100, 100, 200, 200))) == Fork(100, 200)
    assert decode(_message(0x1, (100, 100, 201, 200))) is None  # a new thread
    assert decode(_message(0x2, (300, 300))) == Exec(300)
    assert decode(_message(0x2, (301, 300))) is None
    assert decode(_message(0x80000000, (300, 300, 0, 17))) == Exit(300)
    assert decode(_message(0x200, (300, 300), comm=b"renamed")) == Comm(300, "renamed")
    assert decode(_message(0x4, (300, 300))) is None  # uid change: not tracked
    assert decode(b"\0" * 20) is None


def test_subscribe_message_layout() -> None:
    message = subscribe_message(True)
    assert len(message) == 40 and struct.unpack_from("=I", message)[0] == 40
    assert struct.unpack_from("=IIIIHHI", message, 16) == (1, 1, 0, 0, 4, 0, 1)
    assert struct.unpack_from("=I", subscribe_message(False), 36) == (2,)
