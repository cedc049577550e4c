"""The resolved, immutable configuration model every role consumes.

The parser turns ``keepalived.conf`` into these frozen dataclasses. Inheritance is already applied
(virtual_server -> real_server -> checker, global_defs -> vrrp_instance), defaults follow
``man keepalived.conf``, so consumers read effective values and never re-derive them. Every node
remembers where it came from (``where``) so later errors can point at ``file:line``.

Durations are float seconds. Addresses use :mod:`ipaddress` objects. Collections are tuples so the
whole model is hashable and comparable, which makes reload diffs a plain ``==``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

VrrpState = Literal["MASTER", "BACKUP"]
ServiceProtocol = Literal["TCP", "UDP", "SCTP"]  # a virtual server's transport
LvsMethod = Literal["NAT", "DR", "TUN"]
Scheduler = Literal["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh", "fo", "ovf"]
SCHEDULERS: tuple[str, ...] = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh", "fo", "ovf")
LVS_METHODS: tuple[str, ...] = ("NAT", "DR", "TUN")


@dataclass(frozen=True, slots=True)
class Where:
    """Source position of a config node: the file, 1-based line and column of its keyword."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Where("<default>", 0, 0)


def _where() -> Where:
    return field(default=NOWHERE, compare=False, repr=False)


# --------------------------------------------------------------------------- global_defs


