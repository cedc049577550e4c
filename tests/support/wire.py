"""A packet sniffer on a testbed's bridge: VRRP adverts, ARP and ICMPv6 NA with kernel timestamps.

The socket lives in the switch namespace, so it sees every multicast/broadcast frame any node
sends, stamped by the kernel on receipt (``SO_TIMESTAMPNS``, CLOCK_REALTIME, the same clock as
``time.time()``). A background thread collects the frames so tests can ask afterwards.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .testbed import in_netns

_SO_TIMESTAMPNS = 35
_ETH_P_ALL = 0x0003
_ETH_P_IP, _ETH_P_ARP, _ETH_P_IPV6 = 0x0800, 0x0806, 0x86DD
_IPPROTO_VRRP, _IPPROTO_ICMPV6, _IPPROTO_AH = 112, 58, 51
_AH_LEN = 24  # keepalived's AH header (auth_type AH): the advert follows it
_ND_NEIGHBOR_ADVERT = 136

FrameKind = Literal["vrrp", "arp", "na"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame of interest, decoded just enough for assertions and timings."""

    timestamp: float  # kernel receive time on the bridge (CLOCK_REALTIME)
    kind: FrameKind
    src_mac: str
    src_ip: str
    raw: bytes
    version: int = 0  # VRRP version
    vrid: int = 0
    priority: int = 0
    advert_int: float = 0.0  # seconds, from the advert (v2: whole seconds, v3: centiseconds)
    target: str = ""  # ARP target address / NA target address
    gratuitous: bool = False  # ARP with sender == target


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _vrrp(frame: bytes, ts: float, src_ip: str, vrrp: int) -> Frame | None:
    if len(frame) < vrrp + 8:
        return None
    version = frame[vrrp] >> 4
    interval = float(frame[vrrp + 5]) if version == 2 else (struct.unpack_from("!H", frame, vrrp + 4)[0] & 0x0FFF) / 100
    return Frame(
        ts,
        "vrrp",
        _mac(frame[6:12]),
        src_ip,
        frame,
        version=version,
        vrid=frame[vrrp + 1],
        priority=frame[vrrp + 2],
        advert_int=interval,
    )


def decode(frame: bytes, ts: float) -> Frame | None:
    """A ``Frame`` for VRRP (v4/v6), ARP and NA frames; None for anything else."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == _ETH_P_ARP and len(frame) >= 42:
        sender, target = socket.inet_ntoa(frame[28:32]), socket.inet_ntoa(frame[38:42])
        return Frame(ts, "arp", _mac(frame[6:12]), sender, frame, target=target, gratuitous=sender == target)
    if ethertype == _ETH_P_IP and len(frame) >= 34 and frame[23] == _IPPROTO_VRRP:
        return _vrrp(frame, ts, socket.inet_ntoa(frame[26:30]), 14 + (frame[14] & 0x0F) * 4)
    if ethertype == _ETH_P_IP and len(frame) >= 34 and frame[23] == _IPPROTO_AH:
        ah = 14 + (frame[14] & 0x0F) * 4
        if len(frame) >= ah + _AH_LEN and frame[ah] == _IPPROTO_VRRP:
            return _vrrp(frame, ts, socket.inet_ntoa(frame[26:30]), ah + _AH_LEN)
    if ethertype == _ETH_P_IPV6 and len(frame) >= 54:
        src = socket.inet_ntop(socket.AF_INET6, frame[22:38])
        if frame[20] == _IPPROTO_VRRP:
            return _vrrp(frame, ts, src, 54)
        if frame[20] == _IPPROTO_ICMPV6 and len(frame) >= 78 and frame[54] == _ND_NEIGHBOR_ADVERT:
            return Frame(
                ts, "na", _mac(frame[6:12]), src, frame, target=socket.inet_ntop(socket.AF_INET6, frame[62:78])
            )
    return None


class Sniffer:
    """Captures on ``bridge`` in ``netns`` from construction until ``close()``."""

    def __init__(self, netns: str, bridge: str) -> None:
        with in_netns(netns):
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        self._sock.bind((bridge, 0))
        self._sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self._sock.setblocking(False)
        self._frames: list[Frame] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._capture, name=f"sniffer-{netns}", daemon=True)
        self._thread.start()

    def _receive_ready(self) -> list[Frame]:
        frames = []
        while True:
            try:
                data, ancillary, _flags, _addr = self._sock.recvmsg(65535, 64)
            except BlockingIOError:
                return frames
            ts = next(
                (
                    sec + nsec / 1e9
                    for level, kind, payload in ancillary
                    if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS
                    for sec, nsec in [struct.unpack("qq", payload[:16])]
                ),
                time.time(),
            )
            if (frame := decode(data, ts)) is not None:
                frames.append(frame)

    def _capture(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if ready and (frames := self._receive_ready()):
                with self._arrived:
                    self._frames += frames
                    self._arrived.notify_all()

    def frames(self, kind: FrameKind | None = None, since: float = 0.0) -> list[Frame]:
        """Captured frames (optionally of one kind) received at or after ``since``."""
        with self._lock:
            return [f for f in self._frames if (kind is None or f.kind == kind) and f.timestamp >= since]

    def adverts(self, src_ip: str | None = None, vrid: int | None = None, since: float = 0.0) -> list[Frame]:
        """VRRP adverts, optionally only from one sender / for one VRID."""
        return [
            f
            for f in self.frames("vrrp", since)
            if (src_ip is None or f.src_ip == src_ip) and (vrid is None or f.vrid == vrid)
        ]

    def wait_for(self, predicate: Callable[[Frame], bool], timeout: float, since: float = 0.0) -> Frame | None:
        """The first frame (received at or after ``since``) matching ``predicate``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        checked = 0
        with self._arrived:
            while True:
                for frame in self._frames[checked:]:
                    if frame.timestamp >= since and predicate(frame):
                        return frame
                checked = len(self._frames)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._arrived.wait(left)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._sock.close()

    def __enter__(self) -> Sniffer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def advert_gaps(frames: list[Frame]) -> list[float]:
    """Seconds between consecutive adverts of the same sender and VRID (the real advert period)."""
    last: dict[tuple[str, int], float] = {}
    gaps = []
    for frame in sorted(frames, key=lambda f: f.timestamp):
        key = (frame.src_ip, frame.vrid)
        if key in last:
            gaps.append(frame.timestamp - last[key])
        last[key] = frame.timestamp
    return gaps
