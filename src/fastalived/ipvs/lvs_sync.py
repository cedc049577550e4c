"""Which IPVS connection-sync daemon should run (``lvs_sync_daemon``), sans-IO.

keepalived's rule (``man keepalived.conf``, global_defs ``lvs_sync_daemon IFACE INSTANCE [id N]
[maxlen N] [port N] [ttl N] [group IP]``, or the deprecated per-instance
``lvs_sync_daemon_interface IFACE``): the VRRP process starts the **backup** daemon when it starts,
switches to the **master** daemon while the named instance is MASTER and back to the backup daemon
on every other state (BACKUP, FAULT, ...), and stops both when it stops. The sync id defaults to the
instance's virtual_router_id.

:class:`SyncDaemonPolicy` turns "config" and "the instance entered state S" into the daemon
commands to carry out (:class:`StartDaemon` / :class:`StopDaemon`), only when something changes;
:class:`fastalived.ipvs.syncd.SyncDaemonDriver` carries them out against the kernel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from fastalived.config.model import Config, LvsSyncDaemon

DaemonState = Literal["master", "backup"]
MASTER_STATE = 2  # fastalived.vrrp.machine.MASTER / STOP (not imported: a role never imports another)
STOP_STATE = 4


@dataclass(frozen=True, slots=True)
class SyncTarget:
    """The resolved ``lvs_sync_daemon``: the followed instance and settings with the sync id filled in."""

    instance: str
    settings: LvsSyncDaemon  # ``sync_id`` never None here


@dataclass(frozen=True, slots=True)
class StartDaemon:
    state: DaemonState
    settings: LvsSyncDaemon


@dataclass(frozen=True, slots=True)
class StopDaemon:
    state: DaemonState


Command = StartDaemon | StopDaemon


def resolve_target(config: Config) -> tuple[SyncTarget | None, str | None]:
    """The sync-daemon target of ``config`` and a warning to log when the setting cannot be used.

    global_defs ``lvs_sync_daemon`` wins; otherwise the first instance carrying the deprecated
    ``lvs_sync_daemon_interface`` (keepalived ignores later ones).
    """
    settings = config.global_defs.lvs_sync_daemon
    if settings is not None:
        if settings.vrrp_instance is None:
            return None, f"lvs_sync_daemon {settings.interface}: no VRRP instance named; sync daemon disabled"
        instance = config.instance(settings.vrrp_instance)
        if instance is None:
            return None, (f"lvs_sync_daemon: VRRP instance {settings.vrrp_instance} not found; "
                          "sync daemon disabled")  # fmt: skip
    else:
        instance = next((i for i in config.vrrp_instances if i.lvs_sync_daemon_interface), None)
        if instance is None:
            return None, None
        assert instance.lvs_sync_daemon_interface is not None
        settings = LvsSyncDaemon(instance.lvs_sync_daemon_interface, instance.name)
    if settings.sync_id is None:
        settings = dataclasses.replace(settings, sync_id=instance.virtual_router_id)
    return SyncTarget(instance.name, settings), None


def wanted_daemon(state: int | None) -> DaemonState:
    """Master daemon while the instance is MASTER; backup daemon otherwise (also before it starts)."""
    return "master" if state == MASTER_STATE else "backup"


def _other(state: DaemonState) -> DaemonState:
    return "backup" if state == "master" else "master"


class SyncDaemonPolicy:
    """Desired sync-daemon state from the config and the followed instance's VRRP state.

    Every method returns the commands that take the kernel from what this policy last asked for
    to what it wants now, in order; ``[]`` when nothing changes. The first commands also stop the
    other daemon, in case a previous run (killed with -9) left it running.
    """

    def __init__(self) -> None:
        self.target: SyncTarget | None = None
        self.instance_state: int | None = None  # the followed instance's last reported state
        self.running: tuple[DaemonState, LvsSyncDaemon] | None = None  # what the last commands left
        self._stopped = False

    def configure(self, config: Config, states: dict[str, int]) -> list[Command]:
        """(Re)load: ``states`` are the running instances' current states (name -> state)."""
        target, _ = resolve_target(config)
        if target != self.target:
            self.target = target
            self.instance_state = None if target is None else states.get(target.instance)
        return self._converge()

    def instance_changed(self, name: str, state: int) -> list[Command]:
        """An instance entered ``state``; only the followed one matters.

        STOP changes nothing: the instance is going away, and what follows decides (:meth:`stop`
        stops both daemons; a reload re-adds the instance, whose first state counts, or drops the
        setting through :meth:`configure`). A stopping master thus never starts a backup daemon
        just to stop it.
        """
        if self.target is None or name != self.target.instance or self._stopped or state == STOP_STATE:
            return []
        self.instance_state = state
        return self._converge()

    def stop(self) -> list[Command]:
        """The VRRP process stops: stop both daemons (only if we ever started one)."""
        self._stopped = True
        if self.running is None:
            return []
        self.running = None
        return [StopDaemon("master"), StopDaemon("backup")]

    def desired(self) -> tuple[DaemonState, LvsSyncDaemon] | None:
        if self.target is None or self._stopped:
            return None
        return wanted_daemon(self.instance_state), self.target.settings

    def _converge(self) -> list[Command]:
        desired = self.desired()
        if desired == self.running:
            return []
        previous, self.running = self.running, desired
        if desired is None:  # lvs_sync_daemon removed (or its instance) by a reload
            return [StopDaemon("master"), StopDaemon("backup")]
        state, settings = desired
        commands: list[Command] = [StopDaemon(_other(state))]
        if previous is not None and previous[0] == state:  # same daemon, new settings: restart it
            commands.append(StopDaemon(state))
        commands.append(StartDaemon(state, settings))
        return commands
