"""vrrp_script runner: run each tracked script every ``interval`` without ever blocking the loop.

keepalived forks a child per check, treats exit status 0 as success and kills a child that outlives
``timeout``. We do the same with asyncio subprocesses in their own session, so a timeout kills the
whole process group (a shell script's children too), not just the direct child. The results go to
a callback; rise/fall counting lives in the sans-IO :mod:`fastalived.vrrp.tracking`. A script that
script security refuses is disabled once (:class:`fastalived.runtime.scripts.Script`): it fails,
and is not run again until a reload.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from fastalived.config.model import GlobalDefs, VrrpScript
from fastalived.runtime.commands import command_argv
from fastalived.runtime.scripts import Script

log = logging.getLogger("fastalived.vrrp")

ScriptResultCallback = Callable[[str, bool], None]


class ScriptRunner:
    """Runs every configured vrrp_script on its own interval and reports pass/fail by name."""

    def __init__(self, on_result: ScriptResultCallback) -> None:
        self._on_result = on_result
        self._global_defs = GlobalDefs()
        self._tasks: dict[str, tuple[VrrpScript, asyncio.Task[None]]] = {}

    @property
    def scripts(self) -> list[str]:
        return sorted(self._tasks)

    def update(self, scripts: Iterable[VrrpScript], global_defs: GlobalDefs | None = None) -> None:
        """Start new or changed scripts, stop removed ones; unchanged scripts keep their schedule.

        ``global_defs`` brings ``script_user`` and ``enable_script_security`` (keepalived applies
        them to vrrp_script too); each run reads the latest.
        """
        if global_defs is not None:
            self._global_defs = global_defs
        wanted = {s.name: s for s in scripts}
        for name, (script, task) in list(self._tasks.items()):
            if wanted.get(name) != script or task.done():  # a disabled script is judged anew
                self._tasks.pop(name)[1].cancel()
        for name, script in wanted.items():
            if name not in self._tasks:
                task = asyncio.get_running_loop().create_task(self._loop(script), name=f"vrrp_script {name}")
                self._tasks[name] = (script, task)

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, script: VrrpScript) -> None:
        runner = Script(command_argv(script.script), script.user, script.group, f"vrrp_script {script.name}")
        timeout = script.timeout if script.timeout is not None else script.interval
        while True:
            started = time.monotonic()
            status = await runner.run(timeout, self._global_defs)
            current = self._tasks.get(script.name)
            if current is None or current[0] is not script:
                return  # removed or replaced by update() while the last run was finishing
            if runner.disabled is not None:
                # Refused (script security): keepalived never runs it again. It fails at once,
                # whatever its ``fall``, and stays failed until a reload judges it anew.
                for _ in range(max(1, script.fall)):
                    self._on_result(script.name, False)
                return
            if status is None:
                log.info("Script `%s` timed out or failed to start", script.name)
            self._on_result(script.name, status == 0)
            await asyncio.sleep(max(0.0, started + script.interval - time.monotonic()))
