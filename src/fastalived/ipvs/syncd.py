"""The kernel's IPVS connection-sync daemon, driven by VRRP state (``lvs_sync_daemon``).

keepalived runs the master sync daemon while the named VRRP instance is MASTER and the backup
daemon otherwise, so a new master's connection table is already warm. The VRRP role lives in its
own process; it calls :func:`follow_vrrp_state` on every transition of that instance. Each call
opens a short-lived netlink socket: transitions are rare, and the VRRP process keeps no IPVS state.
"""

from __future__ import annotations

import errno
import logging
from typing import Literal

from fastalived.config.model import LvsSyncDaemon
from fastalived.ipvs.netlink import IpvsClient, IpvsUnavailable, NetlinkError, SyncDaemonInfo

log = logging.getLogger("fastalived.ipvs")

DaemonState = Literal["master", "backup"]


async def start_daemon(
    state: DaemonState,
    ifname: str,
    syncid: int,
    *,
    maxlen: int | None = None,
    port: int | None = None,
    ttl: int | None = None,
    group: str | None = None,
) -> bool:
    """Start (or restart with new settings) the ``state`` daemon; False when IPVS is unavailable."""
    wanted = SyncDaemonInfo(state, ifname, syncid, maxlen, group, port, ttl)
    try:
        client = await IpvsClient.connect()
    except IpvsUnavailable:
        log.warning("IPVS is not available: cannot start the %s sync daemon", state)
        return False
    try:
        running = next((d for d in await client.daemons() if d.state == state), None)
        if running is not None and _same_settings(running, wanted):
            return True
        if running is not None:
            await client.stop_daemon(state)
        await client.start_daemon(state, ifname, syncid, maxlen=maxlen, group=group, port=port, ttl=ttl)
        log.info("Starting IPVS %s sync daemon on %s, syncid %d", state, ifname, syncid)
        return True
    finally:
        client.close()


async def stop_daemon(state: DaemonState) -> bool:
    """Stop the ``state`` daemon if it runs; False when IPVS is unavailable."""
    try:
        client = await IpvsClient.connect()
    except IpvsUnavailable:
        return False
    try:
        await client.stop_daemon(state)
        log.info("Stopping IPVS %s sync daemon", state)
    except NetlinkError as exc:
        if exc.errno != errno.ESRCH:  # not running: nothing to do
            raise
    finally:
        client.close()
    return True


async def follow_vrrp_state(settings: LvsSyncDaemon, vrrp_state: str, default_syncid: int) -> bool:
    """Master daemon while the instance is MASTER, backup daemon otherwise (keepalived's rule).

    ``default_syncid`` is the instance's virtual_router_id, keepalived's default sync id.
    """
    wanted: DaemonState = "master" if vrrp_state == "MASTER" else "backup"
    if not await stop_daemon("backup" if wanted == "master" else "master"):
        return False
    return await start_daemon(
        wanted,
        settings.interface,
        default_syncid if settings.sync_id is None else settings.sync_id,
        maxlen=settings.maxlen,
        port=settings.port,
        ttl=settings.ttl,
        group=None if settings.group is None else str(settings.group),
    )


def _same_settings(running: SyncDaemonInfo, wanted: SyncDaemonInfo) -> bool:
    """The kernel reports defaults for what was not given; compare only what was asked for."""
    return all(
        asked is None or asked == getattr(running, name)
        for name, asked in (
            ("interface", wanted.interface),
            ("syncid", wanted.syncid),
            ("maxlen", wanted.maxlen),
            ("group", wanted.group),
            ("port", wanted.port),
            ("ttl", wanted.ttl),
        )
    )
