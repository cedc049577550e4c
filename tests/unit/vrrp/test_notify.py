"""Notify scripts and smtp_alert, against real child processes and a real aiosmtpd server."""

from __future__ import annotations

import asyncio
import os
import pwd
import socket
import time
from pathlib import Path

import pytest
import uvloop
from aiosmtpd.controller import Controller

from fastalived.config.model import Command, GlobalDefs, NotifyScripts
from fastalived.runtime.commands import command_argv, run_command
from fastalived.runtime.scripts import run_script
from fastalived.vrrp.notify import Notifier
from tests.support.host import process_alive

pytestmark = pytest.mark.timeout(30)


def write_script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_command_argv_splits_quoted_words() -> None:
    assert command_argv("/bin/echo 'a b' c") == ["/bin/echo", "a b", "c"]
    assert command_argv("/bin/echo 'unbalanced") == ["/bin/echo", "'unbalanced"]


def test_instance_notify_runs_state_script_then_generic_with_keepalived_argv(tmp_path: Path) -> None:
    log = tmp_path / "log"
    master = write_script(tmp_path / "master.sh", f'echo "master $#" >> {log}\n')
    generic = write_script(tmp_path / "notify.sh", f'echo "generic $*" >> {log}\n')

    async def scenario() -> None:
        notifier = Notifier(GlobalDefs())
        scripts = NotifyScripts(notify_master=Command(master), notify=Command(f"{generic} extra"))
        notifier.instance_changed("VI_1", scripts, "MASTER", 150)
        notifier.instance_changed("VI_1", scripts, "BACKUP", 150)
        notifier.group_changed("G1", NotifyScripts(notify=Command(generic)), "FAULT")
        await notifier.drain()

    uvloop.run(scenario())
    lines = log.read_text().splitlines()
    instance_lines = [ln for ln in lines if "G1" not in ln]
    assert instance_lines == [
        "master 0",
        "generic extra INSTANCE VI_1 MASTER 150",
        "generic extra INSTANCE VI_1 BACKUP 150",
    ]
    assert "generic GROUP G1 FAULT 0" in lines


def test_hung_script_is_killed_with_its_children_and_loop_keeps_running(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    hang = write_script(tmp_path / "hang.sh", f"sleep 30 &\necho $! > {pidfile}\nwait\n")

    async def scenario() -> tuple[int | None, float, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        started = time.monotonic()
        status = await run_command([hang], timeout=0.3)
        elapsed = time.monotonic() - started
        tick_task.cancel()
        return status, elapsed, ticks

    status, elapsed, ticks = uvloop.run(scenario())
    assert status is None
    assert elapsed < 2.0
    assert ticks >= 10  # the loop ran while the script hung
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 2  # SIGKILL is delivered asynchronously: allow it to land
    while process_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not process_alive(grandchild)


def test_script_user_is_applied_in_the_child() -> None:
    if os.geteuid() != 0:
        pytest.skip("switching users needs root")
    nobody = pwd.getpwnam("nobody")
    only_nobody = f'test $(id -u) = {nobody.pw_uid} && test "$(id -G)" = {nobody.pw_gid}'  # no supplementary groups
    check = ["/bin/sh", "-c", only_nobody]
    defaults = GlobalDefs(script_user="nobody")
    assert uvloop.run(run_script(check, 5, defaults)) == 0
    assert uvloop.run(run_script(["/bin/true"], 5, defaults, user="no-such-user-fa")) is None


def test_missing_script_does_not_raise() -> None:
    assert uvloop.run(run_command(["/nonexistent/fastalived-script"], timeout=1)) is None


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd cannot report an ephemeral port: pick a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def test_smtp_alert_is_delivered(smtp_server) -> None:
    inbox, port = smtp_server
    defs = GlobalDefs(
        notification_email=("ops@example.org", "noc@example.org"),
        notification_email_from="lb1@example.org",
        smtp_server="127.0.0.1",
        smtp_port=port,
        router_id="LB1",
        smtp_connect_timeout=5.0,
    )

    async def scenario() -> None:
        notifier = Notifier(defs)
        notifier.instance_changed("VI_1", NotifyScripts(smtp_alert=True), "MASTER", 100)
        await notifier.drain()

    uvloop.run(scenario())
    assert len(inbox.messages) == 1
    sender, rcpts, content = inbox.messages[0]
    assert sender == "lb1@example.org"
    assert rcpts == ["ops@example.org", "noc@example.org"]
    assert "Subject: [LB1] VRRP Instance VI_1 - Entering MASTER state" in content
    assert "now owning VRRP VIPs" in content


def test_unreachable_smtp_server_only_logs(caplog) -> None:
    defs = GlobalDefs(
        notification_email=("ops@example.org",), smtp_server="127.0.0.1", smtp_port=1, smtp_connect_timeout=1.0
    )

    async def scenario() -> None:
        notifier = Notifier(defs)
        notifier.instance_changed("VI_1", NotifyScripts(smtp_alert=True), "FAULT", 100)
        await notifier.drain()

    uvloop.run(scenario())
    assert "SMTP alert" in caplog.text
