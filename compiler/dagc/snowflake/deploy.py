"""Plan and deploy a pipeline's task graph, changing only what changed.

dagv1's `DAGOperation.deploy(mode=or_replace)` drops the whole graph and recreates every task,
losing run history continuity, briefly leaving no graph at all and costing O(tasks) calls for a
one-line change. dagc instead:

1. reads the deployed graph (one listing of `<DAG>` and `<DAG>$*` tasks, which also finds tasks
   orphaned by an interrupted deploy);
2. diffs it with the desired state (`dagc.snowflake.graphstate`, `dagc.snowflake.plan`);
3. applies only the changes, as Snowflake's rules for a graph require (`statements`): suspend the
   root, then the tasks to alter; drop a replaced finalizer; create or alter the changed tasks in
   dependency order (root first); drop removed tasks (successors first); resume the children that
   should run, then the root. A failure part-way resumes what should run before it reports.

Every step is idempotent and the plan is recomputed from what exists, so a deploy cut half-way
converges on the next run and an unchanged pipeline costs one listing and no change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dagc import ir
from dagc.diagnostics import DagcError
from dagc.snowflake.fingerprint import LISTING_UNCERTAIN, settings_fingerprint, with_settings_mark
from dagc.snowflake.graphstate import GraphState, from_manifest, from_tasks
from dagc.snowflake.names import canon
from dagc.snowflake.plan import Change, Plan, diff


@dataclass
class Desired:
    """What a deploy of `pipeline` creates: dagv1 DAG, its low-level tasks and the normalised state."""

    pipeline: ir.Pipeline
    dag: Any
    tasks: dict[str, Any]  # canonical name -> snowflake.core.task.Task, creation order
    state: GraphState
    bundle: Any = None  # packaging.Bundle or None (SQL-only pipelines)
    step_modules: dict[str, str] = field(default_factory=dict)

    def uploads(self, *, pending: bool = True) -> list[dict[str, Any]]:
        if self.bundle is None or not self.pipeline.stage:
            return []
        from dagc.snowflake.mljob import ml_job_uploads

        return [self.bundle.describe(self.pipeline.stage, self.pipeline.name, pending=pending),
                *ml_job_uploads(self.dag, self.bundle, pending=pending)]


def step_modules_for(project_root: Path | None) -> dict[str, str]:
    """step name -> module, from the static registry when the front end provides one."""
    if project_root is None:
        return {}
    try:
        from dagc.frontend.registry import load_registry
    except ImportError:
        return {}
    try:
        registry = load_registry(project_root)
    except Exception:  # noqa: BLE001 - the registry is an optimisation here; the runtime can search
        return {}
    out: dict[str, str] = {}
    for name in registry:
        info = registry[name]
        module = getattr(info, "module", None)
        if module:
            out[name] = module
    return out


def desired(pipeline: ir.Pipeline, *, project_root: Path | None = None, with_bundle: bool = True) -> Desired:
    from dagc.emit.snowflake import build_dag, low_level_tasks
    from dagc.snowflake.packaging import build_bundle, needs_bundle

    if project_root is not None:
        from dagc.snowflake.branchcheck import branch_problems

        problems = branch_problems(pipeline, project_root)
        if problems:
            raise DagcError(problems[0] if len(problems) == 1 else f"{len(problems)} branch problems:\n  " + "\n  ".join(problems),
                            "a branch step returns the name of one of its cases; dagc maps it to the child task")
    bundle = None
    if with_bundle and project_root is not None and needs_bundle(pipeline):
        bundle = build_bundle(project_root)
    modules = step_modules_for(project_root)
    bundle_import = bundle.target(pipeline.stage, pipeline.name) if (bundle is not None and pipeline.stage) else None
    dag = build_dag(pipeline, bundle_import=bundle_import, bundle_hash=bundle.sha256 if bundle else None,
                    step_modules=modules)
    low = low_level_tasks(dag)
    tasks = {canon(t.name): t for t in low}
    state = from_tasks(low, pipeline.name, deployed=False)
    for sf, task in tasks.items():  # what a listing cannot show, as a hash it can (fingerprint.py)
        if sf in state.tasks:
            task.comment = with_settings_mark(task.comment, settings_fingerprint(state.tasks[sf].settings))
    return Desired(pipeline, dag, tasks, state, bundle, modules)


def fetch_deployed(schema: Any, dag_name: str) -> list[Any]:
    """The root and every `<DAG>$...` task in the schema, connected or orphaned (one listing)."""
    root = canon(dag_name)
    found = []
    for t in schema.tasks.iter(like=f"{dag_name}%"):
        key = canon(t.name)
        if key == root or (key or "").startswith(f"{root}$"):
            found.append(t)
    return found


def deployed_state(schema: Any, dag_name: str) -> GraphState | None:
    tasks = fetch_deployed(schema, dag_name)
    if not tasks:
        return None
    state = from_tasks(tasks, dag_name, deployed=True)
    commits = [c for c in (getattr(t, "last_committed_on", None) for t in tasks) if c is not None]
    state.changed_at = max(commits) if commits else None
    return state


def _trust_marks(want: Desired, actual: GraphState | None) -> None:
    """Settings a listing (SHOW TASKS) does not carry are taken as deployed when the task's
    `[dagc-s:...]` mark says dagc set exactly the desired values; otherwise `_confirm` fetches."""
    if actual is None:
        return
    for sf, have in actual.tasks.items():
        mine = want.state.tasks.get(sf)
        if mine is None or have.settings_mark is None or have.settings_mark != settings_fingerprint(mine.settings):
            continue
        for key in LISTING_UNCERTAIN:
            if key in have.settings and have.settings[key] is None:
                have.settings[key] = mine.settings.get(key)


def _confirm(changes: list[Change], want: Desired, schema: Any, actual: GraphState | None) -> list[Change]:
    from snowflake.core.exceptions import NotFoundError

    if actual is None:
        return changes
    out = []
    for c in changes:
        keys = {f.key.split(".")[0] for f in c.fields}
        if c.action == "alter" and keys and keys <= set(LISTING_UNCERTAIN):
            try:
                fetched = schema.tasks[c.name].fetch()
            except NotFoundError:
                out.append(c)
                continue
            one = from_tasks([fetched] if c.role == "root" else [_root_stub(actual), fetched], want.pipeline.name,
                             deployed=True)
            have = one.tasks.get(c.name)
            if have is not None:
                actual.tasks[c.name].settings.update(have.settings)
                redo = [x for x in diff(GraphState(want.state.root, {c.name: want.state.tasks[c.name]}),
                                        GraphState(actual.root, {c.name: actual.tasks[c.name]})) if x.action == "alter"]
                out.extend(redo)
                continue
        out.append(c)
    return out


def _root_stub(actual: GraphState) -> Any:
    class Stub:
        name = actual.root
        warehouse = None
        state = None

    return Stub()


def plan_remote(want: Desired, schema: Any, *, bundle_staged: Callable[[], bool] | None = None) -> Plan:
    actual = deployed_state(schema, want.pipeline.name)
    _trust_marks(want, actual)
    changes = _confirm(diff(want.state, actual), want, schema, actual)
    if want.bundle is None:
        uploads: list[dict[str, Any]] = []
    elif bundle_staged is not None:
        uploads = [] if bundle_staged() else want.uploads()
    else:
        uploads = want.uploads() if any(_is_python(want, c) for c in changes) else []
    return Plan(want.pipeline.name, changes, uploads, against="deployed graph", actual=actual,
                **packages_of(want.pipeline))


def packages_of(pipeline: ir.Pipeline) -> dict[str, Any]:
    """Plan fields: the effective and the declared packages of a pipeline's Python tasks (none: SQL only)."""
    from dagc.snowflake.packaging import needs_bundle, pipeline_packages

    if not needs_bundle(pipeline):
        return {}
    return {"packages": pipeline_packages(pipeline), "declared_packages": list(pipeline.packages)}


