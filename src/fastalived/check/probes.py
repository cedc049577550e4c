"""The probe for each configured checker kind, built from the checker's config.

Probes are built at each checker's first run (``CheckRole._probe``), so a start or a reload of
thousands of real servers reaches IPVS before all of them exist.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from fastalived.check.datagram import UdpProbe
from fastalived.check.dns import DnsProbe
from fastalived.check.file import FileProbe
from fastalived.check.http import HttpProbe, SslProbe, client_ssl_context, never_recovering
from fastalived.check.icmp import PingProbe
from fastalived.check.misc import MiscProbe
from fastalived.check.probe import Probe
from fastalived.check.smtp import SmtpProbe
from fastalived.check.state import CheckerState
from fastalived.check.tcp import TcpProbe
from fastalived.config.model import (
    Checker,
    Config,
    DnsCheck,
    GlobalDefs,
    HttpCheck,
    MiscCheck,
    PingCheck,
    SmtpCheck,
    TcpCheck,
    UdpCheck,
)

_BY_KIND: dict[type, Callable[[Any], Probe]] = {  # the probes that need nothing but their checker
    TcpCheck: TcpProbe,
    SmtpCheck: SmtpProbe,
    DnsCheck: DnsProbe,
    PingCheck: PingProbe,
    UdpCheck: UdpProbe,
}


def build_probe(
    checker: Checker,
    ssl_context: Callable[[], ssl.SSLContext],
    global_defs: GlobalDefs,
    checker_down: Callable[[], bool] = never_recovering,
) -> Probe:
    """The probe for one configured checker; SSL_GET asks for the (shared, lazily made) context.

    HTTP probes ask ``checker_down``: while it is down they recover one url per check unless
    ``fast_recovery`` is set, as keepalived does.
    """
    if isinstance(checker, HttpCheck):
        recovering = never_recovering if checker.fast_recovery else checker_down
        if checker.kind == "SSL_GET":
            return SslProbe(checker, ssl_context(), recovering)
        return HttpProbe(checker, recovering)
    if isinstance(checker, MiscCheck):
        return MiscProbe(checker, global_defs)
    probe: Callable[[Any], Probe] = _BY_KIND.get(type(checker), FileProbe)
    return probe(checker)


class ProbeFactory:
    """Builds probes for one config's global_defs and ssl; SSL_GETs share one context, made at
    the first of them."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._ssl_context: ssl.SSLContext | None = None

    def _shared_ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = client_ssl_context(self._config.ssl)
        return self._ssl_context

    def build(self, checker: CheckerState) -> Probe:
        return build_probe(checker.checker, self._shared_ssl_context, self._config.global_defs, checker.is_down)
