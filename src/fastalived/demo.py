"""Two-node VRRP failover, for real, in throw-away network namespaces (``python -m fastalived.demo``).

The backup (priority 100) starts alone and takes the VIP; the master (priority 150) starts and
preempts it; the master's whole process group is SIGKILLed and the VIP drifts back to the backup.
Every state transition is printed from the nodes' own logs, and the failover is timed from the
kill to the kernel's RTM_NEWADDR for the VIP in the backup's namespace. Everything is torn down,
also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from dataclasses import dataclass

from fastalived.testbed import (
    Flavour,
    Testbed,
    VrrpDaemon,
    global_defs_config,
    unavailable_reason,
    vrrp_instance_config,
    wait_for,
)

VIP = "198.51.100.100"
VRID = 51
MASTER_PRIORITY, BACKUP_PRIORITY = 150, 100
_TRANSITION = re.compile(r"\((?P<instance>[^)]+)\) (?P<what>Entering \w+ STATE.*|sent 0 priority.*)")


@dataclass
class LogFollower:
    """Prints the transition lines a daemon logged since the last call, labelled with its role."""

    daemon: VrrpDaemon
    label: str
    offset: int = 0

    def print_new(self) -> None:
        text = self.daemon.log_text()
        for line in text[self.offset:].splitlines():
            if match := _TRANSITION.search(line):
                print(f"  {self.label:<24} ({match['instance']}) {match['what']}")
        self.offset = len(text)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fastalived.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--vrrp-version", type=int, choices=(2, 3), default=2,
                        help="2 (advert_int 1, auth PASS; the default) or 3 (no auth)")
    parser.add_argument("--advert-int", type=float, default=None,
                        help="seconds; default 1 for v2, 0.1 for v3 (v2 takes whole seconds only)")
    parser.add_argument("--daemon", choices=("fastalived", "keepalived"), default="fastalived",
                        help="run both nodes with this implementation (keepalived for comparison)")
    return parser.parse_args(argv)


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(version: int, advert_int: float, flavour: Flavour) -> int:
    auth = "fastaliv" if version == 2 else None
    master_down = 3 * advert_int + (256 - BACKUP_PRIORITY) / 256 * advert_int
    settle = 2 * master_down + 5  # generous bound for each observed outcome
    print(f"fastalived demo: {flavour} on both nodes, VRRPv{version}, advert_int {advert_int:g} s, "
          f"{'auth PASS' if auth else 'no auth'}, VRID {VRID}, VIP {VIP}/24")

    def config(router_id: str, priority: int) -> str:
        return global_defs_config(router_id) + vrrp_instance_config(
            "VI_1", VRID, priority, [f"{VIP}/24"], version=version, advert_int=advert_int,
            auth_pass=auth)

    with Testbed(2) as bed:
        master_node, backup_node = bed.node(1), bed.node(2)
        print(f"testbed {bed.tag}: node 1 {master_node.netns} {master_node.ipv4}, "
              f"node 2 {backup_node.netns} {backup_node.ipv4}, bridge {bed.bridge} in {bed.switch_netns}")
        backup = VrrpDaemon(backup_node, config("node2", BACKUP_PRIORITY), flavour, name="backup")
        master = VrrpDaemon(master_node, config("node1", MASTER_PRIORITY), flavour, name="master")
        backup_log = LogFollower(backup, f"node 2 (prio {BACKUP_PRIORITY})")
        master_log = LogFollower(master, f"node 1 (prio {MASTER_PRIORITY})")

        try:
            _step(f"node 2 (priority {BACKUP_PRIORITY}) starts alone")
            backup.start()
            if not wait_for(lambda: backup_node.has_address(VIP), settle):
                return _fail("node 2 never took the VIP", backup, master)
            backup_log.print_new()
            print(f"  VIP {VIP} is on node 2")

            _step(f"node 1 (priority {MASTER_PRIORITY}) starts and preempts")
            master.start()
            if not wait_for(lambda: master_node.has_address(VIP) and not backup_node.has_address(VIP),
                            settle):
                return _fail("node 1 did not take the VIP over", backup, master)
            time.sleep(min(0.5, 2 * advert_int))  # let node 2's "Entering BACKUP" line reach its log
            master_log.print_new()
            backup_log.print_new()
            print(f"  VIP {VIP} moved to node 1")

            _step("kill -9 of node 1's whole process group")
            with backup_node.watch_addresses() as watcher:
                killed_at = master.kill_group()
                taken = watcher.wait_added(VIP, settle)
            if taken is None:
                return _fail("node 2 did not take the VIP back", backup, master)
            time.sleep(min(0.5, 2 * advert_int))  # the VIP is added before "Entering MASTER" is logged
            backup_log.print_new()
            print(f"  VIP {VIP} back on node 2 {(taken.received_at - killed_at) * 1000:.1f} ms after "
                  f"the kill (RFC master_down_interval {master_down * 1000:.1f} ms from the last advert)")
            if master_node.has_address(VIP):
                print("  node 1 still holds its stale VIP: nothing removes it after a SIGKILL "
                      "(keepalived behaves the same)")
        finally:
            backup.close()
            master.close()
    print("\ntestbed torn down")
    return 0


def _fail(what: str, *daemons: VrrpDaemon) -> int:
    print(f"\nFAILED: {what}", file=sys.stderr)
    for daemon in daemons:
        print(f"--- {daemon.name} log\n{daemon.log_text()[-3000:]}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if reason := unavailable_reason():
        print(f"fastalived demo: cannot build the namespaces: {reason}", file=sys.stderr)
        return 2
    advert_int = args.advert_int if args.advert_int is not None else (1.0 if args.vrrp_version == 2 else 0.1)
    return run(args.vrrp_version, advert_int, args.daemon)


if __name__ == "__main__":
    # SIGTERM would skip every cleanup; as SystemExit it unwinds and tears the namespaces down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    sys.exit(main())
