"""One task's shape and settings (DAGC304 finalizer branch, DAGC306, DAGC313, DAGC503, DAGC504)."""

from __future__ import annotations

from dagc import ir
from dagc.frontend.checks.context import Checker, TaskSource, rule

CODES = {
    "DAGC304": "the finalizer is a branch",
    "DAGC306": "not exactly one of step, sql, branch",
    "DAGC313": "params on a sql task",
    "DAGC503": "both warehouse and serverless",
    "DAGC504": "compute on a task that is not a step task",
}


@rule("task", "DAGC304", "DAGC306")
def one_kind(ctx: Checker, src: TaskSource) -> None:
    kinds = src.kinds
    if not kinds and any(src.path + (k,) in ctx.pruned for k in ("step", "sql", "branch")):
        pass  # its step/sql/branch had a schema error, already reported
    elif len(kinds) != 1:
        ctx.err("DAGC306", f"task {src.name!r} must have exactly one of step, sql or branch"
                + (f" (it has {', '.join(kinds)})" if kinds else ""), src.path,
                "step: a registered Python step; sql: a SQL body; branch: a step choosing a child", key=True)
    if src.finalizer and src.task.kind is ir.TaskKind.BRANCH:
        ctx.err("DAGC304", "the finalizer cannot be a branch: it has no children", src.path, key=True)


@rule("task", "DAGC313")
def sql_takes_no_params(ctx: Checker, src: TaskSource) -> None:
    if src.task.kind is ir.TaskKind.SQL and src.spec.get("params"):
        ctx.err("DAGC313", "params are for step and branch tasks; a sql task takes none", src.path + ("params",),
                "use {{ vars.NAME }} templates or SYSTEM$GET_TASK_GRAPH_CONFIG in the SQL", key=True)


@rule("task", "DAGC503", "DAGC504")
def compute_settings(ctx: Checker, src: TaskSource) -> None:
    if src.spec.get("warehouse") is not None and src.spec.get("serverless") not in (None, False):
        ctx.err("DAGC503", f"task {src.name!r} sets both warehouse and serverless", src.path + ("serverless",),
                "a task runs either on a warehouse or serverless: remove one", key=True)
    if src.spec.get("compute") and src.task.kind is not ir.TaskKind.STEP:
        ctx.err("DAGC504", "compute: runs a step as an ML Job; it needs a step task", src.path + ("compute",), key=True)
