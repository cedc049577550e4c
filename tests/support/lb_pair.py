"""The scenario fastalived is built for: an HAProxy pair behind one VIP, failed over under real traffic.

Five namespaces on one bridge: ``lb1`` and ``lb2`` each run the real HAProxy (same pool) and a VRRP
daemon (fastalived or keepalived, from the same keepalived.conf: MASTER/BACKUP, a weighted
``vrrp_script`` that checks *this node's* haproxy through its pid file, ``track_script``, a logging
``notify`` script, ``auth_type PASS`` on VRRPv2, ``unicast_src_ip``/``unicast_peer``); ``web1`` and
``web2`` serve HTTP in 203.0.113.0/24; ``client`` sends a paced request loop to the VIP
(``http_probe.py``). Faults are injected one after the other and each step lasts until the client is
served cleanly through the expected load balancer again. Everything lives in throw-away namespaces
that ``Testbed`` tears down, also on Ctrl-C; only processes started here are ever signalled.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .testbed import Flavour, Node, Testbed, VrrpDaemon, in_netns, wait_for

VIP = "198.51.100.100"
VRID = 51
AUTH_PASS = "fastaliv"
TRACK_WEIGHT = 2
PRIORITY = {"lb1": 101, "lb2": 100}
STATE = {"lb1": "MASTER", "lb2": "BACKUP"}
FRONT = {"lb1": "198.51.100.11", "lb2": "198.51.100.12", "client": "198.51.100.50"}
BACK = {"lb1": "203.0.113.11", "lb2": "203.0.113.12", "web1": "203.0.113.21", "web2": "203.0.113.22"}
ROLES = ("lb1", "lb2", "web1", "web2", "client")
PROBE_SCRIPT = Path(__file__).with_name("http_probe.py")


@dataclass(frozen=True)
class Timings:
    """Every interval of one run: VRRP, the tracked script, HAProxy's checks and the client's pace."""

    vrrp_version: int
    advert_int: float
    script_interval: float
    script_fall: int
    script_rise: int
    check_inter: float  # HAProxy's health-check interval for the web servers, seconds
    check_fall: int
    request_interval: float
    request_timeout: float
    settle: float  # clean traffic through the expected path, seconds, that closes a step

    def master_down(self, priority: int) -> float:
        """RFC master_down_interval of a backup at ``priority``: 3 adverts plus its skew."""
        return 3 * self.advert_int + (256 - priority) / 256 * self.advert_int

    def describe(self) -> str:
        auth = ", auth PASS" if self.vrrp_version == 2 else ""
        return (
            f"VRRPv{self.vrrp_version} advert_int {self.advert_int:g} s{auth}, chk_haproxy every "
            f"{self.script_interval:g} s (fall {self.script_fall}, rise {self.script_rise}, weight "
            f"{TRACK_WEIGHT}), HAProxy checks every {self.check_inter:g} s (fall {self.check_fall}), "
            f"one request every {self.request_interval * 1000:g} ms (timeout {self.request_timeout:g} s)"
        )


DEMO_TIMINGS = Timings(
    vrrp_version=2,
    advert_int=1.0,
    script_interval=1.0,
    script_fall=2,
    script_rise=2,
    check_inter=0.5,
    check_fall=2,
    request_interval=0.05,
    request_timeout=1.0,
    settle=1.0,
)
# keepalived 2.2.7 takes whole seconds only for a vrrp_script interval ("invalid number '0.2'" -> 1 s)
QUICK_TIMINGS = Timings(
    vrrp_version=3,
    advert_int=0.1,
    script_interval=1,
    script_fall=1,
    script_rise=1,
    check_inter=0.2,
    check_fall=2,
    request_interval=0.02,
    request_timeout=0.5,
    settle=0.4,
)


class ScenarioFailed(RuntimeError):
    """An expected outcome (VIP holder, traffic path) did not happen in time; carries the logs."""


@dataclass(frozen=True, slots=True)
class Request:
    """One request of the client as it reported it (``started`` is its ``time.time()``)."""

    started: float
    outcome: str
    lb: str | None = None
    web: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def clean_tail(requests: Sequence[Request], via: str, web: str | None) -> list[Request]:
    """The unbroken run of answers via load balancer ``via`` (and web server ``web`` if set) that ends ``requests``."""
    tail: list[Request] = []
    for request in reversed(requests):
        if not (request.ok and request.lb == via and web in (None, request.web)):
            break
        tail.append(request)
    return tail[::-1]


@dataclass
class StepResult:
    """One step: the fault, what the kernel and the daemons did, and what the client saw."""

    title: str
    fault_at: float
    ended: float
    vip_on: tuple[str, ...]  # load balancers holding the VIP at the end of the step (kernel view)
    served_before: str | None  # load balancer that answered the last request before the fault
    via: str  # load balancer that answers once the step is over
    web: str | None  # the one web server expected to answer then (None: any)
    daemon_delay: float | None  # fault -> the VIP's RTM_NEWADDR on the new holder (or HAProxy's verdict)
    daemon_event: str  # what ``daemon_delay`` measured
    explanation: str  # the VRRP / HAProxy timing that explains the numbers
    expected: float | None  # the upper bound that timing predicts, seconds
    requests: list[Request] = field(default_factory=list)

    @property
    def failures(self) -> Counter[str]:
        return Counter(r.outcome for r in self.requests if not r.ok)

    @property
    def clean_run(self) -> list[Request]:
        """The unbroken run of answers via the expected path that ends the step."""
        return clean_tail(self.requests, self.via, self.web)

    @property
    def recovery(self) -> float:
        """Fault -> start of ``clean_run`` (client view)."""
        run = self.clean_run
        return max(0.0, (run[0].started if run else self.ended) - self.fault_at)

    @property
    def webs_after(self) -> set[str]:
        """Web servers that answered in ``clean_run``."""
        return {r.web for r in self.clean_run if r.web}

    @property
    def outage(self) -> float:
        """First failed request -> the first answer after the last failed one; 0 when none failed (client view)."""
        failed = [r.started for r in self.requests if not r.ok]
        if not failed:
            return 0.0
        after = [r.started for r in self.requests if r.ok and r.started > failed[-1]]
        return (after[0] if after else self.ended) - failed[0]


@dataclass
class ScenarioResult:
    flavour: Flavour
    timings: Timings
    testbed_tag: str  # every namespace of the run is named "<tag>-..."
    steps: list[StepResult]
    notify_lines: dict[str, list[str]]


class Client:
    """The probe process in the client namespace plus a thread collecting its JSON lines."""

    def __init__(self, node: Node, timings: Timings, bound: float) -> None:
        self.requests: list[Request] = []
        self.proc = node.run(
            [
                sys.executable,
                str(PROBE_SCRIPT),
                VIP,
                "--interval",
                str(timings.request_interval),
                "--timeout",
                str(timings.request_timeout),
                "--duration",
                str(bound),
            ],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, name="http-probe-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            record = json.loads(line)
            self.requests.append(Request(record["t"], record["outcome"], record.get("lb"), record.get("web")))

    def since(self, started: float) -> list[Request]:
        return sorted((r for r in list(self.requests) if r.started >= started), key=lambda r: r.started)

    def last_ok(self, before: float) -> Request | None:
        answered = [r for r in list(self.requests) if r.ok and r.started < before]
        return max(answered, key=lambda r: r.started) if answered else None

    def clean_since(self, started: float, via: str, web: str | None, span: float) -> bool:
        """Has every request of the last ``span`` seconds (at least 3) been answered via ``via`` (and ``web``)?"""
        tail = clean_tail(self.since(started), via, web)
        return len(tail) >= 3 and tail[-1].started - tail[0].started >= span

    def stop(self) -> None:
        """SIGTERM (the probe finishes its requests in flight), then collect every line."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)


