"""Dump files: keepalived-like names, mode 0600, one format per signal."""

import errno
import json
import os
import stat

from fastalived.daemon.dumps import dump_path, format_dump, write_dump
from fastalived.options import RunOptions
from fastalived.runtime.role import Metric

SNAPSHOT = {"instances": [{"name": "VI_1", "state": "MASTER", "vips": ["198.51.100.1/24"]}], "generation": 3}
METRICS = [Metric("fastalived_vrrp_adverts_sent_total", 7, (("instance", "VI_1"),), "counter")]


def test_each_process_has_its_own_file_names(tmp_path) -> None:
    options = RunOptions(run_dir=str(tmp_path))
    assert dump_path(options, "vrrp", "data").name == "fastalived.data"
    assert dump_path(options, "vrrp", "json").name == "fastalived.json"
    assert dump_path(options, "check", "stats").name == "fastalived_check.stats"
    assert dump_path(options, "parent", "data").name == "fastalived_parent.data"


def test_written_with_mode_0600_even_over_a_looser_file(tmp_path) -> None:
    options = RunOptions(run_dir=str(tmp_path))
    existing = dump_path(options, "vrrp", "json")
    existing.write_text("old")
    os.chmod(existing, 0o644)
    path = write_dump(options, "vrrp", "json", SNAPSHOT, METRICS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == SNAPSHOT


def test_unwritable_run_dir_falls_back_to_tmpdir_then_tmp(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    options = RunOptions(run_dir=str(blocker / "run"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert dump_path(options, "vrrp", "data").parent == tmp_path
    monkeypatch.delenv("TMPDIR")
    assert str(dump_path(options, "vrrp", "data").parent) == "/tmp"


def test_a_failed_write_is_logged_and_leaves_no_temporary_file(tmp_path, monkeypatch, caplog) -> None:
    def disk_full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", disk_full)
    assert write_dump(RunOptions(run_dir=str(tmp_path)), "vrrp", "data", SNAPSHOT, METRICS) is None
    assert list(tmp_path.iterdir()) == []
    assert f"Cannot write the data dump {tmp_path}/fastalived.data: No space left on device" in caplog.text


def test_data_is_an_indented_tree_and_stats_are_samples() -> None:
    data = format_dump("data", "vrrp", SNAPSHOT, METRICS)
    assert " instances:" in data and "    name = VI_1" in data and "      - 198.51.100.1/24" in data
    stats = format_dump("stats", "vrrp", SNAPSHOT, METRICS)
    assert 'fastalived_vrrp_adverts_sent_total{instance="VI_1"} 7' in stats
