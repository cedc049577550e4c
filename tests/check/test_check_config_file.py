"""A keepalived.conf read by fastalived.config drives the checker (the ``-C`` path, no IPVS here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import uvloop

from fastalived.check.process import CheckRole, NoIpvs
from fastalived.config import load_config
from tests.check.builders import LOOPBACK
from tests.support.host import free_port

CONF = """
global_defs {{
    router_id lb1
}}
virtual_server 192.0.2.100 80 {{
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    quorum 2
    real_server {ip} {web} {{
        weight 2
        HTTP_GET {{
            url {{
                path /health
                status_code 200-299 404
            }}
            connect_timeout 2
            warmup 0
        }}
    }}
    real_server {ip} {refused} {{
        TCP_CHECK {{
            connect_timeout 1
            warmup 0
            retry 0
        }}
    }}
    real_server {ip} {web2} {{
        MISC_CHECK {{
            misc_path "/bin/sh -c 'exit 9'"
            misc_dynamic
            warmup 0
        }}
    }}
}}
"""


def test_keepalived_conf_to_running_checks(tmp_path: Path) -> None:
    async def main() -> None:
        async def not_found(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\\r\\n\\r\\n")
            writer.write(b"HTTP/1.0 404 Not Found\\r\\n\\r\\n")
            writer.close()

        server = await asyncio.start_server(not_found, LOOPBACK, 0)
        web = server.sockets[0].getsockname()[1]
        path = tmp_path / "keepalived.conf"
        path.write_text(CONF.format(ip=LOOPBACK, web=web, refused=free_port(), web2=free_port()))
        loaded = load_config(str(path))
        assert loaded.ok, loaded.diagnostics
        role = CheckRole(ipvs=NoIpvs())
        await role.start(loaded.config)
        deadline = asyncio.get_running_loop().time() + 5
        while sum(role.runs.values()) < 3 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        snapshot = role.snapshot()["virtual_servers"][0]
        await role.stop()
        server.close()
        states = [(rs["up"], rs["weight"]) for rs in snapshot["real_servers"]]
        assert states == [(True, 2), (False, 0), (True, 7)]  # 404 accepted; refused; exit 9 -> weight 7
        assert snapshot["quorum_up"] is True and snapshot["live_weight"] == 9

    uvloop.run(main())
