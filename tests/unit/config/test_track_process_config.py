"""``vrrp_track_process`` definitions and ``track_process`` lists, parsed as keepalived 2.2.7 does."""

from __future__ import annotations

from fastalived.config import parse_string
from fastalived.config.model import QUORUM_MAX_UNLIMITED, TrackProcess


def test_all_options() -> None:
    result = parse_string("""\
vrrp_track_process haproxy {
    process /usr/sbin/haproxy -f "/etc/a b.cfg"
    param_match initial
    weight -60 reverse
    quorum 2
    quorum_max 3
    delay 0.5
    fork_delay 1.25
}
vrrp_track_process nginx {
    process nginx
}
vrrp_track_process plain {
    process /bin/sleep
    full_command
}
""")
    assert result.ok and not result.diagnostics
    haproxy, nginx, plain = result.config.track_processes
    assert haproxy == TrackProcess(
        "haproxy", "/usr/sbin/haproxy", ("-f", "/etc/a b.cfg"), "initial", True, -60, True, 2, 3, 1.25, 0.5,
        where=haproxy.where,
    )  # fmt: skip
    # keepalived's defaults: weight 0 (FAULT on quorum loss), quorum 1, no maximum, match the name
    assert (nginx.weight, nginx.quorum, nginx.quorum_max, nginx.full_command) == (0, 1, QUORUM_MAX_UNLIMITED, False)
    assert (plain.full_command, plain.param_match, plain.params) == (True, "none", ())


def test_parameters_imply_an_exact_command_line_match() -> None:
    (track,) = parse_string("vrrp_track_process p {\n process /bin/p -d\n}\n").config.track_processes
    assert (track.param_match, track.full_command, track.params) == ("exact", True, ("-d",))
    (bare,) = parse_string("vrrp_track_process p {\n process /bin/p\n param_match\n}\n").config.track_processes
    assert (bare.param_match, bare.full_command) == ("exact", True)


def test_quorum_rules_follow_keepalived_order() -> None:
    result = parse_string("""\
vrrp_track_process a {
    process a
    quorum_max 2
    quorum 3
}
vrrp_track_process b {
    process b
    quorum 3
    quorum_max 2
}
vrrp_track_process none {
    process c
    quorum_max 0
}
""")
    a, b, none = result.config.track_processes
    assert (a.quorum, a.quorum_max) == (1, 2)
    assert (b.quorum, b.quorum_max) == (3, QUORUM_MAX_UNLIMITED)
    assert (none.quorum, none.quorum_max) == (0, 0)  # up while no such process runs
    assert [str(d) for d in result.diagnostics] == [
        "<string>:4:12: error: vrrp_track_process a: Quorum is greater than quorum_max - ignoring",
        "<string>:9:16: error: vrrp_track_process b: quorum_max is less than quorum - ignoring",
    ]


def test_errors_name_the_line() -> None:
    result = parse_string("""\
vrrp_track_process a {
    weight 300
    param_match exact
    delay 0
}
vrrp_track_process b {
    process b
    process c
    weight 5 sideways
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    track_process {
        b weight -20 reverse
        a
    }
}
vrrp_sync_group G {
    group { VI_1 }
    track_process { b }
}
""")
    assert [str(d) for d in result.diagnostics] == [
        "<string>:2:12: error: vrrp_track_process a: weight '300' outside range [-254, 254]",
        "<string>:3:17: error: vrrp_track_process a: Invalid param_match type exact - ignoring (initial|partial)",
        "<string>:4:11: error: vrrp_track_process a: delay '0' outside range [1e-06, 3600]",
        "<string>:1:1: error: vrrp_track_process a: track process 'a' process name not specified; ignored",
        "<string>:8:13: error: vrrp_track_process b: Process already set for track process b - ignoring c",
        "<string>:9:14: error: vrrp_track_process b: unknown weight option sideways",
        "<string>:16:9: error: vrrp_instance VI_1: track_process 'a' is not a defined vrrp_track_process",
    ]
    (instance,) = result.config.vrrp_instances
    assert [(t.name, t.weight, t.reverse) for t in instance.track_process] == [("b", -20, True)]
    assert [t.name for t in result.config.vrrp_sync_groups[0].track_process] == ["b"]
    assert result.config.track_processes[0].weight == 5
