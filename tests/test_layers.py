"""Imports go one way, commands -> core -> model -> formats, and no two modules import
each other, directly or through others (issue 18).

Walks the AST of every module, including imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "cluetool"

# Layer of each top-level part of the package; a module may import only from layers
# strictly lower than its own, or from its own part.
LAYER = {
    "formats": 0,
    "errors": 1,
    "text": 1,
    "model": 2,
    "config": 3,
    "workers": 3,
    "sqlerrors": 3,
    "validate": 4,
    "keys": 4,
    "rules": 4,
    "batch": 5,
    "store": 5,
    "home": 6,
    "audit": 7,
    "handling": 7,
    "ingest": 8,
    "feed": 8,
    "supervision": 8,
    "backup": 9,
    "output": 9,
    "api": 10,
    "commands": 11,
    "cli": 12,
    "clidoc": 13,  # the command reference generated from the app
    "__init__": 13,
    "__main__": 13,
}
FORBIDDEN_IN_CORE = {"typer", "click", "tabulate"}


def _part(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "cluetool":
                names += [
                    f"cluetool.{a.name}"
                    for a in node.names
                    if (PKG / a.name).is_dir() or (PKG / f"{a.name}.py").is_file()
                ]
    return names


MODULES = sorted(p for p in PKG.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_layers_imports_only_downward(path: Path) -> None:
    part = _part(path)
    assert part in LAYER, f"{part} has no layer in tests/test_layers.py"
    for name in _imports(path):
        top = name.split(".")[0]
        if part not in ("commands", "cli", "clidoc", "output"):
            assert top not in FORBIDDEN_IN_CORE, f"{path.name} imports {top}"
        if top != "cluetool" or name == "cluetool":
            continue
        if part == "formats":
            assert False, f"formats/ must not import cluetool ({name})"
        target = name.split(".")[1]
        if target == part:
            continue
        assert target in LAYER, f"unknown part {target}"
        assert LAYER[target] < LAYER[part], f"{path.relative_to(PKG)} imports {name} (upward)"


# What a command may import of cluetool (issue 18, "one library face"): the api, the
# rendering of its results, the error types (for an option check's InputError and the
# exit codes), and the other command modules (shared options). Everything else of the
# library is reached through cluetool.api.
COMMAND_IMPORTS = ("cluetool.api", "cluetool.output", "cluetool.errors", "cluetool.commands")


@pytest.mark.parametrize("path", sorted((PKG / "commands").rglob("*.py")), ids=lambda p: p.name)
def test_layers_commands_call_only_the_api(path: Path) -> None:
    for name in _imports(path):
        if name.split(".")[0] != "cluetool" or name == "cluetool":
            continue  # "from cluetool import api" also names cluetool.api
        assert name in COMMAND_IMPORTS or name.startswith(tuple(m + "." for m in COMMAND_IMPORTS)), (
            f"commands/{path.name} imports {name}: call cluetool.api instead")


def test_layers_commands_touch_no_sql_or_formats() -> None:
    for path in (PKG / "commands").rglob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] != "sqlite3", f"{path.name} uses sqlite3"
            assert not name.startswith("cluetool.formats"), f"{path.name} imports {name}"


def _module_name(path: Path) -> str:
    return ".".join(("cluetool", *path.relative_to(PKG).with_suffix("").parts)).removesuffix(".__init__")


MODULE_NAMES = {_module_name(p): p for p in MODULES}


def _resolve(name: str) -> str | None:
    """The module of the package that importing ``name`` runs last (its longest prefix
    that is a module of ``cluetool``), or None outside the package."""
    while name and name not in MODULE_NAMES:
        name = name.rpartition(".")[0]
    return name or None


def _module_deps(name: str, path: Path) -> set[str]:
    """Modules of the package that ``name`` imports anywhere in its text: at the top,
    inside functions, under ``TYPE_CHECKING``; absolute and relative; ``from P import M``
    names module ``P.M`` when M is one. Importing ``a.b.c`` also runs ``a`` and ``a.b``:
    those implicit edges to a module's own packages are not counted (every submodule
    would make a circle with a package that imports it); explicit ones are."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    deps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULE_NAMES else module
                       for a in node.names]
        for target in targets:
            dep = _resolve(target)
            if dep is not None and dep != name:
                deps.add(dep)
    return deps


def _module_graph() -> dict[str, set[str]]:
    return {name: _module_deps(name, path) for name, path in MODULE_NAMES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as a
    list of module names; empty when the import graph has no circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_layers_no_import_circle_anywhere() -> None:
    # Issue 18: no two modules of cluetool import each other, directly or through others,
    # counting function-level and TYPE_CHECKING imports.
    circles = _cycles(_module_graph())
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_layers_circle_finder_finds_circles() -> None:
    # The check above can fail: a made-up graph with a circle of three and a self-contained
    # chain.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_layers_graph_sees_function_level_typing_and_relative_imports(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from cluetool.store.db import Store\n"
        "def f():\n"
        "    from cluetool.store import queries\n"
        "    import cluetool.formats.merkle\n"
        "    from . import integrity\n",
        encoding="utf-8")
    # As if it were cluetool/store/probe.py.
    assert _module_deps("cluetool.store.probe", module) == {
        "cluetool.store.db", "cluetool.store.queries", "cluetool.formats.merkle", "cluetool.store.integrity"}
    graph = _module_graph()
    assert "cluetool.formats.age.header" in graph["cluetool.formats.age.stream"]  # "from .header import ..."


def test_layers_store_opened_in_one_place() -> None:
    # Issue 18: a home's store is opened (and a backend chosen) only in cluetool/home.py.
    for path in MODULES:
        rel = path.relative_to(PKG)
        if rel.parts[0] == "store" or rel == Path("home.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ("open", "create")
                    and isinstance(node.value, ast.Name) and node.value.id == "Store"):
                assert False, f"{rel}:{node.lineno} opens a store itself (use cluetool.home.open_store)"


def test_layers_package_reexports_the_api() -> None:
    import cluetool
    from cluetool import api

    public = [n for n in api.__all__ if not (PKG / n).is_dir()]  # cluetool.validate is a package
    assert set(public) <= set(cluetool.__all__), set(public) - set(cluetool.__all__)
    for name in public:
        assert getattr(cluetool, name) is getattr(api, name), name
    assert not (PKG / "services.py").exists() and not (PKG / "handling" / "service.py").exists()
