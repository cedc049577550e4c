"""keepalived's notify FIFOs end to end: the VRRP child creates ``notify_fifo``, starts its reader
script with the FIFO's path, writes ``INSTANCE "VI_1" MASTER 150`` lines (again on reload with
``fifo_write_vrrp_states_on_reload``), priority changes (``vrrp_notify_priority_changes``), DELETED for
an instance a reload removes (``notify_deleted``), and at stop removes the FIFO and stops the reader."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.netns.test_vrrp_scenarios import VIP, cluster, holders, instance, wait_holder
from tests.support.netns import wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

__all__ = ["cluster"]  # the fixture, shared with the scenario tests


def test_notify_fifo_lines_reader_script_and_cleanup(cluster, tmp_path: Path) -> None:
    fifo, out = tmp_path / "notify.fifo", tmp_path / "lines.txt"
    reader = tmp_path / "reader.sh"
    reader.write_text(f'#!/bin/sh\nwhile read -r line; do echo "$line" >> {out}; done < "$1"\n')
    reader.chmod(0o755)
    settings = (
        f"global_defs {{\n    notify_fifo {fifo}\n    notify_fifo_script {reader}\n"
        "    fifo_write_vrrp_states_on_reload\n    vrrp_notify_priority_changes\n}\n"
        f"track_file level {{\n    file {tmp_path / 'level'}\n    weight -10\n    init_file 0 overwrite\n}}\n"
    )
    extra = "    notify_deleted\n    track_file {\n        level\n    }"
    config = settings + instance("VI_1", 71, 150, [f"{VIP}/24"], extra=extra)
    bed, (node,) = cluster([config])
    assert wait_holder(bed, 1, 5), holders(bed)
    assert stat.S_ISFIFO(fifo.stat().st_mode)

    def lines() -> list[str]:
        return out.read_text().splitlines() if out.exists() else []

    assert wait_for(lambda: 'INSTANCE "VI_1" MASTER 150' in lines(), 5), lines()
    assert lines()[0] == 'INSTANCE "VI_1" BACKUP 150'

    node.reload(config)
    assert wait_for(lambda: lines().count('INSTANCE "VI_1" MASTER 150') == 2, 5), lines()

    (tmp_path / "level").write_text("2\n")  # 2 x -10: priority 130
    assert wait_for(lambda: 'INSTANCE "VI_1" MASTER_PRIORITY 130' in lines(), 5), lines()

    node.reload(settings + instance("VI_2", 72, 100, [f"{VIP}/24"]))  # VI_1 deleted
    assert wait_for(lambda: 'INSTANCE "VI_1" DELETED 130' in lines(), 5), lines()

    node.terminate()
    node.proc.wait(10)
    assert wait_for(lambda: 'INSTANCE "VI_2" STOP 100' in lines(), 5), lines()
    assert not fifo.exists()
    assert wait_for(
        lambda: (
            not any(
                reader.name in p.read_text(errors="replace") for p in Path("/proc").glob("[0-9]*/cmdline") if p.exists()
            )
        ),
        5,
    )
