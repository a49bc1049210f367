"""IR -> `snowflake.core.task.dagv1` objects: the task graph a careful engineer would write by hand.

Everything Snowflake-specific about *shape* lives here: names (`<DAG>$<TASK>`, prefixed by dagv1
itself), predecessors, `when:` conditions as `SYSTEM$PREDECESSORS_STATE(...)`, branch children
conditioned by dagv1's own `DAGTaskBranch` mechanism, the finalizer, schedules, encoded config and
every graph/task setting mapped to its dagv1 parameter. A setting dagv1 has no place for is a
compile error (`DagcError`), never silently dropped.

Python tasks are not pickled step functions: every one runs the same generic entry point
(`dagc.runtime.snowflake.run_task`) bound to the pipeline and task, with the step code shipped as
a staged zip (see `dagc.snowflake.packaging`). dagc sets return values itself (JSON, 10 kB check,
branch case -> child name), so `use_func_return_value` stays off.

Imports snowflake.core at module level: only the Snowflake commands import this module.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import timedelta
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from snowflake.core.task import Cron as SfCron
from snowflake.core.task import OverlapPolicy, StoredProcedureCall
from snowflake.core.task import Task as LowLevelTask
from snowflake.core.task.dagv1 import DAG, DAGTask, DAGTaskBranch

from dagc import ir
from dagc.configcodec import ConfigEncodingError, encode_config
from dagc.diagnostics import DagcError
from dagc.snowflake.procedure import SecretInClear, contains_secret, grants, protect, task_session_parameters, with_secrets
from dagc.snowflake.state import fingerprinter, marked_comment, predecessor_condition, spec_text, task_spec

from dagc.values import MAX_INTERVAL_S, MIN_INTERVAL_S  # one limit for validate and deploy
SERVERLESS_SIZES = ("XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-LW#?]+$")


class EmitError(DagcError):
    """The pipeline asks for something the Snowflake target cannot express."""


def check_schedule(schedule: ir.Schedule | None, where: str = "schedule") -> SfCron | timedelta | None:
    """IR schedule -> dagv1 schedule, refusing what Snowflake would reject at deploy time."""
    if schedule is None:
        return None
    if isinstance(schedule, ir.Interval):
        s = schedule.seconds
        if not isinstance(s, int) or isinstance(s, bool):
            raise EmitError(f"{where}: interval {schedule.text!r} is not a whole number of seconds")
        if s < MIN_INTERVAL_S:
            raise EmitError(
                f"{where}: interval {schedule.text!r} is {s} s; Snowflake task schedules are at least {MIN_INTERVAL_S} seconds",
                f"use {MIN_INTERVAL_S}s or more, or a cron schedule",
            )
        if s > MAX_INTERVAL_S:
            raise EmitError(
                f"{where}: interval {schedule.text!r} exceeds Snowflake's maximum of {MAX_INTERVAL_S // 60} minutes (8 days)",
                "use a cron schedule for longer periods, e.g. {cron: '0 2 1 * *'}",
            )
        return timedelta(seconds=s)
    fields = schedule.expr.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise EmitError(
            f"{where}: cron {schedule.expr!r} is not a five-field cron expression Snowflake accepts",
            "write minute hour day-of-month month day-of-week, e.g. '0 2 * * *'",
        )
    try:
        ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise EmitError(
            f"{where}: time zone {schedule.timezone!r} is not an IANA time zone Snowflake knows",
            "use a name such as UTC or Europe/Paris",
        ) from None
    return SfCron(schedule.expr, schedule.timezone)


def _primitive_mapping(what: str, value: Mapping[str, Any]) -> dict[str, Any] | None:
    if not value:
        return None
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(v, (str, int, float, bool)) or (isinstance(v, float) and not math.isfinite(v)):
            raise EmitError(
                f"{what} {k!r} has a {type(v).__name__} value; Snowflake session parameters take strings, "
                "numbers or booleans only",
            )
        out[str(k).upper()] = v
    return out


SECRET_HINT = ("write it as {{ secret('NAME', integration='YOUR_EAI') }} with a Snowflake SECRET object NAME: "
               "tasks get a reference and read the value at run time (docs/snowflake.md, Secrets)")


def encoded_config(pipeline: ir.Pipeline, used: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The graph config as deployed: flat, and with every secret replaced by a reference (the
    root task's config is visible to anyone with MONITOR or OPERATE on it)."""
    try:
        flat = encode_config(pipeline.config)
    except ConfigEncodingError as exc:
        raise EmitError(f"config: {exc}") from None
    try:
        flat = protect(flat, pipeline, "config", used if used is not None else {})
    except SecretInClear as exc:
        raise EmitError(str(exc) + " in the graph config, visible to every role with MONITOR on the task",
                        SECRET_HINT) from None
    return flat or None