@dataclass(frozen=True, slots=True)
class LvsSyncDaemon:
    """``lvs_sync_daemon IFACE INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]``."""

    interface: str
    vrrp_instance: str | None
    sync_id: int | None = None
    maxlen: int | None = None
    port: int | None = None
    ttl: int | None = None
    group: IPAddress | None = None
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class LvsTimeouts:
    """``lvs_timeouts tcp N tcpfin N udp N`` (seconds; None = leave the kernel's value)."""

    tcp: int | None = None
    tcpfin: int | None = None
    udp: int | None = None
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class GlobalDefs:
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None
    smtp_server: str | None = None  # host name or address
    smtp_port: int = 25
    smtp_helo_name: str | None = None
    smtp_connect_timeout: float = 30.0
    router_id: str | None = None  # None = the host name, as keepalived does
    enable_script_security: bool = False
    script_user: str | None = None
    script_group: str | None = None
    vrrp_version: int = 2
    vrrp_strict: bool = False
    # Accept mode's drop rules (vrrp/firewall.py): ``nftables [NAME]`` (None: table "fastalived"),
    # ``nftables_priority``, ``nftables_ifindex``, ``nftables_counters``.
    nftables_table: str | None = None
    nftables_priority: int = -1
    nftables_ifindex: bool = False
    nftables_counters: bool = False
    vrrp_mcast_group4: ipaddress.IPv4Address = ipaddress.IPv4Address("224.0.0.18")
    vrrp_mcast_group6: ipaddress.IPv6Address = ipaddress.IPv6Address("ff02::12")
    vrrp_garp_master_delay: float = 5.0
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_master_refresh: float = 0.0  # 0 = no periodic refresh
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_garp_interval: float = 0.0
    vrrp_gna_interval: float = 0.0
    vrrp_skip_check_adv_addr: bool = False
    vrrp_check_unicast_src: bool = False
    v3_checksum_as_v2: bool = False  # default for every vrrp_instance (keepalived >= 2.3 keyword)
    # Defaults of the vrrp_instance keywords of the same name (see VrrpInstance); None: the
    # matching vrrp_garp_master_* value, as keepalived.
    vrrp_garp_lower_prio_delay: float | None = None
    vrrp_garp_lower_prio_repeat: int | None = None
    vrrp_down_timer_adverts: int = 3
    vrrp_lower_prio_no_advert: bool = False
    vrrp_higher_prio_send_advert: bool = False
    vrrp_startup_delay: float = 0.0  # instances start this long after the VRRP role
    default_interface: str = "eth0"  # instances without ``interface``, addresses without ``dev``
    vmac_prefix: str = "vrrp"  # use_vmac without a name: PREFIX.VRID
    vmac_addr_prefix: str | None = None  # the names of VIPs' VMACs (None: vmac_prefix)
    # vrrp_garp_extra_if [SECONDS] [all]: the default of every instance's garp_extra_if (0: off)
    vrrp_garp_extra_if: int = 0
    vrrp_garp_extra_if_all: bool = False
    lvs_sync_daemon: LvsSyncDaemon | None = None
    lvs_flush: bool = False
    lvs_flush_onstop: bool = False
    lvs_timeouts: LvsTimeouts | None = None
    checker_log_all_failures: bool = False  # every checker logs each failure while up (log_all_failures)
    rs_init_notifies: bool = False  # run notify_up/notify_down for each real server's first state too
    # fastalived's own keyword (``fastalived_status_listen ADDR PORT``): off by default, loopback only.
    status_listen: tuple[str, int] | None = None
    # fastalived's own keyword (``fastalived_announce_table N``): the kernel routing table that
    # holds the routes of announced prefixes, for a routing daemon to import.
    announce_table: int = 201
    # Top-level ``net_namespace NAME`` / ``net_namespace_ipvs [NAME]`` (keepalived keeps them in
    # its global data): the namespace every role runs in; IPVS's ("" = the one fastalived started in).
    net_namespace: str | None = None
    net_namespace_ipvs: str | None = None
    instance_name: str | None = None  # top-level ``instance NAME``: pid files fastalived_NAME.pid ...
    use_pid_dir: bool = False  # top-level ``use_pid_dir``: pid files in /run/fastalived/
    startup_script: str | None = None  # run by the parent before any child, with its user/group
    startup_script_user: str | None = None
    startup_script_group: str | None = None
    startup_script_timeout: float = 10.0
    shutdown_script: str | None = None  # run by the parent after every child stopped
    shutdown_script_user: str | None = None
    shutdown_script_group: str | None = None
    shutdown_script_timeout: float = 10.0
    notify_fifo: NotifyFifo | None = None  # written by every role
    vrrp_notify_fifo: NotifyFifo | None = None
    lvs_notify_fifo: NotifyFifo | None = None
    fifo_write_vrrp_states_on_reload: bool = False
    vrrp_notify_priority_changes: bool = False  # MASTER_PRIORITY/BACKUP_PRIORITY fifo lines
    no_email_faults: bool = False  # no smtp_alert for VRRP FAULT states
    log_unknown_vrids: bool = False  # log adverts for VRIDs no instance on the interface has
    umask: int | None = None  # the daemon's umask unless -u gives one (keepalived's default: 022)
    disable_local_igmp: bool = False  # igmp_link_local_mcast_reports off while the VRRP role runs
    # Top-level ``interface_up_down_delays {}`` (vrrp/linkwatch.py): per-interface debounce.
    interface_delays: tuple[InterfaceDelay, ...] = ()
    # Top-level ``linkbeat_use_polling`` (every instance's interface) and ``linkbeat_interfaces {}``:
    # interfaces whose link state is polled (SIOCGMIIREG/SIOCETHTOOL/SIOCGIFFLAGS) instead of netlink.
    linkbeat_use_polling: bool = False
    linkbeat_interfaces: tuple[LinkbeatInterface, ...] = ()
    # Top-level ``garp_group {}`` blocks (vrrp/garp_pacing.py): interfaces sharing one GARP/NA pace.
    garp_groups: tuple[GarpGroup, ...] = ()
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class InterfaceDelay:
    """One ``IFNAME DOWN_DELAY [UP_DELAY]`` line of ``interface_up_down_delays``: a link change
    reaches the VRRP instances only if it lasts this long (seconds; 0 = at once). keepalived
    2.2.7's parser sets an omitted up delay to 0 (its man page says "same as the down delay")."""

    interface: str
    down: float
    up: float = 0.0
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class GarpGroup:
    """One ``garp_group``: every GARP (``garp_interval``) / unsolicited NA (``gna_interval``) sent
    from any of its ``interfaces`` (``interface`` and ``interfaces {}`` alike) waits that many
    seconds after the previous one from the group; None: not paced (not even by the global
    vrrp_garp_interval / vrrp_gna_interval, which only pace interfaces outside every group)."""

    garp_interval: float | None = None
    gna_interval: float | None = None
    interfaces: tuple[str, ...] = ()
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class LinkbeatInterface:
    """One ``IFNAME [MII|ETHTOOL|IOCTL]`` line of ``linkbeat_interfaces``; None: MII, else
    ETHTOOL, else IOCTL, whichever the driver answers first (keepalived's order)."""

    interface: str
    kind: str | None = None
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class NotifyFifo:
    """``[vrrp_|lvs_]notify_fifo PATH [user [group]]`` with its ``..._script CMD [user [group]]``:
    one line per state change goes to the FIFO (created if missing, owned by user/group), and the
    script, started with the FIFO's path as its argument, reads them. An empty path: no FIFO."""

    path: str = ""
    user: str | None = None
    group: str | None = None
    script: str | None = None
    script_user: str | None = None
    script_group: str | None = None


