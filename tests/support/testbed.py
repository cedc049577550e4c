"""Throw-away L2 testbeds in network namespaces, for the demo, the benches and the tests.

One switch namespace holds a bridge (STP off, forward_delay 0, multicast snooping off, so VRRP
multicast floods to every port); each node namespace gets an ``eth0`` veth plugged into it. Nothing
is ever created in the root namespace: the veth is made inside the switch namespace and its peer
is born directly inside the node namespace. Every name carries a random suffix so concurrent users
never collide, and every testbed is torn down by ``destroy()``, a weakref finalizer and atexit.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import ipaddress
import os
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from fastalived.runtime.netlink import NLMSG_DONE, NLMSG_ERROR, messages

IpInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

NODE_V4_NET = "198.51.100"
NODE_V6_NET = "2001:db8::"

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class TestbedUnavailable(RuntimeError):
    """Raised when namespaces cannot be made here (not root, no ``ip netns``)."""

    __test__ = False  # not a pytest test class despite the name


def unavailable_reason() -> str | None:
    """Why a testbed cannot be built on this host, or None when it can."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 'ip' command not found"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"'ip netns' unavailable: {probe.stderr.strip()}"
    return None


def _ip(*args: str, input_text: str | None = None) -> str:
    """Run one ``ip`` command and raise with its stderr on failure."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, input=input_text)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def in_netns(netns: str) -> Iterator[None]:
    """Switch the *calling thread* into ``netns``; sockets opened inside stay bound to it."""
    original = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if _libc.setns(target, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({netns}): {os.strerror(err)}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            _libc.setns(original, _CLONE_NEWNET)
    finally:
        os.close(original)


# ------------------------------------------------------------------------------------ netlink
_RTM_NEWADDR, _RTM_DELADDR, _RTM_GETADDR = 20, 21, 22
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_RTMGRP_IPV4_IFADDR, _RTMGRP_IPV6_IFADDR = 0x10, 0x100


@dataclass(frozen=True, slots=True)
class AddressEvent:
    """One RTM_NEWADDR / RTM_DELADDR, stamped with ``time.time()`` on receipt."""

    added: bool
    ifindex: int
    interface: IpInterface
    received_at: float


def _parse_address(data: bytes, offset: int, length: int, added: bool, received_at: float) -> AddressEvent | None:
    """Decode one RTM_NEWADDR / RTM_DELADDR message."""
    family, prefixlen, _flags, _scope, ifindex = struct.unpack_from("=BBBBI", data, offset + 16)
    found: dict[int, str] = {}
    attr, end = offset + 24, offset + length
    while attr + 4 <= end:
        attr_len, attr_type = struct.unpack_from("=HH", data, attr)
        if attr_len < 4:
            break
        if attr_type in (_IFA_ADDRESS, _IFA_LOCAL):
            found[attr_type] = socket.inet_ntop(family, data[attr + 4 : attr + attr_len])
        attr += (attr_len + 3) & ~3
    # IFA_LOCAL is the own address on point-to-point links, IFA_ADDRESS the peer there
    chosen = found.get(_IFA_LOCAL) or found.get(_IFA_ADDRESS)
    if chosen is None:
        return None
    return AddressEvent(added, ifindex, ipaddress.ip_interface(f"{chosen}/{prefixlen}"), received_at)


def _address_events(data: bytes, received_at: float) -> Iterator[AddressEvent]:
    for msg_type, _seq, offset, length in messages(data):
        if msg_type in (_RTM_NEWADDR, _RTM_DELADDR):
            event = _parse_address(data, offset, length, msg_type == _RTM_NEWADDR, received_at)
            if event is not None:
                yield event


def _rtnl_socket(netns: str, groups: int = 0) -> socket.socket:
    with in_netns(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, groups))
    return sock


def dump_addresses(netns: str, ifindex: int | None = None) -> list[IpInterface]:
    """All addresses in ``netns`` (optionally of one interface) via one RTM_GETADDR dump."""
    with _rtnl_socket(netns) as sock:
        header = struct.pack("=IHHII", 16 + 8, _RTM_GETADDR, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0)
        sock.send(header + struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0))
        found: list[IpInterface] = []
        while True:  # a dump spans several datagrams and ends with NLMSG_DONE
            data = sock.recv(1 << 16)
            for msg_type, _seq, offset, length in messages(data):
                if msg_type in (NLMSG_DONE, NLMSG_ERROR):
                    return found
                if msg_type == _RTM_NEWADDR:
                    event = _parse_address(data, offset, length, True, 0.0)
                    if event is not None and ifindex in (None, event.ifindex):
                        found.append(event.interface)


class AddressWatcher:
    """Address add/remove events of one namespace, for timing failovers without polling."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.sock = _rtnl_socket(netns, _RTMGRP_IPV4_IFADDR | _RTMGRP_IPV6_IFADDR)
        self.sock.setblocking(False)

    def drain(self) -> None:
        """Forget everything received so far."""
        self.poll(0.0)

    def poll(self, timeout: float) -> list[AddressEvent]:
        """Events that arrive within ``timeout`` seconds (returns as soon as any are read)."""
        events: list[AddressEvent] = []
        ready, _, _ = select.select([self.sock], [], [], timeout)
        while ready:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                break
            events += _address_events(data, time.time())
        return events

    def wait_added(self, address: str, timeout: float) -> AddressEvent | None:
        """The first RTM_NEWADDR of ``address`` within ``timeout`` seconds, else None."""
        wanted = ipaddress.ip_address(address)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            for event in self.poll(left):
                if event.added and event.interface.ip == wanted:
                    return event
        return None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> AddressWatcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------ nodes
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.01) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes (False).

    Meant for observed outcomes (a VIP showing up), never as a stand-in for protocol timers.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass
