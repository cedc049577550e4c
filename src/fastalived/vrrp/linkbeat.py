"""linkbeat: an interface's link state read with keepalived's ioctls instead of netlink events.

For ``linkbeat_interfaces``/``linkbeat_use_polling`` interfaces keepalived asks the driver: the
PHY's Basic Mode Status Register (SIOCGMIIPHY/SIOCGMIIREG), else ethtool's link bit
(SIOCETHTOOL ETHTOOL_GLINK), else only the interface flags (SIOCGIFFLAGS); a working probe is
then also checked against IFF_UP|IFF_RUNNING. The ioctls go through one AF_INET socket, so they see
the network namespace fastalived runs in (sysfs would show the namespace it was mounted in).
"""

from __future__ import annotations

import array
import errno
import fcntl
import logging
import socket
import struct

log = logging.getLogger("fastalived.vrrp")

SIOCGIFFLAGS = 0x8913
SIOCETHTOOL = 0x8946
SIOCGMIIPHY = 0x8947
SIOCGMIIREG = 0x8948
ETHTOOL_GLINK = 0x0000000A
MII_BMCR = 0x00
MII_BMSR = 0x01
BMSR_LSTATUS = 0x0004
IFF_UP = 0x1
IFF_RUNNING = 0x40
IFREQ_SIZE = 40  # struct ifreq on 64-bit Linux: 16 bytes of name, a 24-byte union
KINDS = ("MII", "ETHTOOL", "IOCTL")


def _ifreq(ifname: str, payload: bytes = b"") -> bytearray:
    buf = bytearray(IFREQ_SIZE)
    name = ifname.encode()[:15]
    buf[: len(name)] = name
    buf[16 : 16 + len(payload)] = payload
    return buf


class LinkProbe:
    """The probe each polled interface uses, found on first success as keepalived does."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self.kinds: dict[str, str] = {}  # ifname -> the probe that works

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.kinds.clear()

    def _fd(self) -> int:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        return self._sock.fileno()

    def up(self, ifname: str, preferred: str | None) -> bool:
        """Whether ``ifname`` has link now; a missing interface is down (and probed anew once
        it exists again)."""
        try:
            socket.if_nametoindex(ifname)
        except OSError:
            self.kinds.pop(ifname, None)
            return False
        kind = self.kinds.get(ifname)
        if kind is None:
            kind, status = self._choose(ifname, preferred)
            self.kinds[ifname] = kind
        else:
            status = self._mii(ifname) if kind == "MII" else self._ethtool(ifname) if kind == "ETHTOOL" else None
        # keepalived reads a failed probe (-1) as "up" here, leaving the verdict to the flags
        return status is not False and self._flags_up(ifname)

    def _choose(self, ifname: str, preferred: str | None) -> tuple[str, bool | None]:
        """keepalived's ``init_linkbeat_status``: MII, else ETHTOOL, else IOCTL, starting from
        the configured one; a configured probe the driver lacks is named in the log."""
        order = (
            ["MII", "ETHTOOL"] if preferred in (None, "MII") else ["ETHTOOL", "MII"] if preferred == "ETHTOOL" else []
        )
        for kind in order:
            status = self._mii(ifname) if kind == "MII" else self._ethtool(ifname)
            if status is not None:
                break
        else:
            kind, status = "IOCTL", None
        if preferred is not None and preferred != kind:
            log.info("(%s): Configured linkbeat type %s not supported, using %s", ifname, preferred, kind)
        return kind, status

    def _mii(self, ifname: str) -> bool | None:
        """BMSR's link bit (read twice: it latches a loss); None without an MII transceiver."""
        try:
            req = _ifreq(ifname)
            fcntl.ioctl(self._fd(), SIOCGMIIPHY, req)
            phy_id = struct.unpack_from("=H", req, 16)[0]
            regs = []
            for reg in (MII_BMCR, MII_BMSR, MII_BMSR):
                req = _ifreq(ifname, struct.pack("=HHHH", phy_id, reg, 0, 0))
                fcntl.ioctl(self._fd(), SIOCGMIIREG, req)
                regs.append(struct.unpack_from("=HHHH", req, 16)[3])
        except OSError:
            return None
        if regs[0] == 0xFFFF or regs[1] == 0:
            log.error("No MII transceiver present for %s !!!", ifname)
            return None
        return bool((regs[1] | regs[2]) & BMSR_LSTATUS)

    def _ethtool(self, ifname: str) -> bool | None:
        """ethtool's GLINK; None when the driver does not answer it."""
        value = array.array("I", [ETHTOOL_GLINK, 0])
        address = value.buffer_info()[0]
        req = _ifreq(ifname, struct.pack("P", address))
        try:
            fcntl.ioctl(self._fd(), SIOCETHTOOL, req)
        except OSError:
            return None
        return bool(value[1])

    def _flags_up(self, ifname: str) -> bool:
        """IFF_UP and IFF_RUNNING; a failure other than "no such device" counts as up."""
        req = _ifreq(ifname)
        try:
            fcntl.ioctl(self._fd(), SIOCGIFFLAGS, req)
        except OSError as exc:
            return exc.errno != errno.ENODEV
        flags: int = struct.unpack_from("=H", req, 16)[0]
        return flags & (IFF_UP | IFF_RUNNING) == (IFF_UP | IFF_RUNNING)
