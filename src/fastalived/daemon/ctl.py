"""``fastalived ctl``: the client of the parent's control socket (:mod:`fastalived.daemon.control`).

Kept free of the daemon's imports (asyncio, the config model): it is a short-lived command, and
under slow CPUs (an emulated test guest) its start-up is most of its run time.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path
from typing import Any

from fastalived.options import DEFAULT_RUN_DIR

SOCKET_NAME = "fastalived.ctl"
CLIENT_TIMEOUT = 30.0  # the parent bounds its wait for a child; this only guards against a hung parent

Message = dict[str, Any]


def socket_path(run_dir: str) -> Path:
    return Path(run_dir) / SOCKET_NAME


def encode(message: Message) -> bytes:
    """One JSON line, the protocol's unit both ways."""
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def request(path: Path, message: Message, timeout: float = CLIENT_TIMEOUT) -> Message:
    """One request to the running daemon; OSError when it cannot be reached."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(encode(message))
        with sock.makefile("rb") as answer:
            line = answer.readline()
    if not line:
        raise ConnectionError("the daemon closed the connection without answering")
    reply: Message = json.loads(line)
    return reply


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastalived ctl", description="Steer the running daemon.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--run-dir", default=DEFAULT_RUN_DIR, help=f"the daemon's run directory (default {DEFAULT_RUN_DIR})"
    )
    where.add_argument("--socket", help=f"the control socket (default RUN_DIR/{SOCKET_NAME})")
    where.add_argument(
        "-s",
        "--namespace",
        metavar="NAME",
        help=f"the daemon runs in network namespace NAME (-s or net_namespace): RUN_DIR is {DEFAULT_RUN_DIR}/NAME",
    )
    parser.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")
    commands = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    commands.add_parser("status", help="the same tables as 'fastalived status'")
    for name, text in (
        ("maintenance", "hand the instance over (priority 0) and stay BACKUP until resumed"),
        ("resume", "end maintenance: the instance takes part in elections again"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("instance", help="vrrp_instance name")
        if name == "maintenance":
            command.add_argument("--persist", action="store_true", help="keep it across a daemon restart")
    for name, text in (
        ("drain", "weight 0 for new connections (existing ones stay); optional timeout, then removed"),
        ("restore", "end a drain: the checker's verdict and weight apply again"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("rs", metavar="REAL_SERVER", help="ADDR, ADDR:PORT or [ADDR]:PORT")
        command.add_argument(
            "--virtual-server",
            dest="vs",
            metavar="VS",
            help="only in this virtual_server (ADDR:PORT, ADDR, PROTO:ADDR:PORT, group, fwmark N)",
        )
        if name == "drain":
            command.add_argument(
                "--timeout", type=float, metavar="SECONDS", help="remove the real server from IPVS after this long"
            )
            command.add_argument("--persist", action="store_true", help="keep it across a daemon restart")
    return parser


def ctl_main(argv: list[str]) -> int:
    """``fastalived ctl ...``: 0 done (or nothing to do), 1 refused or unreachable, 2 usage."""
    args = build_parser().parse_args(argv)
    run_dir = str(Path(DEFAULT_RUN_DIR) / args.namespace) if args.namespace else args.run_dir
    path = Path(args.socket) if args.socket else socket_path(run_dir)
    local = ("run_dir", "socket", "json", "namespace")
    message = {key: value for key, value in vars(args).items() if key not in local}
    try:
        reply = request(path, {k: v for k, v in message.items() if v is not None and v is not False})
    except (OSError, ValueError) as exc:
        print(f"fastalived ctl: cannot reach the daemon at {path}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(reply, indent=2))
    elif "status" in reply:
        from fastalived.daemon.status import format_status

        sys.stdout.write(format_status(reply["status"]))
    else:
        for line in [*reply.get("changed", ()), *reply.get("notes", ())]:
            print(line)
    if not reply.get("ok"):
        print(f"fastalived ctl: {reply.get('error', 'refused')}", file=sys.stderr)
        return 1
    return 0
