"""keepalived.conf parser: the lexer's statement tree -> the frozen model, with keepalived's rules.

Each block kind has a keyword table. Plain ``keyword value`` settings are table rows
(``keyword -> (field, converter)``) so their conversion and range checks live in one place; blocks
get small methods. Values are collected into dicts and the model objects are built once every
section is read, which is where inheritance (virtual_server -> real_server -> checker,
global_defs -> vrrp_instance) and cross-references (track_script, sync groups, VRIDs) are
resolved. Problems never raise: they become diagnostics and parsing carries on with the default.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import shlex
from collections.abc import Callable, Iterable
from typing import Any

from fastalived.config import model as m
from fastalived.config.diagnostics import Reporter
from fastalived.config.lexer import Stmt

Converter = Callable[[Stmt, str], Any]
Table = dict[str, tuple[str, Converter]]
_INVALID = object()  # a converter's "already reported" result: keep the default

BOOL_WORDS = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
ROUTE_TYPES = frozenset(
    {"unicast", "blackhole", "unreachable", "prohibit", "local", "broadcast", "throw", "nat", "anycast", "multicast"}
)
ROUTE_TABLES = {"main": 254, "local": 255, "default": 253}
DNS_TYPES = frozenset({"A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"})
SCHED_FLAGS = ("flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback")
SCHED_FLAG_ALIASES = {"hashed": "flag-1"}
SMTP_DEFAULT_HELO = "smtpchecker.keepalived.org"  # keepalived's SMTP_CHECK default

# Keywords keepalived accepts that fastalived does not act on: skipped (with their blocks) and
# reported only as ``info`` notices, so real configs load without warnings.
UNSUPPORTED_TOP = frozenset("""bfd_instance vrrp_track_process track_process vrrp_track_file track_file garp_group
    static_rules net_namespace net_namespace_ipvs namespace_with_ipsets instance use_pid_dir
    linkbeat_use_polling linkbeat_interfaces vrrp_garp_extra_if include_check""".split())
UNSUPPORTED_GLOBAL = frozenset(
    """bfd_cpu_affinity bfd_no_swap bfd_priority bfd_process_name bfd_rlimit_rttime bfd_rt_priority
    checker_cpu_affinity checker_log_all_failures checker_no_swap checker_priority checker_process_name
    checker_rlimit_rttime checker_rt_priority child_wait_time config_save_dir data_use_instance
    dbus_service_name default_interface disable_local_igmp dynamic_interfaces enable_dbus
    enable_snmp_checker enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3 enable_snmp_vrrp
    enable_snmp_keepalived enable_traps fifo_write_vrrp_states_on_reload include_check
    linkbeat_interfaces linkbeat_use_polling lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force
    lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force lvs_notify_fifo
    lvs_notify_fifo_script lvs_id lvs_sync_daemon_interface max_auto_priority min_auto_priority_delay
    namespace_with_ipsets net_namespace net_namespace_ipvs nftables nftables_counters nftables_ifindex
    nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_priority no_checker_emails
    no_email_faults notify_fifo notify_fifo_script process_monitor_rcv_bufs
    process_monitor_rcv_bufs_force process_name process_names random_seed reload_check_config
    reload_file reload_repeat reload_time_file rs_init_notifies script_group shutdown_script
    shutdown_script_timeout snmp_socket startup_script
    startup_script_timeout tmp_config_directory umask use_pid_dir vmac_addr_prefix vmac_prefix
    vrrp_cpu_affinity vrrp_down_timer_adverts vrrp_garp_extra_if vrrp_garp_lower_prio_delay
    vrrp_garp_lower_prio_repeat vrrp_higher_prio_send_advert vrrp_ipsets vrrp_iptables
    vrrp_lower_prio_no_advert vrrp_min_garp vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force
    vrrp_netlink_monitor_rcv_bufs vrrp_netlink_monitor_rcv_bufs_force vrrp_no_swap vrrp_notify_fifo
    vrrp_notify_fifo_script vrrp_notify_priority_changes vrrp_priority vrrp_process_name
    vrrp_rlimit_rttime vrrp_rt_priority vrrp_rx_bufs_multiplier vrrp_rx_bufs_policy vrrp_startup_delay
    vrrp_track_process instance log_unknown_vrids""".split()
)
UNSUPPORTED_INSTANCE = frozenset("""strict_mode garp_lower_prio_delay garp_lower_prio_repeat garp_interval gna_interval
    higher_prio_send_advert lower_prio_no_advert kernel_rx_buf_size use_vmac_addr vmac_xmit_base
    use_ipvlan track_file track_process track_bfd track_src_ip unicast_ttl mcast_dst_ip notify_deleted
    notify_master_rx_lower_pri notify_priority_changes down_timer_adverts old_unicast_checksum
    virtual_rules unicast_fault_no_peer check_unicast_src skip_check_adv_addr promote_secondaries
    linkbeat_use_polling garp_extra_if interface_up_down_delays sync_group_tracking_weight
    vrrp_garp_extra_if""".split())
UNSUPPORTED_SYNC_GROUP = frozenset(
    "sync_group_tracking_weight track_file track_process track_bfd notify_deleted".split()
)
UNSUPPORTED_VS = frozenset("persistence_engine snmp_name".split())
UNSUPPORTED_RS = frozenset("snmp_name PING_CHECK UDP_CHECK FILE_CHECK BFD_CHECK ICMP_CHECK".split())
UNSUPPORTED_CHECKER = frozenset("fwmark log_all_failures fast_recovery".split())
UNSUPPORTED_URL = frozenset("regex regex_no_match regex_options regex_stack regex_min_offset regex_max_offset".split())

CHECKER_KINDS = ("HTTP_GET", "SSL_GET", "TCP_CHECK", "SMTP_CHECK", "MISC_CHECK", "DNS_CHECK")
# Checker timing keys inherited virtual_server -> real_server -> checker.
INHERITED = ("connect_timeout", "retry", "delay_before_retry", "warmup", "delay_loop", "alpha")


class Parser:
    """Turns the statement tree into a :class:`model.Config`, reporting every problem once."""

    def __init__(self, report: Reporter) -> None:
        self.report = report
        self._addresses: dict[str, m.IPAddress] = {}
        self._status_code_cache: dict[tuple[str, ...], tuple[m.StatusCodeRange, ...]] = {}
        self._build_tables()

    # ======================================================================= converters

    def _missing(self, st: Stmt, ctx: str, what: str = "a value") -> object:
        self.error(st, len(st.words) - 1, ctx, f"{st.words[0]} needs {what}")
        return _INVALID

    def error(self, st: Stmt, index: int, ctx: str, message: str) -> None:
        self.report.error(st.where(index), st.words[0], f"{ctx}: {message}" if ctx else message)

    def warning(self, st: Stmt, index: int, ctx: str, message: str) -> None:
        self.report.warning(st.where(index), st.words[0], f"{ctx}: {message}" if ctx else message)

    def info(self, st: Stmt, ctx: str, message: str) -> None:
        self.report.info(st.where(), st.words[0], f"{ctx}: {message}" if ctx else message)

    def _extra_words(self, st: Stmt, ctx: str, used: int) -> None:
        if len(st.words) > used:
            self.warning(st, used, ctx, f"{st.words[0]}: ignoring extra '{' '.join(st.words[used:])}'")

    def integer(self, lo: int, hi: int) -> Converter:
        def convert(st: Stmt, ctx: str) -> Any:
            return self.parse_int(st, ctx, 1, lo, hi)

        return convert

    def parse_int(self, st: Stmt, ctx: str, index: int, lo: int, hi: int, name: str | None = None) -> Any:
        if index >= len(st.words):
            return self._missing(st, ctx)
        text = st.words[index]
        name = name or st.words[0]
        try:
            value = int(text, 10)
        except ValueError:
            self.error(st, index, ctx, f"{name} '{text}' is not an integer")
            return _INVALID
        if not lo <= value <= hi:
            self.error(st, index, ctx, f"{name} '{text}' outside range [{lo}, {hi}]")
            return _INVALID
        return value

    def number(self, lo: float, hi: float) -> Converter:
        def convert(st: Stmt, ctx: str) -> Any:
            return self.parse_float(st, ctx, 1, lo, hi)

        return convert

    def parse_float(self, st: Stmt, ctx: str, index: int, lo: float, hi: float) -> Any:
        if index >= len(st.words):
            return self._missing(st, ctx)
        text = st.words[index]
        try:
            value = float(text)
        except ValueError:
            self.error(st, index, ctx, f"{st.words[0]} '{text}' is not a number")
            return _INVALID
        if not lo <= value <= hi or value != value:
            self.error(st, index, ctx, f"{st.words[0]} '{text}' outside range [{lo:g}, {hi:g}]")
            return _INVALID
        return value

    def flag(self, st: Stmt, ctx: str) -> Any:
        """``keyword [<BOOL>]``: bare keyword means on."""
        if len(st.words) < 2:
            return True
        value = BOOL_WORDS.get(st.words[1].lower())
        if value is None:
            self.error(st, 1, ctx, f"{st.words[0]} '{st.words[1]}' is not one of on|off|true|false|yes|no")
            return _INVALID
        return value

    def negated_flag(self, st: Stmt, ctx: str) -> Any:
        value = self.flag(st, ctx)
        return value if value is _INVALID else not value

    def word(self, st: Stmt, ctx: str) -> Any:
        if len(st.words) < 2:
            return self._missing(st, ctx)
        self._extra_words(st, ctx, 2)
        return st.words[1]

    def rest(self, st: Stmt, ctx: str) -> Any:
        """The whole rest of the line as one command (words with spaces re-quoted)."""
        if len(st.words) < 2:
            return self._missing(st, ctx)
        if len(st.words) == 2:
            return st.words[1]
        return " ".join(w if w and not any(c.isspace() for c in w) else shlex.quote(w) for w in st.words[1:])

    def script(self, st: Stmt, ctx: str) -> Any:
        """``notify_x <STRING>|<QUOTED-STRING> [username [groupname]]``: the command string."""
        if len(st.words) < 2:
            return self._missing(st, ctx, "a script")
        if len(st.words) > 2:
            self.warning(
                st,
                2,
                ctx,
                f"{st.words[0]}: '{' '.join(st.words[2:])}' would be keepalived's [username [groupname]], which "
                "fastalived does not support; quote the command to pass arguments",
            )
        return st.words[1]

    def choice(self, options: Iterable[str], upper: bool = False) -> Converter:
        allowed = tuple(options)

        def convert(st: Stmt, ctx: str) -> Any:
            if len(st.words) < 2:
                return self._missing(st, ctx)
            value = st.words[1].upper() if upper else st.words[1]
            if value not in allowed:
                self.error(
                    st,
                    1,
                    ctx,
                    f"{st.words[0]} '{st.words[1]}' is not one of {'|'.join(allowed)}" + _suggest(value, allowed),
                )
                return _INVALID
            return value

        return convert

    def address(self, st: Stmt, ctx: str) -> Any:
        if len(st.words) < 2:
            return self._missing(st, ctx, "an IP address")
        return self.parse_address(st, ctx, 1)

    def parse_address(self, st: Stmt, ctx: str, index: int, text: str | None = None) -> Any:
        text = st.words[index] if text is None else text
        cached = self._addresses.get(text)
        if cached is not None:
            return cached
        try:
            value = ipaddress.ip_address(text)
        except ValueError:
            self.error(
                st,
                index,
                ctx,
                f"{st.words[0]}: invalid IP address '{text}'" if index else f"invalid IP address '{text}'",
            )
            return _INVALID
        self._addresses[text] = value
        return value

    def parse_port(self, st: Stmt, ctx: str, index: int) -> Any:
        return self.parse_int(st, ctx, index, 0, 65535, name="port")

    # ======================================================================= keyword tables

    def _build_tables(self) -> None:
        timer = self.number(0, 4294967.0)
        count = self.integer(0, 2147483647)
        self.global_table: Table = {
            "notification_email_from": ("notification_email_from", self.word),
            "smtp_helo_name": ("smtp_helo_name", self.word),
            "smtp_connect_timeout": ("smtp_connect_timeout", timer),
            "router_id": ("router_id", self.word),
            "lvs_id": ("router_id", self.word),
            "enable_script_security": ("enable_script_security", self.flag),
            "vrrp_version": ("vrrp_version", self.integer(2, 3)),
            "vrrp_strict": ("vrrp_strict", self.flag),
            "vrrp_mcast_group4": ("vrrp_mcast_group4", self.address),
            "vrrp_mcast_group6": ("vrrp_mcast_group6", self.address),
            "vrrp_garp_master_delay": ("vrrp_garp_master_delay", timer),
            "vrrp_garp_master_repeat": ("vrrp_garp_master_repeat", self.integer(1, 2147483647)),
            "vrrp_garp_master_refresh": ("vrrp_garp_master_refresh", timer),
            "vrrp_garp_master_refresh_repeat": ("vrrp_garp_master_refresh_repeat", self.integer(1, 2147483647)),
            "vrrp_garp_interval": ("vrrp_garp_interval", timer),
            "vrrp_gna_interval": ("vrrp_gna_interval", timer),
            "vrrp_skip_check_adv_addr": ("vrrp_skip_check_adv_addr", self.flag),
            "vrrp_check_unicast_src": ("vrrp_check_unicast_src", self.flag),
            "v3_checksum_as_v2": ("v3_checksum_as_v2", self.flag),
            "lvs_flush": ("lvs_flush", self.flag),
            "lvs_flush_onstop": ("lvs_flush_onstop", self.flag),
            "lvs_flush_on_stop": ("lvs_flush_onstop", self.flag),
        }
        self.global_blocks: dict[str, Callable[[Stmt, str, dict[str, Any]], None]] = {
            "notification_email": self._notification_email,
            "smtp_server": self._smtp_server,
            "script_user": self._script_user,
            "lvs_sync_daemon": self._lvs_sync_daemon,
            "lvs_timeouts": self._lvs_timeouts,
            "fastalived_status_listen": self._status_listen,
            "smtp_alert": self._global_smtp_alert,
            "smtp_alert_checker": self._global_smtp_alert,
            "smtp_alert_vrrp": self._global_smtp_alert,
        }
        self.script_table: Table = {
            "script": ("script", self.rest),
            "interval": ("interval", self.number(0.000001, 4294967.0)),
            "timeout": ("timeout", self.number(0.000001, 4294967.0)),
            "rise": ("rise", self.integer(1, 2147483647)),
            "fall": ("fall", self.integer(1, 2147483647)),
            "init_fail": ("init_fail", self.flag),
        }
        notify: Table = {
            "notify_master": ("notify_master", self.script),
            "notify_backup": ("notify_backup", self.script),
            "notify_fault": ("notify_fault", self.script),
            "notify_stop": ("notify_stop", self.script),
            "notify": ("notify", self.script),
            "smtp_alert": ("smtp_alert", self.flag),
        }
        self.notify_table = notify
        self.sync_group_table: Table = {**notify, "global_tracking": ("global_tracking", self.flag)}
        self.instance_table: Table = {
            **notify,
            "state": ("state", self.choice(("MASTER", "BACKUP"), upper=True)),
            "interface": ("interface", self.word),
            "dont_track_primary": ("dont_track_primary", self.flag),
            "mcast_src_ip": ("mcast_src_ip", self.address),
            "unicast_src_ip": ("unicast_src_ip", self.address),
            "garp_master_delay": ("garp_master_delay", timer),
            "garp_master_repeat": ("garp_master_repeat", self.integer(1, 2147483647)),
            "garp_master_refresh": ("garp_master_refresh", timer),
            "garp_master_refresh_repeat": ("garp_master_refresh_repeat", self.integer(1, 2147483647)),
            "virtual_router_id": ("virtual_router_id", self.integer(1, 255)),
            "priority": ("priority", self.integer(1, 255)),
            "advert_int": ("advert_int", self.number(0.0, 255.0)),
            "version": ("version", self.integer(2, 3)),
            "nopreempt": ("nopreempt", self.flag),
            "preempt": ("nopreempt", self.negated_flag),
            "preempt_delay": ("preempt_delay", self.number(0, 1000)),
            "accept": ("accept", self.flag),
            "no_accept": ("accept", self.negated_flag),
            "debug": ("debug", self.integer(0, 4)),
            "native_ipv6": ("native_ipv6", self.flag),
            "v3_checksum_as_v2": ("v3_checksum_as_v2", self.flag),
        }
        self.instance_blocks: dict[str, Callable[[Stmt, str, dict[str, Any]], None]] = {
            "track_interface": self._track_interfaces,
            "track_script": self._track_scripts,
            "unicast_peer": self._unicast_peers,
            "virtual_ipaddress": self._virtual_ipaddresses,
            "virtual_ipaddress_excluded": self._virtual_ipaddresses,
            "virtual_routes": self._virtual_routes,
            "authentication": self._authentication,
            "use_vmac": self._use_vmac,
            "lvs_sync_daemon_interface": self._instance_lvs_sync_daemon_interface,
        }
        self.sync_group_blocks: dict[str, Callable[[Stmt, str, dict[str, Any]], None]] = {
            "group": self._sync_group_members,
            "track_interface": self._track_interfaces,
            "track_script": self._track_scripts,
        }
        lvs_method = self._lvs_method
        common: Table = {
            "connect_timeout": ("connect_timeout", self.number(0.000001, 4294967.0)),
            "retry": ("retry", count),
            "nb_get_retry": ("retry", count),
            "delay_before_retry": ("delay_before_retry", timer),
            "warmup": ("warmup", timer),
            "delay_loop": ("delay_loop", self.number(0.000001, 4294967.0)),
            "alpha": ("alpha", self.flag),
        }
        self.vs_table: Table = {
            **common,
            "lvs_sched": ("lvs_sched", self.choice(m.SCHEDULERS)),
            "lb_algo": ("lvs_sched", self.choice(m.SCHEDULERS)),
            "lvs_method": ("lvs_method", lvs_method),
            "lb_kind": ("lvs_method", lvs_method),
            "persistence_granularity": ("persistence_granularity", self.address),
            "protocol": ("protocol", self.choice(("TCP", "UDP", "SCTP"), upper=True)),
            "ha_suspend": ("ha_suspend", self.flag),
            "ops": ("ops", self.flag),
            "virtualhost": ("virtualhost", self.word),
            "sorry_server_inhibit": ("sorry_server_inhibit", self.flag),
            "quorum": ("quorum", self.integer(0, 2147483647)),
            "hysteresis": ("hysteresis", self.integer(0, 2147483647)),
            "quorum_up": ("quorum_up", self.script),
            "quorum_down": ("quorum_down", self.script),
            "omega": ("omega", self.flag),
            "inhibit_on_failure": ("inhibit_on_failure", self.flag),
            "smtp_alert": ("smtp_alert", self.flag),
            "ip_family": ("family", self._ip_family),
        }
        self.vs_blocks: dict[str, Callable[[Stmt, str, dict[str, Any]], None]] = {
            "real_server": self._real_server,
            "sorry_server": self._sorry_server,
            "sorry_server_lvs_method": self._sorry_server_lvs_method,
            "persistence_timeout": self._persistence_timeout,
            **{flag: self._sched_flag for flag in (*SCHED_FLAGS, *SCHED_FLAG_ALIASES)},
        }
        self.rs_table: Table = {
            **common,
            "weight": ("weight", self.integer(0, 2147483647)),
            "lvs_method": ("lvs_method", lvs_method),
            "notify_up": ("notify_up", self.script),
            "notify_down": ("notify_down", self.script),
            "uthreshold": ("uthreshold", self.integer(0, 2147483647)),
            "lthreshold": ("lthreshold", self.integer(0, 2147483647)),
            "smtp_alert": ("smtp_alert", self.flag),
            "virtualhost": ("virtualhost", self.word),
            "inhibit_on_failure": ("inhibit_on_failure", self.flag),
        }
        self.rs_blocks: dict[str, Callable[[Stmt, str, dict[str, Any]], None]] = {
            kind: self._checker for kind in CHECKER_KINDS
        }
        self.checker_table: Table = {
            **common,
            "connect_ip": ("connect_ip", self.address),
            "connect_port": ("connect_port", self.integer(0, 65535)),
            "bindto": ("bindto", self.address),
            "bind_port": ("bind_port", self.integer(0, 65535)),
            "bind_if": ("bind_if", self.word),
        }
        self.checker_extra: dict[str, Table] = {
            "HTTP_GET": {
                "http_protocol": ("http_protocol", self.choice(("1.0", "1.1", "1.0C", "1.0K"))),
                "virtualhost": ("virtualhost", self.word),
            },
            "TCP_CHECK": {},
            "SMTP_CHECK": {"helo_name": ("helo_name", self.word)},
            "MISC_CHECK": {
                "misc_path": ("misc_path", self.rest),
                "misc_timeout": ("misc_timeout", self.number(0.000001, 4294967.0)),
                "misc_dynamic": ("misc_dynamic", self.flag),
            },
            "DNS_CHECK": {
                "type": ("type", self.choice(sorted(DNS_TYPES), upper=True)),
                "name": ("name", self.word),
            },
        }
        self.checker_extra["SSL_GET"] = {
            **self.checker_extra["HTTP_GET"],
            "enable_sni": ("enable_sni", self.flag),
        }
        checker_blocks: dict[str, dict[str, Callable[[Stmt, str, dict[str, Any]], None]]] = {
            "HTTP_GET": {"url": self._url},
            "SSL_GET": {"url": self._url},
            "SMTP_CHECK": {"host": self._smtp_host},
            "MISC_CHECK": {"user": self._script_run_as},
        }
        self.checker_tables = {
            kind: ({**self.checker_table, **self.checker_extra[kind]}, checker_blocks.get(kind, {}))
            for kind in CHECKER_KINDS
        }
        self.url_blocks: dict[str, Callable[[Stmt, str, dict[str, Any]], None]] = {"status_code": self._status_codes}
        self.url_table: Table = {
            "path": ("path", self.word),
            "digest": ("digest", self._digest),
            "virtualhost": ("virtualhost", self.word),
        }
        self.ssl_table: Table = {
            "ca": ("ca", self.word),
            "certificate": ("certificate", self.word),
            "key": ("key", self.word),
            "password": ("password", self.word),
        }
        self.top_level: dict[str, Callable[[Stmt], None]] = {
            "global_defs": self._global_defs,
            "static_ipaddress": self._static_ipaddress,
            "static_routes": self._static_routes,
            "vrrp_script": self._vrrp_script,
            "vrrp_sync_group": self._vrrp_sync_group,
            "vrrp_instance": self._vrrp_instance,
            "virtual_server_group": self._virtual_server_group,
            "virtual_server": self._virtual_server,
            "SSL": self._ssl,
        }

    # ======================================================================= walking blocks

    def walk(
        self,
        st: Stmt,
        ctx: str,
        values: dict[str, Any],
        table: Table,
        blocks: dict[str, Callable[[Stmt, str, dict[str, Any]], None]] | None = None,
        unsupported: frozenset[str] = frozenset(),
        fallback: Callable[[Stmt, str, dict[str, Any]], bool] | None = None,
    ) -> None:
        """Apply ``st``'s block to ``values`` through a keyword table and block handlers.

        ``fallback`` gets a first look at unknown keywords (legacy syntax) and returns True if it
        consumed the statement.
        """
        if st.block is None:
            self.error(st, 0, ctx, f"{st.words[0]} needs a '{{' block")
            return
        for child in st.block:
            keyword = child.words[0]
            row = table.get(keyword)
            if row is not None:
                if child.block is not None:
                    self.warning(child, 0, ctx, f"{keyword} does not take a block; ignored")
                    continue
                value = row[1](child, ctx)
                if value is not _INVALID:
                    values[row[0]] = value
                continue
            handler = blocks.get(keyword) if blocks else None
            if handler is not None:
                handler(child, ctx, values)
            elif fallback is None or not fallback(child, ctx, values):
                self.unknown(child, ctx, (table, blocks or {}), unsupported)

    def unknown(self, st: Stmt, ctx: str, known: Iterable[Iterable[str]], unsupported: frozenset[str]) -> None:
        keyword = st.words[0]
        if keyword in unsupported:
            self.info(st, ctx, f"'{keyword}' is not supported by fastalived; ignored")
            return
        if keyword == "{":
            return  # already reported by the lexer
        candidates = [k for group in known for k in group] + list(unsupported)
        self.warning(st, 0, ctx, f"unknown keyword '{keyword}'" + _suggest(keyword, candidates))

    def block_lines(self, st: Stmt, ctx: str, header_words: int = 1) -> list[Stmt]:
        """The statements of a list block (``virtual_ipaddress { ... }``); [] if it has none."""
        if st.block is None:
            self.error(st, 0, ctx, f"{st.words[0]} needs a '{{' block")
            return []
        self._extra_words(st, ctx, header_words)
        return st.block

    # ======================================================================= whole file

    def parse(self, root: list[Stmt], files: Iterable[str] = ()) -> m.Config:
        self.global_values: dict[str, Any] = {}
        self.alert_defaults: dict[str, bool] = {}
        self.global_where = m.NOWHERE
        self.ssl: m.SslDefs | None = None
        self.static_ipaddress: list[m.IPAddressSpec] = []
        self.static_routes: list[m.RouteSpec] = []
        self.scripts: dict[str, tuple[Stmt, dict[str, Any]]] = {}
        self.sync_groups: dict[str, tuple[Stmt, dict[str, Any]]] = {}
        self.instances: dict[str, tuple[Stmt, dict[str, Any]]] = {}
        self.vs_groups: dict[str, m.VirtualServerGroup] = {}
        self.virtual_servers: list[tuple[Stmt, dict[str, Any]]] = []
        for st in root:
            handler = self.top_level.get(st.words[0])
            if handler is not None:
                handler(st)
            elif st.words[0] in UNSUPPORTED_GLOBAL and st.block is None:
                self.info(st, "", f"'{st.words[0]}' is not supported by fastalived; ignored")
            else:
                self.unknown(st, "", (self.top_level,), UNSUPPORTED_TOP)
        global_defs = self._finish_global_defs()
        scripts = self._finish_scripts()
        instances = self._finish_instances(global_defs, {s.name for s in scripts})
        sync_groups = self._finish_sync_groups({i.name for i in instances}, {s.name for s in scripts})
        virtual_servers = tuple(self._finish_virtual_server(st, v) for st, v in self.virtual_servers)
        return m.Config(
            global_defs=global_defs,
            ssl=self.ssl,
            static_ipaddress=tuple(self.static_ipaddress),
            static_routes=tuple(self.static_routes),
            vrrp_scripts=scripts,
            vrrp_sync_groups=sync_groups,
            vrrp_instances=instances,
            virtual_server_groups=tuple(self.vs_groups.values()),
            virtual_servers=virtual_servers,
            files=tuple(files),
        )

    def _named(self, st: Stmt, registry: dict[str, Any], kind: str) -> str | None:
        """The section's name (``vrrp_instance VI_1``), reporting a missing or duplicate one."""
        if len(st.words) < 2:
            self.error(st, 0, "", f"{kind} needs a name")
            return None
        name = st.words[1]
        if name in registry:
            first = registry[name][0].where() if isinstance(registry[name], tuple) else registry[name].where
            self.error(st, 1, "", f"{kind} {name} is already defined at {first}")
            return None
        return name

    # ======================================================================= global_defs, SSL

    def _global_defs(self, st: Stmt) -> None:
        self.global_where = st.where()
        self.walk(st, "global_defs", self.global_values, self.global_table, self.global_blocks, UNSUPPORTED_GLOBAL)

    def _notification_email(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        if st.block is None and len(st.words) > 1:
            emails = st.words[1:]
        else:
            emails = [w for line in self.block_lines(st, ctx) for w in line.words]
        values["notification_email"] = values.get("notification_email", ()) + tuple(emails)

    def _smtp_server(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        if len(st.words) < 2:
            self._missing(st, ctx, "a host")
            return
        values["smtp_server"] = st.words[1]
        if len(st.words) > 2:
            port = self.parse_port(st, ctx, 2)
            if port is not _INVALID:
                values["smtp_port"] = port

    def _script_user(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        if len(st.words) < 2:
            self._missing(st, ctx, "a user name")
            return
        values["script_user"] = st.words[1]
        if len(st.words) > 2:
            values["script_group"] = st.words[2]

    def _lvs_sync_daemon(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        if len(st.words) < 2:
            self._missing(st, ctx, "an interface")
            return
        fields: dict[str, Any] = {"interface": st.words[1], "vrrp_instance": None}
        i = 2
        if i < len(st.words) and st.words[i] not in ("id", "maxlen", "port", "ttl", "group"):
            fields["vrrp_instance"] = st.words[i]
            i += 1
        limits = {
            "id": ("sync_id", 0, 255),
            "maxlen": ("maxlen", 1, 65507),
            "port": ("port", 1, 65535),
            "ttl": ("ttl", 1, 255),
        }
        while i < len(st.words):
            option = st.words[i]
            if i + 1 >= len(st.words):
                self.error(st, i, ctx, f"lvs_sync_daemon: '{option}' needs a value")
                break
            if option in limits:
                field_name, lo, hi = limits[option]
                value = self.parse_int(st, ctx, i + 1, lo, hi, name=f"lvs_sync_daemon {option}")
            elif option == "group":
                field_name, value = "group", self.parse_address(st, ctx, i + 1)
            else:
                self.warning(st, i, ctx, f"lvs_sync_daemon: unknown option '{option}'")
                i += 1
                continue
            if value is not _INVALID:
                fields[field_name] = value
            i += 2
        values["lvs_sync_daemon"] = m.LvsSyncDaemon(**fields, where=st.where())

    def _lvs_timeouts(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        fields: dict[str, Any] = {}
        i = 1
        while i < len(st.words):
            option = st.words[i]
            if option not in ("tcp", "tcpfin", "udp") or i + 1 >= len(st.words):
                self.error(st, i, ctx, f"lvs_timeouts: expected 'tcp|tcpfin|udp SECONDS', got '{option}'")
                break
            value = self.parse_int(st, ctx, i + 1, 0, 2147483647, name=f"lvs_timeouts {option}")
            if value is not _INVALID:
                fields[option] = value
            i += 2
        values["lvs_timeouts"] = m.LvsTimeouts(**fields, where=st.where())

    def _global_smtp_alert(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        """Global ``smtp_alert[_checker|_vrrp]``: not GlobalDefs fields but the sections' defaults."""
        enabled = self.flag(st, ctx)
        if enabled is not _INVALID:
            self.alert_defaults[st.words[0]] = enabled

    def smtp_alert_default(self, specific: str, fallback: bool) -> bool:
        """keepalived's precedence: ``smtp_alert_checker``/``_vrrp``, then ``smtp_alert``, then the
        section's own default (on for real servers, off elsewhere)."""
        return self.alert_defaults.get(specific, self.alert_defaults.get("smtp_alert", fallback))

    def _status_listen(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        if len(st.words) != 3:
            self.error(st, 0, ctx, "fastalived_status_listen needs ADDRESS PORT")
            return
        address = self.parse_address(st, ctx, 1)
        port = self.parse_int(st, ctx, 2, 1, 65535, name="port")
        if address is not _INVALID and port is not _INVALID:
            values["status_listen"] = (str(address), port)

    def _finish_global_defs(self) -> m.GlobalDefs:
        values = self.global_values
        for key, version in (("vrrp_mcast_group4", 4), ("vrrp_mcast_group6", 6)):
            group = values.get(key)
            if group is not None and (group.version != version or not group.is_multicast):
                self.report.error(
                    self.global_where, key, f"global_defs: {key} '{group}' is not an IPv{version} multicast address"
                )
                del values[key]
        return m.GlobalDefs(**values, where=self.global_where)

    def _ssl(self, st: Stmt) -> None:
        values: dict[str, Any] = {}
        self.walk(st, "SSL", values, self.ssl_table)
        self.ssl = m.SslDefs(**values, where=st.where())

    # ======================================================================= addresses and routes

    def ip_address_spec(self, st: Stmt, ctx: str, words: list[str] | None = None) -> m.IPAddressSpec | None:
        """``ADDR[/PREFIX] [brd ADDR] [dev IF] [scope S] [label L] [peer ADDR] [no_track] ...``."""
        words = st.words if words is None else words
        interface = self._interface(st, ctx, 0, words[0])
        if interface is None:
            return None
        fields: dict[str, Any] = {}
        i = 1
        n = len(words)
        while i < n:
            option = words[i]
            if option in ("no_track", "home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "use_vmac"):
                if option == "no_track":
                    fields["no_track"] = True
                i += 1
                continue
            if i + 1 >= n:
                self.error(st, i, ctx, f"{option} needs a value")
                break
            value = words[i + 1]
            if option in ("brd", "broadcast"):
                brd = self.parse_address(st, ctx, i + 1, value)
                if brd is not _INVALID:
                    fields["brd"] = brd
            elif option == "dev":
                fields["dev"] = value
            elif option == "scope":
                fields["scope"] = value
            elif option == "label":
                fields["label"] = value
            elif option == "peer":
                peer = self._interface(st, ctx, i + 1, value)
                if peer is not None:
                    fields["peer"] = peer
            elif option == "preferred_lft":
                pass
            else:
                self.warning(st, i, ctx, f"unknown address option '{option}'")
                i += 1
                continue
            i += 2
        return m.IPAddressSpec(address=interface, where=st.where(), **fields)

    def _interface(self, st: Stmt, ctx: str, index: int, text: str) -> m.IPInterface | None:
        try:
            return ipaddress.ip_interface(text)
        except ValueError:
            self.error(st, index, ctx, f"invalid IP address/prefix '{text}'")
            return None

    def route_spec(self, st: Stmt, ctx: str) -> m.RouteSpec | None:
        """``[TYPE] [src ADDR] DST|default [via|gw ADDR] [dev IF] [metric N] [table N] ...``."""
        words = st.words
        fields: dict[str, Any] = {}
        dst_seen = False
        i = 0
        n = len(words)
        while i < n:
            word = words[i]
            if not dst_seen and word in ROUTE_TYPES:
                fields["type"] = word
                i += 1
                continue
            if word in ("no_track", "onlink"):
                if word == "no_track":
                    fields["no_track"] = True
                i += 1
                continue
            if word == "nexthop":
                self.info(st, ctx, "multipath 'nexthop' routes are not supported by fastalived; first hop only")
                break
            if not dst_seen and word not in (
                "src",
                "via",
                "gw",
                "dev",
                "oif",
                "table",
                "metric",
                "scope",
                "proto",
                "protocol",
            ):
                if word == "default":
                    fields["dst"] = None
                else:
                    try:
                        fields["dst"] = ipaddress.ip_network(word, strict=False)
                    except ValueError:
                        self.error(st, i, ctx, f"invalid route destination '{word}'")
                        return None
                dst_seen = True
                i += 1
                continue
            if i + 1 >= n:
                self.error(st, i, ctx, f"route option '{word}' needs a value")
                return None
            value = words[i + 1]
            if word in ("via", "gw", "src"):
                if word == "gw":
                    self.info(st, ctx, "'gw' for routes is deprecated; use 'via'")
                address = self.parse_address(st, ctx, i + 1, value)
                if address is _INVALID:
                    return None
                fields["src" if word == "src" else "via"] = address
            elif word in ("dev", "oif"):
                fields["dev"] = value
            elif word in ("metric", "preference", "priority"):
                metric = self.parse_int(st, ctx, i + 1, 0, 4294967295, name="metric")
                if metric is not _INVALID:
                    fields["metric"] = metric
            elif word == "table":
                table = ROUTE_TABLES.get(value)
                if table is None:
                    table = self.parse_int(st, ctx, i + 1, 0, 4294967295, name="table")
                if table is not _INVALID:
                    fields["table"] = table
            elif word == "scope":
                fields["scope"] = value
            elif word in ("proto", "protocol"):
                fields["proto"] = value
            elif word == "or":
                self.warning(st, i, ctx, "'or' for routes is deprecated and not supported; alternative ignored")
            else:
                self.info(st, ctx, f"route option '{word}' is not supported by fastalived; ignored")
            i += 2
        if not dst_seen:
            self.error(st, 0, ctx, "route has no destination")
            return None
        dst = fields.get("dst")
        family_from = dst or fields.get("via") or fields.get("src")
        fields["family"] = family_from.version if family_from is not None else 4
        for key in ("via", "src"):
            if key in fields and fields[key].version != fields["family"]:
                self.error(st, 0, ctx, f"route {key} {fields[key]} is not in the destination's address family")
                return None
        return m.RouteSpec(where=st.where(), **{"dst": None, **fields})

    def _address_list(self, st: Stmt, ctx: str) -> list[m.IPAddressSpec]:
        ctx = f"{ctx}: {st.words[0]}" if ctx else st.words[0]
        specs = (self.ip_address_spec(line, ctx) for line in self.block_lines(st, ctx))
        return [spec for spec in specs if spec is not None]

    def _route_list(self, st: Stmt, ctx: str) -> list[m.RouteSpec]:
        ctx = f"{ctx}: {st.words[0]}" if ctx else st.words[0]
        routes = (self.route_spec(line, ctx) for line in self.block_lines(st, ctx))
        return [route for route in routes if route is not None]

    def _static_ipaddress(self, st: Stmt) -> None:
        self.static_ipaddress.extend(self._address_list(st, ""))

    def _static_routes(self, st: Stmt) -> None:
        self.static_routes.extend(self._route_list(st, ""))

    # ======================================================================= vrrp_script

    def _vrrp_script(self, st: Stmt) -> None:
        name = self._named(st, self.scripts, "vrrp_script")
        if name is None:
            return
        ctx = f"vrrp_script {name}"
        values: dict[str, Any] = {"name": name}
        self.walk(st, ctx, values, self.script_table, {"weight": self._script_weight, "user": self._script_run_as})
        self.scripts[name] = (st, values)

    def _script_weight(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        weight, reverse = self._weight(st, ctx, 1, 253)
        if weight is not None:
            values["weight"] = weight
            values["weight_reverse"] = reverse

    def _weight(self, st: Stmt, ctx: str, index: int, limit: int) -> tuple[int | None, bool]:
        """``N [reverse]`` starting at ``index``."""
        value = self.parse_int(st, ctx, index, -limit, limit, name="weight")
        if value is _INVALID:
            return None, False
        reverse = len(st.words) > index + 1 and st.words[index + 1] == "reverse"
        self._extra_words(st, ctx, index + 1 + reverse)
        return value, reverse

    def _script_run_as(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        if len(st.words) < 2:
            self._missing(st, ctx, "a user name")
            return
        values["user"] = st.words[1]
        if len(st.words) > 2:
            values["group"] = st.words[2]

    def _finish_scripts(self) -> tuple[m.VrrpScript, ...]:
        scripts = []
        for st, values in self.scripts.values():
            if "script" not in values:
                self.warning(st, 1, f"vrrp_script {values['name']}", "no script set; vrrp_script removed")
                continue
            scripts.append(m.VrrpScript(**values, where=st.where()))
        return tuple(scripts)

    # ======================================================================= tracking lists (instances, groups)

    def _track_interfaces(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        tracked = list(values.get("track_interface", ()))
        for line in self.block_lines(st, ctx):
            weight, reverse = None, False
            if len(line.words) > 1:
                if line.words[1] != "weight":
                    self.error(
                        line, 1, ctx, f"track_interface {line.words[0]}: expected 'weight N', got '{line.words[1]}'"
                    )
                    continue
                weight, reverse = self._weight(line, ctx, 2, 254)
                if weight is None:
                    continue
            tracked.append(m.TrackInterface(line.words[0], weight, reverse, where=line.where()))
        values["track_interface"] = tuple(tracked)

    def _track_scripts(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        tracked = list(values.get("track_script", ()))
        for line in self.block_lines(st, ctx):
            weight, reverse = None, False
            if len(line.words) > 1:
                if line.words[1] != "weight":
                    self.error(
                        line, 1, ctx, f"track_script {line.words[0]}: expected 'weight N', got '{line.words[1]}'"
                    )
                    continue
                weight, reverse = self._weight(line, ctx, 2, 253)
                if weight is None:
                    continue
            tracked.append(m.TrackScript(line.words[0], weight, reverse, where=line.where()))
        values["track_script"] = tuple(tracked)

    def _check_tracked_scripts(self, values: dict[str, Any], ctx: str, known: set[str]) -> None:
        for tracked in values.get("track_script", ()):
            if tracked.name not in known:
                self.report.error(
                    tracked.where,
                    "track_script",
                    f"{ctx}: track_script '{tracked.name}' is not a defined vrrp_script"
                    + _suggest(tracked.name, known),
                )
        values["track_script"] = tuple(t for t in values.get("track_script", ()) if t.name in known)

    # ======================================================================= vrrp_sync_group

    def _vrrp_sync_group(self, st: Stmt) -> None:
        name = self._named(st, self.sync_groups, "vrrp_sync_group")
        if name is None:
            return
        values: dict[str, Any] = {"name": name, "group": ()}
        self.walk(
            st,
            f"vrrp_sync_group {name}",
            values,
            self.sync_group_table,
            self.sync_group_blocks,
            UNSUPPORTED_SYNC_GROUP,
            fallback=self._legacy_sync_group_member,
        )
        self.sync_groups[name] = (st, values)

    def _legacy_sync_group_member(self, st: Stmt, ctx: str, values: dict[str, Any]) -> bool:
        """Old samples list member instances directly in the group (no ``group { }``); accept a
        bare word that is not close to a real keyword as such a member."""
        keyword = st.words[0]
        if len(st.words) > 1 or st.block is not None:
            return False
        keywords = [*self.sync_group_table, *self.sync_group_blocks, *UNSUPPORTED_SYNC_GROUP]
        if _suggest(keyword, keywords):
            return False
        self.info(st, ctx, f"listing '{keyword}' outside 'group {{ }}' is deprecated")
        values["group"] = values["group"] + (keyword,)
        values.setdefault("_member_lines", []).append((keyword, st))
        return True

    def _sync_group_members(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        members = [(w, line) for line in self.block_lines(st, ctx) for w in line.words]
        values["group"] = values["group"] + tuple(w for w, _ in members)
        values.setdefault("_member_lines", []).extend(members)

    def _finish_sync_groups(self, instances: set[str], scripts: set[str]) -> tuple[m.VrrpSyncGroup, ...]:
        groups = []
        owner: dict[str, str] = {}
        for st, values in self.sync_groups.values():
            ctx = f"vrrp_sync_group {values['name']}"
            for member, line in values.pop("_member_lines", []):
                if member not in instances:
                    index = line.words.index(member)
                    self.error(line, index, ctx, f"unknown vrrp_instance '{member}'" + _suggest(member, instances))
                elif member in owner:
                    self.error(
                        line,
                        line.words.index(member),
                        ctx,
                        f"vrrp_instance {member} is already in vrrp_sync_group {owner[member]}",
                    )
                else:
                    owner[member] = values["name"]
            values["group"] = tuple(dict.fromkeys(g for g in values["group"] if owner.get(g) == values["name"]))
            if not values["group"]:
                self.warning(st, 0, ctx, "has no vrrp_instance members; ignored")
                continue
            self._check_tracked_scripts(values, ctx, scripts)
            values.setdefault("smtp_alert", self.smtp_alert_default("smtp_alert_vrrp", False))
            values["notify"] = self._notify(values)
            groups.append(m.VrrpSyncGroup(**values, where=st.where()))
        return tuple(groups)

    def _notify(self, values: dict[str, Any]) -> m.NotifyScripts:
        return m.NotifyScripts(**{key: values.pop(key) for key in self.notify_table if key in values})

    # ======================================================================= vrrp_instance

    def _vrrp_instance(self, st: Stmt) -> None:
        name = self._named(st, self.instances, "vrrp_instance")
        if name is None:
            return
        values: dict[str, Any] = {"name": name}
        self.walk(st, f"vrrp_instance {name}", values, self.instance_table, self.instance_blocks, UNSUPPORTED_INSTANCE)
        self.instances[name] = (st, values)

    def _unicast_peers(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        peers = list(values.get("unicast_peers", ()))
        ctx = f"{ctx}: unicast_peer"
        for line in self.block_lines(st, ctx):
            peer = self.parse_address(line, ctx, 0)
            if peer is not _INVALID:
                peers.append(peer)
        values["unicast_peers"] = tuple(peers)

    def _virtual_ipaddresses(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        key = "virtual_ipaddresses" if st.words[0] == "virtual_ipaddress" else "virtual_ipaddresses_excluded"
        values[key] = values.get(key, ()) + tuple(self._address_list(st, ctx))

    def _virtual_routes(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        values["virtual_routes"] = values.get("virtual_routes", ()) + tuple(self._route_list(st, ctx))

    def _authentication(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        auth: dict[str, Any] = {}
        table: Table = {
            "auth_type": ("auth_type", self.choice(("PASS", "AH"), upper=True)),
            "auth_pass": ("auth_pass", self.word),
        }
        self.walk(st, f"{ctx}: authentication", auth, table)
        if "auth_pass" in auth:
            password = auth["auth_pass"].encode()
            if len(password) > 8:
                line = next(c for c in st.block or () if c.words[0] == "auth_pass")
                self.warning(line, 1, ctx, "auth_pass is longer than 8 characters; truncated")
                password = password[:8]
            values["auth_pass"] = password
            values["auth_type"] = auth.get("auth_type", "PASS")
        elif "auth_type" in auth:
            self.warning(st, 0, ctx, "authentication has auth_type but no auth_pass; ignored")

    def _use_vmac(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        values["use_vmac"] = st.words[1] if len(st.words) > 1 else ""

    def _instance_lvs_sync_daemon_interface(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        self.warning(st, 0, ctx, "lvs_sync_daemon_interface is deprecated; use global_defs lvs_sync_daemon")
        interface = self.word(st, ctx)
        if interface is not _INVALID:
            values["lvs_sync_daemon_interface"] = interface

    def _finish_instances(self, global_defs: m.GlobalDefs, scripts: set[str]) -> tuple[m.VrrpInstance, ...]:
        instances = []
        vrid_owners: dict[tuple[str, int, int], str] = {}
        for st, values in self.instances.values():
            ctx = f"vrrp_instance {values['name']}"
            where = st.where()
            self._check_tracked_scripts(values, ctx, scripts)
            values.setdefault("smtp_alert", self.smtp_alert_default("smtp_alert_vrrp", False))
            values["notify"] = self._notify(values)
            values.setdefault("version", global_defs.vrrp_version)
            values.setdefault("garp_master_delay", global_defs.vrrp_garp_master_delay)
            values.setdefault("garp_master_repeat", global_defs.vrrp_garp_master_repeat)
            values.setdefault("garp_master_refresh", global_defs.vrrp_garp_master_refresh)
            values.setdefault("garp_master_refresh_repeat", global_defs.vrrp_garp_master_refresh_repeat)
            values.setdefault("accept", not global_defs.vrrp_strict)
            values.setdefault("v3_checksum_as_v2", global_defs.v3_checksum_as_v2)
            self._check_authentication(st, values, ctx, global_defs.vrrp_strict)
            for key, placeholder in (("interface", ""), ("virtual_router_id", 0)):
                if key not in values:
                    if _last_line(st, key) is st:  # an invalid value was already reported
                        self.report.error(where, key, f"{ctx}: no {key} set")
                    values[key] = placeholder
            native_ipv6 = values.pop("native_ipv6", False)
            addresses = values.get("virtual_ipaddresses", ())
            values["family"] = 6 if native_ipv6 or (addresses and addresses[0].family == 6) else 4
            self._check_families(st, values, ctx)
            self._check_advert_int(st, values, ctx)
            if values.get("use_vmac") == "":
                values["use_vmac"] = f"vrrp.{values['virtual_router_id']}"
            owner_key = (values["interface"], values["virtual_router_id"], values["family"])
            if values["virtual_router_id"] and owner_key in vrid_owners:
                line = _last_line(st, "virtual_router_id")
                self.error(
                    line,
                    1,
                    ctx,
                    f"virtual_router_id {owner_key[1]} (IPv{owner_key[2]}) on {owner_key[0]} is already used by"
                    f" vrrp_instance {vrid_owners[owner_key]}",
                )
            vrid_owners.setdefault(owner_key, values["name"])
            instances.append(m.VrrpInstance(**values, where=where))
        return tuple(instances)

    def _check_families(self, st: Stmt, values: dict[str, Any], ctx: str) -> None:
        family = values["family"]
        mixed = [a for a in values.get("virtual_ipaddresses", ()) if a.family != family]
        for spec in mixed:
            self.report.warning(
                spec.where,
                "virtual_ipaddress",
                f"{ctx}: {spec.address} is not IPv{family} like the instance; treated as virtual_ipaddress_excluded",
            )
        if mixed:
            values["virtual_ipaddresses"] = tuple(a for a in values["virtual_ipaddresses"] if a.family == family)
            values["virtual_ipaddresses_excluded"] = values.get("virtual_ipaddresses_excluded", ()) + tuple(mixed)
        for key in ("mcast_src_ip", "unicast_src_ip"):
            address = values.get(key)
            if address is not None and address.version != family:
                line = _last_line(st, key)
                self.error(line, 1, ctx, f"{key} {address} is not IPv{family} like the instance")
                del values[key]
        peers = values.get("unicast_peers", ())
        wrong = [p for p in peers if p.version != family]
        if wrong:
            self.error(
                _last_line(st, "unicast_peer"), 0, ctx, f"unicast_peer {wrong[0]} is not IPv{family} like the instance"
            )
            values["unicast_peers"] = tuple(p for p in peers if p.version == family)

    def _check_authentication(self, st: Stmt, values: dict[str, Any], ctx: str, strict: bool) -> None:
        """VRRPv3 has no authentication and vrrp_strict forbids it: keepalived drops it with a warning."""
        if "auth_pass" not in values:
            return
        reason = (
            "VRRPv3 has no authentication" if values["version"] == 3 else "vrrp_strict forbids it" if strict else ""
        )
        if reason:
            self.warning(_last_line(st, "authentication"), 0, ctx, f"authentication ignored: {reason}")
            del values["auth_pass"], values["auth_type"]

    def _check_advert_int(self, st: Stmt, values: dict[str, Any], ctx: str) -> None:
        advert = values.get("advert_int")
        if advert is None:
            return
        line = _last_line(st, "advert_int")
        if values["version"] == 2:
            if advert < 1 or advert != int(advert):
                self.error(
                    line,
                    1,
                    ctx,
                    f"advert_int '{line.words[1]}' must be a whole number of seconds in [1, 255] with VRRPv2",
                )
                del values["advert_int"]
        elif not 0.01 <= advert <= 40.95:
            self.error(line, 1, ctx, f"advert_int '{line.words[1]}' outside range [0.01, 40.95] for VRRPv3")
            del values["advert_int"]
        else:
            values["advert_int"] = round(advert, 2)

    # ======================================================================= virtual_server_group

    def _virtual_server_group(self, st: Stmt) -> None:
        name = self._named(st, self.vs_groups, "virtual_server_group")
        if name is None:
            return
        ctx = f"virtual_server_group {name}"
        members = []
        for line in self.block_lines(st, ctx, header_words=2):
            member = self._vsg_member(line, ctx)
            if member is not None:
                members.append(member)
        self.vs_groups[name] = m.VirtualServerGroup(name, tuple(members), where=st.where())

    def _vsg_member(self, line: Stmt, ctx: str) -> m.VsgMember | None:
        words = line.words
        if words[0] == "fwmark":
            mark = self.parse_int(line, ctx, 1, 1, 4294967295, name="fwmark")
            return None if mark is _INVALID else m.VsgMember(fwmark=mark, where=line.where())
        text = words[0]
        first_text, _, last_text = text.partition("-")
        end = None
        try:
            if "/" in text:
                network = ipaddress.ip_network(text, strict=False)
                first, end = network[0], network[-1]
            else:
                first = ipaddress.ip_address(first_text)
                if last_text:
                    if ("." in last_text and first.version == 4) or (":" in last_text and first.version == 6):
                        end = ipaddress.ip_address(last_text)
                    else:
                        sep = "." if first.version == 4 else ":"
                        head = first_text.rsplit(sep, 1)[0]
                        end = ipaddress.ip_address(f"{head}{sep}{last_text}")
                    if end.version != first.version or int(end) < int(first):
                        raise ValueError(text)
        except ValueError:
            self.error(line, 0, ctx, f"invalid address or range '{text}'")
            return None
        port = None
        if len(words) > 1:
            port = self.parse_port(line, ctx, 1)
            if port is _INVALID:
                return None
        return m.VsgMember(address=first, range_end=end if end != first else None, port=port, where=line.where())

    # ======================================================================= virtual_server

    def _virtual_server(self, st: Stmt) -> None:
        words = st.words
        head = " ".join(words[1:])
        ctx = f"virtual_server {head}"
        values: dict[str, Any] = {"_real_servers": []}
        if len(words) < 2:
            self.error(st, 0, "", "virtual_server needs IP PORT, 'fwmark N' or 'group NAME'")
            return
        if words[1] == "fwmark":
            mark = self.parse_int(st, ctx, 2, 1, 4294967295, name="fwmark")
            if mark is _INVALID:
                return
            values["fwmark"] = mark
        elif words[1] == "group":
            if len(words) < 3:
                self.error(st, 1, "", "virtual_server group needs a name")
                return
            if words[2] not in self.vs_groups:
                self.error(
                    st, 2, ctx, f"unknown virtual_server_group '{words[2]}'" + _suggest(words[2], self.vs_groups)
                )
            values["group"] = words[2]
        else:
            address = self.parse_address(st, ctx, 1)
            if address is _INVALID:
                return
            values["address"] = address
            values["family"] = address.version
            if len(words) > 2:
                port = self.parse_port(st, ctx, 2)
                if port is not _INVALID:
                    values["port"] = port
        self.walk(st, ctx, values, self.vs_table, self.vs_blocks, UNSUPPORTED_VS)
        self.virtual_servers.append((st, values))

    def _lvs_method(self, st: Stmt, ctx: str) -> Any:
        if len(st.words) < 2:
            return self._missing(st, ctx)
        method = st.words[1].upper()
        if method not in m.LVS_METHODS:
            self.error(
                st, 1, ctx, f"{st.words[0]} '{st.words[1]}' is not one of NAT|DR|TUN" + _suggest(method, m.LVS_METHODS)
            )
            return _INVALID
        if len(st.words) > 2:
            self.info(st, ctx, "tunnel options are not supported by fastalived; ipip is used")
        return method

    def _ip_family(self, st: Stmt, ctx: str) -> Any:
        family = self.choice(("inet", "inet6"))(st, ctx)
        return family if family is _INVALID else (6 if family == "inet6" else 4)

    def _persistence_timeout(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        if len(st.words) == 1:
            values["persistence_timeout"] = 360
            return
        timeout = self.parse_int(st, ctx, 1, 1, 2678400)
        if timeout is not _INVALID:
            values["persistence_timeout"] = timeout

    def _sched_flag(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        flag = SCHED_FLAG_ALIASES.get(st.words[0], st.words[0])
        if flag not in values.get("sched_flags", ()):
            values["sched_flags"] = values.get("sched_flags", ()) + (flag,)

    def _server_address(self, st: Stmt, ctx: str) -> tuple[m.IPAddress, int | None] | None:
        if len(st.words) < 2:
            self._missing(st, ctx, "an IP address")
            return None
        address = self.parse_address(st, ctx, 1)
        if address is _INVALID:
            return None
        port = None
        if len(st.words) > 2:
            port = self.parse_port(st, ctx, 2)
            if port is _INVALID:
                return None
        self._extra_words(st, ctx, 3)
        return address, port

    def _sorry_server(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        target = self._server_address(st, ctx)
        if target is not None:
            values["sorry_server"] = m.SorryServer(target[0], target[1], where=st.where())

    def _sorry_server_lvs_method(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        method = self._lvs_method(st, ctx)
        if method is not _INVALID:
            values["_sorry_method"] = method

    def _real_server(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        target = self._server_address(st, ctx)
        if target is None:
            return
        rs_ctx = f"{ctx}: real_server {' '.join(st.words[1:])}"
        rs: dict[str, Any] = {"_address": target[0], "_port": target[1], "_checkers": []}
        self.walk(st, rs_ctx, rs, self.rs_table, self.rs_blocks, UNSUPPORTED_RS)
        values["_real_servers"].append((st, rs))

    def _checker(self, st: Stmt, ctx: str, rs: dict[str, Any]) -> None:
        kind = st.words[0]
        values: dict[str, Any] = {}
        table, blocks = self.checker_tables[kind]
        self.walk(st, f"{ctx}: {kind}", values, table, blocks, UNSUPPORTED_CHECKER)
        rs["_checkers"].append((st, kind, values))

    def _url(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        url: dict[str, Any] = {}
        self.walk(st, f"{ctx}: url", url, self.url_table, self.url_blocks, UNSUPPORTED_URL)
        if "path" not in url:
            self.error(st, 0, ctx, "url has no path")
            return
        values.setdefault("urls", []).append(m.UrlSpec(**url, where=st.where()))

    def _digest(self, st: Stmt, ctx: str) -> Any:
        digest = self.word(st, ctx)
        if digest is _INVALID:
            return digest
        if len(digest) != 32 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            self.error(st, 1, ctx, f"digest '{digest}' is not a 32-digit hex MD5")
            return _INVALID
        return digest.lower()

    def _status_codes(self, st: Stmt, ctx: str, url: dict[str, Any]) -> None:
        key = tuple(st.words[1:])
        cached = self._status_code_cache.get(key)
        if cached is not None:
            url["status_codes"] = cached
            return
        ranges = []
        for i, text in enumerate(st.words[1:], 1):
            low_text, _, high_text = text.partition("-")
            try:
                low = int(low_text)
                high = int(high_text) if high_text else low
            except ValueError:
                self.error(st, i, ctx, f"status_code '{text}' is not a code or range")
                continue
            if not 100 <= low <= high <= 999:
                self.error(st, i, ctx, f"status_code '{text}' outside range [100, 999]")
                continue
            ranges.append(m.StatusCodeRange(low, high))
        if len(st.words) < 2:
            self._missing(st, ctx)
        elif ranges:
            url["status_codes"] = tuple(ranges)
            if len(ranges) == len(key):
                self._status_code_cache[key] = url["status_codes"]

    def _smtp_host(self, st: Stmt, ctx: str, values: dict[str, Any]) -> None:
        host: dict[str, Any] = {}
        self.walk(st, f"{ctx}: host", host, self.checker_table, None, UNSUPPORTED_CHECKER)
        values.setdefault("_hosts", []).append((st, host))

    # ----------------------------------------------------------------------- virtual server build

    def _finish_virtual_server(self, st: Stmt, values: dict[str, Any]) -> m.VirtualServer:
        ctx = "virtual_server " + " ".join(st.words[1:])
        inherited = {key: values[key] for key in INHERITED if key in values}
        for key in ("connect_timeout", "retry", "delay_before_retry", "warmup"):  # checker-only settings
            values.pop(key, None)
        values.setdefault("smtp_alert", self.smtp_alert_default("smtp_alert_checker", False))
        group_name = values.get("group")
        group = self.vs_groups.get(group_name) if group_name is not None else None
        fwmark_only = values.get("fwmark") is not None or (
            group is not None and all(member.address is None for member in group.members)
        )
        if fwmark_only and "protocol" in values:
            self.warning(st, 0, ctx, "protocol is ignored for fwmark services")
        elif not fwmark_only and "protocol" not in values and (group_name is None or group is not None):
            # keepalived 2.2 does this (with the same warning), so the IPVS tables stay identical.
            self.warning(st, 0, ctx, "no protocol set - defaulting to UDP")
            values["protocol"] = "UDP"
        is_address = values.get("address") is not None
        port_missing = len(st.words) < 3 or values.get("port") == 0  # (an invalid port was reported already)
        if is_address and port_missing and not values.get("persistence_timeout"):
            self.warning(st, 0, ctx, "port 0 is only valid for persistent services; persistence_timeout set to 360")
            values["persistence_timeout"] = 360
        real_servers = tuple(
            self._finish_real_server(rs_st, rs, values, inherited, ctx) for rs_st, rs in values.pop("_real_servers")
        )
        sorry, sorry_method = values.get("sorry_server"), values.pop("_sorry_method", None)
        if sorry is not None:
            method = sorry_method or values.get("lvs_method", "NAT")
            port = self._forwarded_port(st, ctx, "sorry_server", sorry.port, method, values)
            values["sorry_server"] = dataclasses.replace(sorry, port=port, lvs_method=sorry_method)
        if real_servers:
            self._check_quorum(st, ctx, values, sum(rs.weight for rs in real_servers))
        return m.VirtualServer(**values, real_servers=real_servers, where=st.where())

    def _forwarded_port(
        self, st: Stmt, ctx: str, what: str, port: int | None, method: str, vs: dict[str, Any]
    ) -> int | None:
        """The port IPVS will use for a real/sorry server, as keepalived corrects it.

        With NAT the server's own port counts (default: the service's). DR and TUN cannot change
        the port: it is the service's (none for fwmark services), so a different one is reset.
        """
        if vs.get("group") is not None:
            return port
        service_port = vs.get("port")
        if method == "NAT":
            return port if port is not None or vs.get("fwmark") is not None else service_port
        if vs.get("fwmark") is not None:
            if port:
                self.warning(st, 0, ctx, f"{what} port {port} is ignored for a fwmark service with {method}")
            return None
        if port is not None and port != service_port:
            self.warning(
                st, 0, ctx, f"{what} port {port} differs from the service port with {method}; using {service_port}"
            )
        return service_port

    def _check_quorum(self, st: Stmt, ctx: str, values: dict[str, Any], weight_sum: int) -> None:
        quorum = values.get("quorum", 1)
        if quorum > weight_sum:
            self.warning(st, 0, ctx, f"quorum {quorum} exceeds the real servers' total weight {weight_sum}; reduced")
            values["quorum"] = quorum = weight_sum
        hysteresis = values.get("hysteresis", 0)
        if hysteresis and hysteresis >= quorum:
            self.warning(st, 0, ctx, f"hysteresis {hysteresis} >= quorum {quorum}; set to {max(quorum - 1, 0)}")
            values["hysteresis"] = max(quorum - 1, 0)

    def _finish_real_server(
        self, st: Stmt, rs: dict[str, Any], vs: dict[str, Any], vs_inherited: dict[str, Any], vs_ctx: str
    ) -> m.RealServer:
        address, configured_port = rs.pop("_address"), rs.pop("_port")
        method = rs.get("lvs_method") or vs.get("lvs_method", "NAT")
        port = self._forwarded_port(st, vs_ctx, f"real_server {address}", configured_port, method, vs)
        check_port = configured_port if configured_port is not None else port
        inherited = {**vs_inherited, **{key: rs.pop(key) for key in INHERITED if key in rs}}
        virtualhost = rs.pop("virtualhost", None) or vs.get("virtualhost")
        rs.setdefault("inhibit_on_failure", vs.get("inhibit_on_failure", False))
        rs.setdefault("smtp_alert", self.smtp_alert_default("smtp_alert_checker", True))
        checkers = tuple(
            checker
            for checker_st, kind, values in rs.pop("_checkers")
            if (checker := self._finish_checker(checker_st, kind, values, address, check_port, inherited, virtualhost))
            is not None
        )
        return m.RealServer(
            address=address, port=port, alpha=inherited.get("alpha", False), checkers=checkers, where=st.where(), **rs
        )

    def _finish_checker(
        self,
        st: Stmt,
        kind: str,
        values: dict[str, Any],
        address: m.IPAddress,
        port: int | None,
        inherited: dict[str, Any],
        virtualhost: str | None,
    ) -> m.Checker | None:
        where = st.where()
        common = self._common(st, kind, values, {**inherited}, address, port)
        if kind in ("HTTP_GET", "SSL_GET"):
            urls = values.pop("urls", [])
            if not urls:
                self.error(st, 0, "", f"{kind} has no url block")
            return m.HttpCheck(
                kind="SSL_GET" if kind == "SSL_GET" else "HTTP_GET",
                common=common,
                urls=tuple(urls),
                virtualhost=values.pop("virtualhost", None) or virtualhost,
                where=where,
                **values,
            )
        if kind == "TCP_CHECK":
            return m.TcpCheck(kind="TCP_CHECK", common=common, where=where)
        if kind == "SMTP_CHECK":
            hosts = tuple(
                self._common(
                    host_st, kind, host, {**inherited, **_timing(common)}, common.connect_ip, common.connect_port
                )
                for host_st, host in values.pop("_hosts", [])
            )
            values.setdefault("helo_name", SMTP_DEFAULT_HELO)
            return m.SmtpCheck(kind="SMTP_CHECK", common=common, hosts=hosts, where=where, **values)
        if kind == "MISC_CHECK":
            if not values.get("misc_path"):
                self.error(st, 0, "", "MISC_CHECK has no misc_path")
                return None
            return m.MiscCheck(kind="MISC_CHECK", common=common, where=where, **values)
        return m.DnsCheck(kind="DNS_CHECK", common=common, where=where, **values)

    def _common(
        self,
        st: Stmt,
        kind: str,
        values: dict[str, Any],
        inherited: dict[str, Any],
        address: m.IPAddress,
        port: int | None,
    ) -> m.CheckerCommon:
        """Checker connection/timing options: own value, else inherited, else the kind's default."""
        settings = {
            key: values.pop(key)
            for key in ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if")
            if key in values
        }
        for key in INHERITED:
            if key in values:
                inherited[key] = values.pop(key)
        delay_loop = inherited.get("delay_loop", 60.0)
        inherited.setdefault("delay_loop", delay_loop)
        inherited.setdefault("retry", {"MISC_CHECK": 0, "DNS_CHECK": 3}.get(kind, 1))
        inherited.setdefault(
            "delay_before_retry", {"HTTP_GET": 3.0, "SSL_GET": 3.0, "DNS_CHECK": delay_loop}.get(kind, 1.0)
        )
        settings.setdefault("connect_ip", address)
        if "connect_port" not in settings:
            default_port = (
                port
                if port is not None
                else {"HTTP_GET": 80, "SSL_GET": 443, "SMTP_CHECK": 25, "DNS_CHECK": 53}.get(kind)
            )
            if default_port is None:
                if kind != "MISC_CHECK":
                    self.error(st, 0, "", f"{kind} needs connect_port (the real server has no port)")
                default_port = 0
            settings["connect_port"] = default_port
        return m.CheckerCommon(**settings, **inherited, where=st.where())


def _last_line(st: Stmt, keyword: str) -> Stmt:
    """The statement in ``st``'s block that set ``keyword`` (the last one wins), else ``st``."""
    return next((c for c in reversed(st.block or ()) if c.words[0] == keyword), st)


def _timing(common: m.CheckerCommon) -> dict[str, Any]:
    return {key: getattr(common, key) for key in INHERITED}


def _suggest(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a known keyword is close to ``word``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""
