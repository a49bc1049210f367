"""Before a deploy: do a branch task's cases match what its step can return?

On Snowflake a branch step's return value selects the child to run; a value that is not a case
fails the task at run time, and a case the step never returns is a child that can never run. The
registry reads each step's possible results statically (string-literal returns or a `Literal[...]`
annotation); validation reports a mismatch as DAGC312, and deploy refuses both kinds, since an IR
may reach deploy without the front end (tests, the Python API). Computed results are left to the
runtime check.
"""

from __future__ import annotations

from pathlib import Path

from dagc import ir
from dagc.frontend.registry import load_registry


def branch_problems(pipeline: ir.Pipeline, project_root: Path) -> list[str]:
    """Messages for branch tasks whose cases and statically known step results disagree."""
    registry = load_registry(project_root)
    problems: list[str] = []
    for t in pipeline.tasks:
        info = registry.get(t.step) if t.is_branch and t.step else None
        if info is None or info.returns is None:
            continue
        cases, values = set(t.cases), set(info.returns)
        where = f"{info.file}:{info.line}"
        for v in sorted(values - cases):
            problems.append(f"branch task {t.name!r}: step {t.step!r} ({where}) can return {v!r}, which is not one "
                            f"of its cases ({', '.join(sorted(cases))}); add the case or change the step")
        for c in sorted(cases - values):
            problems.append(f"branch task {t.name!r}: case {c!r} can never be chosen: step {t.step!r} ({where}) "
                            f"only returns {', '.join(repr(v) for v in sorted(values))}")
    return problems
