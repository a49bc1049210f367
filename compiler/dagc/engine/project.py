"""Where a project's state lives, how a step name becomes module + function, how a pipeline is hashed.

Small seams to code other helpers own (the front end's loader, the step registry, the manifest
emitter): each is imported lazily and has a fallback so the engine works before they land.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from dagc.diagnostics import DagcError, UsageError
from dagc.ir import Pipeline

STATE_ENV = "DAGC_STATE_DIR"


def find_project_root(path: Path) -> Path:
    try:
        from dagc.project import find_project_root as find  # type: ignore[import-not-found]

        return Path(find(path))
    except ImportError:
        pass
    here = Path(path).resolve()
    if here.is_file():
        here = here.parent
    for d in (here, *here.parents):
        if (d / "steps" / "__init__.py").exists():
            return d
    return Path.cwd()


def state_dir_for(project_root: Path, override: str | os.PathLike[str] | None = None) -> Path:
    """`--state-dir`, else $DAGC_STATE_DIR, else `<project root>/.dagc`."""
    if override:
        return Path(override).resolve()
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).resolve()
    return Path(project_root).resolve() / ".dagc"


def load_pipeline(path: str | Path, env: str | None = None, sets: Mapping[str, Any] | None = None,
                  var_sets: Mapping[str, Any] | None = None) -> Pipeline:
    """The front end's loader (`--set` overrides config values, `--var` template variables)."""
    from dagc.frontend import load_pipeline as load

    return load(Path(path), env, sets=dict(sets or {}), var_sets=dict(var_sets or {}))


@dataclass(frozen=True)
class StepRef:
    name: str
    module: str
    function: str


def resolve_steps(pipeline: Pipeline, project_root: Path) -> dict[str, StepRef]:
    """Step name -> where it lives, for every step the pipeline uses. Unknown step -> DagcError."""
    needed = {t.step for t in pipeline.all_tasks() if t.step}
    found: dict[str, StepRef] = {}
    try:
        from dagc.registry import load_registry  # type: ignore[import-not-found]

        registry = load_registry(Path(project_root))
        for name in needed:
            if name in registry:
                info = registry[name]
                found[name] = StepRef(name, info.module, info.function)
    except ImportError:
        found = {k: v for k, v in _scan_steps(Path(project_root)).items() if k in needed}
    missing = sorted(needed - set(found))
    if missing:
        raise DagcError(
            f"step(s) not found under {Path(project_root) / 'steps'}: {', '.join(missing)}",
            "define them with @step in a module of the steps/ package",
        )
    return found


def _scan_steps(root: Path) -> dict[str, StepRef]:
    """Static fallback for dagc.registry: read steps/**/*.py for @step functions without importing."""
    out: dict[str, StepRef] = {}
    base = root / "steps"
    for file in sorted(base.rglob("*.py")):
        rel = file.relative_to(root).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            continue
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for dec in node.decorator_list:
                name = node.name
                target = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(target, ast.Attribute):
                    target_name = target.attr
                elif isinstance(target, ast.Name):
                    target_name = target.id
                else:
                    continue
                if target_name != "step":
                    continue
                if isinstance(dec, ast.Call):
                    for kw in dec.keywords:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                            name = str(kw.value.value)
                out[name] = StepRef(name, module, node.name)
    return out


def pipeline_hash(pipeline: Pipeline) -> str:
    """A hash of everything the IR says the graph is; retry refuses when it changed (as Snowflake does).

    Computed from the IR (not from dagc.emit.manifest, whose build is quadratic in the number of
    tasks and would dominate the engine's overhead on large graphs); source paths and line
    numbers are left out so moving or reformatting the file does not count as a change.
    """
    text = json.dumps(_ir_doc(pipeline), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _ir_doc(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _ir_doc(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in ("line", "source")}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _ir_doc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_ir_doc(v) for v in value]
    return value