def plan_against_manifest(pipeline: ir.Pipeline, manifest_path: Path) -> Plan:
    """Offline: compare the pipeline's manifest with an earlier one (no snowflake.core import)."""
    from dagc.emit.manifest import build_manifest

    try:
        old = json.loads(Path(manifest_path).read_text())
    except FileNotFoundError:
        raise DagcError(f"{manifest_path}: no such file", "write one with `dagc compile PIPELINE -o manifest.json`",
                        exit_code=1) from None
    except ValueError as exc:
        raise DagcError(f"{manifest_path}: not JSON ({exc})") from None
    new = build_manifest(pipeline)
    return Plan(pipeline.name, diff(from_manifest(new), from_manifest(old)), against=str(manifest_path),
                **packages_of(pipeline))


def plan_create_all(want: Desired) -> Plan:
    """Offline `deploy --dry-run`: no deployed graph to compare with, so everything is created."""
    return Plan(want.pipeline.name, diff(want.state, None), want.uploads(), against="nothing (offline: no connection)",
                **packages_of(want.pipeline))


def _is_python(want: Desired, change: Change) -> bool:
    t = want.tasks.get(change.name)
    return t is not None and not isinstance(t.definition, str) and change.action in ("create", "alter")


@dataclass
class DeployResult:
    plan: Plan
    calls: list[str] = field(default_factory=list)
    uploaded: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class Statement:
    """One DDL statement of a deploy: what it says, and the call that does it."""

    what: str  # "suspend X" | "create X" | "alter X" | "drop X" | "resume X"
    task: str
    run: Callable[[], Any]


