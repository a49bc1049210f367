"""Graph runs as Snowflake identifies them, and reading them (one query per poll).

Run identity: Snowflake's RUN_ID may repeat across the attempts of one run (a retry keeps the
original scheduled time), so a run is a `RunKey`: GRAPH_RUN_GROUP_ID + ATTEMPT_NUMBER. An automatic
retry (`retries:` = TASK_AUTO_RETRY_ATTEMPTS) and `EXECUTE TASK ... RETRY LAST` both start the next
attempt of the same group.

History comes from INFORMATION_SCHEMA.TASK_HISTORY (7 days) and CURRENT_TASK_GRAPHS, read in one
query; not from COMPLETE_TASK_GRAPHS, which forgets a run after 60 minutes while RETRY LAST works
for 14 days. `assemble` turns the rows into runs and task outcomes (pure: tested on recorded rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Protocol

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


