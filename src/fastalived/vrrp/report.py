"""What the VRRP role shows the outside: the ``/status`` snapshot, ``/metrics`` samples, the transition log,
and keepalived's own JSON and stats dump layouts (its exporters and scripts read those files)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastalived.config.model import Command, IPAddressSpec, VrrpInstance
from fastalived.runtime.role import Metric
from fastalived.vrrp.machine import MASTER, STATE_NAMES
from fastalived.vrrp.router import InstanceCore, VrrpRouter
from fastalived.vrrp.vips import instance_vips, vip_device

if TYPE_CHECKING:
    from fastalived.vrrp.binding import Binding
    from fastalived.vrrp.io import VrrpSocket


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change, for ``snapshot()`` and tests asserting "no transition during reload"."""

    time: float  # wall clock
    instance: str
    old: str
    new: str


def snapshot(
    router: VrrpRouter,
    bindings: Mapping[str, Binding],
    sockets: Iterable[VrrpSocket],
    transitions: Iterable[Transition],
) -> dict[str, Any]:
    """The role's state for ``/status`` and ``fastalived status``."""
    return {
        "instances": [_instance(router, bindings[name]) for name in router.instances if name in bindings],
        "sync_groups": {
            name: {"state": STATE_NAMES[group.state], "members": list(group.group.group)}
            for name, group in router.sync_groups.items()
        },
        "interfaces": [
            {
                "interface": vsock.ifname,
                "family": 6 if vsock.family == socket.AF_INET6 else 4,
                "drops": dict(router.interface_drops.get((vsock.ifname, vsock.family), {})),
                "send_errors": vsock.send_errors,
            }
            for vsock in sockets
        ],
        "transitions": [[t.time, t.instance, t.old, t.new] for t in list(transitions)[-100:]],
    }


def _instance(router: VrrpRouter, binding: Binding) -> dict[str, Any]:
    core = router.instances[binding.name]
    m = core.machine
    master_ip = m.master_ip
    return {
        "name": binding.name,
        "vrid": core.config.virtual_router_id,
        "interface": core.config.interface,
        "state": STATE_NAMES[m.state],
        "priority": core.config.priority,
        "effective_priority": m.effective_priority,
        "maintenance": m.maintenance,
        "master_ip": str(ipaddress.ip_address(master_ip)) if master_ip else None,
        "vips": [str(spec.address) for spec in instance_vips(core.config)],
        "adverts_sent": binding.adverts_sent,
        "adverts_received": core.adverts_received,
        "drops": dict(core.drops),
        "transitions": m.transitions,
        "last_transition": binding.last_transition,
    }


def metrics(router: VrrpRouter, bindings: Mapping[str, Binding]) -> Iterator[Metric]:
    """Prometheus samples per instance."""
    for name, core in router.instances.items():
        labels = (("vrrp_instance", name), ("vrid", str(core.config.virtual_router_id)))  # Prometheus owns "instance"
        m = core.machine
        sent = bindings[name].adverts_sent if name in bindings else 0
        yield Metric("fastalived_vrrp_state", m.state, labels, help="0=INIT 1=BACKUP 2=MASTER 3=FAULT 4=STOP")
        yield Metric("fastalived_vrrp_priority", core.config.priority, labels, help="Configured priority")
        yield Metric("fastalived_vrrp_effective_priority", m.effective_priority, labels,
                     help="Priority after tracking")  # fmt: skip
        yield Metric("fastalived_vrrp_transitions_total", m.transitions, labels, "counter", "State changes")
        yield Metric("fastalived_vrrp_adverts_sent_total", sent, labels, "counter", "Adverts sent")
        yield Metric("fastalived_vrrp_adverts_received_total", core.adverts_received, labels, "counter",
                     "Valid adverts received")  # fmt: skip
        for reason, count in sorted(core.drops.items()):
            yield Metric("fastalived_vrrp_adverts_dropped_total", count, labels + (("reason", reason),), "counter",
                         "Received packets dropped, by reason")  # fmt: skip


