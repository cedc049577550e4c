"""The walls of the house (docs/ARCHITECTURE.md), enforced by reading every import in the package.

Every ``import`` counts, including the lazy ones inside functions: a lazy import still ties two
packages together, it only hides the tie from a reader. Rules:

- a role (``vrrp``, ``check``, ``ipvs``, ``announce``) never imports another role or the daemon; only
  ``daemon/child.py`` wires roles together;
- ``config`` imports nothing of ours above it; the floor (``runtime``, the top-level leaf
  modules ``options`` and ``_compat``, the compiled ``_vrrp``) imports only ``config`` and itself;
- no import cycle between packages.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "src" / "fastalived"

ROLES = frozenset({"vrrp", "check", "ipvs", "announce"})
FLOOR = frozenset({"runtime", "options", "_compat", "_vrrp", "__init__"})
# What each layer may import besides itself; roles are handled separately (they may use the floor).
ALLOWED: dict[str, frozenset[str]] = {
    "config": frozenset(),
    **{name: frozenset({"config"}) for name in FLOOR},
}
ROLE_MAY_IMPORT = frozenset({"config"}) | FLOOR


def _unit(module: str) -> str:
    """``fastalived.vrrp.machine`` -> ``vrrp``; ``fastalived`` itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE_ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every fastalived module named by an import statement anywhere in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "fastalived":  # ``from fastalived import _vrrp`` names the submodule only
                found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "fastalived" or name.startswith("fastalived.")}


def _is_unit(name: str) -> bool:
    """A package or top-level module of ours (not a name imported from ``fastalived/__init__``)."""
    return (PACKAGE_ROOT / name).is_dir() or (PACKAGE_ROOT / f"{name}.py").exists() or name == "_vrrp"


def _edges() -> dict[str, dict[str, set[str]]]:
    """unit -> imported unit -> the files that make that edge (``_vrrp.pyx`` cimports only C)."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        source_unit = _unit(_module_name(path))
        for target_unit in {_unit(target) for target in _imports(path)}:
            if target_unit != source_unit and _is_unit(target_unit):
                edges[source_unit][target_unit].add(str(path.relative_to(PACKAGE_ROOT)))
    return edges


EDGES = _edges()


def _violations(rule: str, allowed_for: dict[str, frozenset[str]]) -> list[str]:
    return [
        f"{rule}: {source} -> {target} ({', '.join(sorted(files))})"
        for source, allowed in allowed_for.items()
        for target, files in EDGES.get(source, {}).items()
        if target not in allowed
    ]


def test_the_import_graph_was_read() -> None:
    assert EDGES["vrrp"] and EDGES["check"] and EDGES["daemon"], "the walk found no imports: the test is broken"


def test_a_role_imports_no_other_role_and_not_the_daemon() -> None:
    assert _violations("role", dict.fromkeys(ROLES, ROLE_MAY_IMPORT)) == []


def test_config_and_the_floor_import_nothing_above_them() -> None:
    assert _violations("layer", ALLOWED) == []


def test_only_the_daemon_wires_roles_together() -> None:
    wiring = {source for source, targets in EDGES.items() if len(ROLES & set(targets)) > 1}
    assert wiring <= {"daemon"}, wiring


def test_no_import_cycle_between_packages() -> None:
    graph = {source: set(targets) for source, targets in EDGES.items()}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == path[0]:
                cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:  # each cycle once, from its smallest member
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("vrrp/process.py", "fastalived.vrrp.process"),
        ("runtime/__init__.py", "fastalived.runtime"),
    ],
)
def test_module_names_are_derived_from_paths(path: str, expected: str) -> None:
    assert _module_name(PACKAGE_ROOT / path) == expected
