"""Semantic checks and the IR: from a schema-valid document to a `Pipeline`, or diagnostics.

Everything the schema cannot say is checked here, each with a stable code (docs/diagnostics.md):
graph shape (unknown predecessors, cycles with their whole path, branch cases, the finalizer),
steps and their signatures, Snowflake names and limits, schedules, config encoding, and tasks
that can never run. Every problem is collected; nothing stops at the first.
"""

from __future__ import annotations

import graphlib
from typing import Any, Mapping

from dagc import ir
from dagc.configcodec import ConfigEncodingError, encode_config
from dagc.diagnostics import Diagnostic, Severity
from dagc.frontend.registry import Registry, StepInfo
from dagc.frontend.schema import did_you_mean
from dagc.values import (
    MAX_INTERVAL_S, MAX_TIMEOUT_MS, MIN_INTERVAL_S, PACKAGE, QUALIFIED, STAGE,
    check_cron, check_timezone, duration_ms, is_identifier,
)
from dagc.frontend.load import Document, Path

MAX_TASKS = 1000  # Snowflake: tasks per graph, root included
MAX_EDGES = 100  # Snowflake: predecessors per task, children per task
MAX_CONFIG_BYTES = 1024 * 1024  # dagc's bound on the encoded graph config (it lives on the root task)
_SIMPLE_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list,), "dict": (dict,)}


