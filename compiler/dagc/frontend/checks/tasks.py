"""One task's shape and settings (DAGC304 finalizer branch, DAGC306, DAGC313, DAGC503, DAGC504, DAGC510, DAGC523-525)."""

from __future__ import annotations

from dagc import ir
from dagc.frontend.checks.context import Checker, TaskSource, rule
from dagc.limits import LIMITS, SERVERLESS_SIZES
from dagc.values import STAGE, duration_ms

TASK_TIMEOUT_DEFAULT_MS = 3_600_000  # Snowflake's USER_TASK_TIMEOUT_MS default

CODES = {
    "DAGC304": "the finalizer is a branch",
    "DAGC306": "not exactly one of step, sql, branch",
    "DAGC313": "params on a sql task",
    "DAGC503": "both warehouse and serverless",
    "DAGC504": "compute on a task that is not a step task",
    "DAGC523": "compute.min_instances above compute.instances",
    "DAGC524": "compute.stage that is not a stage",
    "DAGC525": "an ML Job timeout not shorter than its task's",
    "DAGC510": "serverless sizing or target completion Snowflake would refuse",
}
_SIZES = list(SERVERLESS_SIZES)


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
    if src.finalizer:  # the schema refuses these on a finalizer; a template it extends may still bring them
        for key in ("after", "when", "if", "matrix"):
            if key in src.spec:
                ctx.err("DAGC304", f"the finalizer cannot have `{key}:` (it runs after every other task, whatever "
                        "happened)", src.path + (key,), "take it out of the template, or use another template",
                        key=True)


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


@rule("task", "DAGC523", "DAGC524", "DAGC525")
def ml_job_settings(ctx: Checker, src: TaskSource) -> None:
    """The native ML Job's own settings (dagc.snowflake.mljob): nodes, stage, and a timeout that
    ends the job before its task, so a timed-out task never leaves a job running on the pool."""
    c, job = src.spec.get("compute"), src.task.compute
    if not c or job is None:
        return
    path = src.path + ("compute",)
    if job.min_instances is not None and job.min_instances > job.instances:
        ctx.err("DAGC523", f"compute.min_instances {job.min_instances} is more than instances {job.instances}",
                path + ("min_instances",), "min_instances is how many of the `instances` nodes the job needs to start")
    if job.stage is not None and not STAGE.match(job.stage):
        ctx.err("DAGC524", f"compute.stage {job.stage!r} is not a stage", path + ("stage",),
                "write @DATABASE.SCHEMA.STAGE (optionally /a/path)")
    if job.timeout_ms is None:
        return
    limit = src.task.timeout_ms
    if limit is None and ctx.data.get("timeout") is not None:
        try:
            limit = duration_ms(ctx.data["timeout"])
        except ValueError:
            return  # reported where the graph timeout is read
    limit = limit if limit is not None else TASK_TIMEOUT_DEFAULT_MS
    if job.timeout_ms >= limit:
        ctx.err("DAGC525", f"compute.timeout ({job.timeout_ms // 1000} s) is not shorter than the task's timeout "
                f"({limit // 1000} s)", path + ("timeout",),
                "the job must finish before its task times out: lower compute.timeout or raise the task's timeout")


@rule("task", "DAGC510")
def serverless_sizing(ctx: Checker, src: TaskSource) -> None:
    t = src.task
    spath = src.path + ("serverless",)
    low, high = t.serverless_min_size, t.serverless_max_size
    if low and high and _SIZES.index(low) > _SIZES.index(high):
        ctx.err("DAGC510", f"serverless min_size {low} is larger than max_size {high}", spath + ("min_size",))
    if t.target_completion_s is not None:
        lim = LIMITS["target_completion_interval"]
        if not lim.holds(t.target_completion_s):
            ctx.err("DAGC510", f"target_completion of {t.target_completion_s} s is outside "
                    f"{lim.low} s..{lim.high:,} s", spath + ("target_completion",))
