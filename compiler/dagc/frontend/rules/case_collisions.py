"""DAGC515: two task names that differ only in case.

dagc deploys a task as `<PIPELINE>$<TASK>` without quotes, and Snowflake resolves an unquoted
name to upper case, so `Train` and `train` would both be TRAINING$TRAIN: the second create
would replace the first (or its predecessors would point at the wrong one). Locally the names
would be two tasks, so the check must happen before either target sees the graph.
"""

from __future__ import annotations

from dagc.diagnostics import Diagnostic
from dagc.frontend.rules import RuleInput

CODE = "DAGC515"


def check(ctx: RuleInput) -> list[Diagnostic]:
    p = ctx.pipeline
    seen: dict[str, str] = {}
    out: list[Diagnostic] = []
    for t in p.all_tasks():
        key = t.name.upper()
        if key in seen:
            section = "finally" if t.is_finalizer else "tasks"
            pos = ctx.doc.pos((section, t.name), key=True)
            out.append(Diagnostic(
                CODE, f"task {t.name!r} and task {seen[key]!r} differ only in case; on Snowflake both are "
                f"{p.name.upper()}${key}", ctx.doc.path, pos.line, pos.col,
                hint="Snowflake names are case-insensitive: rename one of them"))
        else:
            seen[key] = t.name
    return out
