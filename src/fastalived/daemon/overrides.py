"""Operator overrides set with ``fastalived ctl``: instances in maintenance and drained real servers.

The parent owns them, so they outlive a reload and a child's respawn; each child gets its role's
full set (``for_role``) after every change and re-applies it after its own start or reload. A
restart forgets them, except those set with ``--persist``, which are kept in a state file in the
run directory and read back at start. Pure apart from :func:`load` / :func:`save`: every change is
checked against the running configuration and answers with what changed, or a refusal.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastalived.check.drain import DrainKey, rs_text, wire_key, wire_until
from fastalived.config.model import Config, RealServer, VirtualServer

STATE_FILE = "fastalived.state"


class Refused(Exception):
    """A request the configuration cannot satisfy; the message says why, for the operator."""


@dataclass
class Maintenance:
    since: float
    persist: bool = False


@dataclass
class Drain:
    since: float
    until: float | None = None  # wall clock: removed from IPVS from then on
    persist: bool = False


@dataclass
class Overrides:
    maintenance: dict[str, Maintenance] = field(default_factory=dict)
    drains: dict[DrainKey, Drain] = field(default_factory=dict)

    # ------------------------------------------------------------------ changes

    def set_maintenance(self, config: Config, instance: str, on: bool, persist: bool, now: float) -> list[str]:
        """Maintenance on or off for one instance; the parent's notes on what changed."""
        known = [inst.name for inst in config.vrrp_instances]
        if instance not in known:
            raise Refused(f"no vrrp_instance {instance!r} in the configuration (known: {', '.join(known) or 'none'})")
        current = self.maintenance.get(instance)
        if not on:
            if current is None:
                return [f"nothing changed: {instance} is not in maintenance"]
            del self.maintenance[instance]
            return []
        if current is not None:
            if persist and not current.persist:
                current.persist = True
                return [f"{instance}: maintenance now persisted"]
            return [f"nothing changed: {instance} is already in maintenance"]
        self.maintenance[instance] = Maintenance(now, persist)
        return []

    def drain(
        self, config: Config, rs: str, vs: str | None, timeout: float | None, persist: bool, now: float
    ) -> list[str]:
        """Drain every real server ``rs`` names (in virtual server ``vs`` only, when given)."""
        if timeout is not None and timeout < 0:
            raise Refused(f"a drain timeout cannot be negative ({timeout:g})")
        until = None if timeout is None else now + timeout
        notes = []
        for key in match_real_servers(config, rs, vs):
            current = self.drains.get(key)
            if current is not None and current.until == until and current.persist >= persist:
                notes.append(f"nothing changed: {describe(key)} is already drained")
                continue
            self.drains[key] = Drain(current.since if current else now, until, persist)
        return notes

    def restore(self, config: Config, rs: str, vs: str | None) -> list[str]:
        keys = [key for key in match_real_servers(config, rs, vs) if key in self.drains]
        if not keys:
            return [f"nothing changed: {rs} is not drained"]
        for key in keys:
            del self.drains[key]
        return []

    def prune(self, config: Config) -> list[str]:
        """After a reload: forget overrides whose instance or real server left the configuration."""
        instances = {inst.name for inst in config.vrrp_instances}
        servers = {(vs.key, rs.key) for vs in config.virtual_servers for rs in vs.real_servers}
        gone = [f"maintenance of {name}" for name in self.maintenance if name not in instances]
        gone += [f"drain of {describe(key)}" for key in self.drains if key not in servers]
        self.maintenance = {k: v for k, v in self.maintenance.items() if k in instances}
        self.drains = {k: v for k, v in self.drains.items() if k in servers}
        return gone

    # ------------------------------------------------------------------ views

    def for_role(self, role: str) -> dict[str, Any]:
        """What a child applies (always the full set, so it can be re-applied at any time)."""
        if role == "vrrp":
            return {"maintenance": sorted(self.maintenance)}
        if role == "check":
            return {"drains": [_drain_wire(key, drain) for key, drain in sorted(self.drains.items(), key=_order)]}
        return {}

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """The ``overrides`` section of ``/status``: empty sections are left out."""
        out: dict[str, list[dict[str, Any]]] = {}
        if self.maintenance:
            out["maintenance"] = [
                {"instance": name, "since": m.since, "persist": m.persist}
                for name, m in sorted(self.maintenance.items())
            ]
        if self.drains:
            out["drains"] = [
                {
                    "virtual_server": key[0],
                    "real_server": rs_text(key[1]),
                    "since": d.since,
                    "until": d.until,
                    "persist": d.persist,
                }
                for key, d in sorted(self.drains.items(), key=_order)
            ]
        return out

    def persisted(self) -> dict[str, Any]:
        """The state file's contents: only what was set with ``--persist``."""
        return {
            "maintenance": {name: {"since": m.since} for name, m in self.maintenance.items() if m.persist},
            "drains": [_drain_wire(key, d) | {"since": d.since} for key, d in self.drains.items() if d.persist],
        }


