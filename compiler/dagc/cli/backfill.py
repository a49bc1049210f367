"""`dagc backfill`: one run per logical date, resumable (the logic is in dagc.ops.backfill)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dagc.cli.local import state_dir_option
from dagc.cli.options import format_options, timeout_option


@click.command()
@click.argument("pipeline", type=click.Path())
@click.option("--from", "date_from", required=True, metavar="DATE", help="First logical date (2026-11-01 or an ISO time).")
@click.option("--to", "date_to", required=True, metavar="DATE", help="Last logical date (a bare date includes that whole day).")
@click.option("--every", metavar="PERIOD", help="One run per PERIOD (1d, 12h, 30m, 1w); default: the pipeline's schedule.")
@click.option("--max-concurrent", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Runs at once; only with `overlap: all` or `children` (otherwise runs go one at a time).")
@click.option("--env", help="Environment overlay to apply.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config value for every run.")
@click.option("--var", "var_sets", multiple=True, metavar="KEY=VALUE", help="Override a template variable (local).")
@click.option("--local", "local_flag", is_flag=True, help="Run on this machine's engine (the default).")
@click.option("--connection", "-c", metavar="NAME", help="Run on Snowflake through this connection instead.")
@timeout_option("6h", "Snowflake: give up waiting for one run after this long (90, 30m, 2h).")
@click.option("-j", "--parallel", "parallelism", type=click.IntRange(1, 256), help="Local: tasks at once within a run.")
@state_dir_option
@format_options
def backfill(pipeline: str, date_from: str, date_to: str, every: str | None, max_concurrent: int, env: str | None,
             sets: tuple[str, ...], var_sets: tuple[str, ...], local_flag: bool, connection: str | None, timeout: float,
             parallelism: int | None, state_dir: str | None, fmt: str) -> int:
    """Run the pipeline once per logical date from --from to --to; re-run to resume.

    Each run has its logical date in its config: steps read it as ctx.logical_date (the training
    pipeline cuts its data there, so a backfill rebuilds history). Dates that already succeeded
    are skipped; failed and interrupted ones run again. Ctrl-C stops cleanly.

    \b
    Exit code: 0 every date succeeded, 1 some failed, 130 interrupted.
    Examples:
      dagc backfill pipelines/training.yaml --from 2026-11-01 --to 2026-11-30
      dagc backfill pipelines/training.yaml --from 2026-11-01 --to 2026-11-07 --every 1d --set gate.threshold=0.6
      dagc backfill pipelines/training.yaml --from 2026-11-01 --to 2026-11-30 --env prod -c prod
    """
    from dagc.diagnostics import UsageError
    from dagc.engine.project import find_project_root, load_pipeline, state_dir_for
    from dagc.frontend.overlay import parse_assignment
    from dagc.ops import ledger as L
    from dagc.ops.backfill import LocalTarget, effective_concurrency, run_backfill
    from dagc.ops.dates import logical_dates
    from dagc.snowflake.runconfig import check_overrides

    if local_flag and connection:
        raise UsageError("use either --local or --connection, not both")
    as_json = fmt == "json"  # the final table as JSON, no progress lines
    var_map = dict(map(parse_assignment, var_sets))
    base = load_pipeline(pipeline, env, var_sets=var_map)
    overrides = check_overrides(base, sets)
    dates = logical_dates(date_from, date_to, every=every, schedule=base.schedule)
    root = find_project_root(Path(pipeline))
    sdir = state_dir_for(root, state_dir)
    target: Any
    if connection:
        target = _snowflake_target(base, connection, overrides, timeout)
    else:
        p = load_pipeline(pipeline, env, sets=overrides, var_sets=var_map) if overrides else base
        target = LocalTarget(p, project_root=root, state_dir=sdir, sets=overrides, var_sets=var_map,
                             parallelism=parallelism)
    bid, identity = L.backfill_id(base.name, env, target.name, {**overrides, **{f"var.{k}": v for k, v in var_map.items()}})
    ledger = L.Ledger(sdir, bid, base.name, identity)
    n = effective_concurrency(max_concurrent, target)
    if not as_json:
        note = "" if n == max_concurrent else f" (overlap: {getattr(base.overlap, 'value', 'none')}: one run at a time)"
        click.echo(f"backfill {bid}: {len(dates)} logical date(s) of {base.name} on {target.name}, "
                   f"{n} at a time{note}")
    result = run_backfill(target, dates, ledger, max_concurrent=max_concurrent,
                          on_event=(lambda e: None) if as_json else _progress)
    ledger.close()
    if as_json:
        click.echo(json.dumps({"backfill": bid, "pipeline": base.name, "target": target.name,
                               "interrupted": result.interrupted, "skipped": result.skipped,
                               "dates": [vars(r) for r in result.rows]}, indent=2))
    else:
        _table(result)
    return result.exit_code


def _progress(e: Any) -> None:
    from dagc.engine.view import fmt_duration
    from dagc.ops.dates import label
    from datetime import datetime

    when = label(datetime.fromisoformat(e.logical_date))
    head = f"[{e.index}/{e.total}] {when}"
    if e.kind == "skip":
        click.echo(f"{head} skipped: succeeded before (run {e.row.run_id})")
    elif e.kind == "start":
        click.echo(f"{head} started")
    else:
        r = e.row
        extra = f"  {r.error}" if r.error else ""
        click.echo(f"{head} {r.state} in {fmt_duration(r.duration)}  run {r.run_id}{extra}")


def _table(result: Any) -> None:
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table

    from dagc.engine.view import fmt_duration
    from dagc.ops.dates import label

    t = Table(title="backfill")
    for col in ("logical date", "state", "tries", "duration", "run", "note"):
        t.add_column(col)
    for r in result.rows:
        note = "skipped (succeeded before)" if r.logical_date in result.skipped else (r.error or "")
        t.add_row(label(datetime.fromisoformat(r.logical_date)), r.state, str(r.tries), fmt_duration(r.duration) or "",
                  r.run_id or "", note[:120])
    Console(width=160).print(t)
    counts = ", ".join(f"{v} {k.lower()}" for k, v in sorted(result.counts.items()))
    click.echo(f"{len(result.rows)} date(s): {counts}" + (f"; {len(result.skipped)} skipped" if result.skipped else ""))
    if result.interrupted:
        click.echo("interrupted: run the same command again to resume (succeeded dates are skipped)")
    elif result.exit_code:
        click.echo("some dates failed: fix the cause and run the same command again (only those dates run)")


def _snowflake_target(pipeline: Any, connection: str, overrides: dict[str, Any], timeout: float) -> Any:
    from dagc.cli.remote import _open, _root_exists, snowflake_errors
    from dagc.diagnostics import DagcError
    from dagc.ops.backfill import SnowflakeTarget
    from dagc.snowflake import operate as op
    from dagc.snowflake.runconfig import root_name

    limit = timeout
    conn, session, schema = _open(pipeline, connection)
    with snowflake_errors(conn):
        if not _root_exists(schema, pipeline.name):
            raise DagcError(f"{pipeline.name} is not deployed in this schema",
                            "deploy it first: dagc deploy PIPELINE --env ENV")
    source = op.SnowflakeRunSource(schema, session, pipeline.name)
    return SnowflakeTarget(pipeline, source, lambda stmt: session.sql(stmt).collect(), root_name(schema, pipeline.name),
                           overrides, timeout=limit)
