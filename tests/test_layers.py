"""Imports go one way (DESIGN §2, STYLE "Layering"): commands -> core -> model -> formats.

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
    "services": 9,
    "backup": 9,
    "output": 9,
    "api": 10,
    "commands": 11,
    "cli": 12,
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
        if part not in ("commands", "cli", "output"):
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


def test_layers_commands_touch_no_sql_or_formats() -> None:
    for path in (PKG / "commands").rglob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] != "sqlite3", f"{path.name} uses sqlite3"
            assert not name.startswith("cluetool.formats"), f"{path.name} imports {name}"


def _module_graph() -> dict[str, set[str]]:
    names = {".".join(("cluetool", *p.relative_to(PKG).with_suffix("").parts)).removesuffix(".__init__"): p
             for p in MODULES}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        deps = set()
        for imp in _imports(path):
            # "from cluetool.audit import replay" names a module too.
            while imp and imp not in names:
                imp = imp.rpartition(".")[0]
            if imp and imp != name and not name.startswith(imp + "."):
                deps.add(imp)
        graph[name] = deps
    return graph


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for dep in graph.get(node, ()):
            if dep == start:
                return path + [start]
            if dep not in seen and not dep.startswith(start + "."):
                seen.add(dep)
                stack.append((dep, path + [dep]))
    return None


AUDIT_MODULES = sorted(n for n in _module_graph() if n.startswith("cluetool.audit")
                       or n in ("cluetool.store.audit", "cluetool.store.auditlog", "cluetool.store.stateimages",
                                "cluetool.formats.merkle", "cluetool.formats.cosignature"))


@pytest.mark.parametrize("module", AUDIT_MODULES)
def test_layers_no_import_circle_through_audit_modules(module: str) -> None:
    # Function-level and TYPE_CHECKING imports count (issue 18: no circles).
    assert _cycle_through(_module_graph(), module) is None, " -> ".join(_cycle_through(_module_graph(), module) or [])


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
