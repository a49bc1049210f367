"""`dagc deploy | plan | trigger | suspend | resume | drop`: the commands that talk to Snowflake.

Thin: each command loads the pipeline, opens the connection and calls `dagc.snowflake.*`.
snowflake.core is imported only inside the commands that need it; `dagc plan --against` does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dagc.cli.options import assignments, format_options, override_options, parse_duration, timeout_option
from dagc.diagnostics import DagcError, UsageError


def parse_timeout(text: str) -> float:
    """Kept for callers of the old helper: the same duration parser as every --timeout."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None


def load(path: str, env: str | None, sets: tuple[str, ...] = (), var_sets: tuple[str, ...] = ()) -> Any:
    """The pipeline with --set/--var applied exactly as `dagc run` applies them (YAML scalars)."""
    from dagc.frontend import load_pipeline

    return load_pipeline(Path(path), env=env, sets=assignments(sets) or None, var_sets=assignments(var_sets) or None)


def project_root_of(path: str) -> Path:
    try:
        from dagc.frontend.project import find_project_root

        return Path(find_project_root(Path(path)))
    except ImportError:  # pragma: no cover - the front end ships project.py
        return Path(path).resolve().parent.parent


def snowflake_errors(conn: Any = None) -> Any:
    from dagc.snowflake.connection import snowflake_errors as wrap

    return wrap(conn)


def _open(pipeline: Any, connection: str | None) -> tuple[Any, Any, Any]:
    """Connection, session and schema; the pipeline's warehouse serves the session when the
    connection names none (listing tasks and reading history need one)."""
    from dagc.snowflake.connection import open_schema, resolve

    conn = resolve(connection, warehouse=getattr(pipeline, "warehouse", None))
    session, schema = open_schema(conn, pipeline.stage)
    return conn, session, schema


def _root_exists(schema: Any, name: str) -> bool:
    from dagc.snowflake.deploy import deployed_state

    st = deployed_state(schema, name)
    return st is not None and st.root in st.tasks


def with_common(f: Any) -> Any:
    """PIPELINE, --env, --set, --var, --connection: the same on every Snowflake command."""
    f = click.option("--connection", "-c", "connection", metavar="NAME",
                     help="Connection from ~/.snowflake/connections.toml or config.toml (default: the default one).")(f)
    f = override_options(f)
    f = click.option("--env", help="Environment overlay from the pipeline's `environments:`.")(f)
    return click.argument("pipeline", type=click.Path())(f)


PLAN_USAGE_EXIT = 64  # `plan` keeps 2 for "changes pending", so its usage errors need their own code


@click.command()
@with_common
@click.option("--against", type=click.Path(), help="Compare with a manifest file (offline) instead of the deployed graph.")
@format_options
@click.option("--verbose", "-v", is_flag=True, help="List every file that would be uploaded.")
def plan(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...], connection: str | None,
         against: str | None, fmt: str, verbose: bool) -> int:
    """What a deploy would create, alter or drop, task by task (old -> new).

    \b
    Exit codes: 0 no change, 2 changes pending, 1 error, 64 usage error (usable in CI to detect drift).
    Examples:
      dagc plan pipelines/training.yaml --env prod
      dagc plan pipelines/training.yaml --env prod --against deployed-manifest.json
    """
    try:
        p = load(pipeline, env, sets, var_sets)
        if against:
            from dagc.snowflake.deploy import plan_against_manifest

            result = plan_against_manifest(p, Path(against))
        else:
            from dagc.snowflake import deploy as d
            from dagc.snowflake.packaging import upload_bundle  # noqa: F401 - fail early if missing

            conn, session, schema = _open(p, connection)
            with snowflake_errors(conn):
                want = d.desired(p, project_root=project_root_of(pipeline))
                result = d.plan_remote(want, schema, bundle_staged=_staged_check(session, want))
    except UsageError as exc:
        exc.exit_code = PLAN_USAGE_EXIT  # 2 means "changes pending" here
        raise
    except DagcError as exc:
        if exc.exit_code == 2:
            exc.exit_code = 1
        raise
    _print_plan(result, fmt, verbose, p)
    return 0 if result.empty else 2


def _staged_check(session: Any, want: Any) -> Any:
    if want.bundle is None:
        return None

    def staged() -> bool:
        target = want.bundle.target(want.pipeline.stage, want.pipeline.name)
        try:
            rows = session.sql(f"LIST {target.rsplit('/', 1)[0]}/").collect()
        except Exception:  # noqa: BLE001 - an empty directory or a stage we cannot list yet
            return False
        if not any(str(r[0]).endswith("/" + want.bundle.name) for r in rows):
            return False
        from dagc.snowflake.mljob import payloads_staged  # native ML Job payloads: uploaded with the bundle

        return payloads_staged(session, want.dag)

    return staged


