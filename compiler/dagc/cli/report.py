"""`dagc report`: write one self-contained HTML page for a run (local or Snowflake) or a pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dagc.diagnostics import UsageError


@click.command()
@click.argument("run_id", required=False)
@click.option("--pipeline", "pipeline_path", type=click.Path(), metavar="PIPELINE",
              help="Pipeline file. Alone: report the compiled graph (no run). With a run: draw this file's graph.")
@click.option("--env", help="Environment overlay to apply to the pipeline (default: the run's).")
@click.option("--var", "var_sets", multiple=True, metavar="KEY=VALUE", help="Override a template variable.")
@click.option("-o", "--output", default="report.html", show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the page; '-' writes it to stdout.")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where local runs are recorded (default: $DAGC_STATE_DIR, else <project>/.dagc).")
@click.option("--connection", help="Report a run on Snowflake through this connection (needs --pipeline).")
def report(run_id: str | None, pipeline_path: str | None, env: str | None, var_sets: tuple[str, ...], output: str,
           state_dir: str | None, connection: str | None) -> int:
    """Write an HTML report: the task graph coloured by state, a timeline, errors, config.

    \b
    The page is one file that needs no network: attach it to a CI run or open it locally.
    Examples:
      dagc report                                   # the latest local run
      dagc report 20260921T020000Z-a1b2c3 -o run.html
      dagc report --pipeline pipelines/training.yaml --env prod -o graph.html
      dagc report --pipeline pipelines/training.yaml --connection prod   # latest Snowflake run
    """
    from dagc.report.build import build_report

    if connection and not pipeline_path:
        raise UsageError("--connection needs --pipeline: it names the graph to look for on Snowflake",
                         "dagc report [RUN_ID] --pipeline pipelines/training.yaml --connection NAME")
    page, summary = build_report(run_id=run_id, pipeline_path=pipeline_path, env=env, var_sets=var_sets,
                                 state_dir=state_dir, connection=connection)
    if output == "-":
        sys.stdout.write(page)
        return 0
    out = Path(output)
    try:
        if out.parent and not out.parent.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}",
                         "choose another path with -o, or '-' for stdout") from None
    click.echo(f"wrote {output}: {summary}", err=True)
    return 0
