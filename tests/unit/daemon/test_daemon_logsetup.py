"""Log routing: console (-l), syslog unless -G, keepalived's -S facility names."""

import logging
import logging.handlers
import os

import pytest

from fastalived.daemon import logsetup
from fastalived.options import RunOptions


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize(
    ("name", "facility"),
    [
        (None, "LOG_DAEMON"),
        ("daemon", "LOG_DAEMON"),
        ("user", "LOG_USER"),
        ("0", "LOG_LOCAL0"),
        ("local7", "LOG_LOCAL7"),
    ],
)
def test_facilities(name, facility) -> None:
    assert logsetup.syslog_facility(name) == getattr(logging.handlers.SysLogHandler, facility)


def test_unknown_facility_is_an_error() -> None:
    with pytest.raises(ValueError):
        logsetup.syslog_facility("local8")


def test_console_with_detail(capsys) -> None:
    logsetup.configure(RunOptions(log_console=True, no_syslog=True, log_detail=True), "vrrp")
    logging.getLogger("x").debug("(VI_1) Entering MASTER STATE")
    line = capsys.readouterr().err.strip()
    assert line.endswith(f"fastalived_vrrp[{os.getpid()}]: (VI_1) Entering MASTER STATE")


def test_no_console_no_syslog_is_silent(capsys) -> None:
    logsetup.configure(RunOptions(log_console=False, no_syslog=True), "parent")
    logging.getLogger("x").warning("nothing")
    assert capsys.readouterr().err == ""
    assert [type(h) for h in logging.getLogger().handlers] == [logging.NullHandler]


def test_json_log_format_is_one_object_a_line(capsys) -> None:
    import json

    logsetup.configure(RunOptions(log_console=True, no_syslog=True, log_format="json"), "check")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("fastalived.check").exception('say "hi"\nthere')
    (line,) = capsys.readouterr().err.strip().splitlines()
    entry = json.loads(line)
    assert entry["message"] == 'say "hi"\nthere' and entry["level"] == "error"
    assert entry["process"] == "fastalived_healthcheckers" and entry["pid"] == os.getpid()
    assert entry["logger"] == "fastalived.check" and "RuntimeError: boom" in entry["exception"]
    assert entry["time"][4] == "-" and entry["time"][10] == "T"


def test_a_namespace_is_appended_to_the_ident(capsys) -> None:
    logsetup.configure(RunOptions(log_console=True, no_syslog=True, namespace="blue"), "vrrp")
    logging.getLogger("x").info("hello")
    assert "fastalived_vrrp_blue[" in capsys.readouterr().err
