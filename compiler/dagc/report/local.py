"""Adapter: a run recorded by the local engine (SQLite under .dagc/) -> RunView.

Kept apart from the renderer so the page never learns about SQLite, and apart from the engine
so the engine does not learn about the page. The engine records one row per task attempt; the
report shows one task with its attempts folded in, which is what a person debugging wants first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from dagc.diagnostics import DagcError
from dagc.report.model import LOG_EXCERPT_CHARS, AttemptView, RunView, TaskRunView, normalize_state

_LOG_TAIL_BYTES = LOG_EXCERPT_CHARS * 4  # utf-8 worst case; model.tail() trims to characters


def read_log_tail(path: str | None, limit: int = _LOG_TAIL_BYTES) -> str | None:
    """The end of a task's log file, without reading a huge log whole; None if it is gone."""
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read()
    except OSError:
        return None
    text = data.decode("utf-8", errors="replace")
    if size > limit:
        nl = text.find("\n")
        text = f"[... {size - len(data):,} earlier bytes not shown ...]\n" + (text[nl + 1:] if 0 <= nl < 400 else text)
    return text


def fold_attempts(task: str, attempts: Iterable[Any]) -> TaskRunView:
    """Every attempt row of one task (engine AttemptRecords, oldest first) -> one TaskRunView."""
    rows = sorted(attempts, key=lambda a: (getattr(a, "graph_attempt", 1) or 1, a.attempt))
    last = rows[-1]
    ran = [a for a in rows if a.started_at is not None]
    history = tuple(AttemptView(a.attempt, normalize_state(a.state), a.started_at, a.ended_at, a.error) for a in ran)
    log = read_log_tail(getattr(last, "log_path", None))
    if not log and getattr(last, "traceback", None):
        log = last.traceback
    return TaskRunView(
        name=task,
        state=normalize_state(last.state),
        started_at=ran[0].started_at if ran else None,
        ended_at=(last.ended_at if last.started_at is not None else (ran[-1].ended_at if ran else None)),
        attempts=len(ran),
        return_value=last.return_value,
        error=last.error,
        log_excerpt=log,
        history=history,
        reused_from=getattr(last, "reused_from", None),
    )


def run_view_from_records(run: Any, attempts: Iterable[Any]) -> RunView:
    """An engine RunRecord and its AttemptRecords -> RunView."""
    by_task: dict[str, list[Any]] = {}
    for a in attempts:
        by_task.setdefault(a.task, []).append(a)
    tasks = tuple(fold_attempts(name, rows) for name, rows in by_task.items())
    extra: dict[str, Any] = {}
    if getattr(run, "graph_attempt", 1) and run.graph_attempt > 1:
        extra["graph attempts"] = run.graph_attempt
    for key in ("host", "source"):
        if getattr(run, key, None):
            extra[key] = getattr(run, key)
    sets = dict(getattr(run, "sets", None) or {})
    if isinstance(sets.get("set"), dict) or isinstance(sets.get("var"), dict):
        for flag in ("set", "var"):
            if sets.get(flag):
                extra[f"--{flag}"] = dict(sets[flag])
    elif sets:
        extra["--set"] = sets
    from dagc.configcodec import LOGICAL_DATE

    if LOGICAL_DATE in (run.config or {}):  # a backfill's (or a scheduled local run's) date
        extra["logical date"] = run.config[LOGICAL_DATE]
    options = {k: v for k, v in (getattr(run, "options", None) or {}).items() if v}
    if options:
        extra["options"] = options
    return RunView(
        run_id=run.run_id,
        pipeline=run.pipeline,
        state=normalize_state(run.state),
        started_at=run.started_at,
        ended_at=run.ended_at,
        config=dict(run.config or {}),
        tasks=tasks,
        source="local",
        environment=run.environment,
        first_error_task=run.first_failed_task,
        first_error=run.first_error,
        manifest_hash=None,  # the engine hashes the pipeline its own way; not comparable to the manifest's
        extra=extra,
    )


def open_local_store(state_dir: str | os.PathLike[str] | None, anchor: Path | None = None) -> Any:
    """The engine's state store, read-only; a clear error if the engine is not installed."""
    try:
        from dagc.engine.project import find_project_root, state_dir_for
        from dagc.engine.state import StateStore
    except ImportError:
        raise DagcError("reports of local runs need the local engine (dagc.engine), which this dagc does not include",
                        "use `dagc report --pipeline PIPELINE` for the graph alone") from None
    root = find_project_root(anchor or Path.cwd())
    return StateStore(state_dir_for(root, state_dir), readonly=True)


def load_local_run(run_id: str | None, *, state_dir: str | os.PathLike[str] | None = None,
                   pipeline_name: str | None = None, anchor: Path | None = None) -> tuple[RunView, Any]:
    """(RunView, the engine's RunRecord) for `run_id` (a unique prefix works), or the latest run."""
    store = open_local_store(state_dir, anchor)
    try:
        if run_id and run_id != "latest":
            run = store.get_run(run_id)
            if run is None:
                raise DagcError(f"no local run {run_id!r} in {store.state_dir}",
                                "list runs with `dagc runs`; a unique prefix of a run id is enough")
        else:
            run = store.latest_run(pipeline_name)
            if run is None:
                where = f" of {pipeline_name}" if pipeline_name else ""
                raise DagcError(f"no local runs{where} recorded in {store.state_dir}",
                                "start one with `dagc run PIPELINE`, or draw the graph alone with `dagc report --pipeline PIPELINE`")
        return run_view_from_records(run, store.attempts(run.run_id)), run
    finally:
        store.close()
