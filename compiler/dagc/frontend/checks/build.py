"""The IR build: the one place that turns schema-valid data into `ir.Pipeline`, running the rules.

First `expand` turns include/templates/matrix into plain tasks (reporting DAGC7xx). After that
the build reports nothing except through the value parsers (schedule, timeout, trigger) and the
cycle search (`graph.order`); every other diagnostic comes from a registered rule. It runs the
pipeline rules, builds each task and runs the task rules on it, then runs the graph rules; IR is
returned only when no error was reported.
"""

from __future__ import annotations

from typing import Any

from dagc import ir
from dagc.diagnostics import Severity
from dagc.frontend.checks import graph as graph_rules
from dagc.frontend.checks import schedule as values
from dagc.frontend.checks import trigger as triggers
from dagc.frontend.checks.context import Checker, Graph, TaskSource, rules
from dagc.frontend.checks.expand import MATRIX_OF, expand
from dagc.frontend.load import Path


def build_pipeline(ctx: Checker) -> ir.Pipeline | None:
    for r in rules("document"):
        r.fn(ctx)
    ctx.data = d = expand(ctx)
    for r in rules("pipeline"):
        r.fn(ctx)
    tasks_raw = {str(k): v for k, v in (d.get("tasks") or {}).items()}
    final_raw = {str(k): v for k, v in (d.get("finally") or {}).items()}
    defaults = d.get("defaults") or {}

    sources = [task_source(ctx, n, spec or {}, defaults, ("tasks", n), finalizer=False) for n, spec in tasks_raw.items()]
    sources += [task_source(ctx, n, spec or {}, defaults, ("finally", n), finalizer=True) for n, spec in final_raw.items()]
    for src in sources:
        for r in rules("task"):
            r.fn(ctx, src)
    tasks = tuple(s.task for s in sources if not s.finalizer)
    fin = [s.task for s in sources if s.finalizer]
    finalizer = fin[0] if fin else None
    ordered = graph_rules.order(ctx, tasks)
    graph = Graph(tasks=tasks, finalizer=finalizer, children=graph_rules.children_of(tasks), order=ordered)
    for r in rules("graph"):
        r.fn(ctx, graph)

    schedule = values.schedule(ctx, d.get("schedule"))
    trigger = triggers.trigger(ctx, d.get("trigger"))
    timeout = values.timeout(ctx, d.get("timeout"), ("timeout",))
    if any(x.severity is Severity.ERROR for x in ctx.diags) or ordered is None:
        return None
    return ir.Pipeline(
        name=str(d.get("name")), tasks=ordered, finalizer=finalizer, description=d.get("description"),
        schedule=schedule, warehouse=d.get("warehouse"), stage=d.get("stage"),
        packages=tuple(d.get("packages") or ()), imports=tuple(d.get("imports") or ()),
        config=ir.freeze(d.get("config") or {}), retries=d.get("retries"), timeout_ms=timeout,
        overlap=ir.Overlap(d["overlap"]) if d.get("overlap") else None,
        suspend_after_failures=d.get("suspend_after_failures"), error_integration=d.get("error_integration"),
        session_parameters=ir.freeze(d.get("session_parameters") or {}), comment=d.get("comment"),
        trigger=trigger, streams=ir.freeze({str(k): str(v) for k, v in (d.get("streams") or {}).items()}),
        log_level=d.get("log_level"), trace_level=d.get("trace_level"),
        environment=ctx.environment, source=ctx.doc.path,
    )


def compute_ir(ctx: Checker, c: dict[str, Any], path: Path) -> ir.Compute:
    """`compute:` as IR: an ML Job on a compute pool with the settings of snowflake.ml.jobs `@remote`
    (their checks are rules in tasks.py; only the timeout parser reports here)."""
    minimum = c.get("min_instances")
    return ir.Compute(
        pool=str(c.get("pool")), instances=int(c.get("instances", 1)),
        min_instances=int(minimum) if minimum is not None else None,
        stage=str(c["stage"]) if c.get("stage") is not None else None,
        external_access_integrations=tuple(str(x) for x in c.get("external_access_integrations") or ()),
        pip_requirements=tuple(str(x) for x in c.get("pip_requirements") or ()),
        env=ir.freeze({str(k): str(v) for k, v in (c.get("env") or {}).items()}),
        runtime=str(c["runtime"]) if c.get("runtime") is not None else None,
        spec_overrides=ir.freeze(dict(c.get("spec_overrides") or {})),
        timeout_ms=values.timeout(ctx, c.get("timeout"), path + ("timeout",)),
    )


def task_source(ctx: Checker, name: str, spec: dict[str, Any], defaults: dict[str, Any], path: Path, *,
                finalizer: bool) -> TaskSource:
    """One declared task: its IR with defaults applied, and what the task rules need to see."""
    kinds = tuple(k for k in ("step", "sql", "branch") if k in spec)
    kind = ir.TaskKind(kinds[0]) if kinds else ir.TaskKind.STEP
    branch = spec.get("branch") or {}
    step_name = spec.get("step") if kind is ir.TaskKind.STEP else branch.get("step")
    warehouse = spec.get("warehouse")
    serverless_spec = spec.get("serverless")
    if warehouse is None and serverless_spec is None:
        warehouse = defaults.get("warehouse")
        serverless_spec = defaults.get("serverless")
    serverless = bool(serverless_spec)
    size = serverless_spec.get("size") if isinstance(serverless_spec, dict) else None
    compute = compute_ir(ctx, spec.get("compute"), path + ("compute",)) if spec.get("compute") else None
    timeout = values.timeout(ctx, spec.get("timeout", defaults.get("timeout")),
                             path + ("timeout",) if "timeout" in spec else ("defaults", "timeout"))
    sess = spec.get("session_parameters", defaults.get("session_parameters")) or {}
    sizing = serverless_spec if isinstance(serverless_spec, dict) else {}
    target = None
    if sizing.get("target_completion") is not None:
        ms = values.timeout(ctx, sizing["target_completion"], path + ("serverless", "target_completion"))
        target = ms // 1000 if ms is not None else None
    cases = branch.get("cases") or {}
    if isinstance(cases, list):  # `cases: [promote, alert]`: each case is named after the child it selects
        cases = {str(c): str(c) for c in cases}
    inherited = {k: spec.get(k, defaults.get(k)) for k in ("success_integration", "execute_as_user")}
    for k in ("log_level", "trace_level"):  # the graph's level is every task's default too (each task is an object)
        inherited[k] = spec.get(k, defaults.get(k, ctx.data.get(k)))
    ctx.sources.setdefault(name, path)
    task = ir.Task(
        name=name, kind=kind, step=step_name, params=ir.freeze(spec.get("params") or {}), sql=spec.get("sql"),
        cases=ir.freeze(cases), after=tuple(spec.get("after") or ()),
        when=ir.Condition(spec.get("when", "all_succeeded")), warehouse=warehouse if not serverless else None,
        serverless=serverless, serverless_size=size, compute=compute, timeout_ms=timeout,
        comment=spec.get("comment"), session_parameters=ir.freeze(sess), is_finalizer=finalizer,
        condition=spec.get("if"), serverless_min_size=sizing.get("min_size"), serverless_max_size=sizing.get("max_size"),
        target_completion_s=target, **inherited, source=spec.get(MATRIX_OF),
        line=ctx.doc.pos(path, key=True).line,
    )
    return TaskSource(name=name, spec=spec, defaults=defaults, path=path, task=task, kinds=kinds)