class SnowflakeEmitter:
    """Builds a dagv1 `DAG` from a `Pipeline`.

    `bundle_import` is the staged zip holding steps/ and the dagc runtime (added to the graph's
    imports); `bundle_hash` goes into each Python task's fingerprint so a code change re-deploys
    exactly the Python tasks. `step_modules` (step name -> module) lets the runtime import only the
    module that defines the step.
    """

    def __init__(
        self,
        pipeline: ir.Pipeline,
        *,
        bundle_import: str | None = None,
        bundle_hash: str | None = None,
        step_modules: Mapping[str, str] | None = None,
        entry_factory: Callable[[str, dict[str, Any], str], Callable[..., Any]] | None = None,
    ) -> None:
        self.p = pipeline
        self.bundle_import = bundle_import
        self.bundle_hash = bundle_hash
        self.step_modules = dict(step_modules or {})
        self.entry_factory = entry_factory or _default_entry_factory

    # -- graph ---------------------------------------------------------------------------------
    def graph_settings(self) -> dict[str, Any]:
        p = self.p
        imports = list(p.imports)
        if self.bundle_import and self.bundle_import not in imports:
            imports.append(self.bundle_import)
        from dagc.snowflake.packaging import pipeline_packages

        return {"stage": p.stage, "packages": pipeline_packages(p), "imports": imports}

    def build(self) -> DAG:
        p = self.p
        self._check_graph()
        self._branches = {t.name for t in p.tasks if t.is_branch}
        g = self.graph_settings()
        self._fingerprint = fingerprinter(g, self.bundle_hash)
        from dagc.redact import secrets_of

        self._has_secrets = bool(secrets_of(p))
        self._graph_secrets: dict[str, Any] = {}
        config = encoded_config(p, self._graph_secrets)
        from dagc.emit.conditions import root_parameters, root_when

        if p.trigger is not None and p.schedule is not None:
            raise EmitError(f"{p.name}: a graph has a schedule or a trigger, not both")
        dag = DAG(
            p.name,
            schedule=check_schedule(p.schedule),
            condition=root_when(p),
            warehouse=p.warehouse,
            comment=p.comment if p.comment is not None else p.description,
            error_integration=p.error_integration,
            task_auto_retry_attempts=p.retries,
            overlap_policy=OverlapPolicy(p.overlap.snowflake) if p.overlap is not None else None,
            user_task_timeout_ms=p.timeout_ms,
            suspend_task_after_num_failures=p.suspend_after_failures,
            config=config,
            session_parameters=_primitive_mapping("graph session parameter",
                                                  {**p.session_parameters, **root_parameters(p)}),
            stage_location=g["stage"],
            imports=g["imports"] or None,
            packages=g["packages"] or None,
            use_func_return_value=False,
        )
        for task in p.tasks:
            for a in task.after:
                if a in self._branches and task.name not in set(p.task(a).cases.values()):
                    raise EmitError(
                        f"task {task.name!r} follows branch {a!r} but is none of its cases; on Snowflake it would "
                        "never run (dagv1 runs a branch's successors only when chosen)",
                        f"add it to {a!r}'s cases, or make it follow one of the case tasks",
                    )
        made: dict[str, DAGTask] = {}
        for task in p.tasks:  # topological order: predecessors exist before their successors
            made[task.name] = self._task(dag, task, g)
        for task in p.tasks:
            if task.after:
                # one call, in declaration order, so dagv1's branch conditions come out deterministic
                made[task.name].add_predecessors([made[a] for a in task.after])
        if p.finalizer is not None:
            made[p.finalizer.name] = self._task(dag, p.finalizer, g)
        return dag

    def _check_graph(self) -> None:
        p = self.p
        from dagc.limits import LIMITS

        retries, tasks = LIMITS["retries"], LIMITS["tasks_per_graph"]
        if p.retries is not None and not retries.holds(p.retries):
            raise EmitError(f"retries: {p.retries} is outside Snowflake's TASK_AUTO_RETRY_ATTEMPTS range "
                            f"{retries.low}-{retries.high}")
        if p.suspend_after_failures is not None and p.suspend_after_failures < 0:
            raise EmitError("suspend_after_failures must be 0 or more")
        if len(list(p.all_tasks())) + 1 > (tasks.high or 0):
            raise EmitError(f"{p.name}: a Snowflake task graph holds at most {tasks.high} tasks (root included)")
        python_tasks = [t for t in p.all_tasks() if t.kind is not ir.TaskKind.SQL]
        if python_tasks and not p.stage:
            raise EmitError(
                f"task {python_tasks[0].name!r} runs Python but the pipeline has no stage",
                "set `stage: \"@DB.SCHEMA.STAGE\"`: dagc uploads the step code there and Snowflake registers "
                "the task procedures from it",
            )

    # -- tasks ---------------------------------------------------------------------------------
    def _task(self, dag: DAG, t: ir.Task, g: Mapping[str, Any]) -> DAGTask:
        where = f"task {t.name!r}"
        if t.is_finalizer and (t.after or t.when is not ir.Condition.ALL_SUCCEEDED):
            raise EmitError(f"{where}: a finalizer has no predecessors or conditions on Snowflake")
        if t.serverless and t.warehouse:
            raise EmitError(f"{where}: serverless and warehouse {t.warehouse!r} are exclusive on Snowflake")
        if t.serverless_size is not None:
            if not (t.serverless or (t.warehouse is None and self.p.warehouse is None)):
                raise EmitError(
                    f"{where}: serverless_size applies to serverless tasks only",
                    "add `serverless: true` or remove the size",
                )
            if t.serverless_size.upper() not in SERVERLESS_SIZES:
                raise EmitError(f"{where}: serverless size {t.serverless_size!r} is not one of {', '.join(SERVERLESS_SIZES)}")
        if t.timeout_ms is not None and t.timeout_ms <= 0:
            raise EmitError(f"{where}: timeout must be positive")
        if t.compute is not None and t.kind is ir.TaskKind.SQL:
            raise EmitError(f"{where}: compute: runs a Python step as an ML Job; a SQL task cannot use it")
        if t.compute is not None and t.compute.instances < 1:
            raise EmitError(f"{where}: compute.instances must be at least 1")

        comment = t.comment
        if t.kind is ir.TaskKind.SQL:
            if not t.sql or not t.sql.strip():
                raise EmitError(f"{where}: empty SQL")
            if self._has_secrets and contains_secret(t.sql, self.p):
                raise EmitError(f"{where}: its SQL holds a secret value, and a task's text is visible to every role "
                                "with MONITOR on it",
                                "SQL cannot read a SECRET object: move the call that needs it into a Python step and "
                                "read the secret there with ctx.secret('NAME')")
            definition: Any = t.sql
        else:
            used = dict(self._graph_secrets)
            params = ir.thaw(t.params)
            if self._has_secrets:
                try:
                    params = protect(params, self.p, f"{where} params", used)
                except SecretInClear as exc:
                    raise EmitError(str(exc) + " in the task's definition", SECRET_HINT) from None
            spec = task_spec(
                pipeline=self.p.name,
                environment=self.p.environment,
                task=t.name,
                kind=t.kind.value,
                step=t.step,
                params=params,
                cases=dict(t.cases),
                after=list(t.after),
                branch_after=[a for a in t.after if a in self._branches],
                compute=t.compute.to_json() if t.compute else None,
                module=self.step_modules.get(t.step or ""),
                stage=self.p.stage,
                timeout_ms=t.timeout_ms,
                ancestors=[a for a in self.p.ancestors(t.name) if a not in t.after],
                branch_ancestors=[a for a in self.p.ancestors(t.name) if a not in t.after and a in self._branches],
            )
            if used:  # SECRET objects the procedure is granted (names only; values stay in Snowflake)
                spec["secrets"], spec["external_access_integrations"] = grants(used)
            text = spec_text(spec)
            fp = self._fingerprint(text)
            comment = marked_comment(comment, fp)
            if t.compute is not None:  # a native ML Job: CALL SYSTEM$EXECUTE_ML_JOB (dagc.snowflake.mljob)
                from dagc.snowflake.mljob import MLJobTask

                try:
                    definition = MLJobTask(spec, bundle_hash=self.bundle_hash, warehouse=t.warehouse or self.p.warehouse)
                except ValueError as exc:
                    raise EmitError(f"{where}: {exc}") from None
            else:
                definition = StoredProcedureCall(
                    self.entry_factory(self.p.name, spec, text),
                    stage_location=g["stage"],
                    imports=g["imports"] or None,
                    packages=g["packages"] or None,
                )
        from dagc.emit.conditions import when_sql

        if (t.target_completion_s is not None or t.serverless_min_size or t.serverless_max_size) and not t.serverless:
            raise EmitError(f"{where}: serverless sizing and target_completion apply to serverless tasks only")
        if t.is_finalizer and t.condition:
            raise EmitError(f"{where}: a finalizer always runs; it takes no condition")
        cls = DAGTaskBranch if t.is_branch else DAGTask
        return cls(
            t.name,
            definition,
            condition=when_sql(self.p, t),
            target_completion_interval=timedelta(seconds=t.target_completion_s) if t.target_completion_s else None,
            serverless_task_min_statement_size=t.serverless_min_size,
            serverless_task_max_statement_size=t.serverless_max_size,
            success_integration=t.success_integration,
            execute_as_user=t.execute_as_user,
            warehouse=t.warehouse if not t.serverless else None,
            is_serverless=t.serverless,
            user_task_managed_initial_warehouse_size=t.serverless_size.upper() if t.serverless_size else None,
            user_task_timeout_ms=t.timeout_ms,
            session_parameters=_primitive_mapping(f"{where}: session parameter", task_session_parameters(self.p, t)),
            comment=comment,
            is_finalizer=True if t.is_finalizer else None,
            dag=dag,
        )


