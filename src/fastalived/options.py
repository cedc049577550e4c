"""Run-time options shared by the CLI, the supervisor and each child role's process entry."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What keepalived's command-line flags select; every process gets the same object."""

    config_file: str = DEFAULT_CONFIG
    config_id: str | None = None  # -i; None = the short host name
    dont_fork: bool = False  # -n
    log_console: bool = False  # -l
    log_detail: bool = False  # -D
    no_syslog: bool = False  # -G
    log_facility: str | None = None  # -S: 0-7, local0-7, user, daemon
    vrrp_only: bool = False  # -P
    check_only: bool = False  # -C
    pid_file: str | None = None  # -p
    vrrp_pid_file: str | None = None  # -r
    checkers_pid_file: str | None = None  # -c
    dont_release_vrrp: bool = False  # -V
    dont_release_ipvs: bool = False  # -I
    dont_respawn: bool = False  # -R
    run_dir: str = "/run/fastalived"  # dumps, child state sockets
    log_file: str | None = None  # -g: also log to this file (children add their suffix)
    dump_conf: bool = False  # -d: log the resolved configuration at every load
    namespace: str | None = None  # -s: the network namespace entered before anything starts
    # keepalived flags accepted for feature(s) fastalived does not have: each is said once at start.
    compat_notes: tuple[str, ...] = ()
