"""The parent <-> child control channel: newline-delimited JSON over an inherited socketpair.

One stream carries everything a child and its parent say to each other (heartbeats, readiness,
reload requests and acks, state queries), so a closed stream is the single, reliable sign that the
other side is gone: the child stops gracefully on EOF even if its parent was SIGKILLed.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

# A /status answer from a checker with thousands of real servers is one line; allow it.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

Message = dict[str, Any]


class Channel:
    """One end of the socketpair, wrapped in asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, sock: socket.socket) -> Channel:
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MAX_MESSAGE_BYTES)
        return cls(reader, writer)

    def send(self, message: Message) -> None:
        """Queue one message; a vanished peer is noticed by :meth:`receive`, not here."""
        if self._writer.is_closing():
            return
        self._writer.write(json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n")

    async def receive(self) -> Message | None:
        """The next message, or None once the peer has closed its end."""
        try:
            line = await self._reader.readline()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            return None
        if not line.endswith(b"\n"):  # EOF; a tail without its newline is from a peer killed mid-write
            return None
        message: dict[str, Any] = json.loads(line)
        return message

    def close(self) -> None:
        self._writer.close()


class ParentOutbox:
    """Messages a child's role wiring sends to the parent unasked; the child runner connects it.

    One per process, in this module rather than ``child`` (which also runs as ``__main__``).
    """

    def __init__(self) -> None:
        self._send: Callable[[Message], None] | None = None

    def connect(self, send: Callable[[Message], None]) -> None:
        self._send = send

    def send(self, message: Message) -> None:
        if self._send is not None:
            self._send(message)


TO_PARENT = ParentOutbox()
