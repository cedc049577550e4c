"""Model objects for checker tests, built directly (no parser): loopback servers only."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastalived.config.model import (
    CheckerCommon,
    Command,
    Config,
    HttpCheck,
    RealServer,
    SslDefs,
    TcpCheck,
    UrlSpec,
    VirtualServer,
)

LOOPBACK = "127.0.0.1"


def common(port: int = 80, ip: str = LOOPBACK, **overrides: Any) -> CheckerCommon:
    values: dict[str, Any] = {"connect_timeout": 2.0, "delay_loop": 1.0, "retry": 0, "delay_before_retry": 1.0}
    values.update(overrides)
    return CheckerCommon(connect_ip=ipaddress.ip_address(ip), connect_port=port, **values)


def http_check(port: int, *urls: UrlSpec, kind: str = "HTTP_GET", ip: str = LOOPBACK, **kw: Any) -> HttpCheck:
    checker_fields = {k: kw.pop(k) for k in ("virtualhost", "http_protocol", "enable_sni") if k in kw}
    return HttpCheck(kind, common(port, ip, **kw), urls or (UrlSpec("/"),), **checker_fields)  # type: ignore[arg-type]


def tcp_check(port: int, **kw: Any) -> TcpCheck:
    return TcpCheck("TCP_CHECK", common(port, **kw))


def real_server(port: int, *checkers: Any, ip: str = LOOPBACK, **kw: Any) -> RealServer:
    return RealServer(ipaddress.ip_address(ip), port, checkers=checkers, **kw)


def virtual_server(*real_servers: RealServer, address: str = "192.0.2.10", port: int = 80, **kw: Any) -> VirtualServer:
    return VirtualServer(address=ipaddress.ip_address(address), port=port, real_servers=real_servers, **kw)


def config(*virtual_servers: VirtualServer, ssl: SslDefs | None = None, **kw: Any) -> Config:
    return Config(virtual_servers=virtual_servers, ssl=ssl, **kw)


def notify_script(directory: Any) -> tuple[Any, Any]:
    """A notify script appending its arguments to a log: (script, log file), both ``pathlib.Path``."""
    log_file = directory / "notify.log"
    script = directory / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log_file}\n')
    script.chmod(0o755)
    return script, log_file


def up_down_notifies(script: Any) -> dict[str, Command]:
    """``notify_up "SCRIPT up"`` and ``notify_down "SCRIPT down"`` for a real_server."""
    return {"notify_up": Command(f"{script} up"), "notify_down": Command(f"{script} down")}


async def probe_once(probe: Any) -> Any:
    """Run one check of ``probe`` and return its CheckResult."""
    import asyncio

    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    probe.start(done.set_result)
    return await done


def ipvs_weights(cfg: Config, state: Any) -> dict[str, dict[tuple[str, int], int]]:
    """The destinations fastalived.ipvs would program for ``state``, as {service: {(addr, port): weight}}.

    Reads the check state through ``IpvsDirector.apply``'s own function, so these tests pin the contract.
    """
    from fastalived.ipvs.director import desired_from_check_state

    table = desired_from_check_state(cfg, state)
    return {
        str(key): {(dest.address, dest.port): spec.weight for dest, spec in entry.dests.items()}
        for key, entry in table.services.items()
    }


class SilentListener:
    """A loopback port whose tiny accept queue is full, so new SYNs are dropped: connects hang.

    ``release()`` accepts the queued connections; the kernel's SYN retransmission (after ~1 s)
    then completes a hanging connect. Used to exercise the connect-in-progress paths.
    """

    def __init__(self) -> None:
        import socket

        self.listener = socket.socket()
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(0)
        self.port = int(self.listener.getsockname()[1])
        self.fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((LOOPBACK, self.port))
            self.fillers.append(filler)

    def release(self) -> None:
        self.listener.setblocking(False)
        for filler in self.fillers:
            filler.close()
        while True:
            try:
                self.listener.accept()[0].close()
            except BlockingIOError:
                return

    def listener_accept_blocking(self) -> Any:
        """Wait (in a thread) for the next connection and return it."""
        self.listener.setblocking(True)
        self.listener.settimeout(5.0)
        return self.listener.accept()[0]

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.listener.close()
