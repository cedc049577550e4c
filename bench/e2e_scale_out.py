#!/usr/bin/env python3
"""Scale-out bench: announcements through real FRR to an ECMP router, in network namespaces.

usage (root, FRR installed): python bench/e2e_scale_out.py [--runs N]

Three directors (``fastalived -C``, HTTP_GET every 0.2 s against their own real server) announce
198.51.100.80/32 through zebra ``ip import-table`` + bgpd to a router with multipath and BFD
(100 ms x 3). Printed:
* start -> first announcement: fastalived started (BGP already up) until the route is in the
  director's table, and until the router's FIB holds that next hop;
* health failure -> route withdrawn on the router: a real server killed until its director's next
  hop is gone from the router's FIB (ms; ``--runs`` samples);
* graceful SIGTERM -> failed client requests: a client on the router opens a new connection per
  request to the VIP while one director gets SIGTERM; the director stops serving the moment its
  checker child (which removes the IPVS services) exits. With the drain (1.5 s) and without (0 s).
  A refused connection is one routed to a director that no longer serves (what the drain is for);
  a reset is a connection moved to another director when the router's ECMP set shrank, which
  here (no IPVS, so neither ``mh`` nor connection sync) nobody can take over;
* crash -> next hop gone: a director's link goes silent and everything on it is SIGKILLed; BFD
  100 ms x 3 takes its next hop out of the router's FIB;
* the classic glue for comparison: keepalived 2.2.7 with a ``vrrp_script`` (curl, every 1 s, the
  shortest keepalived allows, fall 1) and notify scripts running ``vtysh ... network VIP/32`` on
  each VRRP transition; health failure -> route withdrawn, measured the same way.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the testbed is not installed

from tests.support.ecmp import FAILED, ROUTER_AS, TABLE, VIP, EcmpBed, wait_bgp_established
from tests.support.frr import frr_unavailable
from tests.support.testbed import VrrpDaemon, unavailable_reason, wait_for

DRAIN = 1.5
DIRECTORS = 3


def _all_but(bed: EcmpBed, index: int | None) -> set[str]:
    """The router's next hops when every director but ``index`` announces."""
    return bed.director_addresses(*(i for i in range(bed.directors) if i != index))


def _ms(seconds: float | None) -> str:
    return "timeout" if seconds is None else f"{seconds * 1000:.0f}"


def _summary(samples: list[float | None]) -> str:
    good = [s for s in samples if s is not None]
    if not good:
        return "timeout"
    text = (
        f"{statistics.median(good) * 1000:.0f} (min {min(good) * 1000:.0f}, max {max(good) * 1000:.0f}, n={len(good)})"
    )
    return text + (f", {len(samples) - len(good)} timed out" if len(good) < len(samples) else "")


def start_to_announcement(bed: EcmpBed) -> tuple[float | None, float | None]:
    """Director 1 started after BGP is up: (seconds to its table route, seconds to the router's FIB)."""
    if not wait_bgp_established(bed.router_frr, bed.directors, 30):
        raise RuntimeError("BGP sessions did not come up")
    director = bed.fleet[0]
    started = director.start()

    def in_table() -> bool:
        out = subprocess.run(
            ["ip", "-n", director.node.netns, "route", "show", "table", str(TABLE)], capture_output=True, text=True
        ).stdout
        return VIP in out

    in_table_at = wait_for(in_table, 15, interval=0.002) and time.time()
    routed_at = bed.wait_next_hops(bed.director_addresses(0), 15)
    return (in_table_at - started if in_table_at else None), (routed_at - started if routed_at else None)


def health_failure(bed: EcmpBed, runs: int) -> list[float | None]:
    everyone, survivors = _all_but(bed, None), _all_but(bed, 0)
    samples: list[float | None] = []
    for _ in range(runs):
        if bed.wait_next_hops(everyone, 15) is None:
            raise RuntimeError(f"ECMP set incomplete: {bed.next_hops()}")
        time.sleep(0.3)
        failed = time.time()
        bed.stop_real_server(0)
        gone = bed.wait_next_hops(survivors, 10)
        samples.append(None if gone is None else gone - failed)
        bed.start_real_server(0)
    return samples


def sigterm_failures(bed: EcmpBed) -> str:
    """Client requests around a SIGTERM of director 1 that failed, by error, of all sent."""
    if bed.wait_next_hops(_all_but(bed, None), 15) is None:
        raise RuntimeError(f"ECMP set incomplete: {bed.next_hops()}")
    results: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            results.append(bed.get(timeout=2.0))

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.5)
    director = bed.fleet[0]
    check_child = director.check_pid()
    assert director.daemon is not None and director.vip_server is not None and check_child is not None
    director.daemon.terminate()
    # The checker child removes the IPVS services as it stops: the director stops serving then.
    wait_for(lambda: not Path(f"/proc/{check_child}").exists(), 30, interval=0.001)
    director.vip_server.kill()
    director.daemon.wait(30)
    time.sleep(1.0)
    stop.set()
    thread.join()
    failures = Counter(result.removeprefix(FAILED) for result in results if result.startswith(FAILED))
    kinds = ", ".join(f"{count} {kind}" for kind, count in failures.most_common())
    return f"{sum(failures.values())} of {len(results)}" + (f" ({kinds})" if kinds else "")


