"""The test-side testbed: ``tests.support.testbed`` plus a sniffer on the bridge.

The namespace core stays free of the capture code (the demo and the benches use it without
sniffing); this module only adds the sniffer, so there is one implementation of the topology.
"""

from __future__ import annotations

from . import testbed as _core
from .testbed import (  # re-exported for tests
    AddressWatcher,
    Node,
    TestbedUnavailable,
    unavailable_reason,
    wait_for,
)
from .wire import Sniffer

__all__ = ["AddressWatcher", "Node", "Testbed", "TestbedUnavailable", "unavailable_reason", "wait_for"]


class Testbed(_core.Testbed):
    """``tests.support.testbed.Testbed`` whose sniffers are closed with it."""

    def __init__(self, n_nodes: int = 2, prefix: str = "fb") -> None:
        self._sniffers: list[Sniffer] = []
        super().__init__(n_nodes, prefix)

    def sniffer(self) -> Sniffer:
        """Start capturing VRRP / ARP / NA on the bridge now (kernel timestamps)."""
        sniffer = Sniffer(self.switch_netns, self.bridge)
        self._sniffers.append(sniffer)
        return sniffer

    def destroy(self) -> None:
        while self._sniffers:
            self._sniffers.pop().close()
        super().destroy()
