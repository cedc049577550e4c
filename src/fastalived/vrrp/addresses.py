"""System effects of VRRP: VIPs and routes through netlink, link state, GARP / unsolicited NA.

These are the edge adapters the VRRP role drives from its state machines' actions. They talk to
the kernel through pyroute2's ``AsyncIPRoute`` (routes, multipath ones too, links, dumps; addresses
and policy rules go as the rtnetlink messages of :mod:`fastalived.vrrp.rtnl`) and send ARP / NA
frames on ``AF_PACKET`` sockets bound to the interface, like keepalived does. VIP changes on a transition
take the faster in-loop path of :mod:`.rtnl`; this one covers routes, reloads, start-up clean-up
and queries.

pyroute2's asyncio sockets need ``create_datagram_endpoint`` for AF_NETLINK, which uvloop does not
support, so every netlink socket lives on a small helper thread running a plain asyncio loop
(:class:`NetlinkThread`). The role's uvloop awaits the results; nothing blocks it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK

from fastalived.config.model import IPAddress, IPAddressSpec, RouteSpec, RuleSpec, VrrpInstance
from fastalived.config.parse_static import ROUTE_TYPES
from fastalived.vrrp import wire
from fastalived.vrrp.ipvlan import ipvlan_address, ipvlan_link_request
from fastalived.vrrp.rtnl import (
    ADD_OK,
    DEL_OK,
    SCOPES,
    RtnlRequester,
    address_requests,
    describe_rule,
    is_harmless,
    keyword_number,
    rule_message,
)

log = logging.getLogger("fastalived.vrrp")
T = TypeVar("T")

IFF_UP = 0x1
IFF_RUNNING = 0x40
ROUTE_PROTOS = {"redirect": 1, "kernel": 2, "boot": 3, "static": 4, "keepalived": 18}
RTNH_F_ONLINK = 4


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """What the role needs about an interface: index, MAC, running state and source addresses."""

    index: int
    mac: bytes
    up: bool
    primary4: ipaddress.IPv4Address | None
    link_local6: ipaddress.IPv6Address | None


def vmac_address(vrid: int, family: int) -> bytes:
    """RFC 5798 virtual router MAC: 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6)."""
    return bytes((0, 0, 0x5E, 0, 1 if family == 4 else 2, vrid))


def link_is_up(flags: int) -> bool:
    """keepalived's notion of "up": administratively up *and* carrier (IFF_RUNNING)."""
    return flags & (IFF_UP | IFF_RUNNING) == (IFF_UP | IFF_RUNNING)