def _print_plan(result: Any, fmt: str, verbose: bool, pipeline: Any = None) -> None:
    """Plans show config and SQL values: the pipeline's secrets are masked (dagc.redact)."""
    from dagc.redact import redact_data, redact_text, secrets_of
    from dagc.snowflake.state import render_plan

    secrets = secrets_of(pipeline) if pipeline is not None else frozenset()
    if fmt == "json":
        click.echo(json.dumps(redact_data(result.to_json(), secrets), indent=2, default=str))
    else:
        click.echo(redact_text(render_plan(result, verbose=verbose), secrets))


@click.command()
@with_common
@click.option("--dry-run", is_flag=True,
              help="Print the plan and change nothing (offline, or when Snowflake cannot be reached: a full create).")
@click.option("--run", "run_after", is_flag=True, help="Trigger a run after deploying.")
@click.option("--wait", is_flag=True, help="With --run: follow that run until it finishes.")
@timeout_option()
@format_options
@click.option("--verbose", "-v", is_flag=True)
def deploy(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...], connection: str | None,
           dry_run: bool, run_after: bool, wait: bool, timeout: float, fmt: str, verbose: bool) -> int:
    """Deploy the task graph, changing only what changed (idempotent).

    \b
    Suspends the root and the tasks it alters, creates/alters/drops, resumes the children, then the root.
    If it stops part-way, it resumes what should run and says so; run it again to finish.
    Examples:
      dagc deploy pipelines/training.yaml --env prod --dry-run
      dagc deploy pipelines/training.yaml --env prod --run --wait --timeout 2h
    """
    from dagc.snowflake import deploy as d
    from dagc.snowflake.connection import SnowflakeUnreachable, is_configured

    p = load(pipeline, env, sets, var_sets)
    want = d.desired(p, project_root=project_root_of(pipeline))
    if dry_run and connection is None and not is_configured(None):  # a named connection must exist
        return _offline_dry_run(want, p, fmt, verbose, "no connection configured")
    try:
        conn, session, schema = _open(p, connection)
    except SnowflakeUnreachable as exc:
        if not dry_run:
            raise
        return _offline_dry_run(want, p, fmt, verbose, f"Snowflake could not be reached: {exc.message}")
    with snowflake_errors(conn):
        from dagc.snowflake.packaging import upload_bundle

        staged = _staged_check(session, want)
        result = d.plan_remote(want, schema, bundle_staged=staged)
        if dry_run:
            _print_plan(result, fmt, verbose, p)
            if fmt == "text":
                click.echo("dry run: nothing was changed")
            return 0
        _warn_if_retry_is_lost(result, schema, session, p)

        def upload() -> bool:
            from dagc.snowflake.mljob import upload_payloads  # native ML Job payloads go with the bundle

            bundle_uploaded = upload_bundle(session, want.bundle, p.stage, p.name)
            return bool(upload_payloads(session, want.dag, want.bundle)) or bundle_uploaded

        res = d.apply(want, schema, result, upload=upload if want.bundle is not None else None, session=session,
                      log=(lambda s: click.echo(f"  {s}")) if fmt == "text" else (lambda s: None))
        if fmt == "json":
            from dagc.redact import redact_data, secrets_of

            click.echo(json.dumps(redact_data({"plan": res.plan.to_json(), "calls": res.calls}, secrets_of(p)),
                                  indent=2, default=str))
        elif res.plan.empty:
            click.echo(f"{p.name}: up to date, nothing to change")
        else:
            n = res.plan.counts()
            click.echo(f"{p.name}: deployed ({n['create']} created, {n['alter']} altered, {n['drop']} dropped)")
        if run_after:
            return _trigger(p, schema, session, wait=wait, timeout=timeout)
    return 0


def _offline_dry_run(want: Any, p: Any, fmt: str, verbose: bool, why: str) -> int:
    from dagc.snowflake import deploy as d

    _print_plan(d.plan_create_all(want), fmt, verbose, p)
    if fmt == "text":
        click.echo(f"dry run: nothing was changed ({why}, so this is a full create)")
    return 0


def _warn_if_retry_is_lost(plan: Any, schema: Any, session: Any, p: Any) -> None:
    """A deploy that changes the graph makes RETRY LAST of its last failed run impossible: say so."""
    if plan.empty or not plan.changes or plan.actual is None:
        return
    from datetime import datetime, timezone

    from dagc.snowflake import operate as op

    try:
        runs = op.SnowflakeRunSource(schema, session, p.name).graph_runs()
    except Exception:  # noqa: BLE001 - a warning must never stop a deploy
        return
    last = op.retryable(runs, now=datetime.now(timezone.utc))
    changed = plan.actual.changed_at
    if last is not None and changed is not None and last.completed_time is not None:
        try:
            if changed > last.completed_time:  # already changed since that run: nothing left to lose
                return
        except TypeError:  # naive vs aware timestamps: say it rather than guess
            pass
    if last is not None:
        click.echo(f"warning: run {last.key} of {p.name} {last.state.lower()} and can still be retried "
                   f"(`dagc retry {p.source or 'PIPELINE'} -c NAME`); after this deploy changes the graph, "
                   "Snowflake can no longer retry it", err=True)


