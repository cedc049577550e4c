"""Logging for the parent and each child: console (``-l``) or syslog, like keepalived.

Every process configures its own root logger; the ident tells the processes apart in syslog the way
keepalived's ``Keepalived``, ``Keepalived_vrrp`` and ``Keepalived_healthcheckers`` do.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import socket
import sys

from fastalived.options import RunOptions

SYSLOG_SOCKET = "/dev/log"

IDENTS = {"parent": "fastalived", "vrrp": "fastalived_vrrp", "check": "fastalived_healthcheckers"}
LOG_FILE_SUFFIXES = {"vrrp": "_vrrp", "check": "_healthcheckers"}  # keepalived's names for -g files


def log_file_for(path: str, process: str) -> str:
    """``-g /tmp/keepalived.log``: the parent writes it, children ``/tmp/keepalived_vrrp.log`` etc."""
    stem, dot, extension = path.rpartition(".") if "." in os.path.basename(path) else (path, "", "")
    return f"{stem}{LOG_FILE_SUFFIXES.get(process, '')}{dot}{extension}"


class _ConsoleFormatter(logging.Formatter):
    """keepalived's console form (``Thu Nov 26 03:35:53 2026: message``) plus milliseconds and pid."""

    def __init__(self, ident: str) -> None:
        super().__init__()
        self._ident = ident

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%a %b %d %H:%M:%S")
        year = self.formatTime(record, "%Y")
        text = f"{stamp}.{int(record.msecs):03d} {year}: {self._ident}[{record.process}]: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """``--log-format json``: one object a line for log shippers (no multi-line tracebacks to reassemble)."""

    def __init__(self, ident: str) -> None:
        super().__init__()
        self._ident = ident

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            + f".{int(record.msecs):03d}"
            + self.formatTime(record, "%z"),
            "level": record.levelname.lower(),
            "process": self._ident,
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _formatter(options: RunOptions, ident: str) -> logging.Formatter:
    return JsonFormatter(ident) if options.log_format == "json" else _ConsoleFormatter(ident)


def syslog_facility(name: str | None) -> int:
    """``-S`` values as keepalived takes them: ``0``-``7`` (= local0-7), ``local0``-``local7``, user, daemon."""
    handler = logging.handlers.SysLogHandler
    if name is None or name == "daemon":
        return handler.LOG_DAEMON
    if name == "user":
        return handler.LOG_USER
    number = name.removeprefix("local")
    if number.isdigit() and 0 <= int(number) <= 7:
        return handler.LOG_LOCAL0 + int(number)
    raise ValueError(f"unknown syslog facility {name!r}")


def configure(options: RunOptions, process: str) -> None:
    """Route this process's records to the console (``-l``) and/or syslog (unless ``-G``); ``-D`` adds detail.

    Without ``/dev/log`` (containers, test namespaces) syslog falls back to stderr rather than silence.
    In a network namespace (``-s``, ``net_namespace``) the ident gets ``_NAME``, as keepalived's does.
    """
    ident = IDENTS.get(process, f"fastalived_{process}")
    if options.namespace:  # keepalived appends the network namespace to its syslog ident
        ident = f"{ident}_{options.namespace}"
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    want_syslog = not options.no_syslog
    if options.log_console or (want_syslog and not os.path.exists(SYSLOG_SOCKET)):
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(_formatter(options, ident))
        root.addHandler(console)
    if want_syslog and os.path.exists(SYSLOG_SOCKET):
        syslog = logging.handlers.SysLogHandler(
            address=SYSLOG_SOCKET, facility=syslog_facility(options.log_facility), socktype=socket.SOCK_DGRAM
        )
        syslog.ident = f"{ident}[{os.getpid()}]: "
        root.addHandler(syslog)
    if options.log_file:
        try:
            to_file = logging.FileHandler(log_file_for(options.log_file, process))
        except OSError as exc:
            print(f"{ident}: cannot open log file {options.log_file}: {exc}", file=sys.stderr)
        else:
            to_file.setFormatter(_formatter(options, ident))
            root.addHandler(to_file)
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    root.setLevel(logging.DEBUG if options.log_detail else logging.INFO)