class NetlinkThread:
    """A daemon thread with a plain asyncio loop where all pyroute2 sockets live and run."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock: asyncio.Lock | None = None  # one request at a time: concurrent dumps get EBUSY

    def start(self) -> None:
        # pyroute2 logs every netlink message at DEBUG; -D must stay readable.
        logging.getLogger("pyroute2").setLevel(logging.WARNING)
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.SelectorEventLoop()  # never the uvloop policy's loop
            self._loop = loop
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=main, name="fastalived-netlink", daemon=True)
        self._thread.start()
        ready.wait()

    @property
    def native_id(self) -> int | None:
        """The thread's kernel id (for its scheduling policy); None before start()."""
        return self._thread.native_id if self._thread is not None else None

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the netlink thread and await its result from the caller's loop."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("NetlinkThread.start() was not called")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(self._serialized(coro), self._loop)
        return await asyncio.wrap_future(future)

    async def _serialized(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._lock is None:
            self._lock = asyncio.Lock()  # created on the netlink thread's loop
        async with self._lock:
            return await coro

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop = None
        self._thread = None


class Netlink:
    """Idempotent address / route changes and interface queries over one rtnetlink socket.

    The public coroutines may be awaited from any loop; the work runs on the netlink thread.
    """

    def __init__(self, thread: NetlinkThread) -> None:
        self._thread = thread
        self._ipr: AsyncIPRoute | None = None
        self._requester: RtnlRequester | None = None
        self._indexes: dict[str, int] = {}

    async def open(self) -> None:
        await self._thread.call(self._open())

    async def _open(self) -> None:
        self._ipr = AsyncIPRoute(groups=0)  # requests only: events go to LinkMonitor's socket
        await self._ipr.setup_endpoint()
        self._requester = RtnlRequester()

    async def close(self) -> None:
        await self._thread.call(self._close())

    async def _close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None
        if self._requester is not None:
            self._requester.close()
            self._requester = None

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one request on the netlink thread, then drop what pyroute2 left unread."""
        return await self._thread.call(self._then_drop_strays(coro))

    async def _then_drop_strays(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return await coro
        finally:
            self._drop_strays()

    def _drop_strays(self) -> None:
        """Replies that arrive after pyroute2 stopped waiting for their request (the kernel's
        trailing ack of a ``get``, for instance) go to the socket's default queue, which this
        request-only socket never reads: without this they pile up, a few per reload."""
        queues = getattr(getattr(self._ipr, "msg_queue", None), "queues", None)
        stray = queues.get(0) if isinstance(queues, dict) else None
        while stray is not None and not stray.empty():
            stray.get_nowait()
            stray.task_done()

    @property
    def ipr(self) -> AsyncIPRoute:
        if self._ipr is None:
            raise RuntimeError("Netlink.open() was not awaited")
        return self._ipr

    async def _index(self, ifname: str) -> int | None:
        """Interface index, cached; None when the interface does not exist."""
        if ifname not in self._indexes:
            found = await self.ipr.link_lookup(ifname=ifname)
            if not found:
                return None
            self._indexes[ifname] = found[0]
        return self._indexes[ifname]

    def forget(self, ifname: str) -> None:
        """Drop a cached index (the interface was deleted or re-created)."""
        self._indexes.pop(ifname, None)

    async def link_info(self, ifname: str) -> LinkInfo | None:
        """Index, MAC, up/down and source addresses of ``ifname``; None if it does not exist."""
        return await self._call(self._link_info(ifname))

    async def _link_info(self, ifname: str) -> LinkInfo | None:
        index = await self._index(ifname)
        if index is None:
            return None
        try:
            links = await self.ipr.link("get", index=index)
        except NetlinkError:
            self.forget(ifname)
            return None
        link = links[0]
        mac = bytes.fromhex((link.get("address") or "00:00:00:00:00:00").replace(":", ""))
        primary4: ipaddress.IPv4Address | None = None
        link_local6: ipaddress.IPv6Address | None = None
        async for msg in await self.ipr.addr("dump", index=index):
            address = ipaddress.ip_address(msg.get("address"))
            if address.version == 4 and primary4 is None and not msg["flags"] & 0x01:  # not secondary
                primary4 = address
            elif address.version == 6 and address.is_link_local and link_local6 is None:
                link_local6 = address
        return LinkInfo(index, mac, link_is_up(link["flags"]), primary4, link_local6)

    async def instance_links(self, cfg: VrrpInstance) -> tuple[LinkInfo | None, LinkInfo | None]:
        """An instance's interface and, with use_vmac, its VMAC (created when missing)."""
        info = await self.link_info(cfg.interface)
        for vmac in cfg.vmac_addrs:  # VIPs' own VMACs (use_vmac_addr): their VIPs need them, adverts do not
            await self.ensure_vmac(vmac.name, vmac.base, vmac.mac)
        if not cfg.use_vmac or info is None:
            return info, None
        if cfg.ipvlan:  # use_ipvlan: an ipvlan under the VMAC's name, with its own address
            made = await self._call(self._ensure_ipvlan(cfg.use_vmac, cfg.interface, cfg.ipvlan_mode))
            if made and (own := ipvlan_address(cfg)) is not None:
                await self.add_addresses([own], cfg.use_vmac)
        else:
            mac = cfg.vmac_mac or vmac_address(cfg.virtual_router_id, cfg.family)
            made = await self.ensure_vmac(cfg.use_vmac, cfg.interface, mac)
        if not made:
            return info, None
        return info, await self.link_info(cfg.use_vmac)

    async def _ensure_ipvlan(self, name: str, base: str, mode: str) -> bool:
        """Create (or reuse) ``use_ipvlan``'s L2 ipvlan on ``base``, up."""
        base_index = await self._index(base)
        if base_index is None or self._requester is None:
            return False
        if await self._index(name) is None:
            code = self._requester.run([ipvlan_link_request(name, base_index, mode)])[0]
            if code not in (0, errno.EEXIST):
                log.warning("cannot set up ipvlan interface %s on %s: %s", name, base, os.strerror(code))
                return False
        index = await self._index(name)
        if index is None:
            return False
        try:
            await self.ipr.link("set", index=index, state="up")
        except NetlinkError as exc:
            log.warning("cannot bring ipvlan interface %s up: %s", name, exc)
            return False
        return True

    async def ensure_vmac(self, name: str, base: str, mac: bytes) -> bool:
        """Create (or reuse) ``use_vmac``'s macvlan on ``base``: private mode, the VRRP MAC, up."""
        return await self._call(self._ensure_vmac(name, base, mac))

    async def _ensure_vmac(self, name: str, base: str, mac: bytes) -> bool:
        base_index = await self._index(base)
        if base_index is None:
            return False
        address = mac.hex(":")
        try:
            if await self._index(name) is None:
                await self.ipr.link("add", ifname=name, kind="macvlan", link=base_index,
                                    macvlan_mode="private", address=address)  # fmt: skip
            index = await self._index(name)
            await self.ipr.link("set", index=index, address=address, state="up")
        except NetlinkError as exc:
            log.warning("cannot set up VMAC interface %s on %s: %s", name, base, exc)
            self.forget(name)
            return False
        return True

    async def delete_link(self, name: str) -> None:
        """Remove an interface we created (a VMAC); already gone is fine."""
        await self._call(self._delete_link(name))

    async def _delete_link(self, name: str) -> None:
        index = await self._index(name)
        self.forget(name)
        if index is not None:
            with contextlib.suppress(NetlinkError):
                await self.ipr.link("del", index=index)

    async def add_addresses(self, specs: Iterable[IPAddressSpec], default_dev: str | None) -> int:
        """Add each address (``ip addr add`` semantics); returns how many were new."""
        return await self._call(self._addresses("add", list(specs), default_dev))

    async def remove_addresses(self, specs: Iterable[IPAddressSpec], default_dev: str | None) -> int:
        """Delete each address that is present; returns how many were removed."""
        return await self._call(self._addresses("del", list(specs), default_dev))

    async def present_addresses(self, specs: Iterable[IPAddressSpec], default_dev: str | None) -> int:
        """How many of ``specs`` are configured on their interface (one dump per interface)."""
        return await self._call(self._present(list(specs), default_dev))

    async def _present(self, specs: list[IPAddressSpec], default_dev: str | None) -> int:
        found: dict[str, set[IPAddress]] = {}
        count = 0
        for spec in specs:
            dev = spec.dev or default_dev
            if dev is not None and dev not in found:
                index = await self._index(dev)
                found[dev] = set()
                if index is not None:
                    dumped = await self.ipr.addr("dump", index=index)
                    found[dev] = {ipaddress.ip_address(msg.get("address")) async for msg in dumped}
            count += dev is not None and spec.address.ip in found[dev]
        return count

    async def _addresses(self, command: str, specs: Iterable[IPAddressSpec], default_dev: str | None) -> int:
        add = command == "add"
        batch: list[tuple[bytes, IPAddress]] = []
        for spec in specs:
            dev = spec.dev or default_dev
            if dev is None:
                log.warning("cannot %s %s: no dev given", command, spec.address)
                continue
            index = await self._index(dev)
            if index is None:  # nothing to delete there; an add is a configuration problem
                log.log(logging.DEBUG if command == "del" else logging.WARNING,
                        "cannot %s %s: interface %s does not exist", command, spec.address, dev)  # fmt: skip
                continue
            try:
                requests = address_requests(spec, index)
            except (ValueError, KeyError):
                log.warning("cannot %s %s: bad scope %s", command, spec.address, spec.scope)
                continue
            batch.append((requests[0] if add else requests[1], spec.address))
        if not batch:
            return 0
        if self._requester is None:
            raise RuntimeError("Netlink.open() was not awaited")
        try:
            codes = self._requester.run([request for request, _ in batch])
        except OSError as exc:
            log.warning("netlink %s of %d addresses failed: %s", command, len(batch), exc)
            return 0
        for (_, address), code in zip(batch, codes, strict=True):
            if not is_harmless(add, code):
                log.warning("netlink %s %s failed: %s", command, address, os.strerror(code))
        return codes.count(0)

    async def add_routes(self, routes: Iterable[RouteSpec], default_dev: str | None) -> int:
        return await self._call(self._routes("replace", list(routes), default_dev))

    async def remove_routes(self, routes: Iterable[RouteSpec], default_dev: str | None) -> int:
        return await self._call(self._routes("del", list(routes), default_dev))

    async def _routes(self, command: str, routes: Iterable[RouteSpec], default_dev: str | None) -> int:
        changed = 0
        for route in routes:
            indexes: dict[str, int] = {}
            for dev in route_devices(route, default_dev):
                index = await self._index(dev)
                if index is None:
                    log.warning("cannot %s route %s: interface %s does not exist", command, route.dst, dev)
                    break
                indexes[dev] = index
            else:
                request = route_request(route, indexes, default_dev)
                if await self._request(self.ipr.route, command, request, route.dst or "default"):
                    changed += 1
        return changed

    async def add_rules(self, rules: Iterable[RuleSpec]) -> int:
        """``ip rule add`` each rule (one already there is fine); returns how many were new."""
        return await self._call(self._rules(True, list(rules)))

    async def remove_rules(self, rules: Iterable[RuleSpec]) -> int:
        """``ip rule del`` each rule (one already gone is fine); returns how many were removed."""
        return await self._call(self._rules(False, list(rules)))

    async def _rules(self, add: bool, rules: list[RuleSpec]) -> int:
        if not rules:
            return 0
        if self._requester is None:
            raise RuntimeError("Netlink.open() was not awaited")
        command = "add" if add else "del"
        try:
            codes = self._requester.run([rule_message(add, rule) for rule in rules])
        except OSError as exc:
            log.warning("netlink %s of %d rules failed: %s", command, len(rules), exc)
            return 0
        for rule, code in zip(rules, codes, strict=True):
            if not is_harmless(add, code):
                log.warning("netlink %s rule %s failed: %s", command, describe_rule(rule), os.strerror(code))
        return codes.count(0)

    async def _request(
        self, method: Callable[..., Awaitable[Any]], command: str, request: dict[str, Any], what: object
    ) -> bool:
        """One netlink request; True if it changed something, False if it was already so."""
        try:
            await method(command, **request)
        except NetlinkError as exc:
            if exc.code in (DEL_OK if command == "del" else ADD_OK):
                return False
            log.warning("netlink %s %s failed: %s", command, what, exc)
            return False
        return True


LinkCallback = Callable[[str, int, bool], None]
AddressCallback = Callable[[int, str], None]


class LinkMonitor:
    """Reports link changes as ``on_link(ifname, index, up)`` (index 0: deleted) and address changes as
    ``on_address(index, address)``, both called on the loop that called start()."""

    def __init__(self, thread: NetlinkThread, on_link: LinkCallback, on_address: AddressCallback) -> None:
        self._thread = thread
        self._on_link = on_link
        self._on_address = on_address
        self._ipr: AsyncIPRoute | None = None
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, bool] = {}
        self._caller: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._caller = asyncio.get_running_loop()
        await self._thread.call(self._start())

    async def _start(self) -> None:
        await self._subscribe()
        self._task = asyncio.get_running_loop().create_task(self._read(), name="link monitor")

    async def _subscribe(self) -> None:
        self._ipr = AsyncIPRoute()
        await self._ipr.bind(groups=RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)

    async def stop(self) -> None:
        await self._thread.call(self._stop())

    async def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def _read(self) -> None:
        while True:
            try:
                await self._dispatch()
            except OSError as exc:  # ENOBUFS: events were lost; the socket must be replaced
                log.warning("link monitor lost netlink events (%s); resubscribing", exc)
                if self._ipr is not None:
                    self._ipr.close()
                self._last.clear()  # so the next event of every interface is reported again
                await self._subscribe()

    async def _dispatch(self) -> None:
        assert self._ipr is not None
        while True:
            async for msg in self._ipr.get():
                event = msg.get("event")
                if event in ("RTM_NEWADDR", "RTM_DELADDR"):
                    self._post(self._on_address, msg["index"], msg.get("address") or "")
                    continue
                ifname = msg.get("ifname")
                if event not in ("RTM_NEWLINK", "RTM_DELLINK") or not ifname:
                    continue
                up = event == "RTM_NEWLINK" and link_is_up(msg["flags"])
                if self._last.get(ifname) != up:  # netlink repeats NEWLINK for many reasons
                    self._last[ifname] = up
                    self._post(self._on_link, ifname, msg["index"] if event == "RTM_NEWLINK" else 0, up)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        """Hand an event to the role's loop; quietly drop it if that loop is already gone."""
        assert self._caller is not None
        with contextlib.suppress(RuntimeError):
            self._caller.call_soon_threadsafe(callback, *args)


