"""packaging/build-deb.sh: the .deb builds lintian-clean, installs, works from /usr/sbin, and purges.

Installs on this machine (root), so it refuses to run over a fastalived that is already installed.
A policy-rc.d exiting 101 is in place while the package is installed, so nothing is started.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fastalived.daemon.status import fetch_status
from tests.support.netns import Testbed, unavailable_reason
from tests.support.testbed import global_defs_config, in_netns, stop_process_group, vrrp_instance_config, wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "packaging" / "build-deb.sh"
EXAMPLE_CONFIG = ROOT / "examples" / "keepalived.conf"
POLICY_RC = Path("/usr/sbin/policy-rc.d")
UNIT = Path("/lib/systemd/system/fastalived.service")
INSTALLED_PATHS = [
    Path("/usr/sbin/fastalived"),
    Path("/usr/lib/fastalived"),
    UNIT,
    Path("/etc/default/fastalived"),
    Path("/usr/share/man/man8/fastalived.8.gz"),
    Path("/usr/share/man/man5/fastalived.conf.5.gz"),
    Path("/usr/share/doc/fastalived"),
]
RUN_DIR = Path("/run/fastalived")  # the daemon's default run directory (dumps)
MAX_EXPOSURE = 5.0  # `systemd-analyze security` of the shipped unit; lower is better
CAP_SYS_ADMIN = 21  # linux/capability.h


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to install a package"
    for tool in ("dpkg-deb", "dpkg-shlibdeps", "git", "gcc", "python3.11"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if subprocess.run(["dpkg-query", "-W", "fastalived"], capture_output=True).returncode == 0:
        return "a fastalived package is already installed here; not touching it"
    if any(path.exists() for path in INSTALLED_PATHS):
        return "fastalived files already exist outside a package; not touching them"
    return None


def _run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@contextmanager
def _services_never_start() -> Iterator[None]:
    """A policy-rc.d that forbids starting services, unless the machine already has one."""
    if POLICY_RC.exists():
        yield
        return
    POLICY_RC.write_text("#!/bin/sh\n# fastalived package test: start nothing\nexit 101\n")
    POLICY_RC.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC.unlink()


def _purge() -> subprocess.CompletedProcess[str]:
    return _run("dpkg", "--purge", "fastalived", timeout=120)


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if reason := _skip_reason():
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("deb")
    result = _run(str(BUILD_SCRIPT), str(out), timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Path]:
    with _services_never_start():
        result = _run("dpkg", "-i", str(deb), timeout=120)
        try:
            assert result.returncode == 0, result.stdout + result.stderr
            yield deb
        finally:
            if _run("dpkg-query", "-W", "fastalived").returncode == 0:
                _purge()


def test_package_holds_the_daemon_unit_defaults_and_man_pages(deb: Path) -> None:
    listing = _run("dpkg-deb", "-c", str(deb)).stdout
    for path in INSTALLED_PATHS:
        assert f".{path}" in listing, path
    assert "/usr/lib/fastalived/lib/python3.11/site-packages/fastalived/_vrrp.cpython-311" in listing
    fields = _run("dpkg-deb", "-f", str(deb), "Package", "Depends", "Architecture").stdout
    assert "Package: fastalived" in fields and "python3.11" in fields and "libc6" in fields
    assert _run("dpkg-deb", "-I", str(deb), "conffiles").stdout.split() == ["/etc/default/fastalived"]


def test_lintian_finds_no_errors_or_warnings(deb: Path) -> None:
    if shutil.which("lintian") is None:
        pytest.skip("lintian not installed")
    result = _run("lintian", "--fail-on", "error,warning", str(deb), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not re.findall(r"^[EW]: .*", result.stdout, re.MULTILINE), result.stdout


def test_installed_binary_checks_configs_and_uses_the_compiled_codec(installed: Path, tmp_path: Path) -> None:
    clean = _run("/usr/sbin/fastalived", "-t", "-f", str(EXAMPLE_CONFIG))
    assert clean.returncode == 0, clean.stderr
    broken = tmp_path / "keepalived.conf"
    broken.write_text("vrrp_instance VI_1 {\n    virtual_router_id 300\n}\n")
    bad = _run("/usr/sbin/fastalived", "-t", "-f", str(broken))
    assert bad.returncode == 5 and f"{broken}:2:" in bad.stderr, bad.stderr
    version = _run("/usr/sbin/fastalived", "--version").stdout
    assert "VRRP codec: Cython extension" in version, version


def _ready_children(netns: str) -> dict[str, int] | None:
    """{role: pid} of the children that told the parent they are ready, via /status in ``netns``."""
    try:
        with in_netns(netns):
            children = fetch_status("127.0.0.1:9650")["parent"]["children"]
    except OSError:
        return None
    return {role: child["pid"] for role, child in children.items() if child["ready"]}


def _unit_sandbox() -> list[str]:
    """``setpriv`` arguments for the unit's NoNewPrivileges= and CapabilityBoundingSet=."""
    caps = next(line for line in UNIT.read_text().splitlines() if line.startswith("CapabilityBoundingSet="))
    keep = [f"+{cap.lower().removeprefix('cap_')}" for cap in caps.split("=", 1)[1].split()]
    assert "NoNewPrivileges=yes" in UNIT.read_text()
    return ["setpriv", "--nnp", f"--bounding-set={','.join(['-all', *keep])}"]


