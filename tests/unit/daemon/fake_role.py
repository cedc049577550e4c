"""Network-free Role implementations for exercising the real child runner and supervisor.

They are genuine roles (the runner drives them through the same contract as VrrpRole / CheckRole);
instead of touching the network they append what they were asked to do to a journal in
``run_dir``, so tests can see starts, reload diffs and graceful stops across processes. Creating
``run_dir/stall-ROLE`` makes the role block its event loop, like a hung checker would.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from fastalived.config.model import Config
from fastalived.daemon.channel import TO_PARENT
from fastalived.options import RunOptions
from fastalived.runtime.role import Metric

JOURNAL = "fake_role.journal"


def read_journal(run_dir: str | os.PathLike[str]) -> list[dict]:
    path = Path(run_dir) / JOURNAL
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


class FakeVrrpRole:
    name = "vrrp"

    def __init__(self, options: RunOptions) -> None:
        self._run_dir = Path(options.run_dir)
        self._items: dict[str, object] = {}
        self._generation = 0
        self._watch: asyncio.Task | None = None
        self._adopt = list(options.adopt_masters)  # what a respawn after an abnormal exit was handed
        self._adopt_ipvs = options.adopt_ipvs  # the checker's: resume from the IPVS table left behind

    def _items_of(self, config: Config) -> dict[str, object]:
        return {i.name: i for i in config.vrrp_instances}

    def _record(self, event: str, **fields: object) -> None:
        entry = {"pid": os.getpid(), "role": self.name, "event": event, **fields}
        with open(self._run_dir / JOURNAL, "a") as journal:
            journal.write(json.dumps(entry) + "\n")

    async def start(self, config: Config) -> None:
        self._items = self._items_of(config)
        self._generation = 1
        self._record("start", items=sorted(self._items), adopt=self._adopt, adopt_ipvs=self._adopt_ipvs)
        if self.name == "vrrp":  # every item MASTER, as the real VRRP role reports its states
            TO_PARENT.send({"op": "vrrp", "states": dict.fromkeys(self._items, 2)})
        self._watch = asyncio.get_running_loop().create_task(self._stall_when_asked())

    async def reload(self, config: Config) -> None:
        new = self._items_of(config)
        added = sorted(set(new) - set(self._items))
        removed = sorted(set(self._items) - set(new))
        changed = sorted(k for k in set(new) & set(self._items) if new[k] != self._items[k])
        self._items = new
        self._generation += 1
        self._record("reload", added=added, removed=removed, changed=changed)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self._record("stop")

    def steer(self, overrides: dict) -> list[str]:
        """``fastalived ctl``: journal the full set the parent sent and echo it as the change."""
        self._record("steer", overrides=overrides)
        return [f"{self.name}: {json.dumps(overrides, sort_keys=True)}"]

    def snapshot(self) -> dict:
        return {
            "generation": self._generation,
            "items": [{"name": name, "state": "MASTER"} for name in sorted(self._items)],
        }

    def keepalived_dump(self, kind: str) -> str | None:
        return None

    def metrics(self) -> Iterable[Metric]:
        yield Metric("fastalived_fake_items", len(self._items), (("role", self.name),), help="Configured items.")
        yield Metric(
            "fastalived_fake_latency_seconds",
            3,
            (("role", self.name),),
            "histogram",
            "Fake latencies.",
            buckets=((0.01, 1), (0.1, 3)),
            sum=0.12,
        )

    async def _stall_when_asked(self) -> None:
        marker = self._run_dir / f"stall-{self.name}"
        while True:
            await asyncio.sleep(0.1)
            if marker.exists():
                marker.unlink()
                time.sleep(60)  # blocks the whole loop: no heartbeats from here on


class FakeCheckRole(FakeVrrpRole):
    name = "check"

    def _items_of(self, config: Config) -> dict[str, object]:
        return {vs.key: vs for vs in config.virtual_servers}
