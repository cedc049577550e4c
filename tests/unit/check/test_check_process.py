"""Small pieces of the checker role that need no event loop."""

from __future__ import annotations

import resource
import ssl

from fastalived.check.dns import DnsProbe
from fastalived.check.http import HttpProbe, SslProbe
from fastalived.check.misc import MiscProbe
from fastalived.check.probes import build_probe
from fastalived.check.process import address_is_local, ensure_file_limit
from fastalived.check.smtp import SmtpProbe
from fastalived.check.tcp import TcpProbe
from fastalived.config.model import DnsCheck, GlobalDefs, MiscCheck, SmtpCheck
from tests.check.builders import common, http_check, tcp_check


def test_each_checker_kind_gets_its_probe_and_ssl_contexts_are_made_only_for_ssl_get() -> None:
    made: list[ssl.SSLContext] = []

    def context() -> ssl.SSLContext:
        made.append(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        return made[-1]

    assert isinstance(build_probe(http_check(80), context, GlobalDefs()), HttpProbe)
    assert isinstance(build_probe(tcp_check(80), context, GlobalDefs()), TcpProbe)
    assert isinstance(build_probe(SmtpCheck("SMTP_CHECK", common(25)), context, GlobalDefs()), SmtpProbe)
    misc = MiscCheck("MISC_CHECK", common(0), misc_path="/bin/true")
    assert isinstance(build_probe(misc, context, GlobalDefs()), MiscProbe)
    assert isinstance(build_probe(DnsCheck("DNS_CHECK", common(53)), context, GlobalDefs()), DnsProbe)
    assert made == []
    assert isinstance(build_probe(http_check(443, kind="SSL_GET"), context, GlobalDefs()), SslProbe)
    assert len(made) == 1


def test_address_locality_for_ha_suspend() -> None:
    assert address_is_local("127.0.0.1", 4)
    assert not address_is_local("192.0.2.55", 4)


def test_file_limit_is_raised_for_many_checkers() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
        ensure_file_limit(2000)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(2000 + 256, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