def crash(bed: EcmpBed) -> float | None:
    if bed.wait_next_hops(_all_but(bed, None), 15) is None:
        raise RuntimeError(f"ECMP set incomplete: {bed.next_hops()}")
    if not wait_for(lambda: bed.router_frr.vtysh("show bfd peers brief").count(" up ") == bed.directors, 15):
        raise RuntimeError("BFD sessions did not come up")
    crashed = bed.crash(1)
    gone = bed.wait_next_hops(_all_but(bed, 1), 5)
    return None if gone is None else gone - crashed


GLUE_CONFIG = """global_defs {{
    router_id {name}
    script_user root
}}
vrrp_script real_server {{
    script "/usr/bin/curl -sf -m 1 -o /dev/null http://{real}/"
    interval 1
    timeout 1
    fall 1
    rise 1
}}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id {vrid}
    priority 100
    advert_int 1
    track_script {{
        real_server
    }}
    notify_master "{script} announce"
    notify_backup "{script} withdraw"
    notify_fault "{script} withdraw"
    notify_stop "{script} withdraw"
}}
"""
GLUE_SCRIPT = """#!/bin/sh
# The classic glue: a VRRP transition edits bgpd's configuration through vtysh.
[ "$1" = announce ] && verb= || verb=no
exec vtysh --vty_socket {vty} -c "configure terminal" -c "router bgp {asn}" -c "no bgp network import-check" \\
    -c "address-family ipv4 unicast" -c "$verb network {vip}/32"
"""


def classic_glue(runs: int) -> list[float | None]:
    """Health failure -> withdrawn with keepalived + vrrp_script + a notify script calling vtysh."""
    with EcmpBed(directors=DIRECTORS) as bed:
        daemons: list[VrrpDaemon] = []
        try:
            for i, director in enumerate(bed.fleet):
                script = director.run_dir / "glue.sh"
                script.write_text(GLUE_SCRIPT.format(vty=director.frr.directory, asn=ROUTER_AS + 1 + i, vip=VIP))
                script.chmod(0o755)
                config = GLUE_CONFIG.format(name=f"glue{i + 1}", real=director.real_server, vrid=60 + i, script=script)
                daemon = VrrpDaemon(director.node, config, flavour="keepalived", run_dir=director.run_dir / "glue")
                daemons.append(daemon.start())
            return health_failure(bed, runs)
        finally:
            for daemon in daemons:
                daemon.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="health-failure samples (default 5)")
    args = parser.parse_args(argv)
    if reason := unavailable_reason() or frr_unavailable():
        print(f"not run: {reason}")
        return 1
    rows: list[tuple[str, str]] = []
    with EcmpBed(directors=DIRECTORS, drain=DRAIN, bfd=True) as bed:
        to_table, to_router = start_to_announcement(bed)
        rows.append(("start -> route in the director's table (ms)", _ms(to_table)))
        rows.append(("start -> next hop in the router's FIB (ms)", _ms(to_router)))
        for director in bed.fleet[1:]:
            director.start()
        rows.append(("health failure -> route withdrawn on the router (ms)", _summary(health_failure(bed, args.runs))))
        rows.append((f"graceful SIGTERM, drain {DRAIN:g} s -> failed requests", sigterm_failures(bed)))
    with EcmpBed(directors=DIRECTORS, drain=0, bfd=True) as bed:
        for director in bed.fleet:
            director.start()
        rows.append(("graceful SIGTERM, drain 0 s -> failed requests", sigterm_failures(bed)))
        bed.fleet[0].start()  # back to two next hops for the crash
        rows.append(("crash -> next hop gone, BFD 100 ms x 3 (ms)", _ms(crash(bed))))
    rows.append(("classic glue: health failure -> withdrawn (ms)", _summary(classic_glue(args.runs))))
    width = max(len(name) for name, _ in rows)
    print(f"\nscale-out behind ECMP (FRR {_frr_version()}), {DIRECTORS} directors")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    return 0


def _frr_version() -> str:
    out = subprocess.run(["/usr/lib/frr/bgpd", "--version"], capture_output=True, text=True).stdout
    return out.split()[2] if len(out.split()) > 2 else "?"


if __name__ == "__main__":
    sys.exit(main())
