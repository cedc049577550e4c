"""``track_file`` in VRRP end to end: a number written to a file moves the VIP (weight) or puts the
instance in FAULT (weight 0), seen through inotify without polling, as keepalived does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.netns.test_vrrp_scenarios import VIP, cluster, holders, instance, master_down, wait_holder
from tests.support.netns import wait_for

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

__all__ = ["cluster"]  # the fixture, shared with the scenario tests


def track_files(directory: Path) -> str:
    return (
        f"track_file weighted {{\n    file {directory / 'weighted'}\n    weight -60\n    init_file 0 overwrite\n}}\n"
        f"vrrp_track_file gate {{\n    file {directory / 'gate'}\n    init_file 0\n}}\n"
    )


def test_track_file_weight_moves_the_vip_and_weight_zero_faults(cluster, tmp_path: Path) -> None:
    (tmp_path / "weighted").write_text("7\n")  # overwritten with 0 at start by init_file ... overwrite
    track = "    track_file {\n        weighted\n        gate weight 0\n    }"
    bed, (n1, _) = cluster(
        [
            track_files(tmp_path) + instance("VI_1", 61, 150, [f"{VIP}/24"], extra=track),
            instance("VI_1", 61, 100, [f"{VIP}/24"]),
        ]
    )
    assert (tmp_path / "weighted").read_text().strip() == "0"
    assert (tmp_path / "gate").read_text().strip() == "0"
    assert wait_holder(bed, 1, 3), holders(bed)

    # 1 x -60: priority 90 < 100, the peer preempts.
    (tmp_path / "weighted").write_text("1\n")
    assert wait_holder(bed, 2, master_down(100) + 2), holders(bed)
    assert n1.states()[-1] == "BACKUP"

    # Back to 0 (replaced by rename, as tools do): priority 150 again, node 1 preempts back.
    (tmp_path / "weighted.new").write_text("0\n")
    (tmp_path / "weighted.new").rename(tmp_path / "weighted")
    assert wait_holder(bed, 1, master_down(150) + 2), holders(bed)

    # weight 0: any non-zero value is FAULT.
    (tmp_path / "gate").write_text("1\n")
    assert wait_for(lambda: n1.states()[-1] == "FAULT", 3), n1.states()
    assert wait_holder(bed, 2, master_down(100) + 2), holders(bed)
    (tmp_path / "gate").write_text("0\n")
    assert wait_holder(bed, 1, master_down(150) + 3), holders(bed)
