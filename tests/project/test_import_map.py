"""The import map of vel_runner/: imports point down (entry points -> runtime, config, agent,
context -> stores, providers), never back up, so there is no import cycle; and no module reaches
into another module's private names (``from .m import _x``, ``obj._x`` across modules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "vel_runner"


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = (path, ast.parse(path.read_text()))
    return found


def _target(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        return ".".join([*base, node.module] if node.module else base)
    return node.module or ""


def _edges(modules: dict[str, tuple[Path, ast.Module]]) -> dict[str, set[str]]:
    """Every import (TYPE_CHECKING and function-local ones too), a package's own children aside."""
    edges: dict[str, set[str]] = {}
    for name, (path, tree) in modules.items():
        is_package = path.name == "__init__.py"
        out: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom):
                target = _target(name, is_package, node)
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    out.add(full if full in modules else target)
        out &= set(modules)
        out.discard(name)
        if is_package:
            out = {m for m in out if not m.startswith(name + ".")}
        edges[name] = out
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Kosaraju)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str, graph: dict[str, set[str]], into: list[str]) -> None:
        stack = [(node, iter(sorted(graph.get(node, ()))))]
        seen.add(node)
        while stack:
            current, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(sorted(graph.get(child, ())))))
                    break
            else:
                stack.pop()
                into.append(current)

    for node in sorted(edges):
        if node not in seen:
            visit(node, edges, order)
    reverse: dict[str, set[str]] = {node: set() for node in edges}
    for node, targets in edges.items():
        for target in targets:
            reverse.setdefault(target, set()).add(node)
    seen.clear()
    components = []
    for node in reversed(order):
        if node not in seen:
            component: list[str] = []
            visit(node, reverse, component)
            if len(component) > 1:
                components.append(set(component))
    return components


def _private_reaches(modules: dict[str, tuple[Path, ast.Module]]) -> list[str]:
    reaches = []
    for name, (path, tree) in modules.items():
        own = _own_names(tree)
        where = path.relative_to(PACKAGE.parent).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _target(name, path.name == "__init__.py", node)
                reaches += [
                    f"{where}:{node.lineno} imports {alias.name} from {target}"
                    for alias in node.names
                    if target in modules and target != name and _private(alias.name)
                ]
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                value = node.value
                if isinstance(value, ast.Name) and value.id in ("self", "cls"):
                    continue
                if node.attr not in own:
                    reaches.append(f"{where}:{node.lineno} reaches .{node.attr}")
    return reaches


def _own_names(tree: ast.Module) -> set[str]:
    """Names a module defines: a reach to one of them stays inside the module."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
    return own


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_cycles() -> None:
    assert _cycles(_edges(_modules())) == []


@pytest.mark.parametrize("entry", ["vel_runner.cli", "vel_runner.server", "vel_runner.tui"])
def test_nothing_below_imports_an_entry_point(entry: str) -> None:
    edges = _edges(_modules())
    below = {m for m in edges if not m.startswith(entry) and m != "vel_runner.cli"}
    assert [m for m in below if any(t.startswith(entry) for t in edges[m])] == []


def test_no_reaches_into_other_modules_private_names() -> None:
    assert _private_reaches(_modules()) == []
