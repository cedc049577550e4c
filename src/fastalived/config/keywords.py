"""Every keyword keepalived 2.2.7 accepts, and what fastalived does with it: the one place to look.

``KEYWORDS`` mirrors keepalived's keyword tree (``global_defs`` -> ``router_id``,
``virtual_server`` -> ``real_server`` -> ``HTTP_GET`` -> ``url`` -> ``path``). Each entry is
``implemented``, ``noop`` (accepted on purpose with no effect, and why) or ``unsupported``
(accepted and ignored with a warning, so ``fastalived -t`` fails like keepalived's does on a
warning). The keywords under a noop/unsupported block share its status and are not listed.
``EXTENSIONS`` are keywords fastalived accepts beyond keepalived 2.2.7.

The section parsers take their ignored keywords from here (:func:`ignored_at`), the unit tests
check this table against keepalived's own keyword list and against the parsers' tables, and
``python -m fastalived.config.compat_doc`` renders it as ``docs/keepalived-compat.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["implemented", "noop", "unsupported"]


@dataclass(frozen=True, slots=True)
class Support:
    """What fastalived does with one keyword; ``children`` for a block it reads."""

    status: Status
    note: str = ""
    children: Mapping[str, Support] = field(default_factory=dict)


IMPLEMENTED = Support("implemented")


def block(children: Mapping[str, Support], note: str = "") -> Support:
    """An implemented block and the keywords inside it."""
    return Support("implemented", note, children)


def noop(reason: str) -> Support:
    return Support("noop", reason)


def unsupported(reason: str = "") -> Support:
    return Support("unsupported", reason)


def deprecated(replacement: str) -> Support:
    """Implemented under an old name keepalived still accepts."""
    return Support("implemented", f"deprecated: use '{replacement}'")


# --------------------------------------------------------------------------- shared reasons

_TUNING = "process scheduling/memory tuning; set it for the fastalived unit (systemd Nice=, CPUAffinity=...)"
_PROCESS_NAME = "fastalived's children are named by their command line"
_NETLINK_BUFS = "fastalived sizes its netlink socket buffers itself"
_SNMP = "only used by the SNMP agent, which fastalived does not have"
_NO_SNMP = "no SNMP agent; use the /metrics endpoint"
_NO_DBUS = "no D-Bus interface; use the /status endpoint"
_FIFO = "notify FIFOs are not implemented; use notify scripts"
_FIREWALL = "fastalived does not program iptables/nftables rules"
_VMAC = "use_vmac options beyond the interface name are not implemented"
_BFD = "BFD is not implemented"
_TRACK_PROCESS = "process tracking is not implemented; use a vrrp_script"
_TRACK_FILE = "track_file in VRRP is not implemented (FILE_CHECK reads it); use a vrrp_script"
_NAMESPACE = "network namespaces are not implemented; run fastalived inside the namespace"
_LINKBEAT = "link state comes from netlink; MII/ethtool polling is not implemented"
_RELOAD = "scheduled/conditional reloads are not implemented; send SIGHUP"
_FORWARDING = Support(
    "implemented", "TUN options: type ipip, gue or gre; port N (gue); nocsum, csum or remcsum (Linux >= 5.2; gre 5.3)"
)
_REGEX = (
    "Python's re, not PCRE2, searched in the raw body bytes (with utf/ucp: the body decoded as UTF-8);"
    " not available: recursion and subroutines ((?R), (?1)), \\K, callouts, backtracking verbs ((*SKIP) ...),"
    " \\C; PCRE2's \\z is written \\Z; a pattern re rejects is a config error"
)
_REGEX_OPTIONS = (
    "caseless, multiline, dotall, extended map to re flags; compile/optimisation hints are no-ops;"
    " ungreedy, firstline, dollar_endonly, dupnames, alt_bsux, alt_circumflex, alt_verbnames,"
    " allow_empty_class, match_unset_backref, auto_callout, never_backslash_c warn and are ignored"
)

# --------------------------------------------------------------------------- the tree

_NOTIFY = {
    "notify_master": IMPLEMENTED,
    "notify_backup": IMPLEMENTED,
    "notify_fault": IMPLEMENTED,
    "notify_stop": IMPLEMENTED,
    "notify": IMPLEMENTED,
    "smtp_alert": IMPLEMENTED,
}
_CHECKER_TIMING = {
    "retry": IMPLEMENTED,
    "delay_before_retry": IMPLEMENTED,
    "warmup": IMPLEMENTED,
    "delay_loop": IMPLEMENTED,
    "alpha": IMPLEMENTED,
    "log_all_failures": IMPLEMENTED,
}
_CHECKER_CONNECTION = {
    "connect_ip": IMPLEMENTED,
    "connect_port": IMPLEMENTED,
    "bindto": IMPLEMENTED,
    "bind_port": IMPLEMENTED,
    "bind_if": IMPLEMENTED,
    "connect_timeout": IMPLEMENTED,
    "fwmark": IMPLEMENTED,
}
_HTTP_CHECK = {
    **_CHECKER_CONNECTION,
    **_CHECKER_TIMING,
    "nb_get_retry": deprecated("retry"),
    "virtualhost": IMPLEMENTED,
    "http_protocol": IMPLEMENTED,
    "fast_recovery": IMPLEMENTED,
    "url": block(
        {
            "path": IMPLEMENTED,
            "digest": IMPLEMENTED,
            "status_code": IMPLEMENTED,
            "virtualhost": IMPLEMENTED,
            "regex": Support("implemented", _REGEX),
            "regex_no_match": IMPLEMENTED,
            "regex_options": Support("implemented", _REGEX_OPTIONS),
            "regex_min_offset": IMPLEMENTED,
            "regex_max_offset": IMPLEMENTED,
            "regex_stack": noop("Python's re has no JIT stack to size"),
        }
    ),
}
_REAL_SERVER = block(
    {
        "weight": IMPLEMENTED,
        "lvs_method": _FORWARDING,
        "uthreshold": IMPLEMENTED,
        "lthreshold": IMPLEMENTED,
        "inhibit_on_failure": IMPLEMENTED,
        "notify_up": IMPLEMENTED,
        "notify_down": IMPLEMENTED,
        "alpha": IMPLEMENTED,
        "retry": IMPLEMENTED,
        "delay_before_retry": IMPLEMENTED,
        "warmup": IMPLEMENTED,
        "connect_timeout": IMPLEMENTED,
        "delay_loop": IMPLEMENTED,
        "smtp_alert": IMPLEMENTED,
        "virtualhost": IMPLEMENTED,
        "snmp_name": noop(_SNMP),
        "HTTP_GET": block({**_HTTP_CHECK, "enable_sni": noop("SNI only applies to SSL_GET")}),
        "SSL_GET": block({**_HTTP_CHECK, "enable_sni": IMPLEMENTED}),
        "TCP_CHECK": block({**_CHECKER_CONNECTION, **_CHECKER_TIMING}),
        "SMTP_CHECK": block(
            {
                **_CHECKER_CONNECTION,
                **_CHECKER_TIMING,
                "helo_name": IMPLEMENTED,
                "host": block({**_CHECKER_CONNECTION, **_CHECKER_TIMING}),
            }
        ),
        "MISC_CHECK": block(
            {
                **_CHECKER_TIMING,
                "misc_path": IMPLEMENTED,
                "misc_timeout": IMPLEMENTED,
                "misc_dynamic": IMPLEMENTED,
                "user": IMPLEMENTED,
            }
        ),
        "DNS_CHECK": block({**_CHECKER_CONNECTION, **_CHECKER_TIMING, "type": IMPLEMENTED, "name": IMPLEMENTED}),
        "PING_CHECK": block(
            {**_CHECKER_CONNECTION, **_CHECKER_TIMING},
            "datagram ICMP socket where ping_group_range allows it, raw otherwise; connect_port is not used",
        ),
        "UDP_CHECK": block(
            {
                **_CHECKER_CONNECTION,
                **_CHECKER_TIMING,
                "payload": IMPLEMENTED,
                "require_reply": IMPLEMENTED,
                "min_reply_length": Support(
                    "implemented",
                    "with require_reply the length is always checked, as the man page says"
                    " (keepalived 2.2.7 checks it only when require_reply has a hex string)",
                ),
                "max_reply_length": IMPLEMENTED,
            }
        ),
        "FILE_CHECK": block({"track_file": IMPLEMENTED, "weight": IMPLEMENTED}, "watched with inotify"),
        "BFD_CHECK": unsupported(_BFD),
    }
)
_VIRTUAL_SERVER = block(
    {
        "ip_family": IMPLEMENTED,
        "retry": IMPLEMENTED,
        "delay_before_retry": IMPLEMENTED,
        "warmup": IMPLEMENTED,
        "connect_timeout": IMPLEMENTED,
        "delay_loop": IMPLEMENTED,
        "inhibit_on_failure": IMPLEMENTED,
        "lb_algo": IMPLEMENTED,
        "lvs_sched": IMPLEMENTED,
        "hashed": IMPLEMENTED,
        "ops": IMPLEMENTED,
        "flag-1": IMPLEMENTED,
        "flag-2": IMPLEMENTED,
        "flag-3": IMPLEMENTED,
        "sh-port": IMPLEMENTED,
        "sh-fallback": IMPLEMENTED,
        "mh-port": IMPLEMENTED,
        "mh-fallback": IMPLEMENTED,
        "lb_kind": _FORWARDING,
        "lvs_method": _FORWARDING,
        "persistence_engine": IMPLEMENTED,
        "persistence_timeout": IMPLEMENTED,
        "persistence_granularity": IMPLEMENTED,
        "protocol": IMPLEMENTED,
        "ha_suspend": IMPLEMENTED,
        "smtp_alert": IMPLEMENTED,
        "virtualhost": IMPLEMENTED,
        "snmp_name": noop(_SNMP),
        "alpha": IMPLEMENTED,
        "omega": IMPLEMENTED,
        "quorum_up": IMPLEMENTED,
        "quorum_down": IMPLEMENTED,
        "quorum": IMPLEMENTED,
        "hysteresis": IMPLEMENTED,
        "weight": Support("implemented", "the weight of its real servers that set none"),
        "sorry_server": IMPLEMENTED,
        "sorry_server_inhibit": IMPLEMENTED,
        "sorry_server_lvs_method": _FORWARDING,
        "real_server": _REAL_SERVER,
    }
)
_TRACKING = {"track_interface": IMPLEMENTED, "track_script": IMPLEMENTED}

KEYWORDS: Mapping[str, Support] = {
    "global_defs": block(
        {
            "process_names": noop(_PROCESS_NAME),
            "process_name": noop(_PROCESS_NAME),
            "vrrp_process_name": noop(_PROCESS_NAME),
            "checker_process_name": noop(_PROCESS_NAME),
            "lvs_process_name": noop(_PROCESS_NAME),
            "bfd_process_name": noop(_PROCESS_NAME),
            "router_id": IMPLEMENTED,
            "notification_email_from": IMPLEMENTED,
            "smtp_server": IMPLEMENTED,
            "smtp_helo_name": IMPLEMENTED,
            "smtp_connect_timeout": IMPLEMENTED,
            "notification_email": IMPLEMENTED,
            "smtp_alert": IMPLEMENTED,
            "smtp_alert_vrrp": IMPLEMENTED,
            "smtp_alert_checker": IMPLEMENTED,
            "startup_script": unsupported("start-up/shut-down scripts are not implemented"),
            "startup_script_timeout": unsupported("start-up/shut-down scripts are not implemented"),
            "shutdown_script": unsupported("start-up/shut-down scripts are not implemented"),
            "shutdown_script_timeout": unsupported("start-up/shut-down scripts are not implemented"),
            "max_auto_priority": noop(_TUNING),
            "min_auto_priority_delay": noop(_TUNING),
            "checker_log_all_failures": IMPLEMENTED,
            "dynamic_interfaces": unsupported("interfaces must exist when fastalived starts"),
            "no_email_faults": unsupported(),
            "default_interface": unsupported("static addresses and routes need an explicit dev"),
            "disable_local_igmp": unsupported(),
            "lvs_timeouts": IMPLEMENTED,
            "lvs_flush": IMPLEMENTED,
            "lvs_flush_on_stop": Support(
                "implemented", "'VS': remove only the configured services, as a stop always does"
            ),
            "lvs_flush_onstop": deprecated("lvs_flush_on_stop"),
            "lvs_sync_daemon": IMPLEMENTED,
            "vrrp_mcast_group4": IMPLEMENTED,
            "vrrp_mcast_group6": IMPLEMENTED,
            "vrrp_garp_master_delay": IMPLEMENTED,
            "vrrp_garp_master_repeat": IMPLEMENTED,
            "vrrp_garp_master_refresh": IMPLEMENTED,
            "vrrp_garp_master_refresh_repeat": IMPLEMENTED,
            "vrrp_garp_lower_prio_delay": unsupported(),
            "vrrp_garp_lower_prio_repeat": unsupported(),
            "vrrp_down_timer_adverts": unsupported("the master-down timer is always 3 adverts, as in the RFCs"),
            "vrrp_garp_interval": IMPLEMENTED,
            "vrrp_gna_interval": IMPLEMENTED,
            "vrrp_min_garp": unsupported(),
            "vrrp_garp_extra_if": unsupported(_VMAC),
            "vrrp_vmac_garp_intvl": unsupported(_VMAC),
            "vrrp_lower_prio_no_advert": unsupported(),
            "vrrp_higher_prio_send_advert": unsupported(),
            "vrrp_version": IMPLEMENTED,
            "vrrp_iptables": unsupported(_FIREWALL),
            "vrrp_ipsets": unsupported(_FIREWALL),
            "nftables": unsupported(_FIREWALL),
            "nftables_priority": unsupported(_FIREWALL),
            "nftables_ifindex": unsupported(_FIREWALL),
            "nftables_ipvs": unsupported(_FIREWALL),
            "nftables_ipvs_priority": unsupported(_FIREWALL),
            "nftables_ipvs_start_fwmark": unsupported(_FIREWALL),
            "nftables_counters": unsupported(_FIREWALL),
            "vrrp_check_unicast_src": IMPLEMENTED,
            "vrrp_skip_check_adv_addr": IMPLEMENTED,
            "vrrp_strict": IMPLEMENTED,
            "vrrp_priority": noop(_TUNING),
            "vrrp_no_swap": noop(_TUNING),
            "vrrp_rt_priority": noop(_TUNING),
            "vrrp_cpu_affinity": noop(_TUNING),
            "vrrp_rlimit_rttime": noop(_TUNING),
            "vrrp_rlimit_rtime": noop(_TUNING),
            "notify_fifo": unsupported(_FIFO),
            "notify_fifo_script": unsupported(_FIFO),
            "vrrp_notify_fifo": unsupported(_FIFO),
            "vrrp_notify_fifo_script": unsupported(_FIFO),
            "vrrp_notify_priority_changes": unsupported(_FIFO),
            "fifo_write_vrrp_states_on_reload": unsupported(_FIFO),
            "lvs_notify_fifo": unsupported(_FIFO),
            "lvs_notify_fifo_script": unsupported(_FIFO),
            "checker_priority": noop(_TUNING),
            "checker_no_swap": noop(_TUNING),
            "checker_rt_priority": noop(_TUNING),
            "checker_cpu_affinity": noop(_TUNING),
            "checker_rlimit_rttime": noop(_TUNING),
            "checker_rlimit_rtime": noop(_TUNING),
            "bfd_priority": noop(_TUNING),
            "bfd_no_swap": noop(_TUNING),
            "bfd_rt_priority": noop(_TUNING),
            "bfd_cpu_affinity": noop(_TUNING),
            "bfd_rlimit_rttime": noop(_TUNING),
            "bfd_rlimit_rtime": noop(_TUNING),
            "snmp_socket": noop(_SNMP),
            "enable_traps": unsupported(_NO_SNMP),
            "enable_snmp_vrrp": unsupported(_NO_SNMP),
            "enable_snmp_keepalived": unsupported(_NO_SNMP),
            "enable_snmp_rfc": unsupported(_NO_SNMP),
            "enable_snmp_rfcv2": unsupported(_NO_SNMP),
            "enable_snmp_rfcv3": unsupported(_NO_SNMP),
            "enable_snmp_checker": unsupported(_NO_SNMP),
            "enable_dbus": unsupported(_NO_DBUS),
            "dbus_service_name": noop("only used by the D-Bus interface, which fastalived does not have"),
            "script_user": IMPLEMENTED,
            "enable_script_security": IMPLEMENTED,
            "vrrp_netlink_cmd_rcv_bufs": noop(_NETLINK_BUFS),
            "vrrp_netlink_cmd_rcv_bufs_force": noop(_NETLINK_BUFS),
            "vrrp_netlink_monitor_rcv_bufs": noop(_NETLINK_BUFS),
            "vrrp_netlink_monitor_rcv_bufs_force": noop(_NETLINK_BUFS),
            "process_monitor_rcv_bufs": noop(_NETLINK_BUFS),
            "process_monitor_rcv_bufs_force": noop(_NETLINK_BUFS),
            "lvs_netlink_cmd_rcv_bufs": noop(_NETLINK_BUFS),
            "lvs_netlink_cmd_rcv_bufs_force": noop(_NETLINK_BUFS),
            "lvs_netlink_monitor_rcv_bufs": noop(_NETLINK_BUFS),
            "lvs_netlink_monitor_rcv_bufs_force": noop(_NETLINK_BUFS),
            "rs_init_notifies": IMPLEMENTED,
            "no_checker_emails": unsupported(),
            "vrrp_rx_bufs_policy": noop("fastalived sizes its VRRP receive buffers itself"),
            "vrrp_rx_bufs_multiplier": noop("fastalived sizes its VRRP receive buffers itself"),
            "vrrp_startup_delay": unsupported(),
            "log_unknown_vrids": unsupported(),
            "vmac_prefix": unsupported(_VMAC),
            "vmac_addr_prefix": unsupported(_VMAC),
            "umask": unsupported("files are created with the process umask"),
            "random_seed": noop("fastalived does not use a seeded random generator"),
            "reload_check_config": unsupported(_RELOAD),
            "reload_time_file": unsupported(_RELOAD),
            "reload_repeat": unsupported(_RELOAD),
            "reload_file": unsupported(_RELOAD),
            "include_check": unsupported("every include is always read"),
            "config_save_dir": unsupported(),
            "tmp_config_directory": unsupported(),
            "data_use_instance": unsupported(),
        }
    ),
    "linkbeat_use_polling": unsupported(_LINKBEAT),
    "linkbeat_interfaces": unsupported(_LINKBEAT),
    "net_namespace": unsupported(_NAMESPACE),
    "net_namespace_ipvs": unsupported(_NAMESPACE),
    "namespace_with_ipsets": unsupported(_NAMESPACE),
    "use_pid_dir": unsupported("pid files are named with -p/-r/-c"),
    "instance": unsupported("instance names are not implemented; use -p/-r/-c and separate configs"),
    "child_wait_time": noop("the supervisor has its own stop timeouts"),
    "SSL": block({"password": IMPLEMENTED, "ca": IMPLEMENTED, "certificate": IMPLEMENTED, "key": IMPLEMENTED}),
    "virtual_server_group": IMPLEMENTED,
    "virtual_server": _VIRTUAL_SERVER,
    "track_group": unsupported("track groups are not implemented"),
    "static_ipaddress": IMPLEMENTED,
    "static_routes": IMPLEMENTED,
    "static_rules": unsupported("policy routing rules are not implemented"),
    "vrrp_sync_group": block(
        {
            "group": IMPLEMENTED,
            **_TRACKING,
            **_NOTIFY,
            "track_file": unsupported(_TRACK_FILE),
            "track_process": unsupported(_TRACK_PROCESS),
            "track_bfd": unsupported(_BFD),
            "global_tracking": IMPLEMENTED,
            "sync_group_tracking_weight": unsupported(),
            "notify_priority_changes": unsupported(),
        }
    ),
    "garp_group": unsupported("GARP groups are not implemented"),
    "vrrp_instance": block(
        {
            "use_vmac": IMPLEMENTED,
            "use_vmac_addr": unsupported(_VMAC),
            "vmac_xmit_base": unsupported(_VMAC),
            "use_ipvlan": unsupported("ipvlan interfaces are not implemented"),
            "unicast_peer": IMPLEMENTED,
            "unicast_fault_no_peer": unsupported(),
            "check_unicast_src": unsupported("set vrrp_check_unicast_src in global_defs"),
            "old_unicast_checksum": unsupported(),
            "native_ipv6": IMPLEMENTED,
            "state": IMPLEMENTED,
            "interface": IMPLEMENTED,
            "vrf": unsupported("VRFs are not implemented"),
            "dont_track_primary": IMPLEMENTED,
            **_TRACKING,
            "track_file": unsupported(_TRACK_FILE),
            "track_process": unsupported(_TRACK_PROCESS),
            "track_bfd": unsupported(_BFD),
            "mcast_src_ip": IMPLEMENTED,
            "unicast_src_ip": IMPLEMENTED,
            "mcast_dst_ip": unsupported("set vrrp_mcast_group4/6 in global_defs"),
            "track_src_ip": unsupported(),
            "virtual_router_id": IMPLEMENTED,
            "unicast_ttl": unsupported(),
            "version": IMPLEMENTED,
            "priority": IMPLEMENTED,
            "advert_int": IMPLEMENTED,
            "virtual_ipaddress": IMPLEMENTED,
            "virtual_ipaddress_excluded": IMPLEMENTED,
            "promote_secondaries": unsupported(),
            "linkbeat_use_polling": unsupported(_LINKBEAT),
            "virtual_routes": IMPLEMENTED,
            "virtual_rules": unsupported("policy routing rules are not implemented"),
            "accept": IMPLEMENTED,
            "no_accept": IMPLEMENTED,
            "skip_check_adv_addr": unsupported("set vrrp_skip_check_adv_addr in global_defs"),
            "strict_mode": unsupported("set vrrp_strict in global_defs"),
            "preempt": IMPLEMENTED,
            "nopreempt": IMPLEMENTED,
            "preempt_delay": IMPLEMENTED,
            "debug": IMPLEMENTED,
            **_NOTIFY,
            "notify_deleted": unsupported(),
            "notify_master_rx_lower_pri": unsupported(),
            "notify_priority_changes": unsupported(),
            "lvs_sync_daemon_interface": deprecated("global_defs lvs_sync_daemon"),
            "garp_master_delay": IMPLEMENTED,
            "garp_master_refresh": IMPLEMENTED,
            "garp_master_repeat": IMPLEMENTED,
            "garp_master_refresh_repeat": IMPLEMENTED,
            "garp_lower_prio_delay": unsupported(),
            "garp_lower_prio_repeat": unsupported(),
            "down_timer_adverts": unsupported("the master-down timer is always 3 adverts, as in the RFCs"),
            "garp_extra_if": unsupported(_VMAC),
            "vmac_garp_intvl": unsupported(_VMAC),
            "lower_prio_no_advert": unsupported(),
            "higher_prio_send_advert": unsupported(),
            "kernel_rx_buf_size": noop("fastalived sizes its VRRP receive buffers itself"),
            "authentication": block({"auth_type": IMPLEMENTED, "auth_pass": IMPLEMENTED}),
        }
    ),
    "vrrp_script": block(
        {
            "script": IMPLEMENTED,
            "interval": IMPLEMENTED,
            "timeout": IMPLEMENTED,
            "weight": IMPLEMENTED,
            "rise": IMPLEMENTED,
            "fall": IMPLEMENTED,
            "user": IMPLEMENTED,
            "init_fail": IMPLEMENTED,
        }
    ),
    "vrrp_track_process": unsupported(_TRACK_PROCESS),
    "interface_up_down_delays": unsupported("interface up/down delays are not implemented"),
    "bfd_instance": unsupported(_BFD),
    "track_file": block(
        {"file": IMPLEMENTED, "weight": IMPLEMENTED, "init_file": IMPLEMENTED},
        "read by FILE_CHECK; vrrp_instance/vrrp_sync_group track_file is not implemented yet",
    ),
    "vrrp_track_file": unsupported(_TRACK_FILE),
}

# Keywords fastalived reads that keepalived 2.2.7 does not have.
EXTENSIONS: Mapping[str, str] = {
    "global_defs/fastalived_status_listen": "ADDRESS PORT of the loopback /status and /metrics endpoint",
    "global_defs/fastalived_announce_table": "routing table for announced prefixes (default 201)",
    "virtual_server/fastalived_announce": "block: route the service's prefixes into the announce table while"
    " it has quorum, for FRR/BIRD to advertise (scale-out behind ECMP)",
    "virtual_server/fastalived_announce/prefix": "prefix to announce, repeatable (default: the service's"
    " addresses as /32 or /128)",
    "virtual_server/fastalived_announce/require_master": "VRRP instance that must be MASTER as well",
    "virtual_server/fastalived_announce/metric": "route metric (default 0)",
    "virtual_server/fastalived_announce/drain": "seconds between withdrawal and teardown on SIGTERM (default 1)",
    "global_defs/lvs_id": "keepalived 1.x name of router_id",
    "global_defs/v3_checksum_as_v2": "from keepalived 2.2.8: VRRPv3 IPv4 checksums without the pseudo-header",
    "vrrp_instance/v3_checksum_as_v2": "from keepalived 2.2.8: the same for one instance",
}


# --------------------------------------------------------------------------- queries


def entries(tree: Mapping[str, Support] = KEYWORDS, prefix: str = "") -> Iterator[tuple[str, Support]]:
    """Every entry as (``a/b/c`` path, support), parents before their children."""
    for keyword, support in tree.items():
        path = f"{prefix}{keyword}"
        yield path, support
        yield from entries(support.children, f"{path}/")


def lookup(path: str) -> Support | None:
    """The support of ``a/b/c``; a keyword under a noop/unsupported block shares the block's."""
    tree: Mapping[str, Support] = KEYWORDS
    support = None
    for keyword in path.split("/"):
        if support is not None and support.status != "implemented":
            return support
        support = tree.get(keyword)
        if support is None:
            return None
        tree = support.children
    return support


def ignored_at(path: str) -> dict[str, Support]:
    """The keywords directly in block ``path`` ("" for the top level) that fastalived does not read."""
    tree = KEYWORDS if not path else _children(path)
    return {keyword: support for keyword, support in tree.items() if support.status != "implemented"}


def _children(path: str) -> Mapping[str, Support]:
    support = lookup(path)
    if support is None or support.status != "implemented":
        raise KeyError(f"{path} is not an implemented block")
    return support.children


def counts() -> Counter[str]:
    return Counter(support.status for _, support in entries())
