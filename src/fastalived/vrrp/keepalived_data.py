"""keepalived 2.2.7's SIGUSR1 data dump of the VRRP process (``/tmp/keepalived.data``), line for line
where fastalived has the same thing, so exporters and scripts that parse it keep working.

keepalived writes ``conf_write`` lines: section banners ``------< VRRP Topology >------``, one
`` VRRP Instance = NAME`` per instance with its settings indented by three spaces, and address
lists indented by five. fastalived's richer view stays at ``/status``.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator, Mapping

from fastalived.config.model import Command, Config
from fastalived.vrrp.binding import Binding
from fastalived.vrrp.machine import BACKUP, MASTER, STATE_NAMES
from fastalived.vrrp.report import keepalived_address
from fastalived.vrrp.router import InstanceCore, VrrpRouter


def _when(epoch: float) -> str:
    """``1733220000.123456 (Thu Dec  3 10:00:00.123456 2026)`` as keepalived's ``ctime_us_r``."""
    seconds, micros = int(epoch), round((epoch % 1) * 1e6) % 1_000_000
    stamp = time.strftime("%a %b %e %H:%M:%S", time.localtime(seconds))
    return f"{seconds}.{micros:06d} ({stamp}.{micros:06d} {time.localtime(seconds).tm_year})"


def _scripts(core: InstanceCore) -> Iterator[str]:
    notify = core.config.notify
    labelled: tuple[tuple[Command | None, str], ...] = (
        (notify.notify_backup, "Backup"),
        (notify.notify_master, "Master"),
        (notify.notify_fault, "Fault"),
        (notify.notify_stop, "Stop"),
        (notify.notify_deleted, "Deleted"),
        (notify.notify, "Generic"),
        (notify.notify_master_rx_lower_pri, "Master rx lower pri"),
    )
    for command, label in labelled:
        if command is not None:
            user = f", uid:gid {command.user}:{command.group or command.user}" if command.user else ""
            yield f"   {label} state transition script = {command.line}{user}"


def _instance(core: InstanceCore, binding: Binding | None, config: Config) -> Iterator[str]:
    cfg, machine = core.config, core.machine
    group = next((g.name for g in config.vrrp_sync_groups if cfg.name in g.group), None)
    yield f" VRRP Instance = {cfg.name}"
    yield f"   VRRP Version = {cfg.version}"
    if group is not None:
        yield f"   Sync group = {group}"
    if cfg.family == 6:
        yield "   Using Native IPv6"
    yield f"   State = {STATE_NAMES[machine.state]}"
    if machine.state == BACKUP and machine.master_ip is not None:
        yield f"   Master router = {ipaddress.ip_address(machine.master_ip)}"
        if cfg.version == 3:
            yield f"   Master advert int = {machine.master_adver_int:.2f} sec"
    yield "   Flags:" if cfg.unicast_peers else "   Flags: none"
    if cfg.unicast_peers:
        yield "     Using unicast"
    wants = MASTER if machine.state == MASTER or machine.wants_master else machine.state
    yield f"   Wantstate = {STATE_NAMES[wants]}"
    last = binding.last_transition if binding is not None and binding.last_transition else 0.0
    yield f"   Last transition = {_when(last)}"
    yield f"   Interface = {cfg.interface}"
    if cfg.use_vmac:
        yield f"   Use VMAC, i/f name {cfg.use_vmac}"
    if cfg.dont_track_primary:
        yield "   VRRP interface tracking disabled"
    configured = cfg.unicast_src_ip or cfg.mcast_src_ip
    primary = machine.params.primary_ip
    if configured is not None:
        yield f"   Using src_ip = {configured} (from configuration)"
    else:
        yield f"   Using src_ip = {ipaddress.ip_address(primary) if len(primary) in (4, 16) else '(none)'}"
    if not cfg.unicast_peers:
        g = config.global_defs
        yield f"   Multicast address {g.vrrp_mcast_group6 if cfg.family == 6 else g.vrrp_mcast_group4}"
    yield f"   Gratuitous ARP delay = {int(cfg.garp_master_delay)}"
    yield f"   Gratuitous ARP repeat = {cfg.garp_master_repeat}"
    yield f"   Gratuitous ARP refresh = {int(cfg.garp_master_refresh)}"
    yield f"   Gratuitous ARP refresh repeat = {cfg.garp_master_refresh_repeat}"
    yield f"   Virtual Router ID = {cfg.virtual_router_id}"
    yield f"   Priority = {cfg.priority}"
    yield f"   Effective priority = {machine.effective_priority}"
    interval = f"{int(cfg.advert_int)} sec" if cfg.version == 2 else f"{round(cfg.advert_int * 1000)} milli-sec"
    yield f"   Advert interval = {interval}"
    yield f"   Accept = {'enabled' if cfg.accept else 'disabled'}"
    yield f"   Preempt = {'disabled' if cfg.nopreempt else 'enabled'}"
    if cfg.preempt_delay:
        yield f"   Preempt delay = {cfg.preempt_delay:g} secs"
    if cfg.auth_type is not None:
        yield f"   Authentication type = {'IPSEC_AH' if cfg.auth_type == 'AH' else 'SIMPLE_PASSWORD'}"
        if cfg.auth_type == "PASS":
            yield f"   Password = {(cfg.auth_pass or b'').decode('latin-1')}"
    elif cfg.version == 2:
        yield "   Authentication type = none"
    if cfg.virtual_ipaddresses:
        yield f"   Virtual IP ({len(cfg.virtual_ipaddresses)}):"
        yield from (f"     {keepalived_address(spec, cfg)}" for spec in cfg.virtual_ipaddresses)
    if cfg.virtual_ipaddresses_excluded:
        yield "   Virtual IP Excluded :"
        yield from (f"     {keepalived_address(spec, cfg)}" for spec in cfg.virtual_ipaddresses_excluded)
    if cfg.unicast_peers:
        yield "   Unicast Peer :"
        yield from (f"     {peer}" for peer in cfg.unicast_peers)
    for title, entries in (
        ("Tracked interfaces", cfg.track_interface),
        ("Tracked scripts", cfg.track_script),
        ("Tracked files", cfg.track_file),
        ("Tracked processes", cfg.track_process),
        ("Tracked BFDs", cfg.track_bfd),
    ):
        if entries:
            yield f"   {title} :"
            yield from (f"     {entry.name} weight {entry.weight or 0}" for entry in entries)
    yield f"   Using smtp notification = {'yes' if cfg.notify.smtp_alert else 'no'}"
    yield f"   Notify deleted = {'Deleted' if cfg.notify.deleted_state else 'Fault'}"
    yield from _scripts(core)


def keepalived_data_text(router: VrrpRouter, bindings: Mapping[str, Binding], config: Config) -> str:
    """The whole dump: global definitions, VRRP topology and sync groups, as keepalived orders them."""
    g = config.global_defs
    lines = [
        "------< Global definitions >------",
        f" Network namespace = {g.net_namespace or '(default)'}",
        f" Router ID = {g.router_id or ''}",
    ]
    if router.instances:
        lines.append("------< VRRP Topology >------")
        for name, core in router.instances.items():
            lines.extend(_instance(core, bindings.get(name), config))
    if router.sync_groups:
        lines.append("------< VRRP Sync groups >------")
        for name, group in router.sync_groups.items():
            lines += [f" VRRP Sync Group = {name}, {STATE_NAMES[group.state]}", "   VRRP member instances :"]
            lines.extend(f"     {member}" for member in group.group.group)
    return "\n".join(lines) + "\n"
