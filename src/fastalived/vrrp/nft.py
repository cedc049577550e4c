"""The I/O half of accept mode: hands :mod:`fastalived.vrrp.firewall`'s rulesets to ``nft -f -``.

Each ruleset replaces our tables in one nft transaction. The runs are ordered background jobs on
one key, so a slow ``nft`` never delays an advert or a take-over and rulesets land in the order
they were decided; the price is that a new master's VIPs are unfiltered for the 20-40 ms an ``nft``
run takes (keepalived sends the set change over netlink before adding the VIPs). Without the
``nft`` command (Debian package ``nftables``) the instances run unfiltered; that is said once,
as an error.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable

from fastalived.config.model import Config, VrrpInstance
from fastalived.runtime.commands import SCRIPT_PATH
from fastalived.runtime.jobs import SerialTasks
from fastalived.vrrp.firewall import FirewallPlan, FirewallSettings, elements, needed_families
from fastalived.vrrp.vips import instance_vips, vip_device

log = logging.getLogger("fastalived.vrrp")

NFT_TIMEOUT = 10.0  # seconds one ``nft -f`` may take before it is killed
JOB_KEY = ("firewall",)  # one ordered queue for every ruleset


class NftFirewall:
    """Keeps fastalived's nftables tables in line with the instances that hold their VIPs."""

    def __init__(self, jobs: SerialTasks) -> None:
        self._jobs = jobs
        self._plan = FirewallPlan()
        self._missing_told = False
        self.dirty = True  # the VIP holders (or the config) changed since the last sync

    def sync(self, config: Config, holders: Iterable[VrrpInstance]) -> None:
        """Queue the ruleset for ``holders`` (the instances whose VIPs are up) if it changed."""
        self.dirty = False
        settings = FirewallSettings.of(config.global_defs)
        members = [e for cfg in holders for e in elements(cfg, instance_vips(cfg), vip_device(cfg), settings)]
        script = self._plan.update(settings, needed_families(config.vrrp_instances), members)
        if script is not None:
            self._jobs.submit(JOB_KEY, lambda: self._apply(script))

    async def close(self) -> None:
        """Remove our tables (after any queued ruleset), as keepalived does at exit."""
        script = self._plan.teardown()
        if script is not None:
            self._jobs.submit(JOB_KEY, lambda: self._apply(script))
        await self._jobs.drain()

    async def _apply(self, script: str) -> None:
        if not await self._run(script):
            self._plan.failed()

    async def _run(self, script: str) -> bool:
        nft = shutil.which("nft", path=SCRIPT_PATH)
        if nft is None:
            if not self._missing_told:
                self._missing_told = True
                log.error(
                    "nftables: no 'nft' command (install the nftables package): instances without accept"
                    " mode (no_accept, vrrp_strict) will accept traffic to their VIPs while MASTER"
                )
            return False
        try:
            proc = await asyncio.create_subprocess_exec(
                nft,
                "-f",
                "-",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            log.error("nftables: cannot run %s: %s", nft, exc)
            return False
        try:
            _, err = await asyncio.wait_for(proc.communicate(script.encode()), NFT_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.error("nftables: nft took more than %gs; killed", NFT_TIMEOUT)
            return False
        if proc.returncode:
            log.error("nftables: nft failed (status %d): %s", proc.returncode, err.decode(errors="replace").strip())
            return False
        return True