@dataclass(frozen=True, slots=True)
class SslDefs:
    """The global ``SSL { ca certificate key password }`` block used by SSL_GET."""

    ca: str | None = None
    certificate: str | None = None
    key: str | None = None
    password: str | None = None
    where: Where = _where()


# --------------------------------------------------------------------------- addresses, routes


@dataclass(frozen=True, slots=True)
class IPAddressSpec:
    """One line of the ``ip addr add`` grammar (virtual_ipaddress, static_ipaddress)."""

    address: IPInterface  # address with prefix (default /32 or /128)
    dev: str | None = None  # None = the instance's interface
    brd: IPAddress | None = None
    scope: str | None = None  # "global" | "site" | "link" | "host" | "nowhere" | number
    label: str | None = None
    peer: IPInterface | None = None
    no_track: bool = False
    use_vmac: bool = False  # a VIP's own VMAC on its interface (resolved into ``dev``, see VmacAddr)
    where: Where = _where()

    @property
    def family(self) -> int:
        return 6 if self.address.version == 6 else 4


@dataclass(frozen=True, slots=True)
class VmacAddr:
    """A VMAC keepalived makes for VIPs (``use_vmac_addr``, a VIP's ``use_vmac``): on ``base``,
    with ``mac``; those VIPs' ``dev`` already names it. Instances with the same VRID share it."""

    name: str
    base: str
    mac: bytes


@dataclass(frozen=True, slots=True)
class NextHop:
    """One ``nexthop via A dev D weight W [onlink]`` of a multipath route."""

    via: IPAddress | None = None
    dev: str | None = None
    weight: int = 1  # 1..256, as ``ip route``
    onlink: bool = False


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One line of the ``ip route add`` grammar (virtual_routes, static_routes)."""

    dst: IPNetwork | None  # None = "default" (family from via/src)
    via: IPAddress | None = None
    dev: str | None = None
    src: IPAddress | None = None
    metric: int | None = None
    table: int | None = None
    scope: str | None = None
    proto: str | None = None
    type: str = "unicast"  # unicast | blackhole | unreachable | prohibit | local ...
    no_track: bool = False
    family: int = 4
    nexthops: tuple[NextHop, ...] = ()  # a multipath route (RTA_MULTIPATH) when set
    where: Where = _where()


RuleAction = Literal["table", "goto", "nop", "blackhole", "unreachable", "prohibit"]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One line of the ``ip rule add`` grammar (virtual_rules, static_rules).

    ``priority`` is always set: keepalived gives a rule without one the next of 16384, 16383 ...
    (per family, in file order). ``protocol`` is 18 (keepalived) unless ``no_track``, as keepalived.
    """

    priority: int
    action: RuleAction = "table"
    table: int | None = None  # action "table" (or None with l3mdev)
    goto: int | None = None  # action "goto": the target preference
    family: int = 4
    src: IPNetwork | None = None  # from
    dst: IPNetwork | None = None  # to
    invert: bool = False  # not
    tos: int = 0
    fwmark: int | None = None
    fwmask: int | None = None
    iif: str | None = None
    oif: str | None = None
    suppress_prefixlength: int | None = None
    uidrange: tuple[int, int] | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    ipproto: int | None = None
    protocol: int | None = None
    l3mdev: bool = False
    no_track: bool = False
    where: Where = _where()


