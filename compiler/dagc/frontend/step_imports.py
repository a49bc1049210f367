"""Which imports run when a step runs, read with `ast` (no user code runs): for DAGC407.

See step_packages.py for what counts and what does not.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from dagc.frontend.distributions import NAMESPACES, shown



@dataclass(frozen=True)
class Import:
    name: str  # dotted module name as written (absolute)
    file: str  # project-relative path
    line: int
    col: int

@lru_cache(maxsize=64)
def _local_top_names(root: Path) -> frozenset[str]:
    names = set()
    for child in root.iterdir() if root.is_dir() else ():
        if child.is_dir() and ((child / "__init__.py").exists() or child.name == "steps"):
            names.add(child.name)
        elif child.suffix == ".py":
            names.add(child.stem)
    return frozenset(names)


def _tree(root: Path, rel: str) -> ast.Module | None:
    from dagc.frontend.registry import parse_module

    try:
        return parse_module(root / rel)
    except (SyntaxError, OSError, ValueError):
        return None  # DAGC401 reports it


def _module_of(rel: str) -> str:
    mod = ".".join(Path(rel).with_suffix("").parts)
    return mod[: -len(".__init__")] if mod.endswith(".__init__") else mod


@lru_cache(maxsize=4096)
def _file_of(root: Path, module: str) -> str | None:
    base = Path(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if (root / cand).is_file():
            return cand.as_posix()
    return None


def _guarded(handlers: list[ast.ExceptHandler]) -> bool:
    for h in handlers:
        names = [h.type] if not isinstance(h.type, ast.Tuple) else list(h.type.elts)
        if h.type is None or any(getattr(n, "id", getattr(n, "attr", "")) in
                                 ("ImportError", "ModuleNotFoundError", "Exception", "BaseException") for n in names):
            return True
    return False


def _imports_in(body: Iterable[ast.stmt], rel: str, *, into_functions: bool = False) -> Iterator[Import]:
    """Import statements that run when `body` runs (not those in nested functions, nor guarded ones)."""
    package = _module_of(rel)
    if not rel.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    stack = list(body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and not into_functions:
            continue
        if isinstance(node, ast.Try) and _guarded(node.handlers):
            stack.extend(node.orelse + node.finalbody)  # the try body is optional by design
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                yield Import(a.name, rel, node.lineno, node.col_offset + 1)
            continue
        if isinstance(node, ast.ImportFrom):
            mod = _from_module(node, package)
            yield Import(mod, rel, node.lineno, node.col_offset + 1)
            for a in node.names:  # `from steps.ml import data` may name a submodule
                if a.name != "*":
                    yield Import(f"{mod}.{a.name}", rel, node.lineno, node.col_offset + 1)
            continue
        stack.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt) or isinstance(c, ast.ExceptHandler))


def _from_module(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a `from ... import` names, `from .x import y` resolved against `package`."""
    if not node.level:
        return node.module or ""
    base = package.split(".") if package else []
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def _module_imports(root: Path, file: str) -> list[Import]:
    """Module-level imports of one project file (cached with its parse)."""
    tree = _tree(root, file)
    if tree is None:
        return []
    key = (str(root), file, id(tree))
    got = _MODULE_IMPORTS.get(key)
    if got is None:
        got = _MODULE_IMPORTS[key] = list(_imports_in(tree.body, file))
    return got


_MODULE_IMPORTS: dict[tuple[str, str, int], list[Import]] = {}


def _aliases(stmts: Iterable[ast.stmt], rel: str) -> dict[str, tuple[str, str | None]]:
    """Names bound by the imports that run with `stmts`: local name -> (module, attribute or None)."""
    package = _module_of(rel)
    if not rel.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    out: dict[str, tuple[str, str | None]] = {}
    stack = list(stmts)
    while stack:
        node = stack.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = (a.name if a.asname else a.name.split(".")[0], None)
        elif isinstance(node, ast.ImportFrom):
            mod = _from_module(node, package)
            for a in node.names:
                if a.name != "*":
                    out[a.asname or a.name] = (mod, a.name)
        else:
            stack.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, (ast.stmt, ast.ExceptHandler)))
    return out


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


