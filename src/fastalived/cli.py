"""keepalived-compatible command line: ``fastalived [keepalived flags]`` and ``fastalived status``.

The flags mirror ``keepalived --help`` so existing unit files and scripts keep working; the only
additions are ``--config`` (the design card's spelling of ``-f``), ``--dump-config`` (the resolved
model as JSON), ``--run-dir``, ``--log-format`` and the ``status`` and ``ctl`` sub-commands.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from fastalived import __version__
from fastalived._compat import extension_in_use
from fastalived.options import DEFAULT_CONFIG, DEFAULT_RUN_DIR, RunOptions

EXIT_CONFIG_ERROR = 5  # keepalived's exit status for a failed --config-test

# keepalived --signum names -> signal numbers (keepalived uses SIGRTMIN+2 for JSON, SIGRTMAX-1 to clear stats)
SIGNUMS = {
    "STOP": int(signal.SIGTERM),
    "RELOAD": int(signal.SIGHUP),
    "DATA": int(signal.SIGUSR1),
    "STATS": int(signal.SIGUSR2),
    "STATS_CLEAR": int(signal.SIGRTMAX) - 1,
    "JSON": int(signal.SIGRTMIN) + 2,
}


# keepalived 2.2.7 flags for features fastalived does not have (or needs no switch for): accepted so
# existing unit files and /etc/default/keepalived keep working, and said once in the log at start.
IGNORED_FLAGS: tuple[tuple[tuple[str, ...], int | str, str], ...] = (  # (flags, values, what the log says)
    (("-B", "--no_bfd"), 0, "no BFD child to leave out: track_bfd sessions run in the VRRP child"),
    (("--all",), 0, "children run only for the subsystems the configuration uses"),
    (("-e", "--all-config"), 0, "a missing include file is reported and loading goes on"),
    (("--flush-log-file",), 0, "log files are written line by line"),
    (("-X", "--release-vips"), 0, "VIPs are released on stop unless -V is given"),
    (("-a", "--address-monitoring"), 0, "address changes are always monitored"),
    (("-b", "--bfd_pid"), 1, "no BFD child (sessions run in the VRRP child), so no BFD pid file"),
    (("-x", "--snmp"), 0, "no SNMP agent: use the /metrics endpoint"),
    (("-A", "--snmp-agent-socket"), 1, "no SNMP agent: use the /metrics endpoint"),
    (("--no-mem-check",), 0, "no memory-check build"),
    (("-L", "--mem-check-log"), 0, "no memory-check build"),
    (("--config-fd",), 1, "the configuration is always read from its file"),
    (("--perf",), "?", "no perf build"),
    (("--debug",), "?", "no debug build"),
)


def _octal(text: str) -> int:
    return int(text, 8)


def version_text() -> str:
    impl = "Cython extension" if extension_in_use() else "pure Python (extension not in use)"
    return f"fastalived {__version__}\nVRRP codec: {impl}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fastalived",
        description="keepalived-compatible VRRP, health checking and IPVS director.",
        epilog="Sub-commands: 'fastalived status [--address HOST:PORT]' prints the running daemon's state; "
        "'fastalived ctl {status,maintenance,resume,drain,restore} ...' steers it at run time; "
    "'fastalived genhash -s IP -p PORT -u URL' (or -T first) prints the digest for an HTTP_GET url.",
    )
    p.add_argument("-f", "--use-file", "--config", dest="config_file", metavar="FILE", default=DEFAULT_CONFIG,
                   help=f"use the specified configuration file (default {DEFAULT_CONFIG})")
    p.add_argument("-P", "--vrrp", action="store_true", help="only run the VRRP subsystem")
    p.add_argument("-C", "--check", action="store_true", help="only run the health-checker subsystem")
    p.add_argument("-l", "--log-console", action="store_true", help="log messages to the console")
    p.add_argument("-D", "--log-detail", action="store_true", help="detailed log messages")
    p.add_argument("-G", "--no-syslog", action="store_true", help="do not log via syslog")
    p.add_argument("-S", "--log-facility", metavar="FACILITY", help="syslog facility (accepted for compatibility)")
    p.add_argument("-n", "--dont-fork", action="store_true", help="do not fork the daemon process")
    p.add_argument("-p", "--pid", dest="pid_file", metavar="FILE", help="pid file of the parent process")
    p.add_argument("-r", "--vrrp_pid", dest="vrrp_pid_file", metavar="FILE", help="pid file of the VRRP child")
    p.add_argument("-c", "--checkers_pid", dest="checkers_pid_file", metavar="FILE",
                   help="pid file of the checkers child")
    p.add_argument("-V", "--dont-release-vrrp", action="store_true",
                   help="do not remove VRRP VIPs and routes on daemon stop")
    p.add_argument("-I", "--dont-release-ipvs", action="store_true", help="do not remove IPVS topology on stop")
    p.add_argument("-R", "--dont-respawn", action="store_true", help="do not respawn child processes")
    p.add_argument("-d", "--dump-conf", action="store_true", help="log the resolved configuration at every load")
    p.add_argument("-g", "--log-file", nargs="?", const="/tmp/keepalived.log", metavar="FILE",
                   help="also log to FILE (default /tmp/keepalived.log); children add _vrrp / _healthcheckers")
    p.add_argument("-u", "--umask", type=_octal, metavar="MASK", help="umask for files we create (octal)")
    p.add_argument("-m", "--core-dump", action="store_true", help="produce a core dump if we terminate abnormally")
    p.add_argument("-M", "--core-dump-pattern", nargs="?", const="", metavar="PATTERN",
                   help="as -m; the kernel's core pattern is left unchanged")
    p.add_argument("-s", "--namespace", metavar="NAME", help="run in network namespace NAME (from 'ip netns add')")
    p.add_argument("--run-dir", default=DEFAULT_RUN_DIR, metavar="DIR",
                   help=f"dumps, persisted overrides and the control socket (default {DEFAULT_RUN_DIR})")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="console and file log lines as keepalived's text (default) or one JSON object each")
    for flags, arity, note in IGNORED_FLAGS:
        text = f"accepted for keepalived compatibility: {note}"
        if arity == 0:
            p.add_argument(*flags, action="store_const", const=True, help=text)
        elif arity == "?":
            p.add_argument(*flags, nargs="?", const="", help=text)
        else:
            p.add_argument(*flags, help=text)
    p.add_argument("-t", "--config-test", nargs="?", const="", default=None, metavar="LOG_FILE",
                   help="check the configuration and exit (problems to stderr or LOG_FILE)")
    p.add_argument("--dump-config", action="store_true", help="print the resolved configuration model as JSON")
    p.add_argument("-i", "--config-id", metavar="ID",
                   help="skip '@' lines not matching ID and '@^' lines that do (default: short host name)")
    p.add_argument("--signum", metavar="SIGFUNC", help="print the signal number for STOP, RELOAD, DATA, STATS, "
                   "STATS_CLEAR or JSON")
    p.add_argument("-v", "--version", action="store_true", help="display the version and the codec in use")
    return p


def options_from(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        config_file=args.config_file,
        config_id=args.config_id,
        dont_fork=args.dont_fork,
        log_console=args.log_console,
        log_detail=args.log_detail,
        no_syslog=args.no_syslog,
        log_facility=args.log_facility,
        vrrp_only=args.vrrp,
        check_only=args.check,
        pid_file=args.pid_file,
        vrrp_pid_file=args.vrrp_pid_file,
        checkers_pid_file=args.checkers_pid_file,
        dont_release_vrrp=args.dont_release_vrrp,
        dont_release_ipvs=args.dont_release_ipvs,
        dont_respawn=args.dont_respawn,
        log_file=args.log_file,
        log_format=args.log_format,
        run_dir=args.run_dir,
        dump_conf=args.dump_conf,
        namespace=args.namespace,
        umask=args.umask,
        compat_notes=tuple(
            f"{flags[-1]}: {note}"
            for flags, _, note in IGNORED_FLAGS
            if getattr(args, flags[-1].lstrip("-").replace("-", "_")) is not None
        )
        + (("--core-dump-pattern: core dumps enabled; the kernel's core pattern is left unchanged",)
           if args.core_dump_pattern else ()),
    )


def config_test(options: RunOptions, out: TextIO, dump_json: bool = False) -> int:
    """``-t``: print every problem once; 0 when clean, keepalived's 5 when anything is wrong."""
    # The check builds ~10^5 objects and no garbage cycles: with the cyclic GC on, the first
    # collection after the load walks them all for nothing (~0.1 s CPU for 10,000 real servers).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(options, out, dump_json)
    finally:  # the model is already freed (by reference counting) when the GC comes back
        if gc_was_enabled:
            gc.enable()