# --------------------------------------------------------------------------- VRRP


@dataclass(frozen=True, slots=True)
class VrrpScript:
    name: str
    script: str
    interval: float = 1.0
    timeout: float | None = None  # None = interval, as keepalived does
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    user: str | None = None
    group: str | None = None
    init_fail: bool = False
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class TrackScript:
    """A ``track_script`` (also ``track_file``, ``track_process``, ``track_bfd``) entry: the
    tracked object's name and an optional weight override of the object's own weight."""

    name: str
    weight: int | None = None  # None = the vrrp_script's own weight
    reverse: bool = False
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class TrackInterface:
    """A ``track_interface`` entry: down -> FAULT (weight None) or priority change by weight."""

    name: str
    weight: int | None = None
    reverse: bool = False
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class Command:
    """A notify or quorum script, ``CMD [username [groupname]]``: the command line (quote it to
    give arguments) and who runs it (None: keepalived's script_user chain)."""

    line: str
    user: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class NotifyScripts:
    notify_master: Command | None = None
    notify_backup: Command | None = None
    notify_fault: Command | None = None
    notify_stop: Command | None = None
    notify: Command | None = None
    # keepalived's event notifies: a master hearing a lower priority (script + FIFO line), an
    # instance deleted by a reload (``notify_deleted [SCRIPT]``: DELETED rather than FAULT), and
    # priority changes on the FIFO (None: the sync group's setting, else vrrp_notify_priority_changes).
    notify_master_rx_lower_pri: Command | None = None
    notify_deleted: Command | None = None
    deleted_state: bool = False
    priority_changes: bool | None = None  # generic: argv "INSTANCE|GROUP name STATE priority"
    smtp_alert: bool = False


