"""DAGC407: a step imports a third-party package its task's procedure will not have.

On Snowflake a task procedure can import only the standard library, Snowflake's runtime module
`_snowflake`, the staged bundle (steps/ and dagc's runtime) and the packages the pipeline lists
under `packages:` (with what they depend on). A step that imports anything else fails at its
first run with `No module named ...`, long after `dagc validate` and `dagc deploy` said yes. This
rule reads the step modules with `ast` (no user code runs) and reports each such import at its
line.

What counts, for each Python task of a pipeline that has a `stage:` (without one it cannot be
deployed, so the rule stays quiet):
  * the module-level imports of the step's module and of its parent packages' `__init__.py`;
  * the imports inside the step function itself (in any block, but not in functions nested in it);
  * the imports inside every project function the step calls by name (`fit(...)`, `train.fit(...)`
    where `fit` / `train` come from a module under the project), transitively;
  * the module-level imports of every module under the project that those import, transitively.
Not counted (decision): lazy imports inside functions the step never calls by name (a helper
reached only through a variable, a callback or another task's code: reporting those would flag
code this task does not run), and imports guarded by `try: ... except ImportError` (the module
is optional by design).

An import name is mapped to its distribution by a small table of well-known differences
(`sklearn` -> scikit-learn, `snowflake.ml` -> snowflake-ml-python, ...), then by
`importlib.metadata.packages_distributions()` for what is installed here, else taken as is. A
declared package provides itself and its dependencies as far as installed metadata tells.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from dagc.diagnostics import Diagnostic, Severity
from dagc.frontend.rules import RuleInput

CODE = "DAGC407"

# import name -> distribution, where they differ (the common cases; installed metadata covers the rest)
KNOWN: dict[str, str] = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "google.protobuf": "protobuf",
    "attr": "attrs",
    "jwt": "pyjwt",
    "OpenSSL": "pyopenssl",
    "Crypto": "pycryptodome",
    "snowflake.snowpark": "snowflake-snowpark-python",
    "snowflake.ml": "snowflake-ml-python",
    "snowflake.core": "snowflake-core",
    "snowflake.connector": "snowflake-connector-python",
    "snowflake.cortex": "snowflake-ml-python",
}
# what a Snowflake Python procedure has besides its packages and imports
RUNTIME_MODULES = frozenset({"_snowflake", "dagc", "steps", "__future__"})
_NAMESPACES = frozenset({"snowflake", "google"})


@dataclass(frozen=True)
class Import:
    name: str  # dotted module name as written (absolute)
    file: str  # project-relative path
    line: int
    col: int


def check(ctx: RuleInput) -> list[Diagnostic]:
    p, reg = ctx.pipeline, ctx.registry
    if reg is None or not p.stage:
        return []
    python = [t for t in p.all_tasks() if t.kind.value != "sql" and t.step and t.step in reg]
    if not python:
        return []
    from dagc.snowflake.packaging import pipeline_packages, requirement_name

    packages = pipeline_packages(p)
    declared = tuple(requirement_name(x) for x in packages)
    direct = frozenset(declared)
    root = Path(reg.root).resolve()
    local = _local_top_names(root)
    found: dict[tuple[str, int, int, str], list[str]] = {}
    for t in python:
        info = reg[t.step]
        for imp in step_imports(root, info.file, info.function):
            top = imp.name.split(".")[0]
            if top in RUNTIME_MODULES or top in local or top in sys.stdlib_module_names:
                continue
            dists = distributions(imp.name)
            if not any(d in direct for d in dists) and not any(d in closure(declared) for d in dists):
                found.setdefault((imp.file, imp.line, imp.col, imp.name), []).append(t.name)
    # a declared package that is not installed here has dependencies this rule cannot see: then a
    # missing import may still come with it on Snowflake, so it is a warning, not an error
    unknown = [d for d in declared if not _is_distribution(d) and d not in WELL_KNOWN_DEPS]
    out = []
    for (file, line, col, name), tasks in sorted(found.items()):
        dist = distributions(name)[0]
        which = ", ".join(repr(x) for x in dict.fromkeys(tasks))
        message = (f"imports {_shown(name)} (distribution {dist}), which the Snowflake procedure of task(s) {which} "
                   f"will not have: pipeline {p.name!r} does not list it under `packages:`")
        if unknown:
            message += f" (unless {', '.join(unknown)}, not installed here, depends on it)"
        out.append(Diagnostic(
            CODE, message, file, line, col,
            hint=f"add {dist} to `packages:` (Snowflake's Anaconda channel), or import it inside a function "
                 f"that only tasks declaring it call; packages now: {', '.join(packages) or 'none'}",
            severity=Severity.WARNING if unknown else Severity.ERROR))
    return out


def _shown(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] in _NAMESPACES and len(parts) > 1 else parts[0]


# -- import name -> distributions ---------------------------------------------------------------------
def distributions(module: str) -> list[str]:
    parts = module.split(".")
    key2 = ".".join(parts[:2])
    if key2 in KNOWN:
        return [KNOWN[key2]]
    if parts[0] in KNOWN:
        return [KNOWN[parts[0]]]
    if parts[0] not in _NAMESPACES and _is_distribution(_norm(parts[0])):
        return [_norm(parts[0])]  # the usual case, without scanning every installed distribution
    installed = _installed_map().get(parts[0])
    if installed and parts[0] not in _NAMESPACES:
        return sorted({_norm(d) for d in installed})
    return [_norm(key2 if parts[0] in _NAMESPACES and len(parts) > 1 else parts[0])]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def _dist_index() -> dict[str, Path]:
    """Normalised distribution name -> its metadata directory, for every sys.path entry (one
    listing per directory: importlib.metadata's search costs more than the rest of validation)."""
    import os

    out: dict[str, Path] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for n in names:
            if n.endswith((".dist-info", ".egg-info")):
                dist = _norm(n.rsplit(".", 1)[0].split("-")[0])
                out.setdefault(dist, Path(entry or ".") / n)
    return out


def _is_distribution(name: str) -> bool:
    return name in _dist_index()


@lru_cache(maxsize=1)
def _installed_map() -> dict[str, list[str]]:
    try:
        from importlib.metadata import packages_distributions
    except ImportError:  # Python < 3.10
        return {}
    try:
        return dict(packages_distributions())
    except Exception:  # noqa: BLE001 - broken metadata of some installed package must not break validate
        return {}


# Dependencies of packages pipelines commonly declare, for when they are not installed where
# `dagc validate` runs (an isolated pre-commit environment has only dagc): what each brings along
# on Snowflake's channel, as far as step code imports it.
WELL_KNOWN_DEPS: dict[str, tuple[str, ...]] = {
    "pandas": ("numpy", "python-dateutil", "pytz", "tzdata"),
    "scikit-learn": ("numpy", "scipy", "joblib", "threadpoolctl"),
    "xgboost": ("numpy", "scipy"),
    "lightgbm": ("numpy", "scipy", "scikit-learn"),
    "scipy": ("numpy",),
    "snowflake-snowpark-python": ("snowflake-connector-python", "cloudpickle", "pyyaml", "typing-extensions",
                                  "protobuf", "python-dateutil", "tzlocal"),
    "snowflake-connector-python": ("requests", "urllib3", "certifi", "cryptography", "pyjwt", "pytz", "boto3",
                                   "botocore", "packaging", "platformdirs", "filelock", "sortedcontainers"),
    "snowflake-ml-python": ("numpy", "pandas", "pyarrow", "cloudpickle", "fsspec", "pyyaml", "packaging",
                            "pydantic", "snowflake-snowpark-python", "sqlparse", "typing-extensions", "jinja2"),
}


@lru_cache(maxsize=256)
def closure(declared: tuple[str, ...]) -> frozenset[str]:
    """The declared distributions and, as far as installed metadata tells, all they require."""
    seen: set[str] = set()
    todo = list(declared)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_requires(name) if _is_distribution(name) else WELL_KNOWN_DEPS.get(name, ()))
    return frozenset(seen)