class Node:
    """One node namespace of a testbed: ``eth0`` plugged into the switch, fixed MAC and addresses."""

    index: int
    netns: str
    mac: str
    ipv4: str
    ipv6: str

    def run(self, argv: Sequence[str], **popen_kw: Any) -> subprocess.Popen:
        """Start ``argv`` inside this node (``ip netns exec`` execs it, so the pid is the program's)."""
        return subprocess.Popen(["ip", "netns", "exec", self.netns, *argv], **popen_kw)

    def check_output(self, argv: Sequence[str]) -> str:
        """Run ``argv`` inside this node to completion and return its stdout."""
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *argv], check=True, capture_output=True, text=True
        ).stdout

    def ifindex(self, ifname: str = "eth0") -> int:
        with in_netns(self.netns):
            return socket.if_nametoindex(ifname)

    def addresses(self, ifname: str = "eth0") -> list[IpInterface]:
        """Addresses on ``ifname`` right now, as ``ipaddress`` interfaces (address + prefix)."""
        try:
            index = self.ifindex(ifname)
        except OSError:
            return []  # interface gone (e.g. a vmac removed)
        return dump_addresses(self.netns, index)

    def has_address(self, ip: str, ifname: str | None = "eth0") -> bool:
        """Is ``ip`` (without prefix) configured on ``ifname`` (any interface when None)?"""
        wanted = ipaddress.ip_address(ip.split("/")[0])
        found = dump_addresses(self.netns) if ifname is None else self.addresses(ifname)
        return any(a.ip == wanted for a in found)

    def set_link(self, up: bool, ifname: str = "eth0") -> float:
        """Set ``ifname`` up/down with one ioctl; returns ``time.time()`` taken right before it."""
        with in_netns(self.netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with sock:
            request = struct.pack("16sH14x", ifname.encode(), 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
            flags = flags | _IFF_UP if up else flags & ~_IFF_UP
            started = time.time()
            fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", ifname.encode(), flags))
            return started

    def watch_addresses(self) -> AddressWatcher:
        return AddressWatcher(self.netns)

    def add_address(self, interface: str, ifname: str = "eth0") -> None:
        """Add a second address (e.g. a back-end leg in another subnet on the same segment)."""
        _ip("-n", self.netns, "addr", "add", interface, "dev", ifname)

    def delete_address(self, interface: str, ifname: str = "eth0") -> None:
        """Remove an address if present (a SIGKILLed keepalived leaves its VIPs behind)."""
        subprocess.run(["ip", "-n", self.netns, "addr", "del", interface, "dev", ifname], capture_output=True)


_live_testbeds: weakref.WeakSet[Testbed] = weakref.WeakSet()


def _destroy_namespaces(names: list[str]) -> None:
    """Kill whatever still runs in the namespaces, then delete them (node ones first)."""
    for name in names:
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
        for pid in pids.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    for name in names:
        for _attempt in range(20):
            done = subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True)
            if done.returncode == 0 or not os.path.exists(f"/run/netns/{name}"):
                break
            time.sleep(0.05)  # killed processes may still hold the namespace busy


@atexit.register
def _destroy_all() -> None:
    for testbed in list(_live_testbeds):
        testbed.destroy()


class Testbed:
    """A switch namespace with a bridge plus ``n_nodes`` node namespaces, all uniquely named.

    Node ``i`` (1-based) gets MAC 02:00:00:00:00:0i, 198.51.100.(10+i)/24 (or ``ipv4[i-1]``, also a
    /24) and 2001:db8::(10+i)/64, IPv6 DAD off so every address is usable at once.
    """

    __test__ = False

    def __init__(self, n_nodes: int = 2, prefix: str = "fb", ipv4: Sequence[str] = ()) -> None:
        if not 1 <= n_nodes <= 99:
            raise ValueError("n_nodes must be 1..99")
        if ipv4 and len(ipv4) != n_nodes:
            raise ValueError("ipv4 needs one address per node")
        if reason := unavailable_reason():
            raise TestbedUnavailable(reason)
        self.tag = self._unique_tag(prefix)
        self.switch_netns = f"{self.tag}-sw"
        self.bridge = f"{self.tag}br"
        self.nodes = [
            Node(
                i,
                f"{self.tag}-n{i}",
                f"02:00:00:00:00:{i:02x}",
                ipv4[i - 1] if ipv4 else f"{NODE_V4_NET}.{10 + i}",
                f"{NODE_V6_NET}{10 + i}",
            )
            for i in range(1, n_nodes + 1)
        ]
        self._created: list[str] = []
        self._finalizer = weakref.finalize(self, _destroy_namespaces, self._created)
        _live_testbeds.add(self)
        try:
            self._build()
        except BaseException:
            self.destroy()
            raise

    @staticmethod
    def _unique_tag(prefix: str) -> str:
        if not prefix.isalnum() or len(prefix) > 4:
            raise ValueError("prefix must be 1-4 alphanumerics (interface names max 15 chars)")
        while True:
            tag = prefix + secrets.token_hex(3)
            if not any(Path("/run/netns").glob(f"{tag}-*")):
                return tag

    def _add_netns(self, name: str, sysctls: Sequence[str]) -> None:
        _ip("netns", "add", name)
        self._created.insert(0, name)  # delete in reverse order of creation
        _ip("-n", name, "link", "set", "lo", "up")
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw", *sysctls], check=True)

    def _build(self) -> None:
        # The switch itself stays silent on IPv6 (no RS/MLD noise in captures).
        self._add_netns(self.switch_netns, ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        _ip(
            "-n",
            self.switch_netns,
            "link",
            "add",
            self.bridge,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        )
        _ip("-n", self.switch_netns, "link", "set", self.bridge, "up")
        for node in self.nodes:
            # accept_dad must be off before eth0 exists: the new device copies 'default'.
            self._add_netns(node.netns, ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"])
            port = self.port_name(node.index)
            _ip(
                "-n",
                self.switch_netns,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                node.netns,
            )
            _ip("-n", self.switch_netns, "link", "set", port, "master", self.bridge, "up")
            _ip(
                "-n",
                node.netns,
                "-b",
                "-",
                input_text=(
                    f"link set eth0 address {node.mac}\n"
                    "link set eth0 up\n"
                    f"addr add {node.ipv4}/24 dev eth0\n"
                    f"addr add {node.ipv6}/64 dev eth0 nodad\n"
                ),
            )

    def port_name(self, index: int) -> str:
        """The switch-side veth of node ``index``."""
        return f"{self.tag}p{index}"

    def node(self, index: int) -> Node:
        """Node by its 1-based index."""
        return self.nodes[index - 1]

    def set_link(self, index: int, up: bool) -> float:
        """Bring node ``index``'s eth0 up or down; returns the time just before the change."""
        return self.node(index).set_link(up)

    wait_for = staticmethod(wait_for)

    def destroy(self) -> None:
        """Tear everything down; safe to call twice."""
        self._finalizer()
        _live_testbeds.discard(self)

    def __enter__(self) -> Testbed:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.destroy()


# ------------------------------------------------------------------------------------ daemons
Flavour = Literal["fastalived", "keepalived"]


def fastalived_executable() -> str:
    """The console script of the running interpreter's environment (works without activation)."""
    beside = Path(sys.executable).with_name("fastalived")
    return str(beside) if beside.exists() else (shutil.which("fastalived") or "fastalived")


def kill_process_group(proc: subprocess.Popen) -> float:
    """A crash: SIGKILL ``proc``'s whole process group at once and reap ``proc``; returns the time before the kill."""
    started = time.time()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)
    return started


def terminate_process(proc: subprocess.Popen) -> float:
    """A graceful stop request (SIGTERM to ``proc`` only); returns the time before the signal."""
    started = time.time()
    proc.send_signal(signal.SIGTERM)
    return started


def stop_process_group(proc: subprocess.Popen, timeout: float = 5.0) -> int:
    """SIGTERM, then SIGKILL of the group after ``timeout``; also reaps stray group members. Returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return proc.wait()


_run_root: Path | None = None


def _new_run_dir() -> Path:
    """A fresh directory under one per-process temp dir that is removed at exit.

    Callers that want the configs and logs kept (tests) pass their own ``run_dir``.
    """
    global _run_root
    if _run_root is None:
        _run_root = Path(tempfile.mkdtemp(prefix="fastalived-run-"))
        atexit.register(shutil.rmtree, _run_root, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=_run_root))


@dataclass
class VrrpDaemon:
    """A keepalived or fastalived VRRP process (``-P``) inside a node, with its own run directory.

    Per-run pid files are deleted before each start: after a SIGKILL keepalived otherwise refuses
    to start ("daemon is already running") while the old child is a zombie. ``TMPDIR`` is per run
    because keepalived writes its signal dumps there.
    """

    node: Node
    config: str
    flavour: Flavour = "fastalived"
    name: str = ""
    run_dir: Path = field(default_factory=_new_run_dir)
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.flavour}-n{self.node.index}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config)

    @property
    def config_path(self) -> Path:
        return self.run_dir / "keepalived.conf"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "daemon.log"

    def _pid_files(self) -> dict[str, Path]:
        return {
            flag: self.run_dir / f"{stem}.pid"
            for flag, stem in (("-p", "main"), ("-r", "vrrp"), ("-c", "check"), ("-b", "bfd"))
        }

    def argv(self) -> list[str]:
        pid_files = self._pid_files()
        if self.flavour == "keepalived":
            head = ["keepalived", "-n", "-l", "-D", "-G", "-P"]
        else:
            head = [fastalived_executable(), "-n", "-l", "-D", "-P"]
            del pid_files["-b"]  # no BFD in fastalived
        pid_args = [arg for flag, path in pid_files.items() for arg in (flag, str(path))]
        return [*head, "-f", str(self.config_path), *pid_args, *self.extra_args]

    def start(self, wait_vrrp: float = 10.0) -> VrrpDaemon:
        """Start in its own session (so the whole group can be killed); wait for the VRRP pid."""
        for path in self._pid_files().values():
            path.unlink(missing_ok=True)
        tmp = self.run_dir / "tmp"
        tmp.mkdir(exist_ok=True)
        self._log = self._log or self.log_path.open("ab")
        self._log.write(f"=== start {time.time():.6f} {' '.join(self.argv())}\n".encode())
        self._log.flush()
        proc = self.proc = self.node.run(
            self.argv(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(tmp)},
        )
        if wait_vrrp and not wait_for(lambda: self.vrrp_pid() or proc.poll() is not None, wait_vrrp):
            raise RuntimeError(f"{self.name}: no VRRP process after {wait_vrrp}s:\n{self.log_text()}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()}")
        return self

    def _read_pid(self, flag: str) -> int | None:
        try:
            return int(self._pid_files()[flag].read_text().strip())
        except (OSError, ValueError, KeyError):
            return None

    def vrrp_pid(self) -> int | None:
        """The VRRP child (the process doing the protocol work), from its pid file."""
        return self._read_pid("-r")

    def kill_group(self) -> float:
        """A crash: SIGKILL the parent and all children at once; returns the time before the kill."""
        assert self.proc is not None
        return kill_process_group(self.proc)

    def terminate(self) -> float:
        """A graceful stop request (SIGTERM to the parent); returns the time before the signal."""
        assert self.proc is not None
        return terminate_process(self.proc)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL of the group after ``timeout``; also reaps stray group members."""
        if self.proc is None:
            return None
        return stop_process_group(self.proc, timeout)

    def log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        """Stop the process and release the log file."""
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None


# ------------------------------------------------------------------------------------ configs
def vrrp_instance_config(
    name: str,
    vrid: int,
    priority: int,
    vips: Sequence[str],
    *,
    version: int = 2,
    advert_int: float = 1,
    auth_pass: str | None = None,
    auth_type: str = "PASS",
    state: str = "BACKUP",
    interface: str = "eth0",
    extra: str = "",
) -> str:
    """One ``vrrp_instance`` block in keepalived syntax."""
    lines = [
        f"vrrp_instance {name} {{",
        f"    state {state}",
        f"    interface {interface}",
        f"    virtual_router_id {vrid}",
        f"    priority {priority}",
        f"    advert_int {advert_int:g}",
        f"    version {version}",
    ]
    if auth_pass is not None:
        lines += ["    authentication {", f"        auth_type {auth_type}", f"        auth_pass {auth_pass}", "    }"]
    lines += ["    virtual_ipaddress {", *(f"        {vip} dev {interface}" for vip in vips), "    }"]
    if extra:
        lines.append(extra)
    return "\n".join([*lines, "}", ""])


def global_defs_config(router_id: str, extra: str = "") -> str:
    """A minimal ``global_defs`` block (script security on, so no warnings about it); ``extra`` lines go last."""
    return f"global_defs {{\n    router_id {router_id}\n    script_user root\n    enable_script_security\n{extra}}}\n"
