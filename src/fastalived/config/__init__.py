"""Configuration: read ``keepalived.conf`` (and includes) into the immutable model.

``load_config`` never raises on bad input: every problem becomes a :class:`Diagnostic` in the
returned :class:`LoadResult`, so ``fastalived -t`` can list them all at once.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastalived.config.diagnostics import Diagnostic, LoadResult, Reporter
from fastalived.config.lexer import Lexer, Stmt
from fastalived.config.model import Config, Where, to_jsonable
from fastalived.config.parser import Parser

__all__ = ["Config", "Diagnostic", "LoadResult", "Where", "dump_json", "load_config", "parse_string"]


def load_config(path: str, config_id: str | None = None) -> LoadResult:
    """Load ``path``; ``config_id`` selects ``@id`` lines (default: the short host name)."""
    with _no_cyclic_gc():
        started = time.time_ns()
        report = Reporter()
        lexer = Lexer(report, config_id)
        root = lexer.read_file(path)
        result = _parse(report, lexer, root)
        result.read_since_ns = started
        return result


def parse_string(text: str, filename: str = "<string>", config_id: str | None = None) -> LoadResult:
    """Like :func:`load_config` for config text (includes resolve relative to ``filename``)."""
    with _no_cyclic_gc():
        report = Reporter()
        lexer = Lexer(report, config_id)
        root = lexer.read_string(text, filename)
        return _parse(report, lexer, root)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic GC while loading: the statement tree and model are ~10^5 fresh objects
    with no garbage cycles, and repeated full collections over them cost more than the parse."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse(report: Reporter, lexer: Lexer, root: list[Stmt]) -> LoadResult:
    config = Parser(report).parse(root, lexer.files)
    return LoadResult(config, report.diagnostics, report.notices)


def dump_json(config: Config) -> str:
    """The resolved model as JSON, for ``--dump-config``."""
    import json  # only here: ``-t`` without ``--dump-config`` never needs it

    return json.dumps(to_jsonable(config), indent=2, sort_keys=False)
