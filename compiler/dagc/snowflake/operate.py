"""Operate a deployed graph without writing SQL against INFORMATION_SCHEMA.

trigger / status / retry / suspend / resume. The polling logic is pure: it reads runs from a
`RunSource` (Snowflake in production, recorded rows in tests) and takes its clock and sleep as
arguments, so "follow *the run I started*, with a timeout and backoff" is tested offline.

Following the right run: before EXECUTE TASK, dagc notes every run id Snowflake already reports
(running, completed, and the next scheduled ones). The run it started is the first run id that was
not there. For `retry`, the run id stays the same (Snowflake keeps the original scheduled time), so
dagc waits for that run to be executing again or to complete later than it did before.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from dagc.diagnostics import DagcError

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
TASK_TERMINAL = {"SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "FAILED_AND_AUTO_SUSPENDED"}


@dataclass
class GraphRun:
    run_id: str
    state: str  # SCHEDULED | EXECUTING | SUCCEEDED | FAILED | CANCELLED
    scheduled_time: datetime | None = None
    completed_time: datetime | None = None
    first_error_task: str | None = None
    first_error_message: str | None = None


@dataclass
class TaskOutcome:
    task: str  # YAML name
    state: str
    error: str | None = None
    return_value: str | None = None
    attempt: int = 1
    query_start_time: datetime | None = None  # TASK_HISTORY's columns: the report's timeline
    completed_time: datetime | None = None


@dataclass
class RunReport:
    pipeline: str
    run: GraphRun
    tasks: list[TaskOutcome] = field(default_factory=list)

    def first_failure(self) -> TaskOutcome | None:
        failed = [t for t in self.tasks if t.state.startswith("FAILED")]
        if failed:
            return failed[0]
        if self.run.first_error_task:
            return TaskOutcome(short_name(self.run.first_error_task), "FAILED", self.run.first_error_message)
        return None


class RunSource(Protocol):
    def graph_runs(self) -> list[GraphRun]: ...  # current, scheduled and recently completed; any order
    def task_runs(self, run_id: str) -> list[TaskOutcome]: ...
    def execute(self, *, retry_last: bool = False) -> None: ...


def short_name(name: str) -> str:
    n = str(name).split(".")[-1].strip('"')
    return (n.split("$", 1)[1] if "$" in n else n).lower() if n.isupper() or "$" in n else n


def graph_run_from(row: Any) -> GraphRun:
    """A snowflake.core TaskRun / dagv1 DAGRun (or anything with the same attributes) -> GraphRun."""
    return GraphRun(
        run_id=str(getattr(row, "run_id")),
        state=str(getattr(row, "state")).upper(),
        scheduled_time=getattr(row, "scheduled_time", None),
        completed_time=getattr(row, "completed_time", None),
        first_error_task=getattr(row, "first_error_task_name", None),
        first_error_message=getattr(row, "first_error_message", None),
    )


class SnowflakeRunSource:
    """Runs from snowflake.core (graph level) and TASK_HISTORY (task level)."""

    def __init__(self, schema: Any, session: Any, dag_name: str) -> None:
        self.schema = schema
        self.session = session
        self.dag = dag_name

    def graph_runs(self) -> list[GraphRun]:
        task = self.schema.tasks[self.dag]
        rows = list(task.get_current_graphs()) + list(task.get_complete_graphs(error_only=False))
        out: dict[str, GraphRun] = {}
        for r in rows:
            g = graph_run_from(r)
            out.setdefault(g.run_id, g)
        return list(out.values())

    def task_runs(self, run_id: str) -> list[TaskOutcome]:
        db, sc = self.schema.database.name, self.schema.name
        prefix = self.dag.upper() + "$"
        rows = self.session.sql(
            f"select name, state, error_message, return_value, attempt_number, query_start_time, completed_time "
            f"from table({db}.information_schema.task_history("
            f"scheduled_time_range_start => dateadd('day', -7, current_timestamp()), result_limit => 10000)) "
            f"where run_id = ? and schema_name = ? and (name = ? or startswith(name, ?)) "
            f"order by query_start_time nulls last",
            params=[int(run_id), sc, self.dag.upper(), prefix],
        ).collect()
        latest: dict[str, TaskOutcome] = {}
        for r in rows:
            name = str(r[0])
            if name.upper() == self.dag.upper():
                continue
            o = TaskOutcome(short_name(name), str(r[1]).upper(), r[2], r[3], int(r[4] or 1), r[5], r[6])
            if name not in latest or o.attempt >= latest[name].attempt:
                latest[name] = o
        return list(latest.values())

    def execute(self, *, retry_last: bool = False) -> None:
        self.schema.tasks[self.dag].execute(retry_last=retry_last)


# -- following a run ---------------------------------------------------------------------------------
def follow(
    source: RunSource,
    *,
    pipeline: str,
    known: set[str] | None = None,
    run_id: str | None = None,
    after_completed: datetime | None = None,
    timeout: float = 3600.0,
    on_task: Callable[[TaskOutcome], None] = lambda t: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    first_delay: float = 2.0,
    max_delay: float = 30.0,
) -> RunReport:
    """Wait for one run to finish, reporting each task outcome once, as it lands.

    Either `known` (run ids that existed before EXECUTE TASK: ours is the first new one) or
    `run_id` (a retried run: wait until it is executing again or completes after
    `after_completed`).
    """
    deadline = clock() + timeout
    delay = first_delay
    target: GraphRun | None = None
    reported: dict[str, tuple[str, int]] = {}
    seen_fresh = run_id is not None and after_completed is None
    while True:
        runs = source.graph_runs()
        if run_id is None:
            new = [r for r in runs if r.run_id not in (known or set()) and r.state != "SCHEDULED"]
            if new:
                target = min(new, key=lambda r: (r.scheduled_time or datetime.max, r.run_id))
                run_id = target.run_id
        else:
            target = next((r for r in runs if r.run_id == run_id), None)
        if target is not None and not seen_fresh:
            seen_fresh = target.state not in TERMINAL or (
                target.completed_time is not None and after_completed is not None and target.completed_time > after_completed)
        if target is not None and seen_fresh:
            tasks = source.task_runs(target.run_id)
            for t in tasks:
                key = (t.state, t.attempt)
                if t.state in TASK_TERMINAL and reported.get(t.task) != key:
                    reported[t.task] = key
                    on_task(t)
            if target.state in TERMINAL:
                return RunReport(pipeline, target, tasks)
        if clock() >= deadline:
            what = f"run {run_id} is still {target.state}" if target is not None else "the run never appeared"
            raise DagcError(
                f"timed out after {timeout:g} s waiting for {pipeline}: {what}",
                f"it keeps running on Snowflake; check it with `dagc status PIPELINE {run_id or ''}`".rstrip()
                + " or wait longer with --timeout",
                exit_code=3,
            )
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(delay * 1.6, max_delay)


def trigger(source: RunSource, *, pipeline: str, wait: bool, timeout: float,
            on_task: Callable[[TaskOutcome], None] = lambda t: None, **kw: Any) -> RunReport | None:
    known = {r.run_id for r in source.graph_runs()}
    source.execute()
    if not wait:
        return None
    return follow(source, pipeline=pipeline, known=known, timeout=timeout, on_task=on_task, **kw)


def last_failed(runs: Iterable[GraphRun]) -> GraphRun | None:
    done = [r for r in runs if r.state in TERMINAL]
    if not done:
        return None
    latest = max(done, key=lambda r: (r.completed_time or r.scheduled_time or datetime.min, r.run_id))
    return latest if latest.state == "FAILED" else None


def retry_run(source: RunSource, *, pipeline: str, wait: bool, timeout: float,
              on_task: Callable[[TaskOutcome], None] = lambda t: None, **kw: Any) -> RunReport | None:
    """Re-run the last failed run from its failed tasks (EXECUTE TASK ... RETRY LAST)."""
    failed = last_failed(source.graph_runs())
    if failed is None:
        raise DagcError(f"{pipeline}: the most recent completed run did not fail; there is nothing to retry",
                        "see `dagc status PIPELINE`; Snowflake can only retry the last run, and only if it failed")
    source.execute(retry_last=True)
    if not wait:
        return RunReport(pipeline, failed)
    return follow(source, pipeline=pipeline, run_id=failed.run_id,
                  after_completed=failed.completed_time or datetime.min, timeout=timeout, on_task=on_task, **kw)


# -- rendering ---------------------------------------------------------------------------------------
def render_outcome(t: TaskOutcome) -> str:
    """One task line, in the local engine's vocabulary (upper-case Snowflake states)."""
    line = f"  {t.task:<28} {t.state:<10} attempt {t.attempt}"
    if t.error:
        line += f"  {t.error.strip().splitlines()[0] if t.error.strip() else ''}"
    return line