def keepalived_json(router: VrrpRouter, bindings: Mapping[str, Binding]) -> list[dict[str, Any]]:
    """keepalived 2.2.7's SIGRTMIN+2 dump (``/tmp/keepalived.json``): one ``data``/``stats`` pair per
    instance, keyed and numbered as keepalived's ``vrrp_json.c`` writes them."""
    out = []
    for name, core in router.instances.items():
        cfg, m = core.config, core.machine
        binding = bindings.get(name)
        notify = cfg.notify
        data = {
            "iname": name,
            "dont_track_primary": 0,
            "skip_check_adv_addr": 0,
            "strict_mode": 0,
            "vmac_ifname": cfg.use_vmac or "",
            "ifp_ifname": cfg.interface,
            "master_priority": m.effective_priority if m.state == MASTER else 0,
            "last_transition": (binding.last_transition or 0.0) if binding is not None else 0.0,
            "garp_delay": cfg.garp_master_delay,
            "garp_refresh": int(cfg.garp_master_refresh),
            "garp_rep": cfg.garp_master_repeat,
            "garp_refresh_rep": cfg.garp_master_refresh_repeat,
            "garp_lower_prio_delay": 0,
            "garp_lower_prio_rep": 0,
            "lower_prio_no_advert": 0,
            "higher_prio_send_advert": 0,
            "vrid": cfg.virtual_router_id,
            "base_priority": cfg.priority,
            "effective_priority": m.effective_priority,
            "vipset": m.state == MASTER,
            "promote_secondaries": False,
            "adver_int": cfg.advert_int,
            "master_adver_int": m.master_adver_int,
            "accept": int(cfg.accept),
            "nopreempt": cfg.nopreempt,
            "preempt_delay": int(cfg.preempt_delay),
            "state": m.state,
            "wantstate": MASTER if m.state == MASTER or m.wants_master else m.state,
            "version": cfg.version,
            "smtp_alert": notify.smtp_alert,
            "notify_deleted": notify.deleted_state,
            "script_backup": _command_line(notify.notify_backup),
            "script_master": _command_line(notify.notify_master),
            "script_fault": _command_line(notify.notify_fault),
            "script_stop": _command_line(notify.notify_stop),
            "script": _command_line(notify.notify),
            "vips": [keepalived_address(spec, cfg) for spec in cfg.virtual_ipaddresses],
            "evips": [keepalived_address(spec, cfg) for spec in cfg.virtual_ipaddresses_excluded],
            "vroutes": [str(route.dst) if route.dst is not None else "default" for route in cfg.virtual_routes],
            "vrules": [],
            "track_ifp": [track.name for track in cfg.track_interface],
            "track_script": [track.name for track in cfg.track_script],
            "auth_type": {"PASS": 1, "AH": 2}.get(cfg.auth_type or "", 0),
            "auth_data": (cfg.auth_pass or b"").decode("latin-1"),
        }
        present = {key: value for key, value in data.items() if value is not None}  # keepalived omits unset scripts
        out.append({"data": present, "stats": _keepalived_stats(core, binding)})
    return out


def _command_line(command: Command | None) -> str | None:
    return command.line if command is not None else None


def keepalived_address(spec: IPAddressSpec, cfg: VrrpInstance) -> str:
    """``format_ipaddress`` in keepalived: ``ADDR[/LEN] [brd B] dev DEV scope SCOPE [label L]``."""
    address = spec.address
    text = str(address.ip) if address.network.prefixlen == address.max_prefixlen else str(address)
    if spec.brd is not None:
        text += f" brd {spec.brd}"
    text += f" dev {vip_device(cfg) if spec.dev is None else spec.dev} scope {spec.scope or 'global'}"
    return text + (f" label {spec.label}" if spec.label else "")


_KEEPALIVED_STAT_DROPS = {  # keepalived's stats fields, from our drop reasons
    "packet_len_err": ("TOO_SHORT", "TRUNCATED"),
    "advert_interval_err": ("BAD_INTERVAL",),
    "ip_ttl_err": ("BAD_TTL",),
    "invalid_type_rcvd": ("BAD_TYPE",),
    "addr_list_err": ("BAD_ADDR_COUNT",),
    "invalid_authtype": ("BAD_AUTH_TYPE",),
    "authtype_mismatch": ("AH_MISSING", "AH_UNEXPECTED"),
    "auth_failure": ("BAD_AUTH_PASS", "BAD_AH_ICV", "BAD_AH_SPI", "AH_REPLAY"),
}


def _keepalived_stats(core: InstanceCore, binding: Binding | None) -> dict[str, int]:
    stats = {
        "advert_rcvd": core.adverts_received,
        "advert_sent": binding.adverts_sent if binding is not None else 0,
        "become_master": core.became_master,
        "release_master": core.released_master,
    }
    for field, reasons in _KEEPALIVED_STAT_DROPS.items():
        stats[field] = sum(core.drops.get(reason, 0) for reason in reasons)
    stats["pri_zero_rcvd"] = core.priority_zero_received
    stats["pri_zero_sent"] = core.priority_zero_sent
    return stats


def keepalived_stats_text(router: VrrpRouter, bindings: Mapping[str, Binding]) -> str:
    """keepalived 2.2.7's SIGUSR2 dump (``/tmp/keepalived.stats``), line for line."""
    lines = []
    for name, core in router.instances.items():
        s = _keepalived_stats(core, bindings.get(name))
        lines += [
            f"VRRP Instance: {name}",
            "  Advertisements:",
            f"    Received: {s['advert_rcvd']}",
            f"    Sent: {s['advert_sent']}",
            f"  Became master: {s['become_master']}",
            f"  Released master: {s['release_master']}",
            "  Packet Errors:",
            f"    Length: {s['packet_len_err']}",
            f"    TTL: {s['ip_ttl_err']}",
            f"    Invalid Type: {s['invalid_type_rcvd']}",
            f"    Advertisement Interval: {s['advert_interval_err']}",
            f"    Address List: {s['addr_list_err']}",
            "  Authentication Errors:",
            f"    Invalid Type: {s['invalid_authtype']}",
            f"    Type Mismatch: {s['authtype_mismatch']}",
            f"    Failure: {s['auth_failure']}",
            "  Priority Zero:",
            f"    Received: {s['pri_zero_rcvd']}",
            f"    Sent: {s['pri_zero_sent']}",
        ]
    return "\n".join(lines) + "\n"
