"""Run-time options shared by the CLI, the supervisor and each child role's process entry."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"
DEFAULT_RUN_DIR = "/run/fastalived"


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
    run_dir: str = DEFAULT_RUN_DIR  # dumps, child state sockets
    log_file: str | None = None  # -g: also log to this file (children add their suffix)
    log_format: str = "text"  # --log-format: "text" (keepalived's lines) or "json" (one object a line)
    dump_conf: bool = False  # -d: log the resolved configuration at every load
    namespace: str | None = None  # -s: the network namespace entered before anything starts
    umask: int | None = None  # -u: beats global_defs umask, as in keepalived
    # keepalived flags accepted for feature(s) fastalived does not have: each is said once at start.
    compat_notes: tuple[str, ...] = ()
    # Set by the supervisor only for a VRRP child it respawns after an abnormal exit: the instances
    # the dead child last reported as MASTER, and when it died (CLOCK_MONOTONIC), so the new child
    # can adopt them (``vrrp.actions.AdoptMaster``) instead of starting over.
    adopt_masters: tuple[str, ...] = ()
    adopt_since: float = 0.0
    # Set by the supervisor only for a checker child it respawns after an abnormal exit: the dead
    # child's IPVS table is still in the kernel, so the new one neither flushes it (``lvs_flush``)
    # nor starts its real servers over, but seeds them from it (``check.seed``).
    adopt_ipvs: bool = False
    # Set by the supervisor: the config it parsed, which its children load instead of parsing the
    # file again (``config.snapshot``; ignored when a file changed since, or the snapshot is gone).
    config_snapshot: str | None = None
