"""What the VRRP role shows the outside: the ``/status`` snapshot, ``/metrics`` samples, the transition log."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastalived.runtime.role import Metric
from fastalived.vrrp.machine import STATE_NAMES
from fastalived.vrrp.router import VrrpRouter
from fastalived.vrrp.vips import instance_vips

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
