"""``fastalived -t`` stays lean: checking a config must not pay for the event loop or the roles.

Every module ``-t`` imports is start-up time a config check (and a reload's pre-check) pays, so
the check path imports only the config package, diagnostics and the script audit.
"""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "keepalived.conf"

# Modules the -t path must never import: the event loop, netlink and every role or the daemon.
FORBIDDEN = (
    "asyncio",
    "uvloop",
    "pyroute2",
    "fastalived.vrrp",
    "fastalived.check",
    "fastalived.ipvs",
    "fastalived.announce",
    "fastalived.daemon",
)

PROBE = """
import json, sys
from fastalived.cli import main
code = main(["-t", "-f", sys.argv[1]])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _modules_after_config_test(conf: Path) -> tuple[int, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(conf)], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(proc.stdout.splitlines()[-1])
    return result["code"], result["modules"]


def _forbidden(modules: list[str]) -> list[str]:
    return [name for name in modules if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]


def test_config_test_of_the_shipped_example_imports_no_event_loop_nor_role() -> None:
    code, modules = _modules_after_config_test(EXAMPLE)
    assert code == 0
    assert "fastalived.runtime.scripts" in modules  # the script audit did run
    assert _forbidden(modules) == []


def test_config_test_with_scripts_and_checkers_stays_lean(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(
        "global_defs {\n    script_user root\n    enable_script_security\n}\n"
        "vrrp_script chk {\n    script /bin/true\n}\n"
        "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 51\n    priority 100\n"
        "    notify_master /bin/true\n    track_script {\n        chk\n    }\n"
        "    virtual_ipaddress {\n        198.51.100.1\n    }\n}\n"
        "virtual_server 198.51.100.1 80 {\n    real_server 203.0.113.1 80 {\n"
        "        MISC_CHECK {\n            misc_path /bin/true\n        }\n    }\n}\n"
    )
    _, modules = _modules_after_config_test(conf)
    assert "fastalived.runtime.scripts" in modules
    assert _forbidden(modules) == []
