"""`dagc deploy | plan | trigger | suspend | resume | drop`: the commands that talk to Snowflake.

Thin: each command loads the pipeline, opens the connection and calls `dagc.snowflake.*`.
snowflake.core is imported only inside the commands that need it; `dagc plan --against` does not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from dagc.diagnostics import DagcError, UsageError


def parse_timeout(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*", str(text))
    if not m:
        raise UsageError(f"--timeout {text!r}: use seconds, or a number with s, m or h (e.g. 90, 30m, 2h)")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise UsageError(f"--set {v!r}: expected KEY=VALUE")
        k, _, val = v.partition("=")
        out[k.strip()] = val
    return out


def load(path: str, env: str | None, sets: tuple[str, ...] = ()) -> Any:
    from dagc.frontend import load_pipeline

    return load_pipeline(Path(path), env=env, sets=parse_sets(sets) or None)


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
    from dagc.snowflake.connection import open_schema, resolve

    conn = resolve(connection)
    session, schema = open_schema(conn, pipeline.stage)
    return conn, session, schema


def _root_exists(schema: Any, name: str) -> bool:
    from dagc.snowflake.deploy import deployed_state

    st = deployed_state(schema, name)
    return st is not None and st.root in st.tasks


common = [
    click.argument("pipeline", type=click.Path()),
    click.option("--env", help="Environment overlay from the pipeline's `environments:`."),
    click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a value (repeatable)."),
    click.option("--connection", "-c", "connection", metavar="NAME",
                 help="Connection from ~/.snowflake/connections.toml or config.toml (default: the default one)."),
]


def with_common(f: Any) -> Any:
    for deco in reversed(common):
        f = deco(f)
    return f


@click.command()
@with_common
@click.option("--against", type=click.Path(), help="Compare with a manifest file (offline) instead of the deployed graph.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--verbose", "-v", is_flag=True, help="List every file that would be uploaded.")
def plan(pipeline: str, env: str | None, sets: tuple[str, ...], connection: str | None, against: str | None,
         fmt: str, verbose: bool) -> int:
    """What a deploy would create, alter or drop, task by task (old -> new).

    \b
    Exit codes: 0 no change, 2 changes pending, 1 error (usable in CI to detect drift).
    Examples:
      dagc plan pipelines/training.yaml --env prod
      dagc plan pipelines/training.yaml --env prod --against deployed-manifest.json
    """
    try:
        p = load(pipeline, env, sets)
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
    except DagcError as exc:
        if exc.exit_code == 2:  # 2 means "changes pending" here; every failure is 1
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
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing (works offline without a connection).")
@click.option("--run", "run_after", is_flag=True, help="Trigger a run after deploying.")
@click.option("--wait", is_flag=True, help="With --run: follow that run until it finishes.")
@click.option("--timeout", default="1h", show_default=True, help="With --wait: give up after this long (90, 30m, 2h).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--verbose", "-v", is_flag=True)
def deploy(pipeline: str, env: str | None, sets: tuple[str, ...], connection: str | None, dry_run: bool,
           run_after: bool, wait: bool, timeout: str, fmt: str, verbose: bool) -> int:
    """Deploy the task graph, changing only what changed (idempotent).

    \b
    Suspends the root, creates/alters the changed tasks, drops removed ones, resumes.
    Examples:
      dagc deploy pipelines/training.yaml --env prod --dry-run
      dagc deploy pipelines/training.yaml --env prod --run --wait --timeout 2h
    """
    from dagc.snowflake import deploy as d
    from dagc.snowflake.connection import is_configured

    limit = parse_timeout(timeout)
    p = load(pipeline, env, sets)
    want = d.desired(p, project_root=project_root_of(pipeline))
    if dry_run and connection is None and not is_configured(None):  # a named connection must exist
        result = d.plan_create_all(want)
        _print_plan(result, fmt, verbose, p)
        if fmt == "text":
            click.echo("dry run: nothing was changed (no connection configured, so this is a full create)")
        return 0
    conn, session, schema = _open(p, connection)
    with snowflake_errors(conn):
        from dagc.snowflake.packaging import upload_bundle

        staged = _staged_check(session, want)
        if dry_run:
            result = d.plan_remote(want, schema, bundle_staged=staged)
            _print_plan(result, fmt, verbose, p)
            if fmt == "text":
                click.echo("dry run: nothing was changed")
            return 0
        def upload() -> bool:
            from dagc.snowflake.mljob import upload_payloads

            bundle_uploaded = upload_bundle(session, want.bundle, p.stage, p.name)
            return bool(upload_payloads(session, want.dag, want.bundle)) or bundle_uploaded

        upload = upload if want.bundle is not None else None  # type: ignore[assignment]
        res = d.deploy(want, schema, upload=upload, bundle_staged=staged,
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
            return _trigger(p, schema, session, wait=wait, timeout=limit)
    return 0


def _trigger(p: Any, schema: Any, session: Any, *, wait: bool, timeout: float) -> int:
    from dagc.snowflake import operate as op

    if not _root_exists(schema, p.name):
        raise DagcError(f"{p.name} is not deployed in this schema", "deploy it first: dagc deploy PIPELINE --env ENV")
    source = op.SnowflakeRunSource(schema, session, p.name)
    rep = op.trigger(source, pipeline=p.name, wait=wait, timeout=timeout,
                     on_task=lambda t: click.echo(op.render_outcome(t)))
    if rep is None:
        click.echo(f"{p.name}: run started; follow it with `dagc status` or use --wait")
        return 0
    click.echo(f"run {rep.run.run_id}  pipeline {p.name} (snowflake)\nstate {rep.run.state}")
    first = rep.first_failure()
    if first is not None and rep.run.state != "SUCCEEDED":
        click.echo(f"first failed task: {first.task}: {first.error or '(no message)'}")
    return 0 if rep.run.state == "SUCCEEDED" else 1


@click.command()
@with_common
@click.option("--wait", is_flag=True, help="Follow the run this command starts (not merely the latest one).")
@click.option("--timeout", default="1h", show_default=True, help="With --wait: give up after this long (90, 30m, 2h).")
def trigger(pipeline: str, env: str | None, sets: tuple[str, ...], connection: str | None, wait: bool, timeout: str) -> int:
    """Run the deployed graph now; with --wait, print each task's outcome as it lands.

    \b
    Exit codes: 0 started (or succeeded with --wait), 1 the run failed or an error, 3 timed out.
    Examples:
      dagc trigger pipelines/training.yaml --env prod -c prod
      dagc trigger pipelines/training.yaml --env prod -c prod --wait
    """
    limit = parse_timeout(timeout)
    p = load(pipeline, env, sets)
    conn, session, schema = _open(p, connection)
    with snowflake_errors(conn):
        return _trigger(p, schema, session, wait=wait, timeout=limit)


def _set_state(pipeline: str, env: str | None, sets: tuple[str, ...], connection: str | None, action: str) -> int:
    p = load(pipeline, env, sets)
    conn, _session, schema = _open(p, connection)
    with snowflake_errors(conn):
        if not _root_exists(schema, p.name):
            raise DagcError(f"{p.name} is not deployed in this schema", "deploy it first: dagc deploy PIPELINE --env ENV")
        getattr(schema.tasks[p.name], action)()
    click.echo(f"{p.name}: {'suspended' if action == 'suspend' else 'resumed'}")
    return 0


@click.command()
@with_common
def suspend(pipeline: str, env: str | None, sets: tuple[str, ...], connection: str | None) -> int:
    """Suspend the graph's root task: no scheduled runs until `dagc resume` (or the next deploy).

    \b
    Examples:
      dagc suspend pipelines/training.yaml --env prod -c prod
    """
    return _set_state(pipeline, env, sets, connection, "suspend")


@click.command()
@with_common
def resume(pipeline: str, env: str | None, sets: tuple[str, ...], connection: str | None) -> int:
    """Resume the graph's root task.

    \b
    Examples:
      dagc resume pipelines/training.yaml --env prod -c prod
    """
    return _set_state(pipeline, env, sets, connection, "resume")


@click.command()
@with_common
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def drop(pipeline: str, env: str | None, sets: tuple[str, ...], connection: str | None, yes: bool) -> int:
    """Drop the whole graph: root, every task, the finalizer and any orphaned `<DAG>$` task.

    \b
    Examples:
      dagc drop pipelines/training.yaml --env dev -c dev
      dagc drop pipelines/training.yaml --env dev -c dev --yes   # no confirmation prompt
    """
    from dagc.snowflake.deploy import drop_graph

    p = load(pipeline, env, sets)
    if not yes and not click.confirm(f"drop task graph {p.name} and all its tasks?", default=False):
        click.echo("nothing dropped")
        return 1
    conn, _session, schema = _open(p, connection)
    with snowflake_errors(conn):
        done = drop_graph(schema, p.name, log=lambda s: click.echo(f"  {s}"))
    click.echo(f"{p.name}: dropped {sum(1 for s in done if s.startswith('drop'))} task(s)" if done
               else f"{p.name}: not deployed, nothing to drop")
    return 0
