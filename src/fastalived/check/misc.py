"""MISC_CHECK: run ``misc_path``; exit 0 passes, anything else fails.

``misc_dynamic`` reads the exit status as keepalived does: 0 up (weight unchanged), 1 down,
2..255 up with weight ``status - 2``. The command runs without a shell unless it uses shell syntax
(pipes, redirections, variables, globbing ...). It runs in its own session; after
``misc_timeout`` (default ``delay_loop``) the whole process group is killed and the check fails.
"""

from __future__ import annotations

import time

from fastalived.check.probe import CoroutineProbe
from fastalived.check.state import CheckResult
from fastalived.config.model import GlobalDefs, MiscCheck
from fastalived.runtime.commands import shell_or_argv
from fastalived.runtime.scripts import Script


def judge_exit(status: int | None, dynamic: bool) -> CheckResult:
    """Map an exit status (None: timed out or could not start) to a result."""
    if status is None:
        return CheckResult(False, "timed out or could not start")
    if status == 0:
        return CheckResult(True)
    if dynamic and status >= 2:
        return CheckResult(True, weight=status - 2)
    return CheckResult(False, f"exit status {status}")


class MiscProbe(CoroutineProbe):
    __slots__ = ("script", "timeout", "dynamic", "global_defs")

    def __init__(self, check: MiscCheck, global_defs: GlobalDefs) -> None:
        self.script = Script(shell_or_argv(check.misc_path), check.user, check.group, "MISC_CHECK")
        self.timeout = check.misc_timeout if check.misc_timeout is not None else check.common.delay_loop
        self.dynamic = check.misc_dynamic
        self.global_defs = global_defs  # script_user and enable_script_security apply to MISC_CHECK too

    async def run(self) -> CheckResult:
        started = time.monotonic()
        status = await self.script.run(self.timeout, self.global_defs)
        if self.script.disabled is not None:  # refused once, as keepalived: never run again
            return CheckResult(False, self.script.disabled, time.monotonic() - started)
        result = judge_exit(status, self.dynamic)
        return CheckResult(result.ok, result.reason, time.monotonic() - started, result.weight)
