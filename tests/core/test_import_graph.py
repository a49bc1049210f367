"""The package has no import cycles: the module-level imports of dagc form a DAG.

A cycle between modules (engine.sqlemu <-> engine.tables once) works only by accident of import
order and turns a harmless refactor into an ImportError. An import inside a function (how heavy
modules stay off the validate path) is still a dependency, so every `import` / `from ... import`
anywhere in a module counts; TYPE_CHECKING blocks are left out.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "compiler" / "dagc"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    skipped = {id(n) for top in ast.walk(tree) if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
               for n in ast.walk(top)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` depends on the submodule; `from mod import name` on the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            # the most specific known module this import names (a package's submodule or the package)
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("dagc"):
                out.add(t)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    known = set(files)
    graph = {name: _imports(path, name, known) for name, path in files.items()}
    return graph


def test_no_import_cycles():
    graph = import_graph()
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise AssertionError("import cycle: " + " -> ".join(cycle)) from None


def test_the_graph_is_read():
    graph = import_graph()
    assert "dagc.frontend.checks" in graph and "dagc.ir" in graph["dagc.frontend.checks"]