class _Live:
    """The task states as the deploy changes them: decides which resumes are needed, and what to restore."""

    def __init__(self, actual: GraphState | None) -> None:
        self.state = {n: t.settings.get("state") or "suspended" for n, t in (actual.tasks if actual else {}).items()}


def statements(want: Desired, schema: Any, plan: Plan, live: _Live, session: Any = None) -> list[Statement]:
    """The deploy as an ordered list of statements that obeys Snowflake's rules for a task graph.

    A task that is part of a graph can be altered (and a child created, dropped or resumed) only
    while the graph's root is suspended, and an altered task must itself be suspended. So: suspend
    the root, then each started task that is altered or dropped; drop a replaced finalizer (one per
    graph); create or alter in dependency order; drop removed tasks, successors first; resume the
    children that should run (all of them: a suspended child is skipped by every run), then the
    root last, if it was running before or is scheduled.
    """
    root = canon(want.pipeline.name) or want.pipeline.name
    out: list[Statement] = []
    touches_graph = any(not (c.name == root and c.only_state) for c in plan.changes)
    before = dict(live.state)
    sim = _Live(None)  # the states as they will be once the statements so far have run
    sim.state = dict(live.state)

    def add(what: str, task: str, fn: Callable[[], Any]) -> None:
        out.append(Statement(f"{what} {task}", task, fn))
        _track(sim, out[-1])

    if touches_graph and before.get(root) == "started":
        add("suspend", root, schema.tasks[root].suspend)
    for c in plan.changes:
        if c.name != root and before.get(c.name) == "started" and c.action == "alter" and not c.only_state:
            add("suspend", c.name, schema.tasks[c.name].suspend)
    for c in plan.changes:  # a graph has one finalizer: a replaced one goes before its successor is created
        if c.action == "drop" and c.role == "finalizer":
            add("drop", c.name, lambda n=c.name: schema.tasks[n].drop(if_exists=True))
    by_name = {c.name: c for c in plan.changes}
    for sf, task in want.tasks.items():
        change = by_name.get(sf)
        if change is None or change.only_state:
            continue
        if session is not None and hasattr(task.definition, "register_with"):
            add("register", sf, lambda t=task: t.definition.register_with(session))
        if change.action == "create":
            add("create", sf, lambda t=task: schema.tasks.create(t))
        else:
            add("alter", sf, lambda t=task: schema.tasks[t.name].create_or_alter(t))
    for c in plan.changes:
        if c.action == "drop" and c.role != "finalizer":
            add("drop", c.name, lambda n=c.name: schema.tasks[n].drop(if_exists=True))
    out.extend(resumes(want, schema, sim, root_started_before=before.get(root) == "started"))
    return out


def resumes(want: Desired, schema: Any, live: _Live, *, root_started_before: bool) -> list[Statement]:
    """Resume what should run and does not: children first (creation order), the root last."""
    root = canon(want.pipeline.name) or want.pipeline.name
    out = []
    for sf in want.tasks:
        if sf != root and live.state.get(sf) != "started":
            out.append(Statement(f"resume {sf}", sf, schema.tasks[sf].resume))
    if (want.state.tasks[root].settings.get("state") == "started" or root_started_before) \
            and live.state.get(root) != "started":
        out.append(Statement(f"resume {root}", root, schema.tasks[root].resume))
    return out


def _track(live: _Live, st: Statement) -> None:
    verb = st.what.split(" ", 1)[0]
    if verb == "register":  # a procedure, not the task: its state is unchanged
        return
    if verb == "drop":
        live.state.pop(st.task, None)
    else:
        live.state[st.task] = {"suspend": "suspended", "create": "suspended", "resume": "started"}.get(
            verb, live.state.get(st.task, "suspended"))


def apply(want: Desired, schema: Any, plan: Plan, *, upload: Callable[[], bool] | None = None,
          log: Callable[[str], None] = lambda s: None, session: Any = None) -> DeployResult:
    """Carry out `plan` (from `plan_remote`) against `schema`.

    If a statement fails (or the deploy is interrupted), the graph is not left suspended: every task
    that exists and should run is resumed, children first, then the root if it was running before.
    The error then says how far the deploy got; if even that restore fails, it says what is left
    suspended and how to recover. Either way, running `dagc deploy` again finishes the job: the plan
    is recomputed from what exists.
    """
    result = DeployResult(plan)
    if plan.empty:
        return result
    root = canon(want.pipeline.name) or want.pipeline.name
    actual = plan.actual if plan.actual is not None else deployed_state(schema, want.pipeline.name)
    live = _Live(actual)
    root_started_before = live.state.get(root) == "started"

    if upload is not None and plan.uploads:
        result.uploaded = upload()
        if result.uploaded:
            result.calls.append("upload bundle")
            log("uploaded the step bundle")

    todo = statements(want, schema, plan, live, session)
    done = 0
    try:
        for st in todo:
            st.run()
            _track(live, st)
            result.calls.append(st.what)
            log(st.what)
            done += 1
    except BaseException as exc:
        failed = todo[done].what
        restored, restore_error = _restore(want, schema, live, root_started_before, log)
        if not isinstance(exc, Exception):
            raise
        raise DagcError(_failure_message(want, failed, exc, done, len(todo), restored, restore_error, live,
                                         root_started_before),
                        "fix the cause and run `dagc deploy` again: it plans from what exists and finishes the job",
                        exit_code=1) from exc
    return result