def _tcp_listens(node: Node, host: str, port: int) -> bool:
    """Does ``host:port`` accept a connection from inside ``node``?"""
    with in_netns(node.netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


class LbPair:
    """Builds the five namespaces, runs the steps, and reports each one through ``say`` as it happens."""

    def __init__(self, flavour: Flavour, timings: Timings, workdir: Path, say: Callable[[str], None] = print) -> None:
        self.flavour = flavour
        self.timings = timings
        self.workdir = workdir
        self.say = say
        self.bed = Testbed(len(ROLES), prefix="lb", ipv4=[FRONT.get(r) or BACK[r] for r in ROLES])
        self.nodes = dict(zip(ROLES, self.bed.nodes, strict=True))
        self.web: dict[str, subprocess.Popen[bytes]] = {}
        self.haproxy: dict[str, subprocess.Popen[bytes]] = {}
        self.daemons: dict[str, VrrpDaemon] = {}
        self.client: Client | None = None
        self.started_at = time.time()
        self._notify_seen: dict[str, int] = {}

    # ---------------------------------------------------------------- building blocks
    def _dir(self, role: str) -> Path:
        path = self.workdir / role
        path.mkdir(exist_ok=True)
        return path

    def start_web(self, role: str) -> None:
        docroot = self._dir(role) / "www"
        docroot.mkdir(exist_ok=True)
        (docroot / "index.html").write_text(f"{role}\n")
        self.web[role] = self.nodes[role].run(
            [sys.executable, "-m", "http.server", "--bind", BACK[role], "--directory", str(docroot), "80"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def haproxy_config(self, role: str) -> str:
        t = self.timings
        inter = max(1, round(t.check_inter * 1000))
        servers = "".join(f"    server {web} {BACK[web]}:80\n" for web in ("web1", "web2"))
        return (
            "global\n"
            "    log stderr format raw local0 notice\n"
            "defaults\n"
            "    mode http\n"
            "    log global\n"
            "    option dontlog-normal\n"
            f"    timeout connect {max(100, round(t.request_timeout * 500))}ms\n"
            "    timeout client 5s\n"
            "    timeout server 5s\n"
            "    retries 2\n"
            "    option redispatch 1  # a refused connection is retried on another server at once\n"
            "frontend www\n"
            "    bind :80\n"
            f"    http-response set-header X-Load-Balancer {role}\n"
            "    default_backend web\n"
            "backend web\n"
            "    balance roundrobin\n"
            "    option httpchk GET /\n"
            f"    default-server check inter {inter}ms fall {t.check_fall} rise 2\n"
            f"{servers}"
        )

    def haproxy_pidfile(self, role: str) -> Path:
        return self._dir(role) / "haproxy.pid"

    def haproxy_log(self, role: str) -> Path:
        return self._dir(role) / "haproxy.log"

    def start_haproxy(self, role: str) -> float:
        """Start this node's haproxy (foreground) and record its pid where chk_haproxy looks."""
        config = self._dir(role) / "haproxy.cfg"
        config.write_text(self.haproxy_config(role))
        started = time.time()
        with self.haproxy_log(role).open("ab") as log:
            proc = self.nodes[role].run(
                ["haproxy", "-db", "-f", str(config)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.haproxy[role] = proc
        self.haproxy_pidfile(role).write_text(f"{proc.pid}\n")  # `ip netns exec` execs: this is haproxy
        return started

    def kill(self, procs: dict[str, subprocess.Popen[bytes]], role: str) -> float:
        """SIGKILL one process started here and reap it (an unreaped zombie would still pass ``kill -0``)."""
        proc = procs.pop(role)
        killed_at = time.time()
        proc.kill()
        proc.wait()
        return killed_at

    def vrrp_config(self, role: str) -> str:
        t = self.timings
        peer = FRONT["lb2" if role == "lb1" else "lb1"]
        node_dir = self._dir(role)
        check = _executable(
            node_dir / "chk_haproxy.sh",
            (
                "#!/bin/sh\n"
                "# this node's haproxy only: killall/pidof would see every namespace's processes\n"
                f'exec kill -0 "$(cat {self.haproxy_pidfile(role)})" 2>/dev/null\n'
            ),
        )
        notify = _executable(
            node_dir / "notify.sh", (f'#!/bin/sh\necho "$(date +%s.%N) $*" >> {node_dir / "notify.log"}\n')
        )
        auth = (
            (f"    authentication {{\n        auth_type PASS\n        auth_pass {AUTH_PASS}\n    }}\n")
            if t.vrrp_version == 2
            else ""
        )
        return (
            "global_defs {\n"
            f"    router_id {role}\n"
            "    enable_script_security\n"
            "    script_user root\n"
            "}\n\n"
            "vrrp_script chk_haproxy {\n"
            f'    script "{check}"\n'
            f"    interval {t.script_interval:g}\n"
            f"    weight {TRACK_WEIGHT}\n"
            f"    fall {t.script_fall}\n"
            f"    rise {t.script_rise}\n"
            "}\n\n"
            "vrrp_instance VI_1 {\n"
            f"    state {STATE[role]}\n"
            "    interface eth0\n"
            f"    virtual_router_id {VRID}\n"
            f"    priority {PRIORITY[role]}\n"
            f"    advert_int {t.advert_int:g}\n"
            f"    version {t.vrrp_version}\n"
            f"{auth}"
            f"    unicast_src_ip {FRONT[role]}\n"
            f"    unicast_peer {{\n        {peer}\n    }}\n"
            f"    virtual_ipaddress {{\n        {VIP}/24 dev eth0\n    }}\n"
            "    track_script {\n        chk_haproxy\n    }\n"
            f"    notify {notify}\n"
            "}\n"
        )

    def start_vrrp(self, role: str) -> None:
        daemon = VrrpDaemon(
            self.nodes[role],
            self.vrrp_config(role),
            self.flavour,
            name=f"{role}-{self.flavour}",
            run_dir=self._dir(role) / "vrrp",
        )
        self.daemons[role] = daemon.start()

    def vip_on(self) -> tuple[str, ...]:
        return tuple(role for role in ("lb1", "lb2") if self.nodes[role].has_address(VIP))

    def notify_lines(self, role: str) -> list[str]:
        try:
            text = (self._dir(role) / "notify.log").read_text()
        except FileNotFoundError:
            return []
        return text.split("\n")[:-1]  # a line still being written has no newline yet

    def echo_notify(self) -> None:
        """Print the notify lines the daemons logged since the last call, in time order from scenario start."""
        fresh: list[tuple[float, str, str]] = []
        for role in ("lb1", "lb2"):
            lines = self.notify_lines(role)
            for line in lines[self._notify_seen.get(role, 0) :]:
                stamp, _, args = line.partition(" ")
                fresh.append((float(stamp), role, args))
            self._notify_seen[role] = len(lines)
        for logged_at, role, args in sorted(fresh):
            self.say(f"  t+{logged_at - self.started_at:6.2f}s  {role} notify: {args}")

    def wait(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        """Wait for an observed outcome, echoing notify lines meanwhile; ScenarioFailed with the logs otherwise."""

        def check() -> object:
            self.echo_notify()
            return predicate()

        if not wait_for(check, timeout, interval=0.02):
            raise ScenarioFailed(f"{what} (waited {timeout:g} s)\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for role, daemon in self.daemons.items():
            parts.append(f"--- {role} {self.flavour} log (tail)\n{daemon.log_text()[-2500:]}")
        for role in ("lb1", "lb2"):
            if self.haproxy_log(role).exists():
                parts.append(f"--- {role} haproxy log (tail)\n{self.haproxy_log(role).read_text()[-800:]}")
        return "\n".join(parts)

    # ---------------------------------------------------------------- the scenario
    def bound(self, expected: float) -> float:
        return 3 * expected + 10

    def step(
        self,
        title: str,
        fault: Callable[[], float],
        *,
        via: str,
        explanation: str,
        expected: float,
        vip_to: str | None = None,
        web: str | None = None,
        verdict: tuple[str, Callable[[], bool]] | None = None,
    ) -> StepResult:
        """Inject ``fault``, then wait for the VIP on ``vip_to`` (timed from the kernel's address event)
        or for ``verdict``, then for clean traffic via ``via``."""
        assert self.client is not None
        self.say(f"\n== {title}")
        before = self.client.last_ok(time.time())
        watcher = self.nodes[vip_to].watch_addresses() if vip_to else None
        try:
            fault_at = fault()
            delay, event = None, ""
            if watcher is not None:
                taken = watcher.wait_added(VIP, self.bound(expected))
                self.echo_notify()
                if taken is None:
                    raise ScenarioFailed(f"{vip_to} never took the VIP\n{self.logs()}")
                delay, event = taken.received_at - fault_at, f"VIP added on {vip_to}"
            elif verdict is not None:
                event, decided = verdict
                self.wait(decided, self.bound(expected), event)
                delay = time.time() - fault_at
        finally:
            if watcher is not None:
                watcher.close()
        if delay is not None:
            self.say(f"  {event} {delay:.2f} s after the fault")
        self.wait(
            lambda: self.client is not None and self.client.clean_since(fault_at, via, web, self.timings.settle),
            self.bound(expected),
            f"traffic never settled via {via}" + (f" and {web}" if web else ""),
        )
        ended = time.time()
        result = StepResult(
            title,
            fault_at,
            ended,
            self.vip_on(),
            before.lb if before else None,
            via,
            web,
            delay,
            event,
            explanation,
            expected,
        )
        result.requests = [r for r in self.client.since(fault_at) if r.started < ended]
        failed = result.failures
        failed_text = ", ".join(f"{n} {kind}" for kind, n in sorted(failed.items())) or "none failed"
        self.say(
            f"  client: {len(result.requests)} requests ({failed_text}, outage {result.outage:.2f} s);"
            f" served via {via}{' by ' + web if web else ''} from {result.recovery:.2f} s after the fault;"
            f" VIP on {', '.join(result.vip_on) or 'nobody'}"
        )
        return result

    def bring_up(self) -> StepResult:
        """Web servers, both HAProxies, lb1's daemon (MASTER), then lb2's (BACKUP), then the client."""
        t = self.timings
        self.say("\n== both load balancers up")
        for node_role in ("lb1", "lb2"):
            self.nodes[node_role].add_address(f"{BACK[node_role]}/24")
        for role in ("web1", "web2"):
            self.start_web(role)
        for role in ("web1", "web2"):
            self.wait(partial(_tcp_listens, self.nodes[role], BACK[role], 80), 15, f"{role} never listened")
        for role in ("lb1", "lb2"):
            self.start_haproxy(role)
            self.wait(partial(_tcp_listens, self.nodes[role], "127.0.0.1", 80), 15, f"{role}'s haproxy never listened")
        self.say(f"  web1 {BACK['web1']}, web2 {BACK['web2']} serving; haproxy up on lb1 and lb2")
        started = time.time()
        self.start_vrrp("lb1")
        self.wait(
            lambda: self.vip_on() == ("lb1",), self.bound(t.master_down(PRIORITY["lb1"])), "lb1 never took the VIP"
        )
        # lb1 reaches its tracked priority before its peer appears, so lb2 never preempts at start-up
        time.sleep((t.script_rise + 1) * t.script_interval)
        self.start_vrrp("lb2")
        self.wait(lambda: any(" BACKUP " in line for line in self.notify_lines("lb2")), 15, "lb2 never entered BACKUP")
        self.client = Client(self.nodes["client"], t, bound=300)
        self.wait(
            lambda: self.client is not None and self.client.clean_since(started, "lb1", None, t.settle),
            20,
            "the client was never served via lb1",
        )
        ended = time.time()
        result = StepResult(
            "both up, traffic via lb1", started, ended, self.vip_on(), None, "lb1", None, None, "", "", None
        )
        result.requests = [r for r in self.client.since(started) if r.started < ended]
        self.say(f"  client served via lb1 by {', '.join(sorted(result.webs_after))}; VIP on lb1")
        return result

    def run(self) -> ScenarioResult:
        t = self.timings
        prio = {role: PRIORITY[role] + TRACK_WEIGHT for role in ("lb1", "lb2")}  # both scripts healthy
        steps = [self.bring_up()]
        detect_down = t.script_fall * t.script_interval
        steps.append(
            self.step(
                "HAProxy killed on lb1",
                lambda: self.kill(self.haproxy, "lb1"),
                via="lb2",
                vip_to="lb2",
                expected=detect_down + t.master_down(prio["lb2"]),
                explanation=(
                    f"chk_haproxy fails {t.script_fall}x{t.script_interval:g} s -> lb1 {prio['lb1']}->"
                    f"{PRIORITY['lb1']} < lb2 {prio['lb2']}; lb2 ignores the lower adverts until its "
                    f"master_down {t.master_down(prio['lb2']):.2f} s"
                ),
            )
        )
        steps.append(
            self.step(
                "HAProxy back on lb1",
                lambda: self.start_haproxy("lb1"),
                via="lb1",
                vip_to="lb1",
                expected=t.script_rise * t.script_interval + t.master_down(prio["lb1"]),
                explanation=(
                    f"chk_haproxy succeeds {t.script_rise}x{t.script_interval:g} s -> lb1 back to "
                    f"{prio['lb1']} > {prio['lb2']}, preempts after its master_down "
                    f"{t.master_down(prio['lb1']):.2f} s"
                ),
            )
        )
        steps.append(
            self.step(
                "kill -9 of lb1's VRRP daemon",
                self.daemons["lb1"].kill_group,
                via="lb2",
                vip_to="lb2",
                expected=t.master_down(prio["lb2"]),
                explanation=(
                    f"adverts stop; lb2 waits master_down 3x{t.advert_int:g}+skew = "
                    f"{t.master_down(prio['lb2']):.2f} s; lb1's haproxy keeps answering until lb2's GARP"
                ),
            )
        )
        if "lb1" in self.vip_on():
            self.say("  lb1 still holds its stale VIP: nothing removes it after a SIGKILL (keepalived does the same)")
        steps.append(
            self.step(
                "web server web1 dies",
                lambda: self.kill(self.web, "web1"),
                via="lb2",
                web="web2",
                expected=t.check_fall * t.check_inter,
                verdict=(
                    "HAProxy on lb2 marked web1 DOWN",
                    lambda: "web1 is DOWN" in self.haproxy_log("lb2").read_text(errors="replace"),
                ),
                explanation=(
                    f"HAProxy's check fails {t.check_fall}x{t.check_inter:g} s; meanwhile "
                    "'option redispatch' retries refused connections on web2"
                ),
            )
        )
        assert self.client is not None
        self.client.stop()
        for result in steps:  # late answers (timeouts) arrive after their step ended
            result.requests = [r for r in self.client.since(result.fault_at) if r.started < result.ended]
        return ScenarioResult(self.flavour, t, self.bed.tag, steps, {r: self.notify_lines(r) for r in ("lb1", "lb2")})

    def close(self) -> None:
        """Stop what was started here (client, daemons, haproxy, web servers), then the namespaces."""
        try:
            if self.client is not None:
                self.client.stop()
            for daemon in self.daemons.values():
                daemon.close()
            for procs in (self.haproxy, self.web):
                for role in list(procs):
                    self.kill(procs, role)
        finally:
            self.bed.destroy()


def run_scenario(
    flavour: Flavour, timings: Timings, say: Callable[[str], None] = print, workdir: Path | None = None
) -> ScenarioResult:
    """Build, run and tear down one scenario; ``workdir`` (kept) holds configs and logs, else a temp dir."""
    own_dir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="fastalived-lbpair-")) if workdir is None else workdir
    try:
        pair = LbPair(flavour, timings, root, say)
        try:
            say(
                f"{flavour} on lb1 and lb2; testbed {pair.bed.tag}: "
                + ", ".join(f"{role} {pair.nodes[role].netns} {pair.nodes[role].ipv4}" for role in ROLES)
            )
            say(f"VIP {VIP}; {timings.describe()}")
            return pair.run()
        finally:
            pair.close()
    finally:
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)
