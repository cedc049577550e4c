"""Notify FIFOs: keepalived's lines, the shared and the role's own FIFO, creation and removal."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from fastalived.check.alerts import CheckAlerts
from fastalived.config import parse_string
from fastalived.config.model import GlobalDefs, NotifyFifo, RealServer, VirtualServer


def test_fifo_keywords_parse_in_either_order_with_users() -> None:
    result = parse_string(
        "global_defs {\n"
        "    lvs_notify_fifo_script /bin/reader nobody nogroup\n"
        "    lvs_notify_fifo /run/lvs.fifo root\n"
        "    notify_fifo /run/all.fifo\n"
        "    notify_fifo /run/other.fifo\n"
        "    vrrp_notify_priority_changes\n"
        "}\n"
    )
    g = result.config.global_defs
    assert g.lvs_notify_fifo == NotifyFifo("/run/lvs.fifo", "root", None, "/bin/reader", "nobody", "nogroup")
    assert g.notify_fifo == NotifyFifo("/run/all.fifo")
    assert g.vrrp_notify_priority_changes is True
    assert [d.message for d in result.diagnostics] == [
        "global_defs: notify_fifo already specified - ignoring /run/other.fifo"
    ]


def _read_all(fd: int) -> list[str]:
    try:
        return os.read(fd, 65536).decode().splitlines()
    except BlockingIOError:
        return []


def test_checker_lines_go_to_the_shared_and_the_lvs_fifo_which_are_removed_at_close(tmp_path: Path) -> None:
    shared, own = tmp_path / "all.fifo", tmp_path / "lvs.fifo"
    vs = VirtualServer(address="198.51.100.1", port=80, protocol="TCP")  # type: ignore[call-arg]
    rs = RealServer(address="203.0.113.5", port=8080)  # type: ignore[call-arg]

    async def scenario() -> tuple[list[str], list[str]]:
        alerts = CheckAlerts(GlobalDefs())
        await alerts.configure(GlobalDefs(notify_fifo=NotifyFifo(str(shared)), lvs_notify_fifo=NotifyFifo(str(own))))
        assert stat.S_ISFIFO(shared.stat().st_mode) and stat.S_ISFIFO(own.stat().st_mode)
        readers = [os.open(path, os.O_RDONLY | os.O_NONBLOCK) for path in (shared, own)]
        alerts.real_server_changed(vs, rs, False)
        alerts.quorum_changed(vs, False)
        got = [_read_all(fd) for fd in readers]
        await alerts.drain()
        await alerts.close()
        for fd in readers:
            os.close(fd)
        return got[0], got[1]

    from_shared, from_own = asyncio.run(scenario())
    expected = ["RS [203.0.113.5]:tcp:8080 [198.51.100.1]:tcp:80 DOWN", "VS [198.51.100.1]:tcp:80 DOWN"]
    assert from_shared == expected and from_own == expected
    assert not shared.exists() and not own.exists()