def _restore(want: Desired, schema: Any, live: _Live, root_started_before: bool,
             log: Callable[[str], None]) -> tuple[list[str], BaseException | None]:
    """After a failure: resume what exists and should run, so a scheduled graph keeps running."""
    root = canon(want.pipeline.name) or want.pipeline.name
    if not root_started_before or root not in live.state:
        return [], None
    done: list[str] = []
    todo = [s for s in resumes(want, schema, live, root_started_before=True)
            if s.task in live.state and live.state.get(s.task) != "started"]
    for st in todo:
        try:
            st.run()
        except Exception as exc:  # noqa: BLE001 - reported with what is left suspended
            return done, exc
        _track(live, st)
        done.append(st.what)
        log(st.what + " (restoring after the failure)")
    return done, None


def _failure_message(want: Desired, failed: str, exc: BaseException, done: int, total: int, restored: list[str],
                     restore_error: BaseException | None, live: _Live, root_started_before: bool) -> str:
    from dagc.snowflake.connection import redact

    root = canon(want.pipeline.name) or want.pipeline.name
    head = (f"deploy of {want.pipeline.name} stopped at `{failed}` ({done} of {total} statements done): "
            f"{type(exc).__name__}: {redact(str(exc))}")
    if restore_error is not None:
        left = sorted(n for n, s in live.state.items() if s != "started")
        return (head + f"\n  restoring failed too ({type(restore_error).__name__}: {redact(str(restore_error))}); "
                f"left SUSPENDED: {', '.join(left)}\n  the schedule is stopped until you deploy again, or run "
                f"`dagc resume PIPELINE` to restart it as it stands (children first, then the root)")
    if root_started_before:
        return head + f"\n  the graph was resumed as it stands ({root} is running; {len(restored)} task(s) resumed)"
    return head + f"\n  {root} was not running before this deploy and stays suspended"


def deploy(want: Desired, schema: Any, *, dry_run: bool = False, upload: Callable[[], bool] | None = None,
           bundle_staged: Callable[[], bool] | None = None, log: Callable[[str], None] = lambda s: None,
           session: Any = None) -> DeployResult:
    plan = plan_remote(want, schema, bundle_staged=bundle_staged)
    if dry_run:
        return DeployResult(plan)
    return apply(want, schema, plan, upload=upload, log=log, session=session)


def resume_graph(schema: Any, dag_name: str, *, log: Callable[[str], None] = lambda s: None) -> list[str]:
    """Resume every suspended task of the deployed graph, children first, the root last (what
    `dagc resume` does, and the way out of a deploy that could not restore what it suspended)."""
    actual = deployed_state(schema, dag_name)
    if actual is None:
        return []
    root = canon(dag_name) or dag_name
    done: list[str] = []
    for name in [n for n in actual.order() if n != root] + [root]:
        ts = actual.tasks.get(name)
        if ts is not None and ts.settings.get("state") != "started":
            schema.tasks[name].resume()
            done.append(f"resume {name}")
            log(done[-1])
    return done


def drop_graph(schema: Any, dag_name: str, *, log: Callable[[str], None] = lambda s: None) -> list[str]:
    """Remove the root, every child, the finalizer and any orphaned `<DAG>$` task. Returns what went.

    The root is suspended first (a graph's tasks can be dropped only while it is); then the tasks go
    successors first, the root last."""
    actual = deployed_state(schema, dag_name)
    if actual is None:
        return []
    root = canon(dag_name) or dag_name
    done: list[str] = []

    def do(what: str, fn: Callable[[], Any]) -> None:
        fn()
        done.append(what)
        log(what)

    if actual.tasks.get(root) is not None and actual.tasks[root].settings.get("state") == "started":
        do(f"suspend {root}", schema.tasks[root].suspend)
    for name in reversed(actual.order()):
        do(f"drop {name}", lambda n=name: schema.tasks[n].drop(if_exists=True))
    return done