def _default_entry_factory(pipeline: str, spec: dict[str, Any], text: str) -> Callable[..., Any]:
    from dagc.runtime.snowflake import make_entry

    return make_entry(pipeline, spec, spec_json=text)


def build_dag(pipeline: ir.Pipeline, **kwargs: Any) -> DAG:
    """The dagv1 DAG for `pipeline` (see `SnowflakeEmitter` for the keyword arguments)."""
    return SnowflakeEmitter(pipeline, **kwargs).build()


def topological(dag: DAG) -> list[DAGTask]:
    """Child tasks with every predecessor before its successors (finalizer last), deterministic."""
    order: list[DAGTask] = []
    seen: set[str] = set()
    pending = [t for t in dag.tasks if not t._is_finalizer]
    while pending:
        progressed = False
        for t in list(pending):
            if all(pr.name in seen for pr in t.predecessors):
                order.append(t)
                seen.add(t.name)
                pending.remove(t)
                progressed = True
        if not progressed:
            raise EmitError(f"{dag.name}: the task graph has a cycle")
    fin = dag.get_finalizer_task()
    if fin is not None:
        order.append(fin)
    return order


def low_level_tasks(dag: DAG) -> list[LowLevelTask]:
    """The `snowflake.core.task.Task` objects a deploy creates: root first, then topological order.

    Predecessor lists are sorted (dagv1 keeps them in a set) so output is reproducible.
    """
    tasks = [dag._to_low_level_task()]
    for t in topological(dag):
        low = t._to_low_level_task()
        if low.predecessors:
            low.predecessors = sorted(low.predecessors)
        spec = getattr(getattr(low.definition, "func", None), "dagc_spec", None) or {}
        if spec.get("secrets"):
            low.definition = with_secrets(low.definition, spec["secrets"], spec["external_access_integrations"])
        tasks.append(low)
    return tasks