def _check(options: RunOptions, out: TextIO, dump_json: bool) -> int:
    from fastalived.config import dump_json as render_json
    from fastalived.config import load_config
    from fastalived.runtime import ipvs_kernel
    from fastalived.runtime.scripts import audit

    result = load_config(options.config_file, options.config_id)
    diagnostics = result.diagnostics + (audit(result.config) + ipvs_kernel.audit(result.config) if result.ok else [])
    for diagnostic in diagnostics:
        print(diagnostic, file=out)
    if dump_json and result.ok:
        print(render_json(result.config))
    problems = [d for d in diagnostics if d.severity in ("error", "warning")]
    return EXIT_CONFIG_ERROR if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["genhash"], ["-T"], ["--genhash"]):  # keepalived: -T must be the first option
        from fastalived.check.genhash import genhash_main

        return genhash_main(argv[1:])
    if argv[:1] == ["status"]:
        from fastalived.daemon.status import status_main

        return status_main(argv[1:])
    if argv[:1] == ["ctl"]:
        from fastalived.daemon.ctl import ctl_main

        return ctl_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.version:
        print(version_text())
        return 0
    if args.signum is not None:
        number = SIGNUMS.get(args.signum.upper())
        if number is None:
            print(f"Unknown sigfunc {args.signum}", file=sys.stderr)
            return 1
        print(number)
        return 0
    options = options_from(args)
    if args.config_test is not None or args.dump_config:
        if args.config_test:
            with open(args.config_test, "w", encoding="utf-8") as log:
                return config_test(options, log, args.dump_config)
        return config_test(options, sys.stderr, args.dump_config)
    if args.umask is not None:
        os.umask(args.umask)
    if args.core_dump or args.core_dump_pattern is not None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    try:
        from fastalived.daemon.supervisor import run
    except ImportError as exc:
        print(f"fastalived: the daemon is not available in this build ({exc})", file=sys.stderr)
        return 1
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