@dataclass(frozen=True, slots=True)
class VrrpSyncGroup:
    name: str
    group: tuple[str, ...]  # member vrrp_instance names
    notify: NotifyScripts = NotifyScripts()
    track_interface: tuple[TrackInterface, ...] = ()
    track_script: tuple[TrackScript, ...] = ()
    track_file: tuple[TrackScript, ...] = ()
    track_process: tuple[TrackScript, ...] = ()
    track_bfd: tuple[TrackScript, ...] = ()
    global_tracking: bool = False
    sync_group_tracking_weight: bool = False  # members keep their own tracking weights
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class VrrpInstance:
    name: str
    interface: str
    virtual_router_id: int
    state: VrrpState = "BACKUP"  # initial wanted state; keepalived still starts in BACKUP
    priority: int = 100
    advert_int: float = 1.0
    version: int = 2  # effective: instance keyword, else global vrrp_version
    family: int = 4  # 4 or 6, from the virtual addresses (or native_ipv6)
    dont_track_primary: bool = False
    track_src_ip: bool = False  # FAULT while the configured unicast/mcast_src_ip is not on the interface
    linkbeat_use_polling: bool = False  # deprecated: poll this instance's interface (see linkbeat_interfaces)
    track_interface: tuple[TrackInterface, ...] = ()
    track_script: tuple[TrackScript, ...] = ()
    track_file: tuple[TrackScript, ...] = ()
    track_process: tuple[TrackScript, ...] = ()
    track_bfd: tuple[TrackScript, ...] = ()
    mcast_src_ip: IPAddress | None = None
    unicast_src_ip: IPAddress | None = None
    unicast_peers: tuple[IPAddress, ...] = ()
    garp_master_delay: float = 5.0  # effective (inherits vrrp_garp_master_delay)
    garp_master_repeat: int = 5
    garp_master_refresh: float = 0.0
    garp_master_refresh_repeat: int = 1
    virtual_ipaddresses: tuple[IPAddressSpec, ...] = ()
    virtual_ipaddresses_excluded: tuple[IPAddressSpec, ...] = ()
    virtual_routes: tuple[RouteSpec, ...] = ()
    virtual_rules: tuple[RuleSpec, ...] = ()
    lvs_sync_daemon_interface: str | None = None
    auth_type: Literal["PASS", "AH"] | None = None
    auth_pass: bytes | None = None  # raw, at most 8 bytes (longer input is truncated with a warning)
    nopreempt: bool = False
    preempt_delay: float = 0.0
    accept: bool = False  # keepalived default is accept unless vrrp_strict
    notify: NotifyScripts = NotifyScripts()
    debug: int = 0
    use_vmac: str | None = None
    vmac_mac: bytes | None = None  # use_vmac's MAC argument (None: 00:00:5e:00:01|02:VRID)
    vmac_xmit_base: bool = False  # adverts go out (and come in) on ``interface``, not the VMAC
    # garp_extra_if [SECONDS] [all] (effective, inherits vrrp_garp_extra_if): a master's periodic
    # GARP/NA on its VIPs' other interfaces (vrrp/extra_garp.py decides which)
    garp_extra_if: int = 0
    garp_extra_if_all: bool = False
    use_vmac_addr: bool = False  # VIPs on other interfaces (or of the other family) get VMACs too
    vmac_addrs: tuple[VmacAddr, ...] = ()  # the VMACs of VIPs, created with the instance
    # use_ipvlan [NAME] [ADDRESS] [bridge|private|vepa]: ``use_vmac`` then names an L2 ipvlan (no
    # MAC of its own) instead of a macvlan; the address goes on it and is the advert source.
    ipvlan: bool = False
    ipvlan_mode: Literal["bridge", "private", "vepa"] = "bridge"
    ipvlan_address: IPInterface | None = None
    config_fault: str | None = None  # a configuration keepalived keeps in FAULT (IPv4 ipvlan, no address)
    v3_checksum_as_v2: bool = False  # RFC 9568 form of the v3/IPv4 checksum (no pseudo-header)
    unicast_ttl: int | None = None  # TTL / hop limit of unicast adverts (None: 255)
    mcast_dst_ip: IPAddress | None = None  # effective multicast group (None: vrrp_mcast_group4/6)
    check_unicast_src: bool = False  # effective (instance keyword or vrrp_check_unicast_src)
    unicast_fault_no_peer: bool = False  # unicast without peers: FAULT instead of multicast
    promote_secondaries: bool = False  # set the interface's promote_secondaries sysctl
    skip_check_adv_addr: bool = False  # effective (instance keyword or vrrp_skip_check_adv_addr)
    strict_mode: bool = False  # effective (instance keyword or vrrp_strict)
    garp_lower_prio_delay: float = 5.0  # a master hearing a lower priority: second GARP burst after
    garp_lower_prio_repeat: int = 5  # ... and this many GARPs per burst (0: none)
    down_timer_adverts: int = 3  # Master_Down_Interval in adverts
    lower_prio_no_advert: bool = False  # a master does not answer a lower priority advert
    higher_prio_send_advert: bool = False  # a master yielding to a higher priority advertises once first
    where: Where = _where()

    @property
    def owner(self) -> bool:
        """Priority 255 marks the address owner (RFC 5798 §6.1)."""
        return self.priority == 255


# --------------------------------------------------------------------------- health checks


@dataclass(frozen=True, slots=True)
class CheckerCommon:
    """Connection and timing options shared by every checker; inheritance already applied."""

    connect_ip: IPAddress  # default: the real server's address
    connect_port: int  # default: the real server's port
    bindto: IPAddress | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    fwmark: int | None = None  # SO_MARK on the checker's packets
    connect_timeout: float = 5.0
    retry: int = 1  # keepalived's default for TCP/HTTP (nb_get_retry alias); MISC: 0
    delay_before_retry: float = 1.0
    delay_loop: float = 60.0
    warmup: float | None = None  # None = delay_loop (first run spread over it)
    alpha: bool = False
    log_all_failures: bool = False  # log every failure while up, not only the change (or checker_log_all_failures)
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class StatusCodeRange:
    low: int
    high: int

    def __contains__(self, code: object) -> bool:
        return isinstance(code, int) and self.low <= code <= self.high


