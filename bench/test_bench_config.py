"""load_config speed on large generated configs (pytest-benchmark; run with ``pytest bench/``).

Targets: 1,000 virtual servers x 10 real servers with HTTP_GET (10,000 checkers) well under 1 s;
500 vrrp_instances.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fastalived.config import load_config

VIRTUAL_SERVERS = 1000
REAL_SERVERS = 10
INSTANCES = 500


def lvs_config(virtual_servers: int = VIRTUAL_SERVERS, real_servers: int = REAL_SERVERS) -> str:
    """A keepalived.conf with ``virtual_servers`` x ``real_servers`` HTTP_GET-checked servers."""
    parts = ["global_defs {\n    router_id BENCH\n}\n"]
    for v in range(virtual_servers):
        vip = f"198.51.{100 + v // 250}.{v % 250 + 1}"
        parts.append(
            f"virtual_server {vip} {8000 + v % 1000} {{\n"
            "    delay_loop 6\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n"
        )
        for r in range(real_servers):
            parts.append(
                f"    real_server 203.0.{113 + r // 250}.{(v * real_servers + r) % 250 + 1} {8080 + r} {{\n"
                "        weight 1\n"
                "        HTTP_GET {\n"
                "            url {\n"
                "                path /health\n"
                "                status_code 200\n"
                "            }\n"
                "            connect_timeout 3\n"
                "            retry 3\n"
                "            delay_before_retry 2\n"
                "        }\n"
                "    }\n"
            )
        parts.append("}\n")
    return "".join(parts)


def vrrp_config(instances: int = INSTANCES) -> str:
    """A keepalived.conf with ``instances`` vrrp_instances spread over interfaces by VRID."""
    parts = ["vrrp_script chk {\n    script /bin/true\n    interval 2\n}\n"]
    for i in range(instances):
        parts.append(
            f"vrrp_instance VI_{i} {{\n"
            "    state BACKUP\n"
            f"    interface eth{i // 255}\n"
            f"    virtual_router_id {i % 255 + 1}\n"
            "    priority 100\n"
            "    advert_int 1\n"
            "    authentication {\n        auth_type PASS\n        auth_pass secret\n    }\n"
            f"    virtual_ipaddress {{\n        198.51.{100 + i // 250}.{i % 250 + 1}/24 dev eth{i // 255}\n    }}\n"
            "    track_script {\n        chk\n    }\n"
            "}\n"
        )
    return "".join(parts)


@pytest.fixture(scope="module")
def lvs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "lvs.conf"
    path.write_text(lvs_config())
    return path


@pytest.fixture(scope="module")
def vrrp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "vrrp.conf"
    path.write_text(vrrp_config())
    return path


def test_bench_load_10000_real_servers(benchmark, lvs_file: Path) -> None:  # type: ignore[no-untyped-def]
    result = benchmark(load_config, str(lvs_file))
    assert result.ok, result.diagnostics[:3]
    assert len(result.config.virtual_servers) == VIRTUAL_SERVERS
    assert sum(len(vs.real_servers) for vs in result.config.virtual_servers) == VIRTUAL_SERVERS * REAL_SERVERS


def test_bench_load_500_vrrp_instances(benchmark, vrrp_file: Path) -> None:  # type: ignore[no-untyped-def]
    result = benchmark(load_config, str(vrrp_file))
    assert result.ok, result.diagnostics[:3]
    assert len(result.config.vrrp_instances) == INSTANCES
