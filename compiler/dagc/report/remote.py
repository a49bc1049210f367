"""Adapter: a graph run on Snowflake, as dagc's Snowflake status code reads it -> RunView.

dagc.snowflake.operate reads graph runs (snowflake.core) and task rows (TASK_HISTORY) into
GraphRun / TaskOutcome / RunReport objects; this module only translates those, duck-typed, so it
imports nothing heavy and works with any RunSource (the real one, or recorded rows in tests).
Task rows may carry `started_at` / `ended_at` (or Snowflake's column names `query_start_time` /
`completed_time`); when they do not, the timeline tab says so instead of inventing times.
"""

from __future__ import annotations

from typing import Any

from dagc.diagnostics import DagcError
from dagc.report.model import AttemptView, RunView, TaskRunView, normalize_state, to_epoch


def short_name(name: str) -> str:
    """DB.SCHEMA.TRAINING$PROMOTE -> promote: Snowflake upper-cases unquoted names, YAML names are lower."""
    n = name.split(".")[-1].strip('"')
    short = n.split("$", 1)[1] if "$" in n else n
    return short.lower() if short.isupper() else short


def _time(obj: Any, *names: str) -> float | None:
    for n in names:
        v = getattr(obj, n, None)
        if v is not None:
            try:
                return to_epoch(v)
            except (TypeError, ValueError):
                return None
    return None


def run_view_from_report(report: Any, *, config: dict[str, Any] | None = None,
                         environment: str | None = None) -> RunView:
    """An operate.RunReport (pipeline, run: GraphRun, tasks: [TaskOutcome]) -> RunView."""
    run = report.run
    rows: dict[str, list[Any]] = {}
    for t in report.tasks:
        rows.setdefault(t.task, []).append(t)
    tasks = []
    for name, outcomes in rows.items():
        outcomes.sort(key=lambda o: getattr(o, "attempt", 1) or 1)
        last = outcomes[-1]
        starts = [_time(o, "started_at", "query_start_time") for o in outcomes]
        ends = [_time(o, "ended_at", "completed_time") for o in outcomes]
        history = tuple(AttemptView(getattr(o, "attempt", 1) or 1, normalize_state(o.state), s, e, o.error)
                        for o, s, e in zip(outcomes, starts, ends))
        state = normalize_state(last.state)
        started = next((s for s in starts if s is not None), None)
        never_ran = state in ("SKIPPED", "NOT_EXECUTED") and started is None  # history lists skipped tasks too
        tasks.append(TaskRunView(
            name=name,
            state=state,
            started_at=started,
            ended_at=ends[-1],
            attempts=0 if never_ran else max(getattr(last, "attempt", 1) or 1, len(outcomes)),
            return_value=getattr(last, "return_value", None),
            error=getattr(last, "error", None),
            history=history if len(history) > 1 else (),
        ))
    first_task = getattr(run, "first_error_task", None)
    if first_task:
        first_task = short_name(str(first_task))
    started = _time(run, "started_at", "query_start_time", "scheduled_time")
    ended = _time(run, "ended_at", "completed_time")
    extra: dict[str, Any] = {}
    if getattr(run, "scheduled_time", None) is not None:
        extra["scheduled time"] = str(run.scheduled_time)
    return RunView(
        run_id=str(run.run_id),
        pipeline=report.pipeline,
        state=normalize_state(run.state),
        started_at=started,
        ended_at=ended,
        config=dict(config or {}),
        tasks=tuple(tasks),
        source="snowflake",
        environment=environment,
        first_error_task=first_task,
        first_error=getattr(run, "first_error_message", None),
        extra=extra,
    )


def _operate() -> Any:
    try:
        from dagc.snowflake import operate
    except ImportError:
        raise DagcError("reports of Snowflake runs need dagc's Snowflake module (dagc.snowflake.operate), "
                        "which this dagc does not include",
                        "report a local run (`dagc report RUN_ID`) or the graph alone (`dagc report --pipeline PIPELINE`)") from None
    return operate


def reports_from_source(source: Any, *, pipeline: str, run_id: str | None) -> list[Any]:
    """The newest run (or `run_id`) from an operate.RunSource, through operate.status_reports."""
    operate = _operate()
    return list(operate.status_reports(source, pipeline=pipeline, run_id=run_id, limit=1))


def load_snowflake_run(pipeline: Any, run_id: str | None, *, connection: str | None,
                       source: Any = None) -> RunView:
    """RunView of a Snowflake run of `pipeline` (an ir.Pipeline), opening a session unless `source` is given."""
    operate = _operate()
    from dagc.snowflake.connection import snowflake_errors

    conn = None
    if source is None:
        from dagc.snowflake.connection import open_schema, resolve  # heavy: only on this path

        conn = resolve(connection, warehouse=getattr(pipeline, "warehouse", None))
        with snowflake_errors(conn):
            session, schema = open_schema(conn, pipeline.stage)
        source = operate.SnowflakeRunSource(schema, session, pipeline.name)
    with snowflake_errors(conn):
        reports = reports_from_source(source, pipeline=pipeline.name, run_id=run_id)
    if not reports:
        raise DagcError(f"{pipeline.name}: no current or recent runs on Snowflake",
                        "trigger one with `dagc trigger PIPELINE`, or give a RUN_ID from `dagc status PIPELINE`")
    from dagc.configcodec import encode_config
    from dagc.ir import thaw

    return run_view_from_report(reports[0], config=encode_config(thaw(pipeline.config)),
                                environment=pipeline.environment)