@dataclass(frozen=True, slots=True)
class UrlSpec:
    path: str
    digest: str | None = None  # lower-case hex MD5 of the body
    status_codes: tuple[StatusCodeRange, ...] = (StatusCodeRange(200, 299),)
    virtualhost: str | None = None
    regex: str | None = None  # the body must match (must not, with regex_no_match)
    regex_no_match: bool = False
    regex_options: tuple[str, ...] = ()  # PCRE2 option names (caseless, multiline, dotall ...)
    regex_min_offset: int = 0  # the match must start within [min, max] of the body
    regex_max_offset: int | None = None
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class HttpCheck:
    kind: Literal["HTTP_GET", "SSL_GET"]
    common: CheckerCommon
    urls: tuple[UrlSpec, ...]
    virtualhost: str | None = None  # inherited from the virtual server when unset
    http_protocol: str = "1.0"  # "1.0" | "1.1" | "1.0C" | "1.0K"
    enable_sni: bool = True
    fast_recovery: bool = False  # check every url at once while down, not one url per delay_loop
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class TcpCheck:
    kind: Literal["TCP_CHECK"]
    common: CheckerCommon
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class SmtpCheck:
    kind: Literal["SMTP_CHECK"]
    common: CheckerCommon
    hosts: tuple[CheckerCommon, ...] = ()  # host {} blocks; empty = common only
    helo_name: str = "localhost"  # the parser fills in keepalived's "smtpchecker.keepalived.org"
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class MiscCheck:
    kind: Literal["MISC_CHECK"]
    common: CheckerCommon
    misc_path: str = ""
    misc_timeout: float | None = None  # None = delay_loop
    misc_dynamic: bool = False
    user: str | None = None
    group: str | None = None
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class DnsCheck:
    kind: Literal["DNS_CHECK"]
    common: CheckerCommon
    type: str = "SOA"
    name: str = "."
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class PingCheck:
    """``PING_CHECK``: one ICMP/ICMPv6 echo per check to ``connect_ip``."""

    kind: Literal["PING_CHECK"]
    common: CheckerCommon
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class UdpCheck:
    """``UDP_CHECK``: send ``payload``; an ICMP unreachable fails, silence passes unless ``require_reply``."""

    kind: Literal["UDP_CHECK"]
    common: CheckerCommon
    payload: bytes | None = None  # None = keepalived's 32-byte filler
    require_reply: bool = False
    reply_data: bytes = b""  # the reply must start with these bytes (as far as both go)
    reply_mask: bytes = b""  # per byte of reply_data: bits to ignore (``X`` nibbles)
    min_reply_length: int = 0
    max_reply_length: int = 255
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class BfdInstance:
    """A top-level ``bfd_instance NAME {}``: one single-hop BFD session (RFC 5880/5881) to
    ``neighbor_ip``, tracked by name from ``track_bfd``. Intervals are in seconds (the config
    gives milliseconds); ``ttl`` defaults to 255 for IPv4 and 64 for IPv6, as keepalived's."""

    name: str
    neighbor_ip: IPAddress
    source_ip: IPAddress | None = None
    min_rx: float = 0.010
    min_tx: float = 0.010
    idle_tx: float = 1.0
    multiplier: int = 5
    passive: bool = False
    ttl: int = 255
    max_hops: int = 0  # how far below ``ttl`` a received TTL may be; 255: not checked
    weight: int = 0  # track_bfd's default: 0 = FAULT while the session is down
    weight_reverse: bool = False
    vrrp: bool = True  # sessions events go to VRRP (with neither ``vrrp`` nor ``checker``: both)
    checker: bool = True
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class TrackFile:
    """A top-level ``track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }``."""

    name: str
    file: str
    weight: int = 1
    weight_reverse: bool = False
    init_value: int | None = None  # None: no init_file; else written when the file is missing
    init_overwrite: bool = False  # init_file ... overwrite: written at start even if the file exists
    where: Where = _where()


