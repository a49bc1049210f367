"""Operate a deployed graph without writing SQL against INFORMATION_SCHEMA.

trigger / status / retry / suspend / resume. The polling logic is pure: it reads runs from a
`RunSource` (Snowflake in production, recorded rows in tests) and takes its clock and sleep as
arguments, so "follow *the run I started*, with a timeout and backoff" is tested offline.

Run identity: Snowflake's RUN_ID may repeat across the attempts of one run (a retry keeps the original
scheduled time), so a run is a `RunKey`: GRAPH_RUN_GROUP_ID + ATTEMPT_NUMBER. An automatic retry
(`retries:` = TASK_AUTO_RETRY_ATTEMPTS) and `EXECUTE TASK ... RETRY LAST` both start the next attempt
of the same group.

Following the right run: before EXECUTE TASK, dagc notes every run group Snowflake already reports
(running, completed, and the next scheduled one). The run it started is the first group that was not
there; dagc follows that group to its final attempt. For `retry`, dagc follows attempt N+1 of the
failed run's group.

History comes from INFORMATION_SCHEMA.TASK_HISTORY (7 days) and CURRENT_TASK_GRAPHS, read in one
query per poll; not from COMPLETE_TASK_GRAPHS, which forgets a run after 60 minutes while
RETRY LAST works for 14 days.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from dagc.diagnostics import DagcError

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
RETRYABLE = {"FAILED", "CANCELLED"}  # what EXECUTE TASK ... RETRY LAST accepts
TASK_TERMINAL = {"SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "FAILED_AND_AUTO_SUSPENDED"}
RETRY_WINDOW = timedelta(days=14)


@dataclass(frozen=True, order=True)
class RunKey:
    """One attempt of one graph run, as Snowflake identifies it (GRAPH_RUN_GROUP_ID, ATTEMPT_NUMBER).

    Written `GROUP/ATTEMPT` (e.g. `1763690400000/2`); a bare `GROUP` means its latest attempt."""

    group_id: str
    attempt: int = 1

    def __str__(self) -> str:
        return f"{self.group_id}/{self.attempt}"

    def next(self) -> "RunKey":
        return RunKey(self.group_id, self.attempt + 1)

    @classmethod
    def parse(cls, text: str) -> tuple[str, int | None]:
        """`GROUP` or `GROUP/ATTEMPT` -> (group, attempt or None)."""
        group, sep, attempt = str(text).strip().partition("/")
        if sep:
            if not attempt.isdigit() or not group:
                raise DagcError(f"run {text!r}: expected GROUP or GROUP/ATTEMPT (e.g. 1763690400000/2)",
                                "`dagc status PIPELINE -c NAME` lists the runs")
            return group, int(attempt)
        return group, None


@dataclass
class GraphRun:
    run_id: str  # Snowflake's RUN_ID; may repeat across attempts (shown, never used to match)
    state: str  # SCHEDULED | EXECUTING | SUCCEEDED | FAILED | CANCELLED
    scheduled_time: datetime | None = None
    completed_time: datetime | None = None
    first_error_task: str | None = None
    first_error_message: str | None = None
    group_id: str | None = None  # GRAPH_RUN_GROUP_ID (None in old rows: the run id stands in)
    attempt: int = 1  # ATTEMPT_NUMBER
    query_start_time: datetime | None = None

    @property
    def key(self) -> RunKey:
        return RunKey(str(self.group_id or self.run_id), int(self.attempt or 1))

    def when(self) -> datetime:
        """For ordering runs: when it started, else when it was scheduled."""
        return self.query_start_time or self.scheduled_time or datetime.min


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
    def graph_runs(self) -> list[GraphRun]: ...  # current, scheduled and recent attempts; any order
    def task_runs(self, key: RunKey) -> list[TaskOutcome]: ...
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
        group_id=(str(getattr(row, "graph_run_group_id")) if getattr(row, "graph_run_group_id", None) is not None
                  else None),
        attempt=int(getattr(row, "attempt_number", None) or 1),
        query_start_time=getattr(row, "query_start_time", None),
    )


# -- reading runs from Snowflake ---------------------------------------------------------------------
@dataclass
class HistoryRow:
    """One row of TASK_HISTORY (a task run) or of CURRENT_TASK_GRAPHS (`name` None: a graph run)."""

    group_id: str
    attempt: int
    run_id: str
    state: str
    name: str | None = None
    scheduled_time: datetime | None = None
    query_start_time: datetime | None = None
    completed_time: datetime | None = None
    error: str | None = None
    return_value: str | None = None
    first_error_task: str | None = None


def assemble(rows: Iterable[HistoryRow], root: str) -> tuple[list[GraphRun], dict[RunKey, list[TaskOutcome]]]:
    """Graph runs (one per group and attempt) and their task outcomes, from one query's rows.

    A run CURRENT_TASK_GRAPHS lists is SCHEDULED or EXECUTING; any other is complete, and its state
    follows its tasks: FAILED if one failed, else CANCELLED if one was cancelled, else SUCCEEDED.
    A retry re-runs only what did not succeed, so attempt N shows, per task, its newest row of any
    attempt up to N.
    """
    current: dict[RunKey, HistoryRow] = {}
    tasks: dict[str, list[HistoryRow]] = {}
    for r in rows:
        if r.name is None:
            current[RunKey(str(r.group_id), int(r.attempt or 1))] = r
        else:
            tasks.setdefault(str(r.group_id), []).append(r)
    keys = set(current) | {RunKey(g, int(r.attempt or 1)) for g, rs in tasks.items() for r in rs}
    runs: list[GraphRun] = []
    outcomes: dict[RunKey, list[TaskOutcome]] = {}
    root_u = root.upper()
    for key in sorted(keys):
        latest: dict[str, HistoryRow] = {}
        for r in sorted(tasks.get(key.group_id, []), key=lambda r: (r.attempt, r.query_start_time or datetime.min)):
            if r.attempt <= key.attempt and r.state != "SCHEDULED":
                latest[str(r.name)] = r
        children = [r for n, r in latest.items() if n.upper() != root_u]
        outcomes[key] = [TaskOutcome(short_name(r.name or ""), r.state, r.error, r.return_value, r.attempt,
                                     r.query_start_time, r.completed_time) for r in children]
        mine = [r for r in tasks.get(key.group_id, []) if r.attempt == key.attempt and r.state != "SCHEDULED"]
        cur = current.get(key)
        if cur is not None:
            state = cur.state
        elif not mine:
            continue
        elif any(r.state == "EXECUTING" for r in mine):
            state = "EXECUTING"
        elif all(r.state == "SKIPPED" for r in mine):
            continue  # a skipped root run is not a graph run (COMPLETE_TASK_GRAPHS leaves it out too)
        else:
            states = {r.state for r in latest.values()}
            state = ("FAILED" if any(s.startswith("FAILED") for s in states) else
                     "CANCELLED" if "CANCELLED" in states else "SUCCEEDED")
        first_err = min((r for r in latest.values() if r.state.startswith("FAILED")),
                        key=lambda r: r.completed_time or datetime.max, default=None)
        base = cur if cur is not None else min(mine, key=lambda r: r.query_start_time or r.scheduled_time or datetime.max)
        ends = [r.completed_time for r in mine if r.completed_time is not None]
        runs.append(GraphRun(
            run_id=str(base.run_id), state=state, scheduled_time=base.scheduled_time,
            completed_time=None if state not in TERMINAL else (max(ends) if ends else base.completed_time),
            first_error_task=(cur.first_error_task if cur is not None else None) or (first_err.name if first_err else None),
            first_error_message=(cur.error if cur is not None else None) or (first_err.error if first_err else None),
            group_id=key.group_id, attempt=key.attempt,
            query_start_time=min((r.query_start_time for r in mine if r.query_start_time), default=base.query_start_time),
        ))
    return runs, outcomes


RUNS_SQL = (
    "select null as name, graph_run_group_id, attempt_number, run_id, state, scheduled_time, query_start_time, "
    "null as completed_time, first_error_message as error, null as return_value, first_error_task_name "
    "from table({db}.information_schema.current_task_graphs(root_task_name => ?)) "
    "where database_name = ? and schema_name = ? "
    "union all "
    "select name, graph_run_group_id, attempt_number, run_id, state, scheduled_time, query_start_time, "
    "completed_time, error_message, return_value, null "
    "from table({db}.information_schema.task_history("
    "scheduled_time_range_start => dateadd('day', -7, current_timestamp()), result_limit => 10000)) "
    "where database_name = ? and schema_name = ? and (name = ? or startswith(name, ?))"
)


class SnowflakeRunSource:
    """Runs and task outcomes from one query (CURRENT_TASK_GRAPHS + TASK_HISTORY) per `graph_runs()`.

    Identifiers are compared the way Snowflake stores them: `@ml.prod.stage` names schema PROD."""

    def __init__(self, schema: Any, session: Any, dag_name: str) -> None:
        from dagc.snowflake.names import canon, sql_ident

        self.schema = schema
        self.session = session
        self.dag = dag_name
        self.db_sql = sql_ident(str(schema.database.name))
        self.db, self.sc, self.root = canon(str(schema.database.name)), canon(str(schema.name)), canon(dag_name)
        self._tasks: dict[RunKey, list[TaskOutcome]] = {}
        self.queries = 0

    def rows(self) -> list[HistoryRow]:
        self.queries += 1
        got = self.session.sql(RUNS_SQL.format(db=self.db_sql),
                               params=[self.root, self.db, self.sc, self.db, self.sc, self.root, f"{self.root}$"]).collect()
        return [HistoryRow(name=r[0], group_id=str(r[1] if r[1] is not None else r[3]), attempt=int(r[2] or 1),
                           run_id=str(r[3]), state=str(r[4]).upper(), scheduled_time=r[5], query_start_time=r[6],
                           completed_time=r[7], error=r[8], return_value=r[9], first_error_task=r[10]) for r in got]

    def graph_runs(self) -> list[GraphRun]:
        runs, self._tasks = assemble(self.rows(), self.root or self.dag)
        return runs

    def task_runs(self, key: RunKey) -> list[TaskOutcome]:
        if key not in self._tasks:
            self.graph_runs()
        return list(self._tasks.get(key, []))

    def execute(self, *, retry_last: bool = False) -> None:
        self.schema.tasks[self.dag].execute(retry_last=retry_last)


# -- following a run ---------------------------------------------------------------------------------
def latest_attempt(runs: Iterable[GraphRun], group: str) -> GraphRun | None:
    mine = [r for r in runs if r.key.group_id == group]
    return max(mine, key=lambda r: r.attempt) if mine else None


def follow(
    source: RunSource,
    *,
    pipeline: str,
    known: set[str] | None = None,
    key: RunKey | None = None,
    retries: int = 0,
    retry_grace: float = 120.0,
    timeout: float = 3600.0,
    on_task: Callable[[TaskOutcome], None] = lambda t: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    first_delay: float = 2.0,
    max_delay: float = 30.0,
) -> RunReport:
    """Wait for one run to finish, through its final attempt, reporting each task outcome once.

    Either `known` (run groups that existed before EXECUTE TASK: ours is the first new one) or `key`
    (a retried run: wait for that attempt). With `retries` (the graph's TASK_AUTO_RETRY_ATTEMPTS), a
    failed attempt is not the end while Snowflake may still start the next one: dagc waits up to
    `retry_grace` seconds for it to appear.
    """
    deadline = clock() + timeout
    delay = first_delay
    target: GraphRun | None = None
    group = key.group_id if key is not None else None
    want_attempt = key.attempt if key is not None else 1
    last_attempt = want_attempt + max(0, retries)
    reported: dict[str, tuple[str, int]] = {}
    waiting: dict[int, float] = {}  # failed attempt -> when dagc saw it fail (waiting for the next)
    while True:
        runs = source.graph_runs()
        if group is None:
            new = [r for r in runs if r.key.group_id not in (known or set()) and r.state != "SCHEDULED"]
            if new:
                group = min(new, key=lambda r: (r.scheduled_time or datetime.max, r.key)).key.group_id
        if group is not None:
            latest = latest_attempt(runs, group)
            target = latest if latest is not None and latest.attempt >= want_attempt else None
        if target is not None:
            tasks = source.task_runs(target.key)
            for t in tasks:
                k = (t.state, t.attempt)
                if t.state in TASK_TERMINAL and reported.get(t.task) != k:
                    reported[t.task] = k
                    on_task(t)
            if target.state in TERMINAL:
                more = target.state == "FAILED" and target.attempt < last_attempt
                if not more:
                    return RunReport(pipeline, target, tasks)
                first_seen = waiting.setdefault(target.attempt, clock())
                if clock() - first_seen >= retry_grace:
                    return RunReport(pipeline, target, tasks)  # no automatic retry came: this attempt is final
        if clock() >= deadline:
            what = f"run {target.key} is still {target.state}" if target is not None else "the run never appeared"
            raise DagcError(
                f"timed out after {timeout:g} s waiting for {pipeline}: {what}",
                f"it keeps running on Snowflake; check it with `dagc status PIPELINE {group or ''}`".rstrip()
                + " or wait longer with --timeout",
                exit_code=3,
            )
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(delay * 1.6, max_delay)


def trigger(source: RunSource, *, pipeline: str, wait: bool, timeout: float, retries: int = 0,
            on_task: Callable[[TaskOutcome], None] = lambda t: None, **kw: Any) -> RunReport | None:
    known = {r.key.group_id for r in source.graph_runs()}
    source.execute()
    if not wait:
        return None
    return follow(source, pipeline=pipeline, known=known, retries=retries, timeout=timeout, on_task=on_task, **kw)


def last_completed(runs: Iterable[GraphRun]) -> GraphRun | None:
    """The newest completed attempt of any run (what RETRY LAST would retry)."""
    done = [r for r in runs if r.state in TERMINAL]
    if not done:
        return None
    return max(done, key=lambda r: (r.completed_time or r.when(), r.key))


def retryable(runs: Iterable[GraphRun], *, now: datetime | None = None) -> GraphRun | None:
    """The run RETRY LAST would retry now, if any: the last completed one, FAILED or CANCELLED, within
    14 days, with nothing executing. (Snowflake also requires the graph unmodified since: any deploy
    that changes the graph after a failure makes that run impossible to retry.)"""
    runs = list(runs)
    if any(r.state == "EXECUTING" for r in runs):
        return None
    last = last_completed(runs)
    if last is None or last.state not in RETRYABLE:
        return None
    done = last.completed_time
    if now is not None and done is not None:
        if (done.tzinfo is None) != (now.tzinfo is None):  # TASK_HISTORY gives TIMESTAMP_LTZ (aware)
            now = now.replace(tzinfo=None) if now.tzinfo is not None else now.astimezone()
        if now - done > RETRY_WINDOW:
            return None
    return last


def retry_run(source: RunSource, *, pipeline: str, wait: bool, timeout: float, retries: int = 0,
              on_task: Callable[[TaskOutcome], None] = lambda t: None, **kw: Any) -> RunReport | None:
    """Re-run the last failed or cancelled run from its failed tasks (EXECUTE TASK ... RETRY LAST)."""
    runs = source.graph_runs()
    running = [r for r in runs if r.state == "EXECUTING"]
    if running:
        raise DagcError(f"{pipeline}: run {running[0].key} is executing; Snowflake retries only a completed run",
                        "wait for it (`dagc status PIPELINE -c NAME`), then retry")
    last = last_completed(runs)
    if last is None:
        raise DagcError(f"{pipeline}: no completed run in the last 7 days of TASK_HISTORY; there is nothing to retry",
                        "see `dagc status PIPELINE -c NAME`")
    if last.state not in RETRYABLE:
        raise DagcError(f"{pipeline}: the most recent completed run ({last.key}) did not fail; there is nothing to retry",
                        "Snowflake retries only the last run, and only if it FAILED or was CANCELLED")
    source.execute(retry_last=True)
    if not wait:
        return RunReport(pipeline, last)
    return follow(source, pipeline=pipeline, key=last.key.next(), retries=retries, timeout=timeout,
                  on_task=on_task, **kw)


# -- rendering ---------------------------------------------------------------------------------------
def render_outcome(t: TaskOutcome) -> str:
    """One task line, in the local engine's vocabulary (upper-case Snowflake states)."""
    line = f"  {t.task:<28} {t.state:<10} attempt {t.attempt}"
    if t.error:
        line += f"  {t.error.strip().splitlines()[0] if t.error.strip() else ''}"
    return line


def render_report(rep: RunReport, *, retry_hint: bool = True) -> str:
    """Same layout as the local engine's `dagc status`: header, state, task lines, first failure.
    `retry_hint`: say how to retry (only the last completed run can be retried)."""
    lines = [f"run {rep.run.key}  pipeline {rep.pipeline} (snowflake)" + (
                 f"  [run_id {rep.run.run_id}]" if rep.run.group_id and rep.run.group_id != rep.run.run_id else ""),
             f"state {rep.run.state}" + (f"  scheduled {rep.run.scheduled_time:%Y-%m-%d %H:%M:%S}" if rep.run.scheduled_time else "")
             + (f"  completed {rep.run.completed_time:%Y-%m-%d %H:%M:%S}" if rep.run.completed_time else "")]
    for t in rep.tasks:
        lines.append(render_outcome(t))
    first = rep.first_failure()
    if first is not None:
        lines.append(f"first failed task: {first.task}: {first.error or '(no message)'}")
    if rep.run.state in RETRYABLE and retry_hint:
        lines.append(f"resume with: dagc retry PIPELINE --connection NAME   (re-runs run {rep.run.key.group_id} from its "
                     "failed tasks, while it is the last run and the graph is not redeployed)")
    return "\n".join(lines)


def report_json(rep: RunReport) -> dict[str, Any]:
    run = asdict(rep.run)
    run["key"] = str(rep.run.key)
    out = {"pipeline": rep.pipeline, "run": run, "tasks": [asdict(t) for t in rep.tasks]}
    first = rep.first_failure()
    out["first_failure"] = asdict(first) if first else None
    return json.loads(json.dumps(out, default=str))


def status_reports(source: RunSource, *, pipeline: str, run_id: str | None = None, limit: int = 5) -> list[RunReport]:
    """The newest runs (or one run: `GROUP` for its latest attempt, `GROUP/ATTEMPT`), newest first."""
    runs = source.graph_runs()
    if run_id is not None:
        group, attempt = RunKey.parse(run_id)
        matching = [r for r in runs if r.key.group_id == group and (attempt is None or r.attempt == attempt)]
        if not matching:
            raise DagcError(f"{pipeline}: no run {run_id} in Snowflake's recent history",
                            "TASK_HISTORY keeps 7 days; `dagc status PIPELINE -c NAME` lists the runs")
        chosen = [max(matching, key=lambda r: r.attempt)]
    else:
        chosen = sorted(runs, key=lambda r: (r.when(), r.attempt), reverse=True)[:limit]
    return [RunReport(pipeline, r, source.task_runs(r.key) if r.state != "SCHEDULED" else []) for r in chosen]


def latest_outcome(reports: Iterable[RunReport]) -> RunReport | None:
    """The newest run that has started (the next SCHEDULED run says nothing about health)."""
    started = [r for r in reports if r.run.state != "SCHEDULED"]
    return max(started, key=lambda r: (r.run.when(), r.run.attempt)) if started else None


# -- entry points shared with the local engine's commands (dagc.cli.operate) -------------------------
def _session_for(pipeline_path: str | Path, connection: str | None, env: str | None) -> tuple[Any, Any, Any, Any]:
    from dagc.frontend import load_pipeline
    from dagc.snowflake.connection import open_schema, resolve

    pipeline = load_pipeline(Path(pipeline_path), env=env)
    conn = resolve(connection, warehouse=pipeline.warehouse)
    session, schema = open_schema(conn, pipeline.stage)
    return pipeline, session, schema, conn


def _run_source(pipeline_path: str | Path, connection: str | None, env: str | None, source: RunSource | None,
                pipeline_name: str | None, retries: int = 0) -> tuple[RunSource, str, Any, int]:
    """The run rows to read (the deployed graph's, unless a test injects its own), its name, the
    connection and the graph's automatic retries."""
    if source is not None:
        return source, pipeline_name or Path(pipeline_path).stem, None, retries
    pipeline, session, schema, conn = _session_for(pipeline_path, connection, env)
    return SnowflakeRunSource(schema, session, pipeline.name), pipeline.name, conn, int(pipeline.retries or 0)


def status(pipeline_path: str | Path, run_id: str | None = None, *, connection: str | None, env: str | None,
           fmt: str = "text", source: RunSource | None = None, pipeline_name: str | None = None,
           out: Callable[[str], None] = print) -> int:
    """`dagc status PIPELINE [RUN_ID] --connection NAME`: 1 if the newest run that started (or the one
    asked for) failed or was cancelled, else 0. The next SCHEDULED run does not decide."""
    source, name, conn, _ = _run_source(pipeline_path, connection, env, source, pipeline_name)
    from dagc.snowflake.connection import snowflake_errors

    with snowflake_errors(conn):
        reports = status_reports(source, pipeline=name, run_id=run_id)
    if fmt == "json":
        out(json.dumps([report_json(r) for r in reports], indent=2))
    elif not reports:
        out(f"{name}: no current or recent runs on Snowflake")
    else:
        last = last_completed([r.run for r in reports])
        out("\n\n".join(render_report(r, retry_hint=last is not None and r.run.key == last.key) for r in reports))
    decisive = latest_outcome(reports)
    return 1 if decisive is not None and decisive.run.state in RETRYABLE else 0


def retry(pipeline_path: str | Path, *, connection: str | None, env: str | None, wait: bool = False,
          timeout: float = 3600.0, source: RunSource | None = None, pipeline_name: str | None = None,
          retries: int = 0, out: Callable[[str], None] = print, **kw: Any) -> int:
    """`dagc retry PIPELINE --connection NAME`: EXECUTE TASK ... RETRY LAST, optionally followed."""
    source, name, conn, retries = _run_source(pipeline_path, connection, env, source, pipeline_name, retries)
    from dagc.snowflake.connection import snowflake_errors

    with snowflake_errors(conn):
        rep = retry_run(source, pipeline=name, wait=wait, timeout=timeout, retries=retries,
                        on_task=lambda t: out(render_outcome(t)), **kw)
    assert rep is not None
    if not wait:
        out(f"{name}: retrying run {rep.run.key.group_id} (attempt {rep.run.attempt + 1}) from its failed tasks")
        return 0
    out(f"run {rep.run.key}  pipeline {name} (snowflake)\nstate {rep.run.state}")
    first = rep.first_failure()
    if first is not None and rep.run.state == "FAILED":
        out(f"first failed task: {first.task}: {first.error or '(no message)'}")
    return 0 if rep.run.state == "SUCCEEDED" else 1


def echo_err(text: str) -> None:
    print(text, file=sys.stderr)
