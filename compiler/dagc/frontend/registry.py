"""The step registry, read statically from `steps/**/*.py`.

Validation must be fast and must not execute user code or import xgboost/pandas/snowflake, so we
parse the step modules with `ast` and read each `@step` function's name, parameters, defaults,
annotations and literal return values. The runtime later imports just the one module it needs.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagc.diagnostics import Diagnostic


@dataclass(frozen=True)
class Param:
    name: str
    required: bool
    annotation: str | None = None  # source text, e.g. "int" or "float | None"
    default: Any = None  # the default when it is a literal (see has_default); for editors' hover help
    has_default: bool = False


@dataclass(frozen=True)
class StepInfo:
    name: str  # the name pipelines use
    module: str  # importable module, e.g. "steps.training"
    function: str
    file: str
    line: int
    params: tuple[Param, ...] = ()
    accepts_any: bool = False  # has **kwargs
    returns: frozenset[str] | None = None  # string literals it can return, when every return is one

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass
class Registry(Mapping[str, StepInfo]):
    root: Path
    steps: dict[str, StepInfo] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __getitem__(self, name: str) -> StepInfo:
        return self.steps[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)


_cache: dict[Path, tuple[tuple[tuple[str, float, int], ...], Registry]] = {}


_LOCK = threading.RLock()  # re-entered: load_registry holds it while parse_module takes it


def load_registry(root: Path) -> Registry:
    """All `@step` functions under `root/steps`, cached per process by file mtimes.

    One thread at a time: CPython 3.11's ast.parse is not thread-safe ("AST constructor recursion
    depth mismatch" when engines run in threads of one process), and the cache is shared."""
    with _LOCK:
        return _load_registry(root)


def _load_registry(root: Path) -> Registry:
    root = Path(root).resolve()
    files = sorted((root / "steps").rglob("*.py")) if (root / "steps").is_dir() else []
    stamp = tuple((str(f), *_stamp(f)) for f in files)
    cached = _cache.get(root)
    if cached and cached[0] == stamp:
        return cached[1]
    reg = Registry(root=root)
    for f in files:
        if any(part.startswith(".") or part == "__pycache__" for part in f.relative_to(root).parts):
            continue
        _scan(reg, root, f)
    _cache[root] = (stamp, reg)
    return reg


def _stamp(file: Path) -> tuple[float, int]:
    """mtime and size, or a marker for a file that cannot be stat'ed (a dangling symlink, a loop)."""
    try:
        st = file.stat()
    except OSError:
        return (-1.0, -1)
    return (st.st_mtime, st.st_size)


MAX_MODULE_BYTES = 4 * 1024 * 1024


def _read_module(file: Path) -> bytes:
    """A step module's bytes: a regular file only (a FIFO named x.py must not block validation)."""
    import os
    import stat

    fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{file.name} is not a regular file")
        if st.st_size > MAX_MODULE_BYTES:
            raise OSError(f"{file.name} is larger than {MAX_MODULE_BYTES // 1048576} MiB")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(MAX_MODULE_BYTES + 1)
    finally:
        os.close(fd)