ParamMatch = Literal["none", "exact", "initial", "partial"]
QUORUM_MAX_UNLIMITED = 4294967295  # keepalived's UINT_MAX: no upper bound on matching processes


@dataclass(frozen=True, slots=True)
class TrackProcess:
    """A ``vrrp_track_process NAME { process CMD [ARGS...]; ... }``: up while the number of
    running processes matching ``process`` is within ``quorum``..``quorum_max``.

    Matching follows keepalived: the process name (``comm``) unless ``full_command`` (or
    parameters, or ``param_match``) asks for the command line, whose first word must equal
    ``process``; ``params`` are then compared as ``param_match`` says. keepalived's default
    weight is 0 (the man page says 1; the code wins): losing quorum puts trackers in FAULT."""

    name: str
    process: str
    params: tuple[str, ...] = ()
    param_match: ParamMatch = "none"
    full_command: bool = False
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: int = QUORUM_MAX_UNLIMITED
    fork_delay: float = 0.0
    terminate_delay: float = 0.0
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class FileCheck:
    """``FILE_CHECK``: the number in a tracked file, times ``weight`` (negated if reverse), moves the
    server's weight; with weight 0 any non-zero number (zero, if reverse) takes the server down."""

    kind: Literal["FILE_CHECK"]
    common: CheckerCommon
    track_file: TrackFile
    weight: int = 1  # the track_file's unless the checker sets its own
    weight_reverse: bool = False
    where: Where = _where()


Checker = HttpCheck | TcpCheck | SmtpCheck | MiscCheck | DnsCheck | PingCheck | UdpCheck | FileCheck


@dataclass(frozen=True, slots=True)
class Tunnel:
    """``lvs_method TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]`` (kernel >= 5.2; gre 5.3)."""

    type: Literal["ipip", "gue", "gre"] = "ipip"
    port: int = 0  # the GUE destination port (required for gue, refused otherwise)
    checksum: Literal["nocsum", "csum", "remcsum"] = "nocsum"


RealServerKey = tuple[IPAddress, int | None]  # ``RealServer.key``: (address, port or None for fwmark)


@dataclass(frozen=True, slots=True)
class RealServer:
    address: IPAddress
    port: int | None  # None for fwmark services
    weight: int = 1
    inhibit_on_failure: bool = False
    notify_up: Command | None = None
    notify_down: Command | None = None
    uthreshold: int | None = None
    lthreshold: int | None = None
    lvs_method: LvsMethod | None = None  # None = the virtual server's
    tunnel: Tunnel | None = None  # TUN options with its own lvs_method (else the virtual server's)
    alpha: bool = False
    smtp_alert: bool = False
    checkers: tuple[Checker, ...] = ()
    where: Where = _where()

    @property
    def key(self) -> RealServerKey:
        return (self.address, self.port)


@dataclass(frozen=True, slots=True)
class SorryServer:
    address: IPAddress
    port: int | None
    lvs_method: LvsMethod | None = None
    tunnel: Tunnel | None = None
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class VsgMember:
    """A virtual_server_group entry: ``IP port``, ``a.b.c.d-e port`` or ``fwmark N``."""

    address: IPAddress | None = None
    range_end: IPAddress | None = None  # last address of a ``-e`` range, inclusive
    port: int | None = None
    fwmark: int | None = None
    where: Where = _where()

    def addresses(self) -> tuple[IPAddress, ...]:
        if self.address is None:
            return ()
        if self.range_end is None:
            return (self.address,)
        return tuple(ipaddress.ip_address(i) for i in range(int(self.address), int(self.range_end) + 1))


