"""voicegate's layers only point down, and no two modules import each other, read from the source.

Every ``import`` and ``from ... import`` counts: at the top of a module, inside a function and
under ``if TYPE_CHECKING:``. A module may import its own package and the packages of the layers
below its own; the packages that share a layer are independent of each other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import voicegate

PACKAGE = "voicegate"
SOURCE_ROOT = Path(voicegate.__file__).parent

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"voicegate.errors"}),
    # The room engine (models, the store contract, the engine) and the numpy audio path.
    frozenset({"voicegate.core", "voicegate.audio"}),
    # Implementations of core's contracts; the speech models' worker threads and manifest.
    frozenset({"voicegate.store", "voicegate.redis", "voicegate.inference", "voicegate.catalog"}),
    # voicegate/__init__.py, the RoomKit-compatible top level.
    frozenset({"voicegate"}),
    frozenset({"voicegate.stt", "voicegate.tts"}),
    # Voice sessions; the speech engines by name.
    frozenset({"voicegate.voice", "voicegate.engines"}),
    # Phone calls (Twilio Media Streams, SIP and RTP) as voice backends.
    frozenset({"voicegate.telephony"}),
    # Assembles everything into ``voicegate serve``; fast tests of voice sessions.
    frozenset({"voicegate.server", "voicegate.testing"}),
    frozenset({"voicegate.bench"}),
    frozenset({"voicegate.cli"}),
    frozenset({"voicegate.__main__"}),
)

# Known imports that break the layers, each with the work that removes it
# (test_allowlist_names_only_imports_that_exist says when one is gone).
ALLOWED_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement of ``source`` (a module) that names ``target`` (a module)."""

    source: str
    target: str
    path: Path
    line: int
    statement: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.statement}"


def find_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = (package, *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest module that ``name`` (a module or a name inside one) lies in."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imported_names(node: ast.Import | ast.ImportFrom, source: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = source if is_package else source.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    return [f"{base}.{alias.name}" for alias in node.names]


def find_imports(modules: dict[str, Path], package: str, base: Path) -> Iterator[Import]:
    """Every import, anywhere in each module, of another module of the package.

    Files are named relative to ``base``.
    """
    for source, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = _imported_names(node, source, is_package)
            targets = dict.fromkeys(_resolve(name, modules) for name in names)
            for target in targets:
                if target is not None and target != source and target.split(".")[0] == package:
                    where = path.relative_to(base)
                    yield Import(source, target, where, node.lineno, ast.unparse(node))


def unit_of(module: str, layers: tuple[frozenset[str], ...]) -> tuple[int, str] | None:
    """``(layer index, unit)`` of the unit ``module`` belongs to; a top-level package name
    holds only its ``__init__``."""
    best: tuple[int, str] | None = None
    for index, units in enumerate(layers):
        for unit in units:
            inside = module.startswith(unit + ".") and "." in unit
            if (module == unit or inside) and (best is None or len(unit) > len(best[1])):
                best = (index, unit)
    return best


def layer_violations(
    imports: list[Import],
    layers: tuple[frozenset[str], ...],
    allowed: frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """A line naming the file and the import for each import that does not point down."""
    problems = []
    for found in imports:
        source, target = unit_of(found.source, layers), unit_of(found.target, layers)
        if source is None or target is None:  # test_every_module_has_a_layer names these
            continue
        if source[1] == target[1] or (found.source, found.target) in allowed:
            continue
        if target[0] > source[0]:
            problems.append(f"{found}: {source[1]} imports {target[1]}, a layer above it")
        elif target[0] == source[0]:
            problems.append(f"{found}: {source[1]} imports {target[1]}, its peer in one layer")
    return problems


def import_cycles(imports: list[Import]) -> list[str]:
    """A description of each group of modules that import each other (Tarjan's SCCs)."""
    graph: dict[str, dict[str, Import]] = {}
    for found in imports:
        graph.setdefault(found.source, {}).setdefault(found.target, found)
        graph.setdefault(found.target, {})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    described = []
    for group in groups:
        edges = [str(graph[a][b]) for a in group for b in group if b in graph[a]]
        described.append(f"cycle between {', '.join(group)}:\n    " + "\n    ".join(edges))
    return described


MODULES = find_modules(SOURCE_ROOT, PACKAGE)
IMPORTS = list(find_imports(MODULES, PACKAGE, SOURCE_ROOT.parent))


def test_every_module_has_a_layer() -> None:
    unplaced = [module for module in MODULES if unit_of(module, LAYERS) is None]
    assert not unplaced, f"add these modules' packages to LAYERS: {unplaced}"


def test_imports_only_point_down() -> None:
    problems = layer_violations(IMPORTS, LAYERS, ALLOWED_VIOLATIONS)
    assert not problems, "imports that break the layers:\n" + "\n".join(problems)


def test_no_module_import_cycles() -> None:
    cycles = import_cycles(IMPORTS)
    assert not cycles, "modules that import each other:\n" + "\n".join(cycles)


def test_allowlist_names_only_imports_that_exist() -> None:
    present = {(found.source, found.target) for found in IMPORTS}
    stale = sorted(ALLOWED_VIOLATIONS - present)
    assert not stale, f"remove these fixed imports from ALLOWED_VIOLATIONS: {stale}"


@pytest.mark.parametrize(
    ("module", "unwanted"),
    [("voicegate.core", ("sqlite3", "numpy")), ("voicegate.store.postgres", ("sqlite3",))],
)
def test_importing_leaves_heavy_modules_unloaded(module: str, unwanted: tuple[str, ...]) -> None:
    script = f"import sys, {module}; print(' '.join(m for m in {unwanted!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == [], f"import {module} loads {loaded}"


# ---- the checks above catch what they are meant to, on a package made for the purpose ----

PLANTED = {
    "__init__.py": "",
    "low/__init__.py": "",
    "low/a.py": "def f():\n    from pkg.high import b\n",
    "low/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.low import d\n",
    "low/d.py": "from . import c\n",
    "high/__init__.py": "",
    "high/b.py": "import pkg.low.a\n",
}


def test_a_planted_upward_import_and_cycle_are_named(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    for name, text in PLANTED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    imports = list(find_imports(find_modules(root, "pkg"), "pkg", tmp_path))
    layers = (frozenset({"pkg.low"}), frozenset({"pkg.high"}))

    problems = layer_violations(imports, layers)
    cycles = import_cycles(imports)

    assert problems == [
        "pkg/low/a.py:2: from pkg.high import b: pkg.low imports pkg.high, a layer above it"
    ]
    assert layer_violations(imports, layers, frozenset({("pkg.low.a", "pkg.high.b")})) == []
    assert [cycle.splitlines()[0] for cycle in cycles] == [
        "cycle between pkg.high.b, pkg.low.a:",
        "cycle between pkg.low.c, pkg.low.d:",
    ]
    assert "pkg/low/c.py:3: from pkg.low import d" in cycles[1]
