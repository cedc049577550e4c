"""A paced HTTP client for the load-balancer scenario; runs as a script inside the client namespace.

One request starts every ``--interval`` seconds whether or not the previous ones finished, so an
outage shows up as a run of failed requests at the usual pace instead of one long stall. Each
finished request is one JSON line on stdout: its start (``time.time()``, so the caller can line it
up with its own clock), the outcome (``ok``, ``refused``, ``reset``, ``timeout``, ``http <status>``
or another error name) and, when answered, which load balancer and which web server served it.
Stops after ``--duration`` seconds or on SIGTERM, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time

LB_HEADER = b"x-load-balancer"


def _classify(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | asyncio.IncompleteReadError | BrokenPipeError):
        return "reset"
    return type(exc).__name__


def _parse(response: bytes) -> dict[str, str]:
    """Outcome, load balancer and web server of one complete HTTP/1.x response."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split()
    if len(parts) < 2:
        return {"outcome": "reset"}  # closed before a status line arrived
    status = parts[1].decode()
    result = {"outcome": "ok" if status == "200" else f"http {status}"}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == LB_HEADER:
            result["lb"] = value.strip().decode()
    if status == "200":
        result["web"] = body.strip().decode(errors="replace")
    return result


async def _request(host: str, port: int) -> dict[str, str]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return _parse(await reader.read())
    finally:
        writer.close()


async def _one(host: str, port: int, timeout: float) -> None:
    started = time.time()
    try:
        result = await asyncio.wait_for(_request(host, port), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        result = {"outcome": _classify(exc)}
    result_line = {"t": round(started, 6), "ms": round((time.time() - started) * 1000, 2), **result}
    sys.stdout.write(json.dumps(result_line) + "\n")
    sys.stdout.flush()


async def _run(host: str, port: int, interval: float, timeout: float, duration: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    pending: set[asyncio.Task[None]] = set()
    start = loop.time()
    tick = 0
    while not stop.is_set() and loop.time() - start < duration:
        task = asyncio.create_task(_one(host, port, timeout))
        pending.add(task)
        task.add_done_callback(pending.discard)
        tick += 1
        try:  # paced on a fixed grid, so slow requests never shift the schedule
            await asyncio.wait_for(stop.wait(), max(0.0, start + tick * interval - loop.time()))
        except TimeoutError:
            pass
    if pending:
        await asyncio.wait(pending, timeout=timeout + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between request starts")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds until a request counts as timed out")
    parser.add_argument("--duration", type=float, default=120.0, help="hard bound on the whole loop, seconds")
    args = parser.parse_args()
    asyncio.run(_run(args.host, args.port, args.interval, args.timeout, args.duration))


if __name__ == "__main__":
    main()
