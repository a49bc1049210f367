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

A `compute:` task runs as an ML Job, not as a procedure: its container has the Container
Runtime image's packages and `compute.pip_requirements`, not the pipeline's `packages:` (those
are the warehouse procedures' Anaconda packages). Snowflake publishes no fixed package list per
image version, so an import outside the core every image carries (`ML_RUNTIME_IMAGE`) and outside
pip_requirements is a warning there, with the fix.

An import name is mapped to its distribution by a small table of well-known differences
(`sklearn` -> scikit-learn, `snowflake.ml` -> snowflake-ml-python, ...), then by
`importlib.metadata.packages_distributions()` for what is installed here, else taken as is. A
declared package provides itself and its dependencies as far as installed metadata tells.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dagc.diagnostics import Diagnostic, Severity
from dagc.frontend.checks.context import Checker, rule
from dagc.frontend.distributions import WELL_KNOWN_DEPS, closure, distributions, is_distribution, shown
from dagc.frontend.step_imports import _local_top_names, step_imports

CODES = {"DAGC407": "a step imports a package its task's procedure will not have"}
# what a Snowflake Python procedure has besides its packages and imports
RUNTIME_MODULES = frozenset({"_snowflake", "dagc", "steps", "__future__"})
# what every Container Runtime for ML image has (an ML Job's container), before pip_requirements
ML_RUNTIME_IMAGE = ("snowflake-ml-python", "snowflake-snowpark-python", "xgboost", "lightgbm", "scikit-learn",
                    "pandas", "numpy", "scipy", "pyarrow", "cloudpickle", "torch")


@rule("ir", "DAGC407")
def step_packages(ctx: Checker, pipeline: Any) -> None:
    ctx.diags += check(pipeline, ctx.registry)


def check(p: Any, reg: Any) -> list[Diagnostic]:
    """Each import a Python task's procedure cannot satisfy, at its line (see the module docstring)."""
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
    in_job: dict[tuple[str, int, int, str], list[str]] = {}
    for t in python:
        info = reg[t.step]
        if t.compute is not None:
            reqs = tuple(requirement_name(x) for x in t.compute.pip_requirements)
            have, where = ML_RUNTIME_IMAGE + reqs, in_job
        else:
            have, where = declared, found
        for imp in _walk(reg, root, info.file, info.function):
            top = imp.name.split(".")[0]
            if top in RUNTIME_MODULES or top in local or top in sys.stdlib_module_names:
                continue
            dists = distributions(imp.name)
            if not any(d in have for d in dists) and not any(d in closure(have) for d in dists):
                where.setdefault((imp.file, imp.line, imp.col, imp.name), []).append(t.name)
    # a declared package that is not installed here has dependencies this rule cannot see: then a
    # missing import may still come with it on Snowflake, so it is a warning, not an error
    unknown = [d for d in declared if not is_distribution(d) and d not in WELL_KNOWN_DEPS]
    out = []
    for (file, line, col, name), tasks in sorted(found.items()):
        dist = distributions(name)[0]
        which = ", ".join(repr(x) for x in dict.fromkeys(tasks))
        message = (f"imports {shown(name)} (distribution {dist}), which the Snowflake procedure of task(s) {which} "
                   f"will not have: pipeline {p.name!r} does not list it under `packages:`")
        if unknown:
            message += f" (unless {', '.join(unknown)}, not installed here, depends on it)"
        out.append(Diagnostic(
            "DAGC407", message, file, line, col,
            hint=f"add {dist} to `packages:` (Snowflake's Anaconda channel), or import it inside a function "
                 f"that only tasks declaring it call; packages now: {', '.join(packages) or 'none'}",
            severity=Severity.WARNING if unknown else Severity.ERROR))
    for (file, line, col, name), tasks in sorted(in_job.items()):
        dist = distributions(name)[0]
        which = ", ".join(repr(x) for x in dict.fromkeys(tasks))
        listed = " (`packages:` lists it, but those are for warehouse procedures, not ML Jobs)" if dist in declared else ""
        out.append(Diagnostic(
            "DAGC407", f"imports {shown(name)} (distribution {dist}), which the ML Job of task(s) {which} may not have: "
                       f"it is not in the Container Runtime image's core packages nor in compute.pip_requirements"
                       f"{listed}", file, line, col,
            hint=f"add {dist} to the task's compute.pip_requirements (installed from PyPI when the job starts: "
                 "the job needs an external access integration that reaches it) if the runtime image lacks it",
            severity=Severity.WARNING))
    return out


# The walk depends only on the step files, which the registry object stands for (load_registry
# returns the same object while no file under steps/ changed). `dagc validate` checks the base
# pipeline and every environment: the walks are done once for all of them.
_walks: dict[tuple[str, str], list[Any]] = {}
_walks_of: list[Any] = [None]


def _walk(reg: Any, root: Path, file: str, function: str) -> list[Any]:
    if _walks_of[0] is not reg:
        _walks.clear()
        _walks_of[0] = reg
    key = (file, function)
    if key not in _walks:
        _walks[key] = step_imports(root, file, function)
    return _walks[key]
