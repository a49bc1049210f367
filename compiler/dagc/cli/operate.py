"""`dagc status | retry`: shared by the local engine and Snowflake.

Locally (the default) they read and resume runs recorded under the state directory. With
`--connection NAME` (or `--target snowflake`) they call dagc.snowflake.operate, imported only
then, so the local path never pays for snowflake.core.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dagc.cli.local import execute_with_view, open_store, show_result, state_dir_option, _reconciled
from dagc.cli.options import format_options, timeout_option

PIPELINE_SUFFIXES = (".yaml", ".yml")


def split_args(args: tuple[str, ...]) -> tuple[str | None, str | None]:
    """[PIPELINE] [RUN_ID] in either order: a YAML file is the pipeline, anything else the run id."""
    pipeline = run_id = None
    for a in args:
        if a.endswith(PIPELINE_SUFFIXES) or Path(a).is_file():
            if pipeline:
                raise click.UsageError("give at most one pipeline file")
            pipeline = a
        else:
            if run_id:
                raise click.UsageError("give at most one run id")
            run_id = a
    return pipeline, run_id


def _remote(connection: str | None, target: str) -> bool:
    return bool(connection) or target == "snowflake"


def _remote_module() -> Any:
    try:
        from dagc.snowflake import operate as remote  # type: ignore[import-not-found]
    except ImportError as exc:
        from dagc.diagnostics import DagcError

        raise DagcError(f"Snowflake operations are not available in this build ({exc})",
                        "drop --connection/--target snowflake to use the local engine") from None
    return remote


def _need_pipeline(pipeline: str | None, what: str) -> str:
    if not pipeline:
        raise click.UsageError(f"{what} on Snowflake needs the pipeline file, e.g. "
                               f"`dagc {what} pipelines/training.yaml --connection NAME`")
    return pipeline


@click.command()
@click.argument("args", nargs=-1, metavar="[PIPELINE] [RUN_ID]")
@click.option("--connection", "-c", help="Show a run on Snowflake through this connection.")
@click.option("--target", type=click.Choice(["local", "snowflake"]), default="local", show_default=True)
@click.option("--env", help="Environment overlay (Snowflake: which deployment).")
@state_dir_option
@format_options
def status(args: tuple[str, ...], connection: str | None, target: str, env: str | None, state_dir: str | None,
           fmt: str) -> int:
    """One run task by task, with the error of each failed task (default: the newest run).

    \b
    Examples:
      dagc status                                  # newest local run
      dagc status 20261121T101500Z-3fa2c1          # one local run (a unique prefix is enough)
      dagc status pipelines/training.yaml          # newest local run of that pipeline
      dagc status pipelines/training.yaml -c prod  # on Snowflake
      dagc status pipelines/training.yaml -c prod --format json
      dagc status pipelines/training.yaml -c prod 1763690400000/2   # one attempt of a Snowflake run

    Exit code: 1 when the run shown (on Snowflake: the newest run that started, not the next
    scheduled one) failed or was cancelled, else 0.
    """
    pipeline, run_id = split_args(args)
    if _remote(connection, target):
        path = _need_pipeline(pipeline, "status")
        return int(_remote_module().status(path, run_id, connection=connection, env=env,
                                 fmt=fmt))
    return local_status(pipeline, run_id, state_dir, fmt)


def local_status(pipeline: str | None, run_id: str | None, state_dir: str | None, fmt: str) -> int:
    from dagc.cli.local import _pipeline_name
    from dagc.diagnostics import DagcError
    from dagc.engine import view

    store, _ = open_store(state_dir, Path(pipeline) if pipeline else None)
    store = _reconciled(store)
    if run_id:
        run = store.get_run(run_id)
        if run is None:
            raise DagcError(f"no run {run_id!r} in {store.state_dir}", "list runs with `dagc runs`")
    else:
        run = store.latest_run(_pipeline_name(pipeline) if pipeline else None)
        if run is None:
            raise DagcError(f"no runs recorded in {store.state_dir}", "start one with `dagc run PIPELINE`")
    attempts = store.latest_attempts(run.run_id)
    if fmt == "json":
        doc = view.run_json(run, attempts)
        for t in doc["tasks"]:
            rec = attempts[t["task"]]
            t["traceback"] = rec.traceback
        click.echo(json.dumps(doc, indent=2))
        return 0 if run.state == "SUCCEEDED" else 1
    from dagc.textsafe import printable, safe_error

    click.echo(printable(f"run {run.run_id}  pipeline {run.pipeline}" + (f" (env {run.environment})" if run.environment
                                                                         else ""), newlines=False))
    click.echo(f"state {run.state}  started {view.fmt_time(run.started_at)}  duration "
               f"{view.fmt_duration(run.duration) or '(running)'}  graph attempt {run.graph_attempt}")
    click.echo(view.config_line(run))
    view.print_task_table(attempts.values())
    failed = [a for a in attempts.values() if a.state in ("FAILED", "CANCELLED") and a.error]
    for a in failed:
        click.echo(f"\n{printable(a.task, newlines=False)} {a.state} (attempt {a.attempt}): {safe_error(a.error)}")
        if a.traceback:
            tail = [printable(line[:300], newlines=False) for line in a.traceback[-20_000:].rstrip().splitlines()[-8:]]
            click.echo("  " + "\n  ".join(tail))
        if a.log_path:
            click.echo(f"  log: dagc logs {run.run_id} {a.task}")
    if run.state in ("FAILED", "CANCELLED"):
        click.echo(f"\nresume with: dagc retry {run.run_id}")
    return 0 if run.state == "SUCCEEDED" else 1


@click.command()
@click.argument("args", nargs=-1, metavar="[PIPELINE] [RUN_ID]")
@click.option("--connection", "-c", help="Retry the last failed run on Snowflake through this connection.")
@click.option("--target", type=click.Choice(["local", "snowflake"]), default="local", show_default=True)
@click.option("--env", help="Environment overlay (Snowflake: which deployment).")
@click.option("--force", is_flag=True, help="Retry even though the pipeline changed since that run.")
@click.option("--wait/--no-wait", default=True, help="Snowflake: wait for the retried run to finish.")
@timeout_option(help="Snowflake: how long to wait for the retried run (90, 30m, 2h).")
@click.option("--fail-task", "fail_tasks", multiple=True, metavar="TASK", help="Fault injection (see `dagc run`).")
@click.option("-j", "--parallel", "parallelism", type=click.IntRange(1, 256), help="Tasks run at once.")
@state_dir_option
@click.option("--quiet", "-q", is_flag=True, help="No progress output; only the summary.")
@format_options
def retry(args: tuple[str, ...], connection: str | None, target: str, env: str | None, force: bool, wait: bool,
          timeout: float, fail_tasks: tuple[str, ...], parallelism: int | None, state_dir: str | None, quiet: bool,
          fmt: str) -> int:
    """Re-run the failed and not-run tasks of a run; keep what succeeded (Snowflake's retry-last).

    Same run id, config and scheduled time. Refused when the pipeline changed since that run,
    unless --force. Default: the newest local run. On Snowflake: EXECUTE TASK ... RETRY LAST, for the
    last run when it FAILED or was CANCELLED, within 14 days, and only while the graph is unchanged
    since (any deploy that changes the graph after a failure makes that run impossible to retry).

    \b
    Examples:
      dagc retry                                   # the newest local run
      dagc retry pipelines/training.yaml 20261121T020000Z-a1b2c3
      dagc retry pipelines/training.yaml --target snowflake --env prod -c prod
      dagc retry pipelines/training.yaml --env prod -c prod --timeout 2h
    """
    pipeline, run_id = split_args(args)
    if _remote(connection, target):
        path = _need_pipeline(pipeline, "retry")
        return int(_remote_module().retry(path, connection=connection, env=env, wait=wait,
                                timeout=timeout))
    from dagc.cli.local import _pipeline_name
    from dagc.diagnostics import DagcError
    from dagc.engine.api import retry_run
    from dagc.engine.project import load_pipeline
    from dagc.engine.state import StateStore

    store, root = open_store(state_dir, Path(pipeline) if pipeline else None)
    store = _reconciled(store)
    run = store.get_run(run_id) if run_id else store.latest_run(_pipeline_name(pipeline) if pipeline else None)
    if run is None:
        raise DagcError(f"no run {run_id!r} in {store.state_dir}" if run_id else f"no runs recorded in {store.state_dir}",
                        "list runs with `dagc runs`")
    source = pipeline or run.source
    if not source or not Path(source).exists():
        raise DagcError(f"the pipeline file of run {run.run_id} ({source or 'unknown'}) no longer exists",
                        "pass the pipeline file: dagc retry PIPELINE RUN_ID")
    p = load_pipeline(source, env if env is not None else run.environment, sets=run.sets.get("set"),
                      var_sets=run.sets.get("var"))
    from dagc.engine.project import find_project_root

    root = find_project_root(Path(source))
    sdir = store.state_dir
    result = execute_with_view(
        lambda obs: retry_run(run, project_root=root, state_dir=sdir, pipeline=p, force=force,
                              parallelism=parallelism, observer=obs, fail_tasks=fail_tasks),
        title=f"{p.name} (retry of {run.run_id})", order=[t.name for t in p.all_tasks()], fmt=fmt, quiet=quiet)
    show_result(result, StateStore(sdir, readonly=True), fmt, quiet)
    return int(result.exit_code)
