"""Decide what a `dagc report` invocation shows, gather it, and render it.

Three sources, one page: a local run (engine state + the pipeline file it ran), a Snowflake run
(the status rows + the pipeline file), or a pipeline alone (its compiled graph, for review).
The graph always comes from a pipeline file compiled by the front end, so the page shows the
same manifest `dagc compile` writes; when that file changed since the run, the page says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from dagc.diagnostics import DagcError, UsageError
from dagc.report.html import render_report
from dagc.report.model import RunView, state_counts


def _load(path: str | os.PathLike[str], env: str | None, sets: Mapping[str, Any] | None = None,
          var_sets: tuple[str, ...] = (), var_map: Mapping[str, Any] | None = None) -> Any:
    from dagc.frontend import load_pipeline
    from dagc.frontend.overlay import parse_assignment

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such pipeline file: {path}", "give the pipeline's YAML file, e.g. pipelines/training.yaml")
    variables = dict(var_map or {})
    variables.update(dict(map(parse_assignment, var_sets)))
    return load_pipeline(p, env, sets=dict(sets or {}), var_sets=variables)


def _recorded_overrides(record: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(--set, --var) a local run was started with, so the graph drawn is the one that ran.

    The engine records them as {"set": {...}, "var": {...}}; a flat mapping means --set only."""
    raw = dict(getattr(record, "sets", None) or {})
    if isinstance(raw.get("set"), dict) or isinstance(raw.get("var"), dict):
        return dict(raw.get("set") or {}), dict(raw.get("var") or {})
    options = getattr(record, "options", None) or {}
    return raw, dict(options.get("var_sets") or {})


def summarize(manifest: Mapping[str, Any], run: RunView | None) -> str:
    if run is None:
        return f"graph of {manifest['pipeline']}, {len(manifest['tasks'])} tasks"
    counts = state_counts(run.tasks)
    parts = ", ".join(f"{n} {s.lower().replace('_', ' ')}" for s, n in sorted(counts.items()))
    return f"run {run.run_id} of {run.pipeline}: {run.state} ({parts})"


def _changed_warning(pipeline: Any, record: Any) -> list[str]:
    """The engine records a hash of the pipeline it ran; compare it with the file we draw."""
    try:
        from dagc.engine.project import pipeline_hash
    except ImportError:
        return []
    recorded = getattr(record, "manifest_hash", None)
    try:
        current = pipeline_hash(pipeline)
    except Exception:  # a hashing detail of another module must never stop a report
        return []
    if recorded and current != recorded:
        return ["the pipeline file changed since this run: the graph and settings shown are the file's current ones"]
    return []


def build_report(*, run_id: str | None = None, pipeline_path: str | None = None, env: str | None = None,
                 var_sets: tuple[str, ...] = (), state_dir: str | None = None, connection: str | None = None,
                 snowflake_source: Any = None) -> tuple[str, str]:
    """(page, one-line summary) for the invocation; raises DagcError / UsageError on bad input."""
    from dagc.emit.manifest import build_manifest

    warnings: list[str] = []
    if connection or snowflake_source is not None:
        if not pipeline_path:
            raise UsageError("a Snowflake run report needs --pipeline (it names the graph and where it is deployed)")
        from dagc.report.remote import load_snowflake_run

        pipeline = _load(pipeline_path, env, var_sets=var_sets)
        run: RunView | None = load_snowflake_run(pipeline, run_id, connection=connection, source=snowflake_source)
    elif pipeline_path and not run_id:
        pipeline = _load(pipeline_path, env, var_sets=var_sets)
        run = None
    else:
        from dagc.report.local import load_local_run

        anchor = Path(pipeline_path) if pipeline_path else None
        name = _load(pipeline_path, env, var_sets=var_sets).name if pipeline_path and run_id == "latest" else None
        run, record = load_local_run(run_id, state_dir=state_dir, anchor=anchor, pipeline_name=name)
        source = pipeline_path or record.source
        if not source:
            raise DagcError(f"run {run.run_id} does not say which pipeline file it ran",
                            "name it: dagc report RUN_ID --pipeline PIPELINE")
        if not Path(source).is_file():
            raise DagcError(f"the pipeline file of run {run.run_id} is gone: {source}",
                            "point at the file: dagc report RUN_ID --pipeline PIPELINE")
        run_sets, run_vars = _recorded_overrides(record)
        pipeline = _load(source, env if env is not None else record.environment, sets=run_sets,
                         var_sets=var_sets, var_map=run_vars)
        if not pipeline_path:
            warnings += _changed_warning(pipeline, record)
    manifest = build_manifest(pipeline)
    return render_report(manifest, run, warnings=warnings), summarize(manifest, run)
