"""Operate a deployed graph without writing SQL against INFORMATION_SCHEMA.

trigger / status / retry / suspend / resume. The polling logic is pure: it reads runs from a
`RunSource` (Snowflake in production, recorded rows in tests) and takes its clock and sleep as
arguments, so "follow *the run I started*, with a timeout and backoff" is tested offline.

Runs and their identity live in `dagc.snowflake.runs` (RunKey = GRAPH_RUN_GROUP_ID + ATTEMPT_NUMBER,
read from TASK_HISTORY + CURRENT_TASK_GRAPHS in one query per poll); they are re-exported here.

Following the right run: before EXECUTE TASK, dagc notes every run group Snowflake already reports
(running, completed, and the next scheduled one). The run it started is the first group that was not
there; dagc follows that group to its final attempt. For `retry`, dagc follows attempt N+1 of the
failed run's group.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from dagc.diagnostics import DagcError
from dagc.snowflake.runs import (RETRY_WINDOW, RETRYABLE, TASK_TERMINAL, TERMINAL, GraphRun, HistoryRow,  # noqa: F401
                                 RunKey, RunReport, RunSource, SnowflakeRunSource, TaskOutcome, assemble,
                                 graph_run_from, short_name)


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
    try:
        source.execute(retry_last=True)
    except Exception as exc:  # noqa: BLE001 - Snowflake's refusal, said with the likely reason
        from dagc.snowflake.connection import is_snowflake_error, redact

        if not is_snowflake_error(exc):
            raise

        raise DagcError(f"{pipeline}: Snowflake refused to retry run {last.key}: {redact(str(exc))}",
                        "RETRY LAST works only while the graph is unchanged since that run (a deploy that changed "
                        "it makes the run impossible to retry) and within 14 days; start a new run with "
                        "`dagc trigger PIPELINE -c NAME`") from None
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
