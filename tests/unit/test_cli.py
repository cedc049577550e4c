"""The keepalived-compatible command line, run as users run it: the installed console script."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fastalived.cli import EXIT_CONFIG_ERROR, main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "keepalived.conf"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("fastalived", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "fastalived"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60, check=False)


def test_version_names_the_codec_in_use() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("fastalived ")
    assert "VRRP codec: " in proc.stdout


def test_version_reports_pure_python_when_extensions_disabled(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("fastalived.cli.extension_in_use", lambda: False)
    assert main(["-v"]) == 0
    assert "pure Python" in capsys.readouterr().out


@pytest.mark.parametrize(("name", "number"), [("STOP", "15"), ("RELOAD", "1"), ("DATA", "10"), ("STATS", "12"),
                                              ("JSON", "36"), ("STATS_CLEAR", "63")])
def test_signum_matches_keepalived(name: str, number: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--signum", name]) == 0
    assert capsys.readouterr().out.strip() == number


def test_unknown_signum_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--signum", "TDATA"]) == 1
    assert "Unknown sigfunc TDATA" in capsys.readouterr().err


def test_config_test_accepts_the_shipped_example() -> None:
    proc = run_cli("-t", "-f", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_config_test_reports_file_line_and_fails(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    priority 300\n"
                    "    virtual_ipaddress {\n        198.51.100.1\n    }\n}\n")
    proc = run_cli("--config-test", "--config", str(conf))
    assert proc.returncode == EXIT_CONFIG_ERROR
    assert f"{conf}:4:" in proc.stderr
    assert "priority" in proc.stderr


def test_config_test_writes_to_the_named_log_file(tmp_path: Path) -> None:
    conf = tmp_path / "unknown.conf"
    conf.write_text("global_defs {\n    frobnicate_level 3\n}\n")
    log = tmp_path / "test.log"
    proc = run_cli(f"--config-test={log}", "-f", str(conf))
    assert proc.returncode == EXIT_CONFIG_ERROR
    assert "frobnicate_level" in log.read_text()


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    proc = run_cli("-t", "-f", str(tmp_path / "does_not_exist.conf"))
    assert proc.returncode == EXIT_CONFIG_ERROR
    assert "does_not_exist.conf" in proc.stderr


def test_dump_config_prints_the_model_as_json() -> None:
    import json

    proc = run_cli("--dump-config", "-f", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    model = json.loads(proc.stdout)
    assert model["vrrp_instances"][0]["name"] == "VI_1"
    assert model["vrrp_instances"][0]["virtual_router_id"] == 51


def test_flags_without_a_feature_are_named_for_the_log() -> None:
    """keepalived flags fastalived accepts but cannot honour are never silently dropped."""
    from fastalived.cli import IGNORED_FLAGS, build_parser, options_from

    argv = ["-x", "-B", "-b", "/run/bfd.pid", "--perf", "-M", "/tmp/core.%p"]
    notes = options_from(build_parser().parse_args(argv)).compat_notes
    assert [note.split(":")[0] for note in notes] == ["--no_bfd", "--bfd_pid", "--snmp", "--perf",
                                                      "--core-dump-pattern"]
    assert len({flags[-1] for flags, _, _ in IGNORED_FLAGS}) == len(IGNORED_FLAGS)
    assert options_from(build_parser().parse_args([])).compat_notes == ()