_FACTS: dict[tuple[str, str, str, int], tuple[list[Import], list[tuple[str, str, str]]] | None] = {}


def _function_facts(root: Path, file: str, name: str) -> tuple[list[Import], list[tuple[str, str, str]]] | None:
    """A function's own imports and the calls it makes by name, read once per parse of its module."""
    tree = _tree(root, file)
    if tree is None:
        return None
    key = (str(root), file, name, id(tree))
    if key in _FACTS:
        return _FACTS[key]
    fn = _function(tree, name)
    if fn is None:
        _FACTS[key] = None
        return None
    mkey = (str(root), file, "", id(tree))
    if mkey not in _MODULE_ALIASES:
        _MODULE_ALIASES[mkey] = (_aliases(tree.body, file),
                                 {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))})
    module_names, defined = _MODULE_ALIASES[mkey]
    names = {**module_names, **_aliases(fn.body, file)}
    calls: list[tuple[str, str, str]] = []
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name):
            if f.id in names:
                mod, attr = names[f.id]
                if attr:
                    calls.append(("name", mod, attr))
            elif f.id in defined:
                calls.append(("here", f.id, ""))
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in names:
            mod, attr = names[f.value.id]
            calls.append(("attr", mod if attr is None else f"{mod}.{attr}", f.attr))
    _FACTS[key] = (list(_imports_in(fn.body, file)), calls)
    return _FACTS[key]


_MODULE_ALIASES: dict[tuple[str, str, str, int], tuple[dict[str, tuple[str, str | None]], set[str]]] = {}


def step_imports(root: Path, rel: str, function: str) -> list[Import]:
    """Third-party candidates imported when the step runs (see the module docstring for the scope)."""
    out: list[Import] = []
    seen_modules: set[str] = set()
    seen_functions: set[tuple[str, str]] = set()
    todo: list[Import] = []
    local_tops = _local_top_names(root)

    def visit_module(file: str) -> None:
        if file in seen_modules:
            return
        seen_modules.add(file)
        # importing a.b.c runs a/__init__.py and a/b/__init__.py first
        parts = Path(file).parts
        for i in range(1, len(parts)):
            init = Path(*parts[:i], "__init__.py").as_posix()
            if init != file and _file_of(root, ".".join(parts[:i])) == init:
                visit_module(init)
        todo.extend(_module_imports(root, file))

    def local_module(module: str) -> str | None:
        return _file_of(root, module) if module.split(".")[0] in local_tops else None

    def visit_function(file: str, name: str) -> None:
        """The step, and each project function it calls by name (transitively): their imports run."""
        if (file, name) in seen_functions:
            return
        seen_functions.add((file, name))
        facts = _function_facts(root, file, name)
        if facts is None:
            return
        visit_module(file)
        imports, calls = facts
        todo.extend(imports)
        for kind, a, b in calls:  # ("name", module, attr) | ("here", function, "") | ("attr", module, function)
            if kind == "here":
                visit_function(file, a)
            elif kind == "name":
                target = local_module(a) if local_module(f"{a}.{b}") is None else None
                if target is not None:
                    visit_function(target, b)
            else:
                target = local_module(a)
                if target is not None:
                    visit_function(target, b)

    visit_function(rel, function)
    reported: set[tuple[str, int, str]] = set()
    while todo:
        imp = todo.pop(0)
        head = imp.name.split(".")
        if head[0] in local_tops:
            local = _file_of(root, imp.name)
            if local is not None:
                visit_module(local)
            continue  # else `from steps.ml import helper_function`: a name in a local module
        key = (imp.file, imp.line, shown(imp.name))
        if key not in reported and not _is_member(imp, out):
            reported.add(key)
            out.append(Import(shown(imp.name) if head[0] in NAMESPACES else imp.name, imp.file, imp.line, imp.col))
    return out


def _is_member(imp: Import, out: list[Import]) -> bool:
    """`from pandas import DataFrame` yields pandas and pandas.DataFrame: keep one per line and package."""
    top = imp.name.split(".")[0]
    return any(o.file == imp.file and o.line == imp.line and o.name.split(".")[0] == top for o in out)