@dataclass(frozen=True, slots=True)
class VirtualServerGroup:
    name: str
    members: tuple[VsgMember, ...]
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class Announce:
    """``fastalived_announce``: a route per prefix in ``announce_table`` while the service is healthy.

    ``prefixes`` are effective: without a ``prefix`` line they are the service's own addresses
    (group members included) as /32 or /128. ``drain`` is the wait between withdrawing and tearing
    down on a graceful stop.
    """

    prefixes: tuple[IPNetwork, ...]
    require_master: str | None = None
    metric: int = 0
    drain: float = 1.0
    where: Where = _where()


@dataclass(frozen=True, slots=True)
class VirtualServer:
    """A ``virtual_server``: exactly one of (address+port), fwmark or group is set."""

    address: IPAddress | None = None
    port: int | None = None
    fwmark: int | None = None
    group: str | None = None
    family: int = 4  # for fwmark services: 4 unless ``ip_family inet6``
    protocol: ServiceProtocol = "TCP"
    delay_loop: float = 60.0
    lvs_sched: Scheduler = "wlc"
    sched_flags: tuple[str, ...] = ()  # flag-1/2/3, sh-port, sh-fallback, mh-port, mh-fallback
    lvs_method: LvsMethod = "NAT"
    tunnel: Tunnel | None = None  # TUN options (None: plain ipip)
    persistence_timeout: int | None = None
    persistence_granularity: IPAddress | None = None  # netmask
    persistence_engine: str | None = None  # IPVS persistence engine module (``sip``)
    ha_suspend: bool = False
    ops: bool = False
    virtualhost: str | None = None
    sorry_server: SorryServer | None = None
    sorry_server_inhibit: bool = False
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: Command | None = None
    quorum_down: Command | None = None
    alpha: bool = False
    omega: bool = False
    inhibit_on_failure: bool = False
    smtp_alert: bool = False
    real_servers: tuple[RealServer, ...] = ()
    announce: Announce | None = None  # fastalived's own ``fastalived_announce`` block
    where: Where = _where()

    @property
    def key(self) -> str:
        """Stable identity across reloads, e.g. ``TCP:198.51.100.1:80``, ``FWM:4:1``, ``GRP:web``."""
        if self.group is not None:
            return f"GRP:{self.group}:{self.protocol}"
        if self.fwmark is not None:
            return f"FWM:{self.family}:{self.fwmark}"
        return f"{self.protocol}:{self.address}:{self.port}"


# --------------------------------------------------------------------------- the whole file


@dataclass(frozen=True, slots=True)
class Config:
    global_defs: GlobalDefs = GlobalDefs()
    ssl: SslDefs | None = None
    static_ipaddress: tuple[IPAddressSpec, ...] = ()
    static_routes: tuple[RouteSpec, ...] = ()
    static_rules: tuple[RuleSpec, ...] = ()
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    vrrp_sync_groups: tuple[VrrpSyncGroup, ...] = ()
    vrrp_instances: tuple[VrrpInstance, ...] = ()
    virtual_server_groups: tuple[VirtualServerGroup, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    track_files: tuple[TrackFile, ...] = ()
    bfd_instances: tuple[BfdInstance, ...] = ()
    track_processes: tuple[TrackProcess, ...] = ()
    files: tuple[str, ...] = ()  # every file read, in order, for reload and diagnostics

    def instance(self, name: str) -> VrrpInstance | None:
        return next((i for i in self.vrrp_instances if i.name == name), None)

    def script(self, name: str) -> VrrpScript | None:
        return next((s for s in self.vrrp_scripts if s.name == name), None)

    def server_group(self, name: str) -> VirtualServerGroup | None:
        return next((g for g in self.virtual_server_groups if g.name == name), None)


def to_jsonable(node: Any) -> Any:
    """Plain JSON-ready structure for ``--dump-config`` (addresses become strings)."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        out = {f.name: to_jsonable(getattr(node, f.name)) for f in dataclasses.fields(node)}
        if isinstance(node, Where):
            return str(node)
        return out
    if isinstance(node, tuple | list):
        return [to_jsonable(v) for v in node]
    if isinstance(node, bytes):
        return node.decode("latin-1")
    if isinstance(node, str | int | float | bool) or node is None:
        return node
    return str(node)
