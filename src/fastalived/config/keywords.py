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
_FIREWALL = "accept mode's drop rules go through nftables (the nftables keyword), never iptables/ipset"
_NFT_IPVS = "IPVS virtual servers on address ranges (nftables fwmarks) are not implemented"
_PEERS_ONLY = "fastalived always drops unicast adverts from outside unicast_peer, as if it were set"
_BFD = "BFD_CHECK is not implemented; VRRP track_bfd is"
_TRACK_PROCESS = block(
    {
        "process": IMPLEMENTED,
        "param_match": IMPLEMENTED,
        "weight": IMPLEMENTED,
        "quorum": IMPLEMENTED,
        "quorum_max": IMPLEMENTED,
        "fork_delay": IMPLEMENTED,
        "terminate_delay": IMPLEMENTED,
        "delay": IMPLEMENTED,
        "full_command": IMPLEMENTED,
    },
    "watched through the kernel's process event connector (no polling), after one /proc scan",
)
_TRACK_FILE_OPTIONS = {"file": IMPLEMENTED, "weight": IMPLEMENTED, "init_file": IMPLEMENTED}
_RULES = "realms, suppress_ifgroup, tunnel-id and track_group are refused; names of tables: main, local, default"
_LINKBEAT = (
    "polled once a second with keepalived's ioctls (MII BMSR, else ethtool GLINK, else SIOCGIFFLAGS),"
    " netlink link events ignored for those interfaces"
)
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
            "startup_script": Support("implemented", "run by the parent before any child starts"),
            "startup_script_timeout": IMPLEMENTED,
            "shutdown_script": Support("implemented", "run by the parent after every child stopped"),
            "shutdown_script_timeout": IMPLEMENTED,
            "max_auto_priority": noop(_TUNING),
            "min_auto_priority_delay": noop(_TUNING),
            "checker_log_all_failures": IMPLEMENTED,
            "dynamic_interfaces": noop(
                "fastalived always behaves so (allow_if_changes too): an instance whose interface is missing"
                " is in FAULT until it appears, and is re-bound when it is re-created, whatever its type"
            ),
            "no_email_faults": IMPLEMENTED,
            "default_interface": Support(
                "implemented", "static addresses without dev, and unicast instances without interface, use it"
            ),
            "disable_local_igmp": IMPLEMENTED,
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
            "vrrp_garp_lower_prio_delay": IMPLEMENTED,
            "vrrp_garp_lower_prio_repeat": IMPLEMENTED,
            "vrrp_down_timer_adverts": IMPLEMENTED,
            "vrrp_garp_interval": IMPLEMENTED,
            "vrrp_gna_interval": IMPLEMENTED,
            "vrrp_min_garp": IMPLEMENTED,
            "vrrp_garp_extra_if": IMPLEMENTED,
            "vrrp_vmac_garp_intvl": deprecated("vrrp_garp_extra_if"),
            "vrrp_lower_prio_no_advert": IMPLEMENTED,
            "vrrp_higher_prio_send_advert": IMPLEMENTED,
            "vrrp_version": IMPLEMENTED,
            "vrrp_iptables": unsupported(_FIREWALL),
            "vrrp_ipsets": unsupported(_FIREWALL),
            "nftables": Support("implemented", "the default table is named fastalived, not keepalived"),
            "nftables_priority": IMPLEMENTED,
            "nftables_ifindex": IMPLEMENTED,
            "nftables_ipvs": unsupported(_NFT_IPVS),
            "nftables_ipvs_priority": unsupported(_NFT_IPVS),
            "nftables_ipvs_start_fwmark": unsupported(_NFT_IPVS),
            "nftables_counters": IMPLEMENTED,
            "vrrp_check_unicast_src": Support("implemented", _PEERS_ONLY),
            "vrrp_skip_check_adv_addr": IMPLEMENTED,
            "vrrp_strict": IMPLEMENTED,
            "vrrp_priority": noop(_TUNING),
            "vrrp_no_swap": noop(_TUNING),
            "vrrp_rt_priority": noop(_TUNING),
            "vrrp_cpu_affinity": noop(_TUNING),
            "vrrp_rlimit_rttime": noop(_TUNING),
            "vrrp_rlimit_rtime": noop(_TUNING),
            "notify_fifo": IMPLEMENTED,
            "notify_fifo_script": IMPLEMENTED,
            "vrrp_notify_fifo": IMPLEMENTED,
            "vrrp_notify_fifo_script": IMPLEMENTED,
            "vrrp_notify_priority_changes": IMPLEMENTED,
            "fifo_write_vrrp_states_on_reload": IMPLEMENTED,
            "lvs_notify_fifo": IMPLEMENTED,
            "lvs_notify_fifo_script": IMPLEMENTED,
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
            "no_checker_emails": noop("fastalived mails only real server and quorum changes, never each checker's"),
            "vrrp_rx_bufs_policy": noop("fastalived sizes its VRRP receive buffers itself"),
            "vrrp_rx_bufs_multiplier": noop("fastalived sizes its VRRP receive buffers itself"),
            "vrrp_startup_delay": IMPLEMENTED,
            "log_unknown_vrids": IMPLEMENTED,
            "vmac_prefix": IMPLEMENTED,
            "vmac_addr_prefix": IMPLEMENTED,
            "umask": IMPLEMENTED,
            "random_seed": noop("fastalived does not use a seeded random generator"),
            "reload_check_config": noop(
                "fastalived always validates a reloaded config first and keeps the running one on errors (logged)"
            ),
            "reload_time_file": unsupported(_RELOAD),
            "reload_repeat": unsupported(_RELOAD),
            "reload_file": unsupported(_RELOAD),
            "include_check": unsupported("every include is always read"),
            "config_save_dir": unsupported("saving copies of the configuration at each reload is not implemented"),
            "tmp_config_directory": noop("fastalived reads the config files directly, with no temporary copy"),
            "data_use_instance": unsupported("dump file names do not carry the instance or namespace name"),
        }
    ),
    "linkbeat_use_polling": Support("implemented", _LINKBEAT),
    "linkbeat_interfaces": Support("implemented", _LINKBEAT),
    "net_namespace": Support(
        "implemented", "the parent enters /run/netns/NAME (it must exist) before anything starts; -s overrides it"
    ),
    "net_namespace_ipvs": unsupported("IPVS is programmed in the namespace fastalived runs in (net_namespace)"),
    "namespace_with_ipsets": unsupported(_FIREWALL),
    "use_pid_dir": IMPLEMENTED,
    "instance": IMPLEMENTED,
    "child_wait_time": noop("the supervisor has its own stop timeouts"),
    "SSL": block({"password": IMPLEMENTED, "ca": IMPLEMENTED, "certificate": IMPLEMENTED, "key": IMPLEMENTED}),
    "virtual_server_group": IMPLEMENTED,
    "virtual_server": _VIRTUAL_SERVER,
    "track_group": unsupported("track groups are not implemented"),
    "static_ipaddress": IMPLEMENTED,
    "static_routes": IMPLEMENTED,
    "static_rules": Support("implemented", _RULES),
    "vrrp_sync_group": block(
        {
            "group": IMPLEMENTED,
            **_TRACKING,
            **_NOTIFY,
            "track_file": IMPLEMENTED,
            "track_process": IMPLEMENTED,
            "track_bfd": IMPLEMENTED,
            "global_tracking": IMPLEMENTED,
            "sync_group_tracking_weight": IMPLEMENTED,
            "notify_priority_changes": IMPLEMENTED,
        }
    ),
    "garp_group": block(
        {"garp_interval": IMPLEMENTED, "gna_interval": IMPLEMENTED, "interface": IMPLEMENTED, "interfaces": IMPLEMENTED}
    ),
    "vrrp_instance": block(
        {
            "use_vmac": Support("implemented", "[NAME] [MAC]; the MAC may give 5 octets (the VRID is the 6th)"),
            "use_vmac_addr": Support("implemented", "also a VIP's own use_vmac option"),
            "vmac_xmit_base": IMPLEMENTED,
            "use_ipvlan": Support("implemented", "[NAME] [ADDRESS] [bridge|private|vepa]; an L2 ipvlan"),
            "unicast_peer": IMPLEMENTED,
            "unicast_fault_no_peer": IMPLEMENTED,
            "check_unicast_src": Support("implemented", _PEERS_ONLY),
            "old_unicast_checksum": unsupported(
                "pre-1.3.6 VRRPv3 unicast checksums (keepalived's OLD_CHKSUM_COMPAT build option) are not implemented"
            ),
            "native_ipv6": IMPLEMENTED,
            "state": IMPLEMENTED,
            "interface": IMPLEMENTED,
            "vrf": unsupported(
                "keepalived's vrf is for unicast instances without an interface (sockets bound to the VRF"
                " device, VIPs each with their dev); fastalived instances always run on an interface"
                " (default_interface when none is given), so the socket, source address and VIPs follow it"
            ),
            "dont_track_primary": IMPLEMENTED,
            **_TRACKING,
            "track_file": IMPLEMENTED,
            "track_process": IMPLEMENTED,
            "track_bfd": IMPLEMENTED,
            "mcast_src_ip": IMPLEMENTED,
            "unicast_src_ip": IMPLEMENTED,
            "mcast_dst_ip": IMPLEMENTED,
            "track_src_ip": IMPLEMENTED,
            "virtual_router_id": IMPLEMENTED,
            "unicast_ttl": IMPLEMENTED,
            "version": IMPLEMENTED,
            "priority": IMPLEMENTED,
            "advert_int": IMPLEMENTED,
            "virtual_ipaddress": IMPLEMENTED,
            "virtual_ipaddress_excluded": IMPLEMENTED,
            "promote_secondaries": IMPLEMENTED,
            "linkbeat_use_polling": deprecated("linkbeat_interfaces"),
            "virtual_routes": IMPLEMENTED,
            "virtual_rules": Support("implemented", _RULES),
            "accept": IMPLEMENTED,
            "no_accept": IMPLEMENTED,
            "skip_check_adv_addr": IMPLEMENTED,
            "strict_mode": IMPLEMENTED,
            "preempt": IMPLEMENTED,
            "nopreempt": IMPLEMENTED,
            "preempt_delay": IMPLEMENTED,
            "debug": IMPLEMENTED,
            **_NOTIFY,
            "notify_deleted": IMPLEMENTED,
            "notify_master_rx_lower_pri": IMPLEMENTED,
            "notify_priority_changes": IMPLEMENTED,
            "lvs_sync_daemon_interface": deprecated("global_defs lvs_sync_daemon"),
            "garp_master_delay": IMPLEMENTED,
            "garp_master_refresh": IMPLEMENTED,
            "garp_master_repeat": IMPLEMENTED,
            "garp_master_refresh_repeat": IMPLEMENTED,
            "garp_lower_prio_delay": IMPLEMENTED,
            "garp_lower_prio_repeat": IMPLEMENTED,
            "down_timer_adverts": IMPLEMENTED,
            "garp_extra_if": IMPLEMENTED,
            "vmac_garp_intvl": deprecated("garp_extra_if"),
            "lower_prio_no_advert": IMPLEMENTED,
            "higher_prio_send_advert": IMPLEMENTED,
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
    "vrrp_track_process": _TRACK_PROCESS,
    "interface_up_down_delays": Support(
        "implemented", "an omitted up delay is 0, as keepalived 2.2.7's parser does (its man page says: the down delay)"
    ),
    "bfd_instance": block(
        {
            "neighbor_ip": IMPLEMENTED,
            "neighbour_ip": IMPLEMENTED,
            "source_ip": IMPLEMENTED,
            "min_rx": IMPLEMENTED,
            "min_tx": IMPLEMENTED,
            "idle_tx": IMPLEMENTED,
            "multiplier": IMPLEMENTED,
            "passive": IMPLEMENTED,
            "ttl": IMPLEMENTED,
            "hoplimit": IMPLEMENTED,
            "max_hops": IMPLEMENTED,
            "weight": IMPLEMENTED,
            "vrrp": IMPLEMENTED,
            "checker": Support("implemented", "read, but no checker uses BFD yet (BFD_CHECK is not implemented)"),
        },
        "single-hop, asynchronous mode (RFC 5880/5881), run by the VRRP process for the sessions some"
        " track_bfd names; no authentication, demand mode or echo",
    ),
    "track_file": block(
        _TRACK_FILE_OPTIONS,
        "read by FILE_CHECK and by vrrp_instance/vrrp_sync_group track_file, watched with inotify",
    ),
    "vrrp_track_file": block(_TRACK_FILE_OPTIONS, "deprecated: use 'track_file'"),
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
