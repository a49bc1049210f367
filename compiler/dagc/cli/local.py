"""`dagc run | runs | logs`: the local engine's commands (thin: the logic is in dagc.engine)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dagc.cli.options import format_options
from dagc.diagnostics import UsageError

state_dir_option = click.option("--state-dir", type=click.Path(file_okay=False),
                                help="Where runs are recorded (default: $DAGC_STATE_DIR, else <project>/.dagc).")


def open_store(state_dir: str | None, anchor: Path | None = None) -> Any:
    from dagc.engine.project import find_project_root, state_dir_for
    from dagc.engine.state import StateStore

    root = find_project_root(anchor or Path.cwd())
    return StateStore(state_dir_for(root, state_dir), readonly=True), root


def show_result(result: Any, store: Any, fmt: str, quiet: bool) -> None:
    from dagc.engine import view

    run = store.get_run(result.run_id)
    attempts = store.latest_attempts(result.run_id)
    if fmt == "json":
        click.echo(json.dumps(view.run_json(run, attempts), indent=2))
        return
    title = (f"run {run.run_id} of {run.pipeline}: {run.state} in {view.fmt_duration(run.duration)}"
             + (f" (graph attempt {run.graph_attempt})" if run.graph_attempt > 1 else ""))
    view.print_task_table(attempts.values(), title=title)
    if run.first_failed_task:
        click.echo(f"first failure: {view.first_line(run.first_failed_task)}: {view.first_line(run.first_error, 300)}")
    if run.state != "SUCCEEDED":
        click.echo(f"details: dagc status {run.run_id}   log: dagc logs {run.run_id} TASK   "
                   f"resume: dagc retry {run.run_id}")


def execute_with_view(fn: Any, *, title: str, order: list[str], fmt: str, quiet: bool) -> Any:
    """Run `fn(observer)` under the right view: live table on a TTY, plain lines, or silent."""
    from dagc.engine.view import LiveObserver, PlainObserver

    if fmt == "json" or quiet:
        return fn(None)
    if sys.stdout.isatty():
        live = LiveObserver(title, order)
        with live:
            return fn(live)
    return fn(PlainObserver())


@click.command()
@click.argument("pipeline", type=click.Path())
@click.option("--env", help="Environment overlay to apply (as for deploy).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a graph config value.")
@click.option("--var", "var_sets", multiple=True, metavar="KEY=VALUE", help="Override a template variable.")
@click.option("--only", "only", multiple=True, metavar="TASK",
              help="Run only this task (repeatable); predecessors' values come from their last successful run.")
@click.option("--from", "from_task", metavar="TASK", help="Run this task and everything after it.")
@click.option("--fail-task", "fail_tasks", multiple=True, metavar="TASK",
              help="Fault injection: make TASK fail without calling its step (also DAGC_FAIL_TASKS=a,b).")
@click.option("-j", "--parallel", "parallelism", type=click.IntRange(1, 256),
              help="Tasks run at once (default: number of cores).")
@click.option("--webhook-url", help="POST notifications here as well (default: $DAGC_WEBHOOK_URL).")
@click.option("--if-triggered", is_flag=True,
              help="A triggered pipeline runs only if its stream has data (its table changed since a run consumed it).")
@state_dir_option
@click.option("--quiet", "-q", is_flag=True, help="No progress output; only the summary.")
@format_options
def run(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...], only: tuple[str, ...],
        from_task: str | None, fail_tasks: tuple[str, ...], parallelism: int | None, webhook_url: str | None,
        if_triggered: bool, state_dir: str | None, quiet: bool, fmt: str) -> int:
    """Run a pipeline on this machine now, with Snowflake's task-graph semantics.

    \b
    Exit code: 0 when the graph succeeded, 1 when it failed, 130 when interrupted.
    Examples:
      dagc run pipelines/training.yaml
      dagc run pipelines/training.yaml --env dev --set gate.threshold=0.6
      dagc run pipelines/training.yaml --only train        # one task, inputs from the last run
      dagc run pipelines/training.yaml --from evaluate     # a task and everything after it
    """
    from dagc.engine.api import run_pipeline
    from dagc.engine.project import find_project_root, load_pipeline, state_dir_for
    from dagc.engine.state import StateStore
    from dagc.frontend.overlay import parse_assignment

    set_map = dict(map(parse_assignment, sets))
    var_map = dict(map(parse_assignment, var_sets))
    p = load_pipeline(pipeline, env, sets=set_map, var_sets=var_map)  # an unknown key: DAGC203 at config:
    if sets:  # typed as `dagc trigger --set` types them (USING CONFIG), so --set means the same on both targets
        from dagc.snowflake.runconfig import check_overrides

        typed = check_overrides(load_pipeline(pipeline, env, var_sets=var_map), sets)
        if typed != set_map:
            set_map = typed
            p = load_pipeline(pipeline, env, sets=set_map, var_sets=var_map)
    root = find_project_root(Path(pipeline))
    sdir = state_dir_for(root, state_dir)
    if if_triggered:
        from dagc.engine.api import triggered

        if p.trigger is None:
            raise UsageError(f"pipeline {p.name} has no trigger:", "--if-triggered is for pipelines with `trigger:`")
        if not triggered(p, sdir):
            click.echo(f"{p.name}: not triggered: stream {p.trigger.stream} has no new rows "
                       f"(table {p.streams[p.trigger.stream]} unchanged since a run consumed it)")
            return 0
    order = [t.name for t in p.all_tasks()]
    if fmt == "text" and not quiet:
        from dagc.engine.view import compute_notes

        for line in compute_notes(p):
            click.echo(line)
    result = execute_with_view(
        lambda obs: run_pipeline(p, project_root=root, state_dir=sdir, sets=set_map, var_sets=var_map, only=only,
                                 from_task=from_task, fail_tasks=fail_tasks, parallelism=parallelism,
                                 observer=obs, webhook_url=webhook_url),
        title=f"{p.name}", order=order, fmt=fmt, quiet=quiet)
    show_result(result, StateStore(sdir, readonly=True), fmt, quiet)
    return int(result.exit_code)


@click.command()
@click.argument("pipeline", required=False)
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs to show.")
@state_dir_option
@format_options
def runs(pipeline: str | None, limit: int, state_dir: str | None, fmt: str) -> int:
    """Local run history, newest first: run id, state, start, duration, first failed task.

    PIPELINE is a pipeline file or a pipeline name; without it, runs of every pipeline.

    \b
    Examples:
      dagc runs
      dagc runs pipelines/training.yaml -n 5
      dagc runs training --json
    """
    from dagc.engine import view

    anchor = Path(pipeline) if pipeline and Path(pipeline).exists() else None
    store, _ = open_store(state_dir, anchor)
    name = None
    if pipeline:
        name = _pipeline_name(pipeline)
    store_rw = _reconciled(store)
    records = store_rw.list_runs(name, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([{
            "run_id": r.run_id, "pipeline": r.pipeline, "state": r.state, "started_at": r.started_at,
            "duration_s": r.duration, "first_failed_task": r.first_failed_task, "first_error": r.first_error,
        } for r in records], indent=2))
        return 0
    if not records:
        click.echo(f"no runs recorded in {store.state_dir}" + (f" for {name}" if name else ""))
        return 0
    view.print_runs(records)
    return 0


def _pipeline_name(arg: str) -> str:
    """A pipeline argument is a file (read its `name:` cheaply) or already a name."""
    p = Path(arg)
    if p.is_file():
        from dagc.frontend.load import read_document

        doc, _ = read_document(str(p))  # the front end's limits: a hostile file cannot stall or crash this
        name = doc.data.get("name") if doc is not None and isinstance(doc.data, dict) else None
        return name if isinstance(name, str) else p.stem
    return arg


def _reconciled(store: Any) -> Any:
    """Close runs whose engine died, if the state dir is writable; reads work either way."""
    from dagc.diagnostics import DagcError
    from dagc.engine.state import StateStore

    if store.conn is None:
        return store
    try:
        rw = StateStore(store.state_dir)
        rw.reconcile()
        return rw
    except DagcError:
        return store


@click.command()
@click.argument("run_id")
@click.argument("task")
@click.option("--attempt", type=int, help="Which attempt (default: the latest).")
@state_dir_option
def logs(run_id: str, task: str, attempt: int | None, state_dir: str | None) -> int:
    """Print the log of one task of a local run (its stdout, stderr, logging, traceback).

    RUN_ID is a run id, a unique prefix of one, or `latest` (the newest run), as in `dagc report`.

    \b
    Examples:
      dagc logs latest train
      dagc logs 20261121T020000Z-a1b2c3 train
      dagc logs 20261121T020000Z-a1b2c3 train --attempt 1
    """
    from dagc.diagnostics import DagcError

    store, _ = open_store(state_dir)
    run = store.latest_run() if run_id == "latest" else store.get_run(run_id)
    if run is None:
        if run_id == "latest":
            raise DagcError(f"no runs recorded in {store.state_dir}", "start one with `dagc run PIPELINE`")
        raise DagcError(f"no run {run_id!r} in {store.state_dir}", "list runs with `dagc runs`, or use `latest`")
    tries = [a for a in store.attempts(run.run_id) if a.task == task]
    if not tries:
        known = sorted({a.task for a in store.attempts(run.run_id)})
        raise DagcError(f"run {run.run_id} has no task {task!r}", f"tasks: {', '.join(known)}")
    chosen = max(tries, key=lambda a: a.attempt) if attempt is None else next(
        (a for a in tries if a.attempt == attempt), None)
    if chosen is None:
        raise DagcError(f"task {task} has no attempt {attempt} in run {run.run_id}",
                        f"attempts: {', '.join(str(a.attempt) for a in tries)}")
    if not chosen.log_path or not Path(chosen.log_path).exists():
        from dagc.textsafe import safe_error

        why = f"it was {chosen.state}" + (f": {safe_error(chosen.error)}" if chosen.error else "")
        click.echo(f"task {task} has no log in run {run.run_id} (attempt {chosen.attempt}; {why})")
        return 0
    text = Path(chosen.log_path).read_text(encoding="utf-8", errors="replace")
    if sys.stdout.isatty():  # a terminal gets no escape sequences from a step; a pipe or file gets the log as is
        from dagc.textsafe import printable

        text = printable(text)
    sys.stdout.write(text)
    return 0