class _Checker:
    def __init__(self, doc: Document, data: dict[str, Any], registry: Registry | None, environment: str | None) -> None:
        self.doc = doc
        self.data = data
        self.registry = registry
        self.environment = environment
        self.diags: list[Diagnostic] = []
        self.pruned: frozenset[Path] = frozenset()  # paths the schema rejected (already reported)

    def err(self, code: str, message: str, path: Path, hint: str | None = None, *, key: bool = False,
            severity: Severity = Severity.ERROR) -> None:
        p = self.doc.pos(path, key=key)
        self.diags.append(Diagnostic(code, message, self.doc.path, p.line, p.col, hint, severity, p.end_col))

    # ---------------------------------------------------------------- pipeline
    def build(self) -> ir.Pipeline | None:
        d = self.data
        name = d.get("name")
        if not is_identifier(name):
            self.err("DAGC501", f"pipeline name {name!r} is not a valid Snowflake identifier", ("name",),
                     "use letters, digits and underscores, starting with a letter or underscore (no `$`: dagc uses "
                     "it to join <pipeline>$<task>)")
        tasks_raw: dict[str, Any] = d.get("tasks") or {}
        final_raw: dict[str, Any] = d.get("finally") or {}
        odd = {str(t) for t in [*tasks_raw, *final_raw] if not isinstance(t, str)}
        for section, names in (("tasks", tasks_raw), ("finally", final_raw)):
            for t in names:
                if not isinstance(t, str):  # `2:` or `true:` as a task name: reported here, then named as text
                    self.err("DAGC501", f"task name {t!r} is not a valid Snowflake identifier", (section, t),
                             "use letters, digits and underscores, starting with a letter or underscore", key=True)
        tasks_raw = {str(k): v for k, v in tasks_raw.items()}
        final_raw = {str(k): v for k, v in final_raw.items()}
        defaults = d.get("defaults") or {}

        all_names = list(tasks_raw) + list(final_raw)
        for section, names in (("tasks", tasks_raw), ("finally", final_raw)):
            for t in names:
                if not is_identifier(t) and t not in odd:
                    self.err("DAGC501", f"task name {t!r} is not a valid Snowflake identifier", (section, t),
                             "use letters, digits and underscores, starting with a letter or underscore", key=True)
        for t in final_raw:
            if t in tasks_raw:
                self.err("DAGC310", f"task {t!r} is declared both under tasks and finally", ("finally", t), key=True)
        total = len(all_names) + 1
        if total > MAX_TASKS:
            self.err("DAGC309", f"the graph has {total} tasks (with its root); Snowflake allows at most {MAX_TASKS}",
                     ("tasks",), "split the pipeline into several graphs", key=True)

        tasks = [self.task(n, spec or {}, defaults, ("tasks", n), finalizer=False) for n, spec in tasks_raw.items()]
        fin = [self.task(n, spec or {}, defaults, ("finally", n), finalizer=True) for n, spec in final_raw.items()]
        finalizer = fin[0] if fin else None
        self.check_edges(tasks, finalizer)
        ordered = self.order(tasks)
        if ordered is not None:
            self.check_reachability(ordered)

        schedule = self.schedule(d.get("schedule"))
        config = d.get("config") or {}
        try:
            encoded = encode_config(config)
        except ConfigEncodingError as exc:
            self.err("DAGC505", str(exc), ("config",) + tuple(exc.path),
                     "config keys become Snowflake graph config keys; values must be JSON", key=True)
        else:
            size = _json_size(encoded)
            if size > MAX_CONFIG_BYTES:
                big = max(encoded, key=lambda k: _json_size(encoded[k]))
                self.err("DAGC508", f"config is {size / 1048576:.1f} MiB encoded; dagc allows at most "
                         f"{MAX_CONFIG_BYTES // 1024} KiB (largest value: {big!r})", ("config",),
                         "graph config is stored on the root task; keep data in tables or stages and put its name here",
                         key=True)
        for key in ("warehouse", "error_integration"):
            self.name_setting(d.get(key), (key,))
        if d.get("stage") is not None and not STAGE.match(str(d["stage"])):
            self.err("DAGC502", f"stage {d['stage']!r} is not a stage name", ("stage",),
                     "write @DATABASE.SCHEMA.STAGE (optionally /path); quotes, spaces and semicolons are refused")
        for i, pkg in enumerate(d.get("packages") or []):
            if not PACKAGE.match(str(pkg)):
                self.err("DAGC502", f"package {pkg!r} is not a package specifier", ("packages", i), "e.g. xgboost or xgboost==2.1.1")
        for i, imp in enumerate(d.get("imports") or []):
            if not STAGE.match(str(imp)):
                self.err("DAGC502", f"import {imp!r} is not a stage path", ("imports", i), "e.g. @ML.DEV.DAGC_STAGE/libs/util.zip")
        self.session_params(d.get("session_parameters"), ("session_parameters",))
        timeout = self.duration(d.get("timeout"), ("timeout",))
        if any(x.severity is Severity.ERROR for x in self.diags) or ordered is None:
            return None
        return ir.Pipeline(
            name=str(name), tasks=tuple(ordered), finalizer=finalizer, description=d.get("description"),
            schedule=schedule, warehouse=d.get("warehouse"), stage=d.get("stage"),
            packages=tuple(d.get("packages") or ()), imports=tuple(d.get("imports") or ()),
            config=ir.freeze(config), retries=d.get("retries"), timeout_ms=timeout,
            overlap=ir.Overlap(d["overlap"]) if d.get("overlap") else None,
            suspend_after_failures=d.get("suspend_after_failures"), error_integration=d.get("error_integration"),
            session_parameters=ir.freeze(d.get("session_parameters") or {}), comment=d.get("comment"),
            environment=self.environment, source=self.doc.path,
        )

    # ---------------------------------------------------------------- one task
    def task(self, name: str, spec: dict[str, Any], defaults: dict[str, Any], path: Path, *, finalizer: bool) -> ir.Task:
        kinds = [k for k in ("step", "sql", "branch") if k in spec]
        if not kinds and any(path + (k,) in self.pruned for k in ("step", "sql", "branch")):
            pass  # its step/sql/branch had a schema error, already reported
        elif len(kinds) != 1:
            self.err("DAGC306", f"task {name!r} must have exactly one of step, sql or branch"
                     + (f" (it has {', '.join(kinds)})" if kinds else ""), path,
                     "step: a registered Python step; sql: a SQL body; branch: a step choosing a child", key=True)
        kind = ir.TaskKind(kinds[0]) if kinds else ir.TaskKind.STEP
        if finalizer and kind is ir.TaskKind.BRANCH:
            self.err("DAGC304", "the finalizer cannot be a branch: it has no children", path, key=True)
        branch = spec.get("branch") or {}
        step_name = spec.get("step") if kind is ir.TaskKind.STEP else branch.get("step")
        params = spec.get("params") or {}
        if kind is ir.TaskKind.SQL and params:
            self.err("DAGC313", "params are for step and branch tasks; a sql task takes none", path + ("params",),
                     "use {{ vars.NAME }} templates or SYSTEM$GET_TASK_GRAPH_CONFIG in the SQL", key=True)
        if step_name is not None:
            step_path = path + (("step",) if kind is ir.TaskKind.STEP else ("branch", "step"))
            info = self.step(step_name, step_path)
            if info is not None:
                self.check_params(info, params, path)
                if kind is ir.TaskKind.BRANCH:
                    self.check_cases(info, branch.get("cases") or {}, path + ("branch",))

        warehouse = spec.get("warehouse")
        serverless_spec = spec.get("serverless")
        if warehouse is not None and serverless_spec not in (None, False):
            self.err("DAGC503", f"task {name!r} sets both warehouse and serverless", path + ("serverless",),
                     "a task runs either on a warehouse or serverless: remove one", key=True)
        if warehouse is None and serverless_spec is None:
            warehouse = defaults.get("warehouse")
            serverless_spec = defaults.get("serverless")
        self.name_setting(warehouse, path + ("warehouse",))
        serverless = bool(serverless_spec)
        size = serverless_spec.get("size") if isinstance(serverless_spec, dict) else None
        compute = None
        if spec.get("compute"):
            c = spec["compute"]
            if kind is not ir.TaskKind.STEP:
                self.err("DAGC504", "compute: runs a step as an ML Job; it needs a step task", path + ("compute",), key=True)
            self.name_setting(c.get("pool"), path + ("compute", "pool"))
            compute = self.compute(c, path + ("compute",))
        timeout = self.duration(spec.get("timeout", defaults.get("timeout")),
                                path + ("timeout",) if "timeout" in spec else ("defaults", "timeout"))
        if compute is not None and compute.timeout_ms is not None:
            self.job_within_task(compute.timeout_ms, timeout, path + ("compute", "timeout"))
        sess = spec.get("session_parameters", defaults.get("session_parameters")) or {}
        self.session_params(sess, path + ("session_parameters",))
        return ir.Task(
            name=name, kind=kind, step=step_name, params=ir.freeze(params), sql=spec.get("sql"),
            cases=ir.freeze(branch.get("cases") or {}), after=tuple(spec.get("after") or ()),
            when=ir.Condition(spec.get("when", "all_succeeded")), warehouse=warehouse if not serverless else None,
            serverless=serverless, serverless_size=size, compute=compute, timeout_ms=timeout,
            comment=spec.get("comment"), session_parameters=ir.freeze(sess), is_finalizer=finalizer,
            line=self.doc.pos(path, key=True).line,
        )

    def step(self, name: Any, path: Path) -> StepInfo | None:
        if self.registry is None:
            return None
        if name in self.registry:
            return self.registry[name]
        hint = did_you_mean(str(name), self.registry)
        if not hint:
            hint = (f"registered steps: {', '.join(sorted(self.registry))}" if len(self.registry) else
                    f"no steps found under {self.registry.root / 'steps'}; define one with @step")
        self.err("DAGC403", f"unknown step {name!r}", path, hint)
        return None

    def check_params(self, info: StepInfo, params: dict[str, Any], path: Path) -> None:
        names = [p.name for p in info.params]
        for key, value in params.items():
            p = info.param(key)
            if p is None:
                if not info.accepts_any:
                    hint = did_you_mean(str(key), names) or (f"{info.name} takes: {', '.join(names)}" if names else
                                                             f"{info.name} takes no params")
                    self.err("DAGC404", f"step {info.name!r} has no parameter {key!r} ({info.file}:{info.line})",
                             path + ("params", key), hint, key=True)
                continue
            want = _SIMPLE_TYPES.get((p.annotation or "").replace(" | None", "").replace("Optional[", "").rstrip("]"))
            if want and value is not None and (not isinstance(value, want) or (bool not in want and isinstance(value, bool))):
                self.err("DAGC406", f"parameter {key!r} of step {info.name!r} is annotated {p.annotation}, "
                         f"but the pipeline gives {value!r}", path + ("params", key))
        for p in info.params:
            if p.required and p.name not in params:
                self.err("DAGC405", f"step {info.name!r} requires parameter {p.name!r}", path + ("params",) if params else path,
                         f"add `params: {{{p.name}: ...}}`", key=True)

    def check_cases(self, info: StepInfo, cases: dict[str, Any], path: Path) -> None:
        if info.returns is None:
            return
        for value in sorted(info.returns - set(cases)):
            self.err("DAGC312", f"step {info.name!r} can return {value!r}, which is not one of this branch's cases",
                     path + ("cases",), f"add `{value}: <task>` to cases ({info.file}:{info.line})", key=True)
        for case in cases:
            if case not in info.returns:
                self.err("DAGC312", f"case {case!r} is never returned by step {info.name!r} "
                         f"(it returns {', '.join(sorted(info.returns))})", path + ("cases", case),
                         did_you_mean(str(case), info.returns), key=True, severity=Severity.WARNING)

    # ---------------------------------------------------------------- the graph
    def check_edges(self, tasks: list[ir.Task], finalizer: ir.Task | None) -> None:
        names = {t.name for t in tasks}
        children: dict[str, list[str]] = {n: [] for n in names}
        for t in tasks:
            if len(t.after) > MAX_EDGES:
                self.err("DAGC309", f"task {t.name!r} has {len(t.after)} predecessors; Snowflake allows at most {MAX_EDGES}",
                         ("tasks", t.name, "after"), "insert an intermediate task to fan in", key=True)
            for i, p in enumerate(t.after):
                if finalizer is not None and p == finalizer.name:
                    self.err("DAGC304", f"task {t.name!r} runs after the finalizer {p!r}; nothing can follow the finalizer",
                             ("tasks", t.name, "after", i), "the finalizer always runs last; remove it from `after`")
                elif p not in names:
                    self.err("DAGC301", f"task {t.name!r} runs after {p!r}, which is not a task",
                             ("tasks", t.name, "after", i), did_you_mean(str(p), names) or f"tasks: {', '.join(sorted(names))}")
                else:
                    children[p].append(t.name)
        for n, kids in children.items():
            if len(kids) > MAX_EDGES:
                self.err("DAGC309", f"task {n!r} has {len(kids)} children; Snowflake allows at most {MAX_EDGES}",
                         ("tasks", n), "insert intermediate tasks to fan out", key=True)
        roots = [t.name for t in tasks if not t.after]
        if len(roots) > MAX_EDGES:  # tasks without `after` are children of the graph's root task
            self.err("DAGC309", f"{len(roots)} tasks have no `after`, so the root task has {len(roots)} children; "
                     f"Snowflake allows at most {MAX_EDGES}", ("tasks",),
                     "group them under intermediate tasks (each can start up to 100 others)", key=True)
        for t in tasks:
            if not t.is_branch:
                continue
            targets = set(t.cases.values())
            for case, child in t.cases.items():
                cpath = ("tasks", t.name, "branch", "cases", case)
                if finalizer is not None and child == finalizer.name:
                    self.err("DAGC304", f"branch case {case!r} selects the finalizer, which always runs anyway", cpath)
                elif child not in names:
                    self.err("DAGC303", f"branch case {case!r} selects {child!r}, which is not a task", cpath,
                             did_you_mean(str(child), names))
                elif child not in children[t.name]:
                    self.err("DAGC303", f"branch case {case!r} selects {child!r}, which is not a direct child of {t.name!r}",
                             cpath, f"add `after: [{t.name}]` to task {child!r}")
            for child in children[t.name]:
                if child not in targets:
                    self.err("DAGC307", f"task {child!r} runs after branch {t.name!r} but no case selects it, so it never runs",
                             ("tasks", child, "after"), f"add a case for it under {t.name}.branch.cases, "
                             "or make it depend on another task", key=True)

    def order(self, tasks: list[ir.Task]) -> list[ir.Task] | None:
        """Tasks in a deterministic topological order (declaration order among ready tasks)."""
        names = {t.name for t in tasks}
        index = {t.name: i for i, t in enumerate(tasks)}
        graph = {t.name: [p for p in t.after if p in names] for t in tasks}
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            cycle = list(exc.args[1])  # [a, b, ..., a]: each runs before the next
            start = min(range(len(cycle) - 1), key=lambda i: index[cycle[i]])
            path = cycle[start:-1] + cycle[:start] + [cycle[start]]
            self.err("DAGC302", "cycle: " + " -> ".join(path) + " (each runs after the one before it)",
                     ("tasks", path[1], "after"),
                     "a task graph must be acyclic: remove one of these `after` edges", key=True)
            return None
        import heapq

        remaining = {n: len(set(ps)) for n, ps in graph.items()}
        kids: dict[str, list[str]] = {n: [] for n in names}
        for n, ps in graph.items():
            for p in set(ps):
                kids[p].append(n)
        ready = [(index[n], n) for n, c in remaining.items() if c == 0]
        heapq.heapify(ready)
        by_name = {t.name: t for t in tasks}
        out = []
        while ready:
            _, n = heapq.heappop(ready)
            out.append(by_name[n])
            for k in kids[n]:
                remaining[k] -= 1
                if remaining[k] == 0:
                    heapq.heappush(ready, (index[k], k))
        return out

    def check_reachability(self, ordered: list[ir.Task]) -> None:
        """Find tasks that can never run: they need two cases of one branch to both succeed.

        Under all_succeeded (and none_skipped), a task inherits every branch case its predecessors
        require; if it requires two different cases of the same branch it can never run. Other
        conditions tolerate skipped predecessors, so they start from no requirement.
        """
        needs: dict[str, dict[str, set[str]]] = {}
        by_name = {t.name: t for t in ordered}
        for t in ordered:
            req: dict[str, set[str]] = {}
            inherits = t.when in (ir.Condition.ALL_SUCCEEDED, ir.Condition.NONE_SKIPPED)
            for p in t.after:
                if inherits:
                    for branch, cases in needs.get(p, {}).items():
                        req.setdefault(branch, set()).update(cases)
                parent = by_name.get(p)
                if parent is not None and parent.is_branch:  # dagv1 ANDs the case test with any `when`
                    case = [c for c, child in parent.cases.items() if child == t.name]
                    req.setdefault(p, set()).update(case[:1])
            needs[t.name] = req
            clash = {b: cs for b, cs in req.items() if len(cs) > 1}
            if clash:
                b, cs = next(iter(clash.items()))
                self.err("DAGC308", f"task {t.name!r} can never run: it needs cases {' and '.join(sorted(map(repr, cs)))} "
                         f"of branch {b!r} to both succeed, but a branch selects one case",
                         ("tasks", t.name, "after"), "to join after a branch, add `when: none_failed_min_one_succeeded` "
                         "(or `when: all_done`)", key=True)

    # ---------------------------------------------------------------- settings
    def schedule(self, value: Any) -> ir.Schedule | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                seconds = duration_ms(value) // 1000
            except ValueError as exc:
                self.err("DAGC506", str(exc), ("schedule",))
                return None
            if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
                self.err("DAGC506", f"interval {value!r} is outside what Snowflake accepts "
                         f"({MIN_INTERVAL_S} s to {MAX_INTERVAL_S // 60} minutes)", ("schedule",),
                         "for longer periods use a cron schedule")
                return None
            return ir.Interval(seconds=seconds, text=value)
        expr, tz = str(value.get("cron", "")), str(value.get("timezone", "UTC"))
        problem = check_cron(expr)
        if problem:
            self.err("DAGC506", problem, ("schedule", "cron"), "e.g. \"0 2 * * *\" for 02:00 every day")
        tz_problem = check_timezone(tz)
        if tz_problem:
            self.err("DAGC507", tz_problem, ("schedule", "timezone"))
        return None if problem or tz_problem else ir.Cron(expr=expr, timezone=tz)

    def duration(self, value: Any, path: Path) -> int | None:
        if value is None:
            return None
        try:
            ms = duration_ms(value)
        except ValueError as exc:
            self.err("DAGC106", str(exc), path)
            return None
        if ms > MAX_TIMEOUT_MS:
            self.err("DAGC509", f"timeout {value!r} is longer than Snowflake's maximum of 24h", path)
        return ms

    def compute(self, c: Mapping[str, Any], path: Path) -> ir.Compute:
        """`compute:`: an ML Job on a compute pool, with the settings of snowflake.ml.jobs `@remote`."""
        for i, name in enumerate(c.get("external_access_integrations") or ()):
            self.name_setting(name, path + ("external_access_integrations", i))
        stage = c.get("stage")
        if stage is not None and not (str(stage).startswith("@") and QUALIFIED.match(str(stage)[1:].split("/")[0])):
            self.err("DAGC521", f"compute.stage {stage!r} is not a stage", path + ("stage",),
                     "write @DATABASE.SCHEMA.STAGE (optionally /a/path)")
        instances = int(c.get("instances", 1))
        minimum = c.get("min_instances")
        if minimum is not None and int(minimum) > instances:
            self.err("DAGC520", f"compute.min_instances {minimum} is more than instances {instances}",
                     path + ("min_instances",), "min_instances is how many of the `instances` nodes the job needs to start")
        return ir.Compute(
            pool=str(c.get("pool")), instances=instances, min_instances=int(minimum) if minimum is not None else None,
            stage=str(stage) if stage is not None else None,
            external_access_integrations=tuple(str(x) for x in c.get("external_access_integrations") or ()),
            pip_requirements=tuple(str(x) for x in c.get("pip_requirements") or ()),
            env=ir.freeze({str(k): str(v) for k, v in (c.get("env") or {}).items()}),
            runtime=str(c["runtime"]) if c.get("runtime") is not None else None,
            spec_overrides=ir.freeze(dict(c.get("spec_overrides") or {})),
            timeout_ms=self.duration(c.get("timeout"), path + ("timeout",)),
        )

    def job_within_task(self, job_ms: int, task_ms: int | None, path: Path) -> None:
        """An ML Job must end before its task does, or a timed-out task leaves it running on the pool."""
        limit = task_ms
        if limit is None:
            try:
                limit = duration_ms(self.data.get("timeout")) if self.data.get("timeout") is not None else None
            except ValueError:
                return  # reported where the graph timeout is read
        limit = limit if limit is not None else 3_600_000  # Snowflake's default USER_TASK_TIMEOUT_MS
        if job_ms >= limit:
            self.err("DAGC522", f"compute.timeout ({job_ms // 1000} s) is not shorter than the task's timeout "
                     f"({limit // 1000} s)", path,
                     "the job must finish before its task times out: lower compute.timeout or raise the task's timeout")

    def name_setting(self, value: Any, path: Path) -> None:
        if value is not None and not QUALIFIED.match(str(value)):
            self.err("DAGC502", f"{path[-1]} {value!r} is not a Snowflake object name", path,
                     "use NAME or DATABASE.SCHEMA.NAME; spaces, quotes inside names and semicolons are refused "
                     "(they could inject SQL)")

    def session_params(self, value: Any, path: Path) -> None:
        for k in value or {}:
            if not is_identifier(k):
                self.err("DAGC502", f"session parameter {k!r} is not a parameter name", path + (k,), key=True)


def _json_size(value: Any) -> int:
    import json

    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def build(doc: Document, data: dict[str, Any], registry: Registry | None, environment: str | None,
          pruned: frozenset[Path] = frozenset()) -> tuple[ir.Pipeline | None, list[Diagnostic]]:
    checker = _Checker(doc, data, registry, environment)
    checker.pruned = pruned
    pipeline = checker.build()
    return pipeline, checker.diags
