"""`dagc runs`: run history, local (default) or on Snowflake with --connection (logic in dagc.ops.history)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from dagc.cli.local import state_dir_option
from dagc.cli.options import format_options


def _when(text: str | None, option: str, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    from dagc.ops.dates import parse_when

    value, date_only = parse_when(text, option)
    return value + timedelta(days=1) if end and date_only else value  # --until 2026-11-30: that whole day


@click.command()
@click.argument("pipeline", required=False)
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs to show.")
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="Only runs in this state (repeatable or comma-separated: FAILED,CANCELLED).")
@click.option("--since", metavar="DATE", help="Only runs started (or scheduled) at or after this date/time.")
@click.option("--until", metavar="DATE", help="Only runs started before this date/time (a bare date includes that day).")
@click.option("--connection", "-c", metavar="NAME", help="The deployed graph's runs on Snowflake (needs PIPELINE).")
@click.option("--env", help="Snowflake: which deployment (environment overlay).")
@state_dir_option
@format_options
def runs(pipeline: str | None, limit: int, states: tuple[str, ...], since: str | None, until: str | None,
         connection: str | None, env: str | None, state_dir: str | None, fmt: str) -> int:
    """Run history, newest first: state, attempt, start, duration, first error.

    PIPELINE is a pipeline file or name; without it, local runs of every pipeline. With
    --connection, the deployed graph's runs from Snowflake (TASK_HISTORY keeps 7 days).

    \b
    Examples:
      dagc runs
      dagc runs pipelines/training.yaml -n 5 --state FAILED
      dagc runs training --since 2026-11-01 --until 2026-11-30 --json
      dagc runs pipelines/training.yaml --env prod -c prod --state FAILED,CANCELLED
    """
    from dagc.ops import history as h

    wanted = h.parse_states(states) if states else None
    lo, hi = _when(since, "--since"), _when(until, "--until", end=True)
    if connection:
        rows = _remote_rows(pipeline, connection, env)
    else:
        rows = _local_rows(pipeline, state_dir, limit if not (wanted or lo or hi) else 100_000)
    rows = h.filtered(rows, states=wanted, since=lo, until=hi, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return 0
    if not rows:
        click.echo("no runs" + (" match" if wanted or lo or hi else " recorded"))
        return 0
    h.render_table(rows)
    return 0


def _local_rows(pipeline: str | None, state_dir: str | None, limit: int) -> list[Any]:
    from dagc.cli.local import _pipeline_name, _reconciled, open_store
    from dagc.ops.history import local_rows

    anchor = Path(pipeline) if pipeline and Path(pipeline).exists() else None
    store, _ = open_store(state_dir, anchor)
    store = _reconciled(store)
    return local_rows(store, _pipeline_name(pipeline) if pipeline else None, limit)


def _remote_rows(pipeline: str | None, connection: str, env: str | None) -> list[Any]:
    from dagc.ops.history import snowflake_rows

    if not pipeline or not Path(pipeline).is_file():
        raise click.UsageError("runs on Snowflake need the pipeline file, e.g. "
                               "`dagc runs pipelines/training.yaml --connection NAME`")
    from dagc.snowflake import operate as op
    from dagc.snowflake.connection import snowflake_errors

    source, name, conn, *_ = op._run_source(pipeline, connection, env, None, None)
    with snowflake_errors(conn):
        return snowflake_rows(source, name)
