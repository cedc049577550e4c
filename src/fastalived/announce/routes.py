"""The announce table over rtnetlink: add, delete and flush fastalived's routes in one table.

Routes are ``PREFIX dev lo table N proto fastalived`` (unicast, scope link), as ``ip route add``
would make them: what FRR's ``ip import-table``/``redistribute table`` and BIRD's ``kernel``
protocol pick up. The table is never read by the kernel's own forwarding unless a rule points
at it. The protocol number marks our routes, so a flush removes only what fastalived put there.
Requests are few and tiny (one per prefix change), so they are sent and acknowledged inline.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
import struct

from fastalived.announce.core import Route
from fastalived.runtime.netlink import (
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NetlinkError,
    attr,
    error_code,
    message,
    messages,
    parse_attrs,
)

RTPROT_FASTALIVED = 251  # our route protocol number (``ip route ... proto 251``); keepalived's is 18
RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTM_GETROUTE = 26
RTA_DST = 1
RTA_OIF = 4
RTA_PRIORITY = 6
RTA_TABLE = 15
RTN_UNICAST = 1
RT_SCOPE_LINK = 253
RT_TABLE_UNSPEC = 0
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
ESRCH = 3  # deleting a route that is not there
REPLY_TIMEOUT = 2.0
RECV_SIZE = 65536


class RouteTable:
    """fastalived's routes in one kernel routing table."""

    def __init__(self, table: int, protocol: int = RTPROT_FASTALIVED) -> None:
        self.table = table
        self.protocol = protocol
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self._sock.settimeout(REPLY_TIMEOUT)
        self._sock.bind((0, 0))
        self._seq = itertools.count(1)
        self._loopback = socket.if_nametoindex("lo")

    def close(self) -> None:
        self._sock.close()

    def add(self, route: Route) -> None:
        self._request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, self._route_message(route))

    def delete(self, route: Route) -> None:
        """Remove ``route``; one that is already gone is not an error."""
        try:
            self._request(RTM_DELROUTE, 0, self._route_message(route))
        except NetlinkError as exc:
            if exc.errno != ESRCH:
                raise

    def flush(self) -> list[Route]:
        """Delete every route of ours in the table (left over from a crash); returns what went."""
        found = self.dump()
        for route in found:
            self.delete(route)
        return found

    def dump(self) -> list[Route]:
        """Our routes in the table, both families."""
        seq = next(self._seq)
        request = RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0)
        self._sock.send(message(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, request))
        routes: list[Route] = []
        while True:
            data = self._sock.recv(RECV_SIZE)
            for kind, reply_seq, offset, length in messages(data):
                if reply_seq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return routes
                if kind == NLMSG_ERROR:
                    raise NetlinkError(error_code(data, offset, length))
                if kind == RTM_NEWROUTE and (route := self._decode(data, offset, length)) is not None:
                    routes.append(route)

    def _decode(self, data: bytes, offset: int, length: int) -> Route | None:
        family, dst_len, _, _, table, protocol, _, _, _ = RTMSG.unpack_from(data, offset + 16)
        attrs = parse_attrs(data, offset + 16 + RTMSG.size, offset + length)
        if RTA_TABLE in attrs:
            table = struct.unpack("=I", attrs[RTA_TABLE])[0]
        if table != self.table or protocol != self.protocol or RTA_DST not in attrs:
            return None
        address = socket.inet_ntop(family, attrs[RTA_DST])
        metric = struct.unpack("=I", attrs[RTA_PRIORITY])[0] if RTA_PRIORITY in attrs else 0
        return Route(ipaddress.ip_network(f"{address}/{dst_len}"), metric)

    def _route_message(self, route: Route) -> bytes:
        prefix = route.prefix
        family = socket.AF_INET if prefix.version == 4 else socket.AF_INET6
        header = RTMSG.pack(
            family,
            prefix.prefixlen,
            0,
            0,
            self.table if self.table < 256 else RT_TABLE_UNSPEC,
            self.protocol,
            RT_SCOPE_LINK,
            RTN_UNICAST,
            0,
        )
        attrs = attr(RTA_DST, prefix.network_address.packed) + attr(RTA_TABLE, struct.pack("=I", self.table))
        attrs += attr(RTA_OIF, struct.pack("=i", self._loopback))
        if route.metric:
            attrs += attr(RTA_PRIORITY, struct.pack("=I", route.metric))
        return header + attrs

    def _request(self, kind: int, flags: int, payload: bytes) -> None:
        seq = next(self._seq)
        self._sock.send(message(kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, payload))
        while True:
            data = self._sock.recv(RECV_SIZE)
            for reply_kind, reply_seq, offset, length in messages(data):
                if reply_seq == seq and reply_kind == NLMSG_ERROR:
                    code = error_code(data, offset, length)
                    if code:
                        raise NetlinkError(code)
                    return
