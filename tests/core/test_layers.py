"""The package reads top-down: faces -> commands -> services -> base, with no loop.

Every module's imports are read with `ast` (lazy imports inside functions and imports under
TYPE_CHECKING count too: they are still a dependency a reader has to follow). A module may
import its own layer or a lower one; a command may use another command only as `LATERAL`
lists; nothing below the CLI imports it; no set of modules imports each other in a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kagura_engineer

PACKAGE = "kagura_engineer"
ROOT = Path(kagura_engineer.__file__).resolve().parent

FACE, COMMAND, SERVICE, BASE = 4, 3, 2, 1
NAMES = {FACE: "face", COMMAND: "command", SERVICE: "service", BASE: "base"}
#: The longest matching prefix decides a module's layer (relative to the package).
LAYERS: dict[str, int] = {
    "cli": FACE, "__main__": FACE, "commands": FACE, "action": FACE,
    "run": COMMAND, "review": COMMAND, "goal": COMMAND, "eval": COMMAND, "doctor": COMMAND,
    "setup": COMMAND, "init": COMMAND, "demo": COMMAND,
    "memory.command": COMMAND, "memory.savepoint_command": COMMAND, "cache.command": COMMAND,
    "agent": SERVICE, "github": SERVICE, "memory": SERVICE, "cache": SERVICE,
    "git": SERVICE, "workflow": SERVICE, "toolchain": SERVICE, "workspace": SERVICE,
    "": BASE, "config": BASE, "proc": BASE, "http": BASE, "errors": BASE, "credentials": BASE,
    "scratch": BASE, "jobkey": BASE, "status": BASE, "urls": BASE, "budget": BASE,
}  # fmt: skip
#: Commands that build on another command (first part of the name -> what it may use).
LATERAL = {"goal": {"run"}, "eval": {"run"}, "demo": {"run"}, "setup": {"doctor"}}
#: Modules that may import the CLI: the entry points.
ENTRY_POINTS = {f"{PACKAGE}.__main__"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str, path: Path) -> set[str]:
    """The package's modules that `module` imports (anywhere in the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(_resolve(a.name) for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (path.name == "__init__.py")]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                found.add(full if full in MODULES else _resolve(source))
    found.discard(module)
    found.discard("")
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _local(module: str) -> str:
    return module.removeprefix(PACKAGE).removeprefix(".")


def layer(module: str) -> int:
    name = _local(module)
    best = max((p for p in LAYERS if p == "" or name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def _top(module: str) -> str:
    return _local(module).split(".")[0]


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Each import from a lower layer to a higher one, or between commands not in `LATERAL`."""
    found = []
    for module, targets in graph.items():
        for target in targets:
            here, there = layer(module), layer(target)
            if there > here:
                found.append(f"{module} ({NAMES[here]}) imports {target} ({NAMES[there]})")
            elif here == there == COMMAND and _top(module) != _top(target):
                if _top(target) not in LATERAL.get(_top(module), set()):
                    found.append(f"{module} imports the command {target}")
    return sorted(found)


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer_and_imports_only_downward():
    assert upward(GRAPH) == []


def test_no_modules_import_each_other_in_a_loop():
    assert loops(GRAPH) == []


def test_only_the_entry_points_import_the_cli():
    assert sorted(m for m, targets in GRAPH.items() if f"{PACKAGE}.cli" in targets) == sorted(ENTRY_POINTS)


@pytest.mark.parametrize(
    ("below", "above"),
    [("review", "run"), ("goal", "action"), ("cache", "action"), ("agent", "doctor"), ("agent", "run")],
)
def test_named_boundaries_hold(below, above):
    crossing = [
        f"{m} -> {t}" for m, targets in GRAPH.items() if _top(m) == below for t in targets if _top(t) == above
    ]
    assert crossing == []


def test_the_checks_see_what_they_guard():
    """The reader finds real imports, and each rule fails on the slip it guards against."""
    assert f"{PACKAGE}.git" in GRAPH[f"{PACKAGE}.run.loop"]  # a plain import
    assert f"{PACKAGE}.workflow" in GRAPH[f"{PACKAGE}.run.loop"]  # an import inside a function
    assert layer(f"{PACKAGE}.memory.command") == COMMAND and layer(f"{PACKAGE}.memory.local") == SERVICE
    assert upward({f"{PACKAGE}.review.job": {f"{PACKAGE}.run.prompt"}}) != []
    assert upward({f"{PACKAGE}.goal.plan": {f"{PACKAGE}.action.intent"}}) != []
    assert upward({f"{PACKAGE}.goal.drive": {f"{PACKAGE}.run.loop"}}) == []
    assert upward({f"{PACKAGE}.git": {f"{PACKAGE}.git"}, f"{PACKAGE}.proc": {f"{PACKAGE}.git"}}) != []
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert loops({"a": {"b"}, "b": set()}) == []