def _scan(reg: Registry, root: Path, file: Path) -> None:
    rel = file.relative_to(root)
    module = ".".join(rel.with_suffix("").parts)
    if module.endswith(".__init__"):
        module = module[: -len(".__init__")]
    try:
        tree = parse_module(file)
    except SyntaxError as exc:
        reg.diagnostics.append(Diagnostic("DAGC401", f"step module does not parse: {exc.msg}", str(rel),
                                          exc.lineno or 0, exc.offset or 0, hint="fix the Python syntax error"))
        return
    except OSError as exc:  # dangling symlink, symlink loop, permissions, not a regular file
        reason = exc.strerror if exc.strerror else str(exc)
        reg.diagnostics.append(Diagnostic("DAGC401", f"cannot read step module: {reason}", str(rel),
                                          hint="fix or remove the file (a symlink must point at a readable .py file)"))
        return
    except ValueError as exc:
        reg.diagnostics.append(Diagnostic("DAGC401", f"cannot read step module: {exc}", str(rel)))
        return
    except (RecursionError, MemoryError):  # an expression nested thousands deep: ast's own recursion gives up
        reg.diagnostics.append(Diagnostic("DAGC401", "step module nests an expression too deeply to be read",
                                          str(rel), hint="split the expression into several statements"))
        return
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        name = _step_name(node)
        if name is None:
            continue
        info = StepInfo(name=name, module=module, function=node.name, file=str(rel), line=node.lineno,
                        params=_params(node), accepts_any=node.args.kwarg is not None, returns=_returns(node))
        if name in reg.steps:
            other = reg.steps[name]
            reg.diagnostics.append(Diagnostic("DAGC402", f"step {name!r} is defined twice (also {other.file}:{other.line})",
                                              str(rel), node.lineno, node.col_offset + 1, hint="step names must be unique"))
        reg.steps[name] = info


_trees: dict[str, tuple[tuple[float, int], ast.Module]] = {}


def parse_module(file: Path) -> ast.Module:
    """`ast.parse` of a step module, kept per file and mtime: the registry and the front-end rules
    (dagc.frontend.checks.packages) read the same modules, and parsing is most of their cost."""
    with _LOCK:  # ast.parse is not thread-safe on CPython 3.11 (see load_registry)
        st = file.stat()
        stamp = (st.st_mtime, st.st_size)
        hit = _trees.get(str(file))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        tree = ast.parse(_read_module(file), filename=str(file))
        _trees[str(file)] = (stamp, tree)
        return tree


def _step_name(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        ident = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if ident != "step":
            continue
        if isinstance(dec, ast.Call):
            for kw in dec.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    return kw.value.value
        return fn.name
    return None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[Param, ...]:
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults_from = len(positional) - len(a.defaults)
    out = []
    for i, arg in enumerate(positional):
        if i == 0:
            continue  # the StepContext
        default = a.defaults[i - defaults_from] if i >= defaults_from else None
        out.append(Param(arg.arg, required=i < defaults_from, annotation=_ann(arg), **_default(default)))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append(Param(arg.arg, required=default is None, annotation=_ann(arg), **_default(default)))
    return tuple(out)


def _default(node: ast.expr | None) -> dict[str, Any]:
    if node is None:
        return {}
    try:
        return {"default": ast.literal_eval(node), "has_default": True}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return {}


def _ann(arg: ast.arg) -> str | None:
    return ast.unparse(arg.annotation) if arg.annotation is not None else None


def _literal_strings(node: ast.AST | None) -> frozenset[str] | None:
    """`Literal["a", "b"]` (also quoted) -> {"a", "b"}; anything else -> None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(node, ast.Subscript) and getattr(node.value, "id", getattr(node.value, "attr", None)) == "Literal":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elts):
            return frozenset(e.value for e in elts)  # type: ignore[union-attr]
    return None


def _returns(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str] | None:
    """The strings a (branch) step can return: its `Literal[...]` return annotation, or the string
    literals of its `return`s when every one returns a literal; None when that is not knowable."""
    annotated = _literal_strings(fn.returns)
    if annotated is not None:
        return annotated
    values: set[str] = set()
    stack: list[ast.AST] = list(fn.body)
    found = False
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue  # returns inside nested functions are theirs
        if isinstance(node, ast.Return):
            found = True
            v = node.value
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                values.add(v.value)
            elif isinstance(v, ast.IfExp) and all(isinstance(x, ast.Constant) and isinstance(x.value, str) for x in (v.body, v.orelse)):
                values.update((v.body.value, v.orelse.value))  # type: ignore[attr-defined]
            else:
                return None
        stack.extend(ast.iter_child_nodes(node))
    return frozenset(values) if found else None
