"""Model objects for checker tests, built directly (no parser): loopback servers only."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastalived.config.model import (
    CheckerCommon,
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