def render_report(rep: RunReport) -> str:
    """Same layout as the local engine's `dagc status`: header, state, task lines, first failure."""
    lines = [f"run {rep.run.run_id}  pipeline {rep.pipeline} (snowflake)",
             f"state {rep.run.state}" + (f"  scheduled {rep.run.scheduled_time:%Y-%m-%d %H:%M:%S}" if rep.run.scheduled_time else "")
             + (f"  completed {rep.run.completed_time:%Y-%m-%d %H:%M:%S}" if rep.run.completed_time else "")]
    for t in rep.tasks:
        lines.append(render_outcome(t))
    first = rep.first_failure()
    if first is not None:
        lines.append(f"first failed task: {first.task}: {first.error or '(no message)'}")
    if rep.run.state == "FAILED":
        lines.append(f"resume with: dagc retry PIPELINE --connection NAME   (re-runs run {rep.run.run_id} from its failed tasks)")
    return "\n".join(lines)


def report_json(rep: RunReport) -> dict[str, Any]:
    out = {"pipeline": rep.pipeline, "run": asdict(rep.run), "tasks": [asdict(t) for t in rep.tasks]}
    first = rep.first_failure()
    out["first_failure"] = asdict(first) if first else None
    return json.loads(json.dumps(out, default=str))


def status_reports(source: RunSource, *, pipeline: str, run_id: str | None = None, limit: int = 5) -> list[RunReport]:
    runs = source.graph_runs()
    if run_id is not None:
        chosen = [r for r in runs if r.run_id == str(run_id)]
        if not chosen:
            raise DagcError(f"{pipeline}: no run {run_id} in Snowflake's recent history",
                            "Snowflake keeps completed graph runs for 60 minutes in this view; `dagc status PIPELINE` lists them")
    else:
        chosen = sorted(runs, key=lambda r: (r.scheduled_time or datetime.min), reverse=True)[:limit]
    return [RunReport(pipeline, r, source.task_runs(r.run_id) if r.state != "SCHEDULED" else []) for r in chosen]