class FrameSender:
    """Raw Ethernet frames (GARP, unsolicited NA) on AF_PACKET sockets, one per interface."""

    def __init__(self) -> None:
        self._sockets: dict[str, socket.socket] = {}

    def send(self, ifname: str, frames: Sequence[bytes]) -> int:
        """Send frames back to back; returns how many left. Errors are logged, never raised."""
        if not frames:
            return 0
        try:
            sock = self._sockets.get(ifname)
            if sock is None:
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
                sock.setblocking(False)
                sock.bind((ifname, 0))
                self._sockets[ifname] = sock
            sent = 0
            for frame in frames:
                sock.send(frame)
                sent += 1
            return sent
        except OSError as exc:
            log.warning("cannot send gratuitous ARP/NA on %s: %s", ifname, exc)
            self.forget(ifname)
            return 0

    def forget(self, ifname: str) -> None:
        sock = self._sockets.pop(ifname, None)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        for ifname in list(self._sockets):
            self.forget(ifname)


def route_devices(route: RouteSpec, default_dev: str | None) -> list[str]:
    """The interfaces a route names: its ``dev`` (else ``default_dev`` for a plain unicast route
    without a gateway) and each nexthop's."""
    default = default_dev if route.via is None and route.type == "unicast" and not route.nexthops else None
    dev = route.dev or default
    return ([dev] if dev is not None else []) + [hop.dev for hop in route.nexthops if hop.dev is not None]