# ---------------------------------------------------------------------------------- matching


def describe(key: DrainKey) -> str:
    return f"{rs_text(key[1])} in {key[0]}"


def _vs_names(vs: VirtualServer) -> set[str]:
    """Every spelling ``--virtual-server`` accepts: the key, ADDR:PORT, ADDR, the group, fwmark N."""
    names = {vs.key}
    if vs.address is not None:
        names |= {str(vs.address), rs_text((vs.address, vs.port))}
    if vs.group is not None:
        names.add(vs.group)
    if vs.fwmark is not None:
        names |= {f"fwmark {vs.fwmark}", f"FWM:{vs.fwmark}"}
    return names


def _rs_matches(rs: RealServer, spec: str) -> bool:
    return spec in (str(rs.address), rs_text(rs.key))


def _parse_rs(spec: str) -> str:
    """Normalise ADDR, ADDR:PORT or [V6]:PORT (refusing what is not an address)."""
    host, port = spec, None
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.removeprefix(":") or None
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise Refused(f"{spec!r} is not a real server address (ADDR, ADDR:PORT or [ADDR]:PORT)") from None
    if port is not None and not port.isdigit():
        raise Refused(f"{spec!r}: {port!r} is not a port")
    return rs_text((address, int(port) if port is not None else None))


def match_real_servers(config: Config, rs: str, vs: str | None) -> list[DrainKey]:
    """The (virtual server, real server) pairs ``rs`` names, or :class:`Refused` saying why none."""
    spec = _parse_rs(rs)
    servers = config.virtual_servers
    if vs is not None:
        servers = tuple(v for v in servers if vs in _vs_names(v))
        if not servers:
            known = ", ".join(v.key for v in config.virtual_servers) or "none"
            raise Refused(f"no virtual_server {vs!r} in the configuration (known: {known})")
    keys = [(v.key, r.key) for v in servers for r in v.real_servers if _rs_matches(r, spec)]
    if not keys:
        where = f"virtual_server {vs}" if vs is not None else "any virtual_server"
        raise Refused(f"no real_server {rs} in {where} of the configuration")
    return keys


def _order(item: tuple[DrainKey, Drain]) -> tuple[str, str]:
    return item[0][0], rs_text(item[0][1])


def _drain_wire(key: DrainKey, drain: Drain) -> dict[str, Any]:
    address, port = key[1]
    return {"vs": key[0], "rs": str(address), "port": port, "until": drain.until}


# ---------------------------------------------------------------------------------- state file


def state_path(run_dir: str) -> Path:
    return Path(run_dir) / STATE_FILE


def save(overrides: Overrides, path: Path) -> None:
    """Write the persisted overrides atomically (mode 0600); no file when there are none."""
    data = overrides.persisted()
    if not data["maintenance"] and not data["drains"]:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
    os.replace(temporary, path)


def load(path: Path, now: float | None = None) -> Overrides:
    """The overrides persisted by an earlier run (none when there is no file); ValueError when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Overrides()
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    stamp = time.time() if now is None else now
    try:
        overrides = Overrides()
        for name, item in dict(data.get("maintenance", {})).items():
            overrides.maintenance[str(name)] = Maintenance(float(item.get("since", stamp)), persist=True)
        for item in data.get("drains", ()):
            overrides.drains[wire_key(item)] = Drain(float(item.get("since", stamp)), wire_until(item), persist=True)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: malformed state file ({exc!r})") from exc
    return overrides
