"""Run history for `dagc runs`, local and on Snowflake (filters by state and date, --json).

Built on the RunSource of dagc.snowflake.operate (graph runs from CURRENT/COMPLETE_TASK_GRAPHS and
TASK_HISTORY, task outcomes per run), so one reading of Snowflake serves `status`, `retry`,
`trigger --wait` and this. Each row says what a person looks for first: when it ran, how long,
which attempt (a retry is the next attempt of the same run), the first error and where.
The same row type serves local runs, so both targets print the same table and JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

STATES = ("SCHEDULED", "EXECUTING", "SUCCEEDED", "FAILED", "CANCELLED")


@dataclass
class HistoryRow:
    run: str  # the run's identity: GROUP/ATTEMPT on Snowflake, the run id locally
    pipeline: str
    target: str  # local | snowflake
    state: str
    attempt: int  # graph attempt (1 = first; retries add one)
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    first_error_task: str | None
    first_error: str | None
    task_attempts: int = 0  # task runs in this attempt (retried tasks count each time)
    failed_tasks: int = 0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("scheduled_at", "started_at", "ended_at"):
            d[k] = d[k].isoformat() if d[k] else None
        d["run_id"], d["first_failed_task"] = self.run, self.first_error_task  # the local JSON's names, kept
        return d


def _aware(t: Any) -> datetime | None:
    if t is None:
        return None
    if isinstance(t, (int, float)):
        return datetime.fromtimestamp(t, tz=timezone.utc)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _ident(run: Any) -> tuple[str, Any, int]:
    key = getattr(run, "key", None)
    if key is not None:
        return str(key), key, int(getattr(run, "attempt", 1) or 1)
    return str(run.run_id), str(run.run_id), 1


def snowflake_rows(source: Any, pipeline: str, *, with_tasks: bool = True) -> list[HistoryRow]:
    """Every run the source reports (newest first), with durations, attempts and the first error."""
    from dagc.snowflake.operate import RunReport, short_name

    out = []
    for run in source.graph_runs():
        label, key, attempt = _ident(run)
        tasks = source.task_runs(key) if with_tasks and run.state != "SCHEDULED" else []
        first = RunReport(pipeline, run, list(tasks)).first_failure() if run.state in ("FAILED", "CANCELLED") else None
        started = _aware(getattr(run, "query_start_time", None)) or _aware(
            min((t.query_start_time for t in tasks if t.query_start_time), default=None))
        ended = _aware(run.completed_time) or (_aware(max((t.completed_time for t in tasks if t.completed_time),
                                                          default=None)) if run.state in ("SUCCEEDED", "FAILED", "CANCELLED") else None)
        out.append(HistoryRow(
            run=label, pipeline=pipeline, target="snowflake", state=run.state, attempt=attempt,
            scheduled_at=_aware(run.scheduled_time), started_at=started, ended_at=ended,
            duration_s=(ended - started).total_seconds() if started and ended else None,
            first_error_task=short_name(first.task) if first else None, first_error=first.error if first else None,
            task_attempts=sum(int(t.attempt or 1) for t in tasks), failed_tasks=sum(1 for t in tasks if t.state.startswith("FAILED"))))
    return sorted(out, key=lambda r: (r.started_at or r.scheduled_at or datetime.min.replace(tzinfo=timezone.utc), r.run),
                  reverse=True)


def local_rows(store: Any, pipeline: str | None, limit: int) -> list[HistoryRow]:
    out = []
    for r in store.list_runs(pipeline, limit=limit):
        atts = store.attempts(r.run_id)
        mine = [a for a in atts if a.graph_attempt == r.graph_attempt]
        out.append(HistoryRow(
            run=r.run_id, pipeline=r.pipeline, target="local", state=r.state, attempt=r.graph_attempt,
            scheduled_at=_aware(r.scheduled_at), started_at=_aware(r.started_at), ended_at=_aware(r.ended_at),
            duration_s=r.duration, first_error_task=r.first_failed_task, first_error=r.first_error,
            task_attempts=sum(1 for a in mine if a.started_at is not None),
            failed_tasks=sum(1 for a in mine if a.state == "FAILED")))
    return out


def parse_states(states: Iterable[str]) -> set[str]:
    from dagc.diagnostics import UsageError

    out = set()
    for s in states:
        for part in str(s).split(","):
            p = part.strip().upper()
            if p == "RUNNING":
                p = "EXECUTING"
            if p not in STATES:
                raise UsageError(f"--state {part!r} is not a run state", f"states: {', '.join(STATES)}")
            out.add(p)
    return out


def filtered(rows: Iterable[HistoryRow], *, states: set[str] | None = None, since: datetime | None = None,
             until: datetime | None = None, limit: int | None = None) -> list[HistoryRow]:
    """Rows in the given states, scheduled (or started) in [since, until), newest first."""
    out = []
    for r in rows:
        when = r.started_at or r.scheduled_at
        if states and r.state not in states:
            continue
        if since is not None and (when is None or when < since):
            continue
        if until is not None and (when is None or when >= until):
            continue
        out.append(r)
    return out[:limit] if limit else out


def render_table(rows: list[HistoryRow]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table()
    for col in ("run", "pipeline", "state", "attempt", "started", "duration", "tasks", "first error"):
        t.add_column(col)
    for r in rows:
        when = r.started_at or r.scheduled_at
        err = f"{r.first_error_task}: {(r.first_error or '').strip().splitlines()[0] if r.first_error else ''}" \
            if r.first_error_task else ""
        t.add_row(r.run, r.pipeline, r.state, str(r.attempt), f"{when:%Y-%m-%d %H:%M:%S}" if when else "",
                  f"{r.duration_s:.1f}s" if r.duration_s is not None else "",
                  f"{r.task_attempts}" + (f" ({r.failed_tasks} failed)" if r.failed_tasks else ""), err[:100])
    Console(width=180).print(t)
