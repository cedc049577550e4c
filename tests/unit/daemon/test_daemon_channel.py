"""The control channel: newline-delimited JSON; a peer gone mid-message reads as EOF."""

import asyncio
import socket

from fastalived.daemon.channel import Channel


async def _receive_all(data: bytes) -> list:
    ours, theirs = socket.socketpair()
    channel = await Channel.open(ours)
    theirs.sendall(data)
    theirs.close()
    received = []
    while (message := await channel.receive()) is not None:
        received.append(message)
    channel.close()
    return received


def test_messages_then_eof() -> None:
    assert asyncio.run(_receive_all(b'{"op":"hb"}\n{"op":"ready","pid":7}\n')) == [
        {"op": "hb"},
        {"op": "ready", "pid": 7},
    ]


def test_a_message_cut_by_the_peer_dying_reads_as_eof() -> None:
    """A child SIGKILLed while writing a big state answer leaves half a line behind."""
    assert asyncio.run(_receive_all(b'{"op":"hb"}\n{"op":"state","snapshot":{"virtual_ser')) == [{"op": "hb"}]
