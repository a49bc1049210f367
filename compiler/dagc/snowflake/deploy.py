"""Plan and deploy a pipeline's task graph, changing only what changed.

dagv1's `DAGOperation.deploy(mode=or_replace)` drops the whole graph and recreates every task,
losing run history continuity, briefly leaving no graph at all and costing O(tasks) calls for a
one-line change. dagc instead:

1. reads the deployed graph (one listing of `<DAG>` and `<DAG>$*` tasks, which also finds tasks
   orphaned by an interrupted deploy);
2. diffs it with the desired state (`dagc.snowflake.state`);
3. applies only the changes: suspend the root, drop a replaced finalizer, create or alter the
   changed tasks in dependency order (root first) and resume them, drop removed tasks (successors
   first), resume the root.

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
from dagc.snowflake.state import Change, GraphState, Plan, canon, diff, from_manifest, from_tasks


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
    return from_tasks(tasks, dag_name, deployed=True)


# Settings a task listing (SHOW TASKS) may not carry; a change in these alone is confirmed by
# fetching that one task before it is reported, so a listing gap never shows as permanent drift.
LISTING_UNCERTAIN = {"session_parameters", "timeout_ms", "serverless_size", "retries", "suspend_after_failures"}


def _confirm(changes: list[Change], want: Desired, schema: Any, actual: GraphState | None) -> list[Change]:
    from snowflake.core.exceptions import NotFoundError

    if actual is None:
        return changes
    out = []
    for c in changes:
        keys = {f.key.split(".")[0] for f in c.fields}
        if c.action == "alter" and keys and keys <= LISTING_UNCERTAIN:
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
    changes = _confirm(diff(want.state, actual), want, schema, actual)
    if want.bundle is None:
        uploads: list[dict[str, Any]] = []
    elif bundle_staged is not None:
        uploads = [] if bundle_staged() else want.uploads()
    else:
        uploads = want.uploads() if any(_is_python(want, c) for c in changes) else []
    return Plan(want.pipeline.name, changes, uploads, against="deployed graph", actual=actual)


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
    return Plan(pipeline.name, diff(from_manifest(new), from_manifest(old)), against=str(manifest_path))


def plan_create_all(want: Desired) -> Plan:
    """Offline `deploy --dry-run`: no deployed graph to compare with, so everything is created."""
    return Plan(want.pipeline.name, diff(want.state, None), want.uploads(), against="nothing (offline: no connection)")


def _is_python(want: Desired, change: Change) -> bool:
    t = want.tasks.get(change.name)
    return t is not None and not isinstance(t.definition, str) and change.action in ("create", "alter")


@dataclass
class DeployResult:
    plan: Plan
    calls: list[str] = field(default_factory=list)
    uploaded: bool = False


def apply(want: Desired, schema: Any, plan: Plan, *, upload: Callable[[], bool] | None = None,
          log: Callable[[str], None] = lambda s: None) -> DeployResult:
    """Carry out `plan` (from `plan_remote`) against `schema`."""
    result = DeployResult(plan)
    if plan.empty:
        return result
    root = canon(want.pipeline.name)
    by_name = {c.name: c for c in plan.changes}
    actual = plan.actual if plan.actual is not None else deployed_state(schema, want.pipeline.name)
    actual_tasks = actual.tasks if actual else {}

    def do(what: str, fn: Callable[[], Any]) -> None:
        fn()
        result.calls.append(what)
        log(what)

    if upload is not None and plan.uploads:
        result.uploaded = upload()
        if result.uploaded:
            result.calls.append("upload bundle")
            log("uploaded the step bundle")

    root_was_started = root in actual_tasks and actual_tasks[root].settings.get("state") == "started"
    if root in actual_tasks and root_was_started:
        do(f"suspend {root}", schema.tasks[root].suspend)

    # A graph has one finalizer: a replaced one must go before its successor is created.
    for c in plan.changes:
        if c.action == "drop" and c.role == "finalizer":
            _drop(schema, c.name, actual_tasks, do)

    for sf, task in want.tasks.items():
        change = by_name.get(sf)
        if change is None:
            continue
        if change.action == "create":
            do(f"create {sf}", lambda t=task: schema.tasks.create(t))
            if sf != root:
                do(f"resume {sf}", schema.tasks[sf].resume)
        elif change.only_state:
            if sf != root:  # the root's state is settled last
                do(f"resume {sf}", schema.tasks[sf].resume)
        else:
            do(f"alter {sf}", lambda t=task: schema.tasks[t.name].create_or_alter(t))
            if sf != root:
                do(f"resume {sf}", schema.tasks[sf].resume)

    for c in plan.changes:
        if c.action == "drop" and c.role != "finalizer":
            _drop(schema, c.name, actual_tasks, do)

    root_state = want.state.tasks[root].settings.get("state")
    if root_state == "started" or root_was_started:
        do(f"resume {root}", schema.tasks[root].resume)
    return result


def _drop(schema: Any, name: str, actual_tasks: dict[str, Any], do: Callable[[str, Callable[[], Any]], None]) -> None:
    from snowflake.core.exceptions import NotFoundError

    def drop() -> None:
        try:
            if actual_tasks.get(name) is not None and actual_tasks[name].settings.get("state") == "started":
                schema.tasks[name].suspend()
        except NotFoundError:
            return
        schema.tasks[name].drop(if_exists=True)

    do(f"drop {name}", drop)


def deploy(want: Desired, schema: Any, *, dry_run: bool = False, upload: Callable[[], bool] | None = None,
           bundle_staged: Callable[[], bool] | None = None, log: Callable[[str], None] = lambda s: None) -> DeployResult:
    plan = plan_remote(want, schema, bundle_staged=bundle_staged)
    if dry_run:
        return DeployResult(plan)
    return apply(want, schema, plan, upload=upload, log=log)


def drop_graph(schema: Any, dag_name: str, *, log: Callable[[str], None] = lambda s: None) -> list[str]:
    """Remove the root, every child, the finalizer and any orphaned `<DAG>$` task. Returns what went."""
    actual = deployed_state(schema, dag_name)
    if actual is None:
        return []
    root = canon(dag_name)
    done: list[str] = []

    def do(what: str, fn: Callable[[], Any]) -> None:
        fn()
        done.append(what)
        log(what)

    if actual.tasks.get(root) is not None and actual.tasks[root].settings.get("state") == "started":
        do(f"suspend {root}", schema.tasks[root].suspend)
    for name in reversed(actual.order()):
        _drop(schema, name, actual.tasks if name != root else {}, do)
    return done