def _trigger(p: Any, schema: Any, session: Any, *, wait: bool, timeout: float,
             override: dict[str, Any] | None = None) -> int:
    from dagc.snowflake import operate as op

    if not _root_exists(schema, p.name):
        raise DagcError(f"{p.name} is not deployed in this schema", "deploy it first: dagc deploy PIPELINE --env ENV")
    source: Any = op.SnowflakeRunSource(schema, session, p.name)
    if override:
        from dagc.snowflake import runconfig

        source = runconfig.ConfiguredSource(source, session, runconfig.root_name(schema, p.name), override)
        click.echo(f"{p.name}: this run's config override: {runconfig.describe(override)}")
    rep = op.trigger(source, pipeline=p.name, wait=wait, timeout=timeout, retries=int(p.retries or 0),
                     on_task=lambda t: click.echo(op.render_outcome(t)))
    if rep is None:
        click.echo(f"{p.name}: run started; follow it with `dagc status` or use --wait")
        return 0
    click.echo(f"run {rep.run.key}  pipeline {p.name} (snowflake)\nstate {rep.run.state}")
    first = rep.first_failure()
    if first is not None and rep.run.state != "SUCCEEDED":
        click.echo(f"first failed task: {first.task}: {first.error or '(no message)'}")
    return 0 if rep.run.state == "SUCCEEDED" else 1


@click.command()
@with_common
@click.option("--wait", is_flag=True, help="Follow the run this command starts (not merely the latest one).")
@timeout_option()
def trigger(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...], connection: str | None,
            wait: bool, timeout: float) -> int:
    """Run the deployed graph now; with --wait, print each task's outcome as it lands.

    \b
    With --wait and `retries:`, a failed attempt is followed into Snowflake's automatic retry.
    Exit codes: 0 started (or succeeded with --wait), 1 the run failed or an error, 3 timed out.
    Examples:
      dagc trigger pipelines/training.yaml --env prod -c prod
      dagc trigger pipelines/training.yaml --env prod -c prod --wait --timeout 2h
    """
    from dagc.snowflake.runconfig import check_overrides

    p = load(pipeline, env, (), var_sets)  # the deployed graph's config; --set is this run's override (USING CONFIG)
    override = check_overrides(p, sets)  # checked before anything is sent
    conn, session, schema = _open(p, connection)
    with snowflake_errors(conn):
        return _trigger(p, schema, session, wait=wait, timeout=timeout, override=override)


def _set_state(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...],
               connection: str | None, action: str) -> int:
    from dagc.snowflake.deploy import resume_graph

    p = load(pipeline, env, sets, var_sets)
    conn, _session, schema = _open(p, connection)
    with snowflake_errors(conn):
        if not _root_exists(schema, p.name):
            raise DagcError(f"{p.name} is not deployed in this schema", "deploy it first: dagc deploy PIPELINE --env ENV")
        if action == "suspend":
            schema.tasks[p.name].suspend()
        else:
            resume_graph(schema, p.name, log=lambda s: click.echo(f"  {s}"))
    click.echo(f"{p.name}: {'suspended' if action == 'suspend' else 'resumed'}")
    return 0


@click.command()
@with_common
def suspend(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...],
            connection: str | None) -> int:
    """Suspend the graph's root task: no scheduled runs until `dagc resume` (or the next deploy).

    \b
    Examples:
      dagc suspend pipelines/training.yaml --env prod -c prod
    """
    return _set_state(pipeline, env, sets, var_sets, connection, "suspend")


@click.command()
@with_common
def resume(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...],
            connection: str | None) -> int:
    """Resume the graph: any suspended child first (a suspended child is skipped by every run), then the root.

    \b
    Examples:
      dagc resume pipelines/training.yaml --env prod -c prod
    """
    return _set_state(pipeline, env, sets, var_sets, connection, "resume")


@click.command()
@with_common
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def drop(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...], connection: str | None,
         yes: bool) -> int:
    """Drop the whole graph: root, every task, the finalizer and any orphaned `<DAG>$` task.

    \b
    Examples:
      dagc drop pipelines/training.yaml --env dev -c dev
      dagc drop pipelines/training.yaml --env dev -c dev --yes   # no confirmation prompt
    """
    from dagc.snowflake.deploy import drop_graph

    p = load(pipeline, env, sets, var_sets)
    if not yes and not click.confirm(f"drop task graph {p.name} and all its tasks?", default=False):
        click.echo("nothing dropped")
        return 1
    conn, _session, schema = _open(p, connection)
    with snowflake_errors(conn):
        done = drop_graph(schema, p.name, log=lambda s: click.echo(f"  {s}"))
    click.echo(f"{p.name}: dropped {sum(1 for s in done if s.startswith('drop'))} task(s)" if done
               else f"{p.name}: not deployed, nothing to drop")
    return 0