def route_request(route: RouteSpec, indexes: Mapping[str, int], default_dev: str | None) -> dict[str, Any]:
    """pyroute2's keywords for ``ip route replace|del`` of ``route``; ``indexes`` holds every
    interface of :func:`route_devices`. Nexthops go as RTA_MULTIPATH, the weight less one in
    ``rtnh_hops`` as ``ip route`` puts it."""
    request: dict[str, Any] = {"family": socket.AF_INET6 if route.family == 6 else socket.AF_INET}
    if route.dst is not None:
        request["dst"] = str(route.dst)
    else:
        request["dst_len"] = 0
    devices = route_devices(route, default_dev)
    if devices and (route.dev is not None or not route.nexthops):
        request["oif"] = indexes[devices[0]]
    optional = {
        "gateway": str(route.via) if route.via is not None else None,
        "prefsrc": str(route.src) if route.src is not None else None,
        "priority": route.metric,
        "table": route.table,
        "scope": keyword_number(route.scope, SCOPES),
        "proto": keyword_number(route.proto, ROUTE_PROTOS),
        "type": ROUTE_TYPES.get(route.type, 1),
    }
    request.update({k: v for k, v in optional.items() if v is not None})
    if route.nexthops:
        request["multipath"] = [
            {
                "hops": hop.weight - 1,
                "flags": RTNH_F_ONLINK if hop.onlink else 0,
                **({"oif": indexes[hop.dev]} if hop.dev is not None else {}),
                **({"gateway": str(hop.via)} if hop.via is not None else {}),
            }
            for hop in route.nexthops
        ]
    return request


def announcement_frames(mac: bytes, addresses: Iterable[IPAddress], repeat: int) -> list[bytes]:
    """``repeat`` rounds of one GARP per IPv4 address and one unsolicited NA per IPv6 address."""
    one_round = [
        wire.build_garp(mac, a.packed) if a.version == 4 else wire.build_unsolicited_na(mac, a.packed)
        for a in addresses
    ]
    return one_round * max(1, repeat)
