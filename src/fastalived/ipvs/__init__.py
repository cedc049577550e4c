"""IPVS (LVS) programming: keepalived's ``virtual_server`` blocks made real in the kernel.

Layers, from pure to I/O:

* :mod:`.desired` (pure): ``build_desired(config, rs_state, quorum_up) -> DesiredTable``.
  ``rs_state[(vs.key, rs.key)] = (up, weight)`` and ``quorum_up[vs.key]`` come from the checker;
  the result applies ``inhibit_on_failure`` (weight 0), ``sorry_server`` (+ ``_inhibit``) when the
  quorum is lost, ``virtual_server_group`` expansion and NAT/DR/TUN per real server.
* :mod:`.reconciler` (pure): ``Reconciler().plan(desired, actual) -> list[Op]``, the fewest
  add/set/del service/destination operations; adopts matching entries, never flushes, deletes only
  services it owns.
* :mod:`.netlink`: ``IpvsClient``, generic-netlink messages and a pipelined request path.
* :mod:`.director` (asyncio)::

      director = await IpvsDirector.open(flush=gd.lvs_flush)   # None (one log line) without IPVS
      report = await director.sync(table)                      # dump, plan, apply; failures retried next sync
      await director.close(remove=True, flush=gd.lvs_flush_onstop)

  ``sync(table, refresh=False)`` skips the kernel dump and plans against the table the director
  last saw (for bursts of check results); ``await director.apply(config, check_state)`` is the
  checker's sink: it builds the table from the check state and syncs.
* :mod:`.lvs_sync` (pure) and :mod:`.syncd`: ``lvs_sync_daemon``. ``SyncDaemonPolicy`` decides
  which kernel sync daemon runs (master while the named VRRP instance is MASTER, backup
  otherwise); ``SyncDaemonDriver`` carries its commands out. The daemon hands the driver to the
  VRRP role (``daemon/child.py``), which only tells it the instance's states.

Only the pure layers are re-exported here, so importing them never pulls sockets or asyncio in;
the director is ``from fastalived.ipvs.director import IpvsDirector``.
"""

from fastalived.ipvs.desired import DesiredTable, build_desired
from fastalived.ipvs.reconciler import Op, OpKind, Reconciler

__all__ = ["DesiredTable", "Op", "OpKind", "Reconciler", "build_desired"]