_REQUIRES = re.compile(r"^Requires-Dist:\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", re.M)


@lru_cache(maxsize=1024)
def _requires(name: str) -> tuple[str, ...]:
    """A distribution's unconditional requirements (Requires-Dist without an extra), from its METADATA."""
    where = _dist_index().get(name)
    if where is None:
        return ()
    text = ""
    for f in ("METADATA", "PKG-INFO"):
        try:
            text = (where / f).read_text(encoding="utf-8", errors="replace")
            break
        except OSError:
            continue
    out = []
    for dep, rest in _REQUIRES.findall(text):
        if re.search(r"extra\s*==", rest):
            continue  # optional extras are not installed with the package itself
        out.append(_norm(dep))
    return tuple(out)


# -- reading step modules ------------------------------------------------------------------------------
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
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield Import(mod, rel, node.lineno, node.col_offset + 1)
            for a in node.names:  # `from steps.ml import data` may name a submodule
                if a.name != "*":
                    yield Import(f"{mod}.{a.name}", rel, node.lineno, node.col_offset + 1)
            continue
        stack.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt) or isinstance(c, ast.ExceptHandler))


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
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
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
        tree = _tree(root, file)
        fn = _function(tree, name) if tree is not None else None
        if fn is None:
            return
        visit_module(file)
        todo.extend(_imports_in(fn.body, file))
        names = {**_aliases(tree.body, file), **_aliases(fn.body, file)}
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name):
                if f.id in names:
                    mod, attr = names[f.id]
                    target = local_module(mod) if attr and local_module(f"{mod}.{attr}") is None else None
                    if target is not None:
                        visit_function(target, attr)  # type: ignore[arg-type]
                elif f.id in defined:
                    visit_function(file, f.id)
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in names:
                mod, attr = names[f.value.id]
                module = mod if attr is None else f"{mod}.{attr}"
                target = local_module(module)
                if target is not None:
                    visit_function(target, f.attr)

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
        key = (imp.file, imp.line, _shown(imp.name))
        if key not in reported and not _is_member(imp, out):
            reported.add(key)
            out.append(Import(_shown(imp.name) if head[0] in _NAMESPACES else imp.name, imp.file, imp.line, imp.col))
    return out


def _is_member(imp: Import, out: list[Import]) -> bool:
    """`from pandas import DataFrame` yields pandas and pandas.DataFrame: keep one per line and package."""
    top = imp.name.split(".")[0]
    return any(o.file == imp.file and o.line == imp.line and o.name.split(".")[0] == top for o in out)
