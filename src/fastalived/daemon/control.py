"""Steering at run time: the parent's side of ``fastalived ctl`` (the client is :mod:`.ctl`).

The parent listens on ``<run dir>/fastalived.ctl`` (a Unix socket, mode 0600 in the 0700 run
directory, and only root or the daemon's own user may talk to it: ``SO_PEERCRED``). Each request
is one JSON line and gets one JSON line back: ``{"ok": true, "changed": [...], "notes": [...]}``
or ``{"ok": false, "error": "..."}``. The :class:`Controller` checks a request against the running
configuration, updates the parent's :class:`~fastalived.daemon.overrides.Overrides` and forwards the
role's full set to the child that carries it out (the VRRP child for maintenance, the checker child
for drains), whose answer says what changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastalived.config.model import Config
from fastalived.daemon import overrides as state_file
from fastalived.daemon.ctl import encode
from fastalived.daemon.overrides import Overrides, Refused
from fastalived.runtime.role import Metric

log = logging.getLogger("fastalived.control")

MAX_REQUEST_BYTES = 64 * 1024
ROLE_OF = {"maintenance": "vrrp", "resume": "vrrp", "drain": "check", "restore": "check"}
ROLE_TITLES = {"vrrp": "VRRP", "check": "checker"}

Message = dict[str, Any]
Steer = Callable[[str, Message], Awaitable[Message | None]]  # (role, overrides) -> the child's answer or None
Collect = Callable[[], Awaitable[tuple[dict[str, Any], list[Metric]]]]


class Controller:
    """The parent's side of ``fastalived ctl``: owns the overrides, validates, forwards, answers."""

    def __init__(self, run_dir: str, steer: Steer, collect: Collect, clock: Callable[[], float] = time.time) -> None:
        self.overrides = Overrides()
        self.config = Config()
        self._state_file = state_file.state_path(run_dir)
        self._steer = steer
        self._collect = collect
        self._clock = clock
        self._lock = asyncio.Lock()  # one change at a time: each child sees the sets in order

    def start(self, config: Config) -> None:
        """At daemon start: read back what an earlier run persisted (before any child starts)."""
        self.config = config
        try:
            self.overrides = state_file.load(self._state_file, self._clock())
        except ValueError as exc:
            log.error("ctl: ignoring the persisted overrides: %s", exc)
            return
        for gone in self.overrides.prune(config):
            log.warning("ctl: persisted %s dropped: no longer in the configuration", gone)
        for name in self.overrides.maintenance:
            log.info("ctl: %s stays in maintenance (persisted)", name)
        for key in self.overrides.drains:
            log.info("ctl: %s stays drained (persisted)", state_file.describe(key))

    async def configured(self, config: Config) -> None:
        """After a reload: what left the configuration is forgotten; the rest stays in force."""
        self.config = config
        gone = self.overrides.prune(config)
        for item in gone:
            log.warning("ctl: %s dropped: no longer in the configuration", item)
        if gone:
            self._save()
            await asyncio.gather(*(self._steer(role, self.overrides.for_role(role)) for role in ROLE_TITLES))

    def for_role(self, role: str) -> Message | None:
        """The set a freshly spawned child gets, or None when there is nothing to apply."""
        overrides = self.overrides.for_role(role)
        return overrides if any(overrides.values()) else None

    def metrics(self) -> list[Metric]:
        return [
            Metric(
                "fastalived_ctl_overrides",
                len(self.overrides.maintenance),
                (("kind", "maintenance"),),
                help="Operator overrides in force (fastalived ctl).",
            ),
            Metric("fastalived_ctl_overrides", len(self.overrides.drains), (("kind", "drain"),)),
        ]

    async def handle(self, request: Message) -> Message:
        command = request.get("cmd")
        try:
            if command == "status":
                status, _ = await self._collect()
                return {"ok": True, "status": status}
            if command not in ROLE_OF:
                raise Refused(f"unknown command {command!r} (status, {', '.join(ROLE_OF)})")
            async with self._lock:
                return await self._change(command, request)
        except Refused as exc:
            return {"ok": False, "error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": f"malformed request: {exc!r}"}

    async def _change(self, command: str, request: Message) -> Message:
        role = ROLE_OF[command]
        before = (self.overrides.for_role(role), self.overrides.persisted())
        notes = self._update(command, request)
        if (self.overrides.for_role(role), self.overrides.persisted()) == before:
            return {"ok": True, "changed": [], "notes": notes}
        log.info("ctl: %s", " ".join(str(part) for part in (command, request.get("instance") or request.get("rs"))))
        answer: Message = {"ok": True, "changed": [], "notes": notes}
        if before[1] != self.overrides.persisted() and (problem := self._save()):
            answer.update(ok=False, error=f"applied, but not persisted: {problem}")
        try:
            reply = await self._steer(role, self.overrides.for_role(role))
        except (ConnectionError, TimeoutError) as exc:
            return {
                **answer,
                "ok": False,
                "error": f"the {ROLE_TITLES[role]} child did not answer "
                f"({exc or type(exc).__name__}); the change is kept and sent again with every reload and respawn",
            }
        if reply is None:
            notes.append(f"the {ROLE_TITLES[role]} child is not running: applied when it starts")
        elif not reply.get("ok"):
            return {**answer, "ok": False, "error": str(reply.get("error", "refused by the child"))}
        else:
            answer["changed"] = list(reply.get("changed", ()))
            if reply.get("pending"):
                notes.append(f"the {ROLE_TITLES[role]} child is starting: applied once it runs")
        return answer

    def _update(self, command: str, request: Message) -> list[str]:
        now = self._clock()
        persist = bool(request.get("persist"))
        if command in ("maintenance", "resume"):
            instance = str(request["instance"])
            return self.overrides.set_maintenance(self.config, instance, command == "maintenance", persist, now)
        rs, vs = str(request["rs"]), request.get("vs")
        vs = None if vs is None else str(vs)
        if command == "drain":
            timeout = request.get("timeout")
            return self.overrides.drain(self.config, rs, vs, None if timeout is None else float(timeout), persist, now)
        return self.overrides.restore(self.config, rs, vs)

    def _save(self) -> str | None:
        try:
            state_file.save(self.overrides, self._state_file)
        except OSError as exc:
            log.error("ctl: cannot write %s: %s", self._state_file, exc.strerror or exc)
            return f"{self._state_file}: {exc.strerror or exc}"
        return None


class ControlServer:
    """The Unix socket; one connection may carry several requests, answered in order."""

    def __init__(self, handle: Callable[[Message], Awaitable[Message]]) -> None:
        self._handle = handle
        self._server: asyncio.AbstractServer | None = None
        self.path: Path | None = None

    async def start(self, path: Path) -> None:
        if path.is_socket() and _answers(path):
            raise OSError(f"{path} is in use by another daemon")
        path.unlink(missing_ok=True)  # a stale socket after a SIGKILL
        old_umask = os.umask(0o177)  # created 0600: no window where others may connect
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(path), limit=MAX_REQUEST_BYTES)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        self.path = path
        log.info("Control socket listening on %s", path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not _trusted(writer.get_extra_info("socket")):
                writer.write(encode({"ok": False, "error": "permission denied: root only"}))
                return
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("not a JSON object")
                except ValueError as exc:
                    answer: Message = {"ok": False, "error": f"malformed request: {exc}"}
                else:
                    answer = await self._handle(request)
                writer.write(encode(answer))
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()


def _trusted(sock: socket.socket | None) -> bool:
    """Root, or the daemon's own user (a test run without root)."""
    if sock is None:
        return False
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid in (0, os.geteuid())


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
