"""man/fastalived.8 and man/fastalived.conf.5 render cleanly and keep up with the CLI and the keywords."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fastalived.cli import EXIT_CONFIG_ERROR, SIGNUMS, build_parser

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "man"
CONFIG_SOURCES = ROOT / "src" / "fastalived" / "config"
COMMAND_PAGE = MAN / "fastalived.8"
CONFIG_PAGE = MAN / "fastalived.conf.5"


def _roff(text: str) -> str:
    """Roff source as the words a reader sees: ``\\-`` is a hyphen, font escapes dropped."""
    return re.sub(r"\\f[BIRP]", "", text.replace("\\-", "-"))


def _section(page: Path, title: str) -> str:
    match = re.search(rf"^\.SH {title}\n(.*?)(?=^\.SH |\Z)", page.read_text(), re.MULTILINE | re.DOTALL)
    assert match, f"{page.name} has no {title} section"
    return _roff(match.group(1))


@pytest.mark.skipif(shutil.which("man") is None, reason="man-db not installed")
@pytest.mark.parametrize("page", [COMMAND_PAGE, CONFIG_PAGE], ids=lambda p: p.name)
def test_page_renders_without_warnings(page: Path) -> None:
    """The same check lintian runs on installed pages."""
    result = subprocess.run(
        ["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LC_ALL": "C.UTF-8", "MANROFFSEQ": "", "MANWIDTH": "80", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0 and not result.stderr, result.stderr


def test_every_command_line_option_is_documented() -> None:
    options = _section(COMMAND_PAGE, "OPTIONS")
    for action in build_parser()._actions:
        for flag in action.option_strings:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", options), f"{flag} missing from OPTIONS"


def test_every_genhash_option_is_documented() -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "fastalived", "genhash", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    flags = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", usage.split("options:", 1)[1]))
    page = _roff(COMMAND_PAGE.read_text())
    subsection = page.split(".SS fastalived genhash", 1)[1].split(".SH ", 1)[0]
    assert "--use-ssl" in flags
    for flag in flags - {"-h", "--help"}:
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", subsection), f"genhash {flag} missing"


def test_every_signal_function_and_the_config_test_status_are_documented() -> None:
    signals = _section(COMMAND_PAGE, "SIGNALS")
    for name in SIGNUMS:
        assert re.search(rf"\b{name}\b", signals), f"--signum {name} missing from SIGNALS"
    assert re.search(rf"^\.B {EXIT_CONFIG_ERROR}$", _section(COMMAND_PAGE, "EXIT STATUS"), re.MULTILINE)


def test_config_page_documents_every_fastalived_keyword() -> None:
    """Keywords are the quoted ``fastalived_*`` names in the parser's keyword tables."""
    ours = {
        word
        for source in CONFIG_SOURCES.glob("*.py")
        for word in re.findall(r'"(fastalived_[a-z0-9_]+)"', source.read_text())
    }
    assert ours, "no fastalived_ keywords found in src/fastalived/config"
    page = CONFIG_PAGE.read_text()
    for keyword in ours:
        assert re.search(rf"^\.BI? {keyword}\b", page, re.MULTILINE), (
            f"{keyword} is not documented in {CONFIG_PAGE.name}"
        )