def test_installed_daemon_runs_within_the_units_capabilities(installed: Path, tmp_path: Path) -> None:
    """Both children start from the package's environment and VRRP takes its VIP, with no
    capability beyond the unit's bounding set."""
    if reason := unavailable_reason():
        pytest.skip(reason)
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    config = tmp_path / "keepalived.conf"
    config.write_text(
        global_defs_config("deb", "    fastalived_status_listen 127.0.0.1 9650\n")
        + vrrp_instance_config("VI_1", 1, 150, ["198.51.100.101/24"], advert_int=0.1, version=3)
        + "virtual_server 198.51.100.101 80 {\n    protocol TCP\n    real_server 198.51.100.12 80 {\n"
        "        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n}\n"
    )
    pid_flags = [arg for flag in ("-p", "-r", "-c") for arg in (flag, str(tmp_path / f"{flag[1]}.pid"))]
    had_run_dir = RUN_DIR.exists()
    with Testbed(1) as bed, (tmp_path / "daemon.log").open("wb") as log:
        node = bed.node(1)
        daemon = node.run(
            [*_unit_sandbox(), "/usr/sbin/fastalived", "-n", "-l", "-f", str(config), *pid_flags],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            children = wait_for(lambda: (c := _ready_children(node.netns)) and len(c) == 2 and c, 30, 0.2)
            assert children, (tmp_path / "daemon.log").read_text()
            for pid in children.values():
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                assert argv[0] == b"/usr/lib/fastalived/bin/python3", argv
                status = Path(f"/proc/{pid}/status").read_text()
                bounding = int(re.search(r"^CapBnd:\s+([0-9a-f]+)$", status, re.MULTILINE).group(1), 16)
                assert not bounding & (1 << CAP_SYS_ADMIN), "the sandbox was not applied"
            assert wait_for(lambda: node.has_address("198.51.100.101"), 15), (tmp_path / "daemon.log").read_text()
        finally:
            stop_process_group(daemon, 20)
            if not had_run_dir:
                shutil.rmtree(RUN_DIR, ignore_errors=True)


def test_unit_verifies_and_is_installed_disabled(installed: Path) -> None:
    result = _run("systemd-analyze", "verify", str(UNIT))
    assert result.returncode == 0, result.stderr
    assert "fastalived" not in result.stderr, result.stderr  # no warnings about our unit or binary
    assert "ExecStart=/usr/sbin/fastalived " in UNIT.read_text()
    assert not list(Path("/etc/systemd/system").glob("*.wants/fastalived.service"))


def test_unit_sandbox_exposure(installed: Path) -> None:
    result = _run("systemd-analyze", "security", "--offline=true", str(UNIT))
    match = re.search(r"Overall exposure level for fastalived.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_man_pages_render_without_warnings(installed: Path) -> None:
    for page in ("8 fastalived", "5 fastalived.conf"):
        section, name = page.split()
        result = _run("man", "--warnings", "-E", "UTF-8", "-Tutf8", "-Z", section, name)
        assert result.returncode == 0 and not result.stderr, (page, result.stderr)


def test_purge_leaves_nothing_behind(installed: Path) -> None:
    result = _purge()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [path for path in INSTALLED_PATHS if path.exists()] == []