# -- entry points shared with the local engine's commands (dagc.cli.operate) -------------------------
def _session_for(pipeline_path: str | Path, connection: str | None, env: str | None) -> tuple[Any, Any, Any, Any]:
    from dagc.frontend import load_pipeline
    from dagc.snowflake.connection import open_schema, resolve

    pipeline = load_pipeline(Path(pipeline_path), env=env)
    conn = resolve(connection)
    session, schema = open_schema(conn, pipeline.stage)
    return pipeline, session, schema, conn


def _run_source(pipeline_path: str | Path, connection: str | None, env: str | None, source: RunSource | None,
                pipeline_name: str | None) -> tuple[RunSource, str, Any]:
    """The run rows to read (the deployed graph's, unless a test injects its own), its name, the connection."""
    if source is not None:
        return source, pipeline_name or Path(pipeline_path).stem, None
    pipeline, session, schema, conn = _session_for(pipeline_path, connection, env)
    return SnowflakeRunSource(schema, session, pipeline.name), pipeline.name, conn


def status(pipeline_path: str | Path, run_id: str | None = None, *, connection: str | None, env: str | None,
           fmt: str = "text", source: RunSource | None = None, pipeline_name: str | None = None,
           out: Callable[[str], None] = print) -> int:
    """`dagc status PIPELINE [RUN_ID] --connection NAME`: 0 if the shown runs are fine, 1 if one failed."""
    source, name, conn = _run_source(pipeline_path, connection, env, source, pipeline_name)
    from dagc.snowflake.connection import snowflake_errors

    with snowflake_errors(conn):
        reports = status_reports(source, pipeline=name, run_id=run_id)
    if fmt == "json":
        out(json.dumps([report_json(r) for r in reports], indent=2))
    elif not reports:
        out(f"{name}: no current or recent runs on Snowflake")
    else:
        out("\n\n".join(render_report(r) for r in reports))
    return 1 if any(r.run.state == "FAILED" for r in reports[:1]) else 0


def retry(pipeline_path: str | Path, *, connection: str | None, env: str | None, wait: bool = False,
          timeout: float = 3600.0, source: RunSource | None = None, pipeline_name: str | None = None,
          out: Callable[[str], None] = print, **kw: Any) -> int:
    """`dagc retry PIPELINE --connection NAME`: EXECUTE TASK ... RETRY LAST, optionally followed."""
    source, name, conn = _run_source(pipeline_path, connection, env, source, pipeline_name)
    from dagc.snowflake.connection import snowflake_errors

    with snowflake_errors(conn):
        rep = retry_run(source, pipeline=name, wait=wait, timeout=timeout, on_task=lambda t: out(render_outcome(t)), **kw)
    assert rep is not None
    if not wait:
        out(f"{name}: retrying run {rep.run.run_id} from its failed tasks")
        return 0
    out(f"run {rep.run.run_id}  pipeline {name} (snowflake)\nstate {rep.run.state}")
    first = rep.first_failure()
    if first is not None and rep.run.state == "FAILED":
        out(f"first failed task: {first.task}: {first.error or '(no message)'}")
    return 0 if rep.run.state == "SUCCEEDED" else 1


def echo_err(text: str) -> None:
    print(text, file=sys.stderr)
