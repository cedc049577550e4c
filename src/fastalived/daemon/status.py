"""The optional status endpoint (``/metrics``, ``/status``) and the ``fastalived status`` command.

Served by the parent, which asks each child for its state over the control channel, so one port
covers every process. Off unless ``global_defs { fastalived_status_listen ADDR PORT }`` is set, and
loopback only: the endpoint has no authentication and the state it shows is sensitive.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from fastalived.daemon.metrics import CONTENT_TYPE, render
from fastalived.runtime.role import Metric

log = logging.getLogger(__name__)

Collector = Callable[[], Awaitable[tuple[dict[str, Any], list[Metric]]]]

DEFAULT_ADDRESS = "127.0.0.1:9650"
REQUEST_TIMEOUT = 5.0
MAX_HEADER_BYTES = 16 * 1024


def require_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address (names are not resolved on purpose)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"status address {host!r} is not an IP address") from None
    if not address.is_loopback:
        raise ValueError(f"status address {host} is not a loopback address; refusing to expose it")


class StatusServer:
    """A tiny HTTP/1.0 server: GET only, one request per connection, answers built on demand."""

    def __init__(self, collect: Collector) -> None:
        self._collect = collect
        self._server: asyncio.Server | None = None
        self.address: tuple[str, int] | None = None

    async def start(self, host: str, port: int) -> None:
        require_loopback(host)
        self._server = await asyncio.start_server(self._handle, host, port, reuse_address=True)
        self.address = (host, port)
        log.info("Status endpoint listening on %s port %d", host, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            status, content_type, body = await self._respond(head[:MAX_HEADER_BYTES])
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        writer.write(
            f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def _respond(self, head: bytes) -> tuple[str, str, bytes]:
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) < 2 or parts[0] != b"GET":
            return "405 Method Not Allowed", "text/plain", b"GET only\n"
        path = parts[1].split(b"?", 1)[0]
        if path not in (b"/metrics", b"/status"):
            return "404 Not Found", "text/plain", b"try /metrics or /status\n"
        state, metrics = await self._collect()
        if path == b"/metrics":
            return "200 OK", CONTENT_TYPE, render(metrics).encode()
        return "200 OK", "application/json", json.dumps(state, default=str, indent=1).encode()


# --------------------------------------------------------------------------- `fastalived status`


EPOCH_2001 = 978307200.0  # floats beyond this are wall-clock stamps (e.g. last_transition)
MAX_LIST_ROWS = 10  # long logs (e.g. transitions) show their newest rows only


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        if value > EPOCH_2001:
            return time.strftime("%H:%M:%S", time.localtime(value)) + f".{int(value % 1 * 1000):03d}"
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def format_table(rows: list[dict[str, Any]]) -> list[str]:
    """Left-aligned columns from a list of dicts (columns: union of keys in first-seen order)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(r[i]) for r in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return lines


def _nested_table(rows: list[dict[str, Any]], indent: str) -> list[str]:
    """A table of the scalar columns; nested row lists (a server's checkers) follow as sub-tables."""
    lines = [indent + line for line in format_table([{k: v for k, v in r.items() if not _is_rows(v)} for r in rows])]
    for row in rows:
        label = _cell(next(iter(row.values())))
        for key, value in row.items():
            if _is_rows(value):
                lines.append(f"{indent}{label} {key}:")
                lines += _nested_table(value, indent + "  ")
    return lines


def _section_lines(name: str, section: Any) -> list[str]:
    if _is_rows(section):
        return [f"{name}:", *_nested_table(section, "  ")]
    if isinstance(section, list) and section and all(isinstance(item, list) for item in section):
        hidden = len(section) - MAX_LIST_ROWS
        rows = ["  " + "  ".join(_cell(v) for v in item) for item in section[-MAX_LIST_ROWS:]]
        return [f"{name}:" + (f" ({hidden} older not shown)" if hidden > 0 else ""), *rows]
    if isinstance(section, dict) and section and all(isinstance(item, dict) for item in section.values()):
        return [f"{name}:", *_nested_table([{"name": key, **item} for key, item in section.items()], "  ")]
    return [f"{name}: {_cell(section)}"]


def format_status(status: dict[str, Any]) -> str:
    """A readable report of a ``/status`` document: the parent, then one block per role."""
    parent = status.get("parent", {})
    reloads = parent.get("reloads", {})
    lines = [
        f"fastalived {parent.get('version', '?')}  pid {parent.get('pid')}  up {parent.get('uptime', 0):.0f}s  "
        f"config {parent.get('config_file')}",
        "reloads: " + ", ".join(f"{k}={v}" for k, v in reloads.items()),
    ]
    children = parent.get("children", {})
    if children:
        lines += ["", *format_table([{"role": role, **info} for role, info in children.items()])]
    if status.get("announcements"):  # fastalived_announce: one row per prefix
        lines += ["", *_section_lines("announcements", status["announcements"])]
    for kind, rows in (status.get("overrides") or {}).items():  # fastalived ctl: maintenance, drains
        lines += ["", *_section_lines(f"ctl {kind}", rows)]
    for role, snapshot in status.get("roles", {}).items():
        lines += ["", f"[{role}]"]
        for key, value in (snapshot or {}).items():
            lines += _section_lines(key, value)
    return "\n".join(lines) + "\n"


def fetch_status(address: str = DEFAULT_ADDRESS, timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
    import urllib.request  # only ``fastalived status`` asks: the daemon never loads http.client and email

    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    url_host = f"[{host}]" if ":" in host else host
    with urllib.request.urlopen(f"http://{url_host}:{port}/status", timeout=timeout) as response:
        status: dict[str, Any] = json.loads(response.read())
    return status


def print_status(address: str = DEFAULT_ADDRESS, out: TextIO | None = None) -> int:
    """``fastalived status [--address HOST:PORT]``: print the running daemon's state; 1 if unreachable."""
    stream = out if out is not None else sys.stdout
    try:
        status = fetch_status(address)
    except (OSError, ValueError) as exc:
        print(f"fastalived status: cannot reach {address}: {exc}", file=sys.stderr)
        return 1
    stream.write(format_status(status))
    return 0


def status_main(argv: list[str]) -> int:
    """Arguments of the ``fastalived status`` sub-command."""
    parser = argparse.ArgumentParser(prog="fastalived status", description="Show the running daemon's state.")
    parser.add_argument(
        "--address", default=DEFAULT_ADDRESS, help=f"HOST:PORT of the status endpoint (default {DEFAULT_ADDRESS})"
    )
    return print_status(parser.parse_args(argv).address)
