"""Static check: do a branch task's cases match what its step can return?

On Snowflake a branch step's return value selects the child to run; a value that is not a case
fails the task at run time, and a case the step never returns is a child that can never run. Where
the step's possible results are visible without running it (every `return` is a string literal, or
the return annotation is `Literal[...]`), dagc compares them with the declared cases before
deploying. Steps whose results are computed are left to the runtime check.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from dagc.runtime.steps import STEP_ATTR  # noqa: F401 - documents the decorator being looked for


def _is_step(fn: ast.FunctionDef, name: str) -> bool:
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        ident = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
        if ident != "step":
            continue
        if isinstance(d, ast.Call):
            for kw in d.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    return kw.value.value == name
        return fn.name == name
    return False


def _literal_strings(node: ast.AST | None) -> set[str] | None:
    """`Literal["a", "b"]` -> {"a", "b"}; anything else -> None."""
    if isinstance(node, ast.Subscript) and getattr(node.value, "id", getattr(node.value, "attr", None)) == "Literal":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elts):
            return {e.value for e in elts}  # type: ignore[union-attr]
    return None


def possible_returns(fn: ast.FunctionDef) -> set[str] | None:
    """The strings `fn` can return, or None when that is not statically known."""
    ann = fn.returns
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):  # a quoted annotation
        try:
            ann = ast.parse(ann.value, mode="eval").body
        except SyntaxError:
            ann = None
    annotated = _literal_strings(ann)
    if annotated is not None:
        return annotated
    values: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node is not fn:
            continue
        if isinstance(node, ast.Return):
            v = node.value
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                values.add(v.value)
            elif isinstance(v, ast.IfExp) and all(isinstance(x, ast.Constant) and isinstance(x.value, str) for x in (v.body, v.orelse)):
                values.update({v.body.value, v.orelse.value})  # type: ignore[union-attr]
            else:
                return None
    return values or None


def find_step(project_root: Path, step: str) -> tuple[Path, ast.FunctionDef] | None:
    steps = project_root / "steps"
    if not steps.is_dir():
        return None
    for path in sorted(steps.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(), filename=str(path))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and _is_step(node, step):
                return path, node
    return None


def branch_problems(pipeline: Any, project_root: Path) -> list[str]:
    """Messages for branch tasks whose cases and statically known step results disagree."""
    problems: list[str] = []
    for t in pipeline.tasks:
        if not t.is_branch or not t.step:
            continue
        found = find_step(project_root, t.step)
        if found is None:
            continue
        path, fn = found
        values = possible_returns(fn)
        if values is None:
            continue
        cases = set(t.cases)
        where = f"{path.relative_to(project_root)}:{fn.lineno}"
        for v in sorted(values - cases):
            problems.append(f"branch task {t.name!r}: step {t.step!r} ({where}) can return {v!r}, which is not one "
                            f"of its cases ({', '.join(sorted(cases))}); add the case or change the step")
        for c in sorted(cases - values):
            problems.append(f"branch task {t.name!r}: case {c!r} can never be chosen: step {t.step!r} ({where}) "
                            f"only returns {', '.join(repr(v) for v in sorted(values))}")
    return problems
