"""Where a project's state lives, how a step name becomes module + function, how a pipeline is hashed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from dagc.diagnostics import DagcError, UsageError
from dagc.frontend.project import find_project_root  # noqa: F401  (re-exported for the engine)
from dagc.ir import Pipeline

STATE_ENV = "DAGC_STATE_DIR"


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
    from dagc.frontend.registry import load_registry

    needed = {t.step for t in pipeline.all_tasks() if t.step}
    registry = load_registry(Path(project_root))
    found = {n: StepRef(n, registry[n].module, registry[n].function) for n in needed if n in registry}
    missing = sorted(needed - set(found))
    if missing:
        raise DagcError(
            f"step(s) not found under {Path(project_root) / 'steps'}: {', '.join(missing)}",
            "define them with @step in a module of the steps/ package",
        )
    return found


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
