"""`dagc models [NAME]`: registered model versions, their metrics, the default; a metric chart.

Thin: the logic is in dagc.modelview. Reads the local registry under the state directory (the
one `dagc run` writes).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dagc.cli.options import format_options


@click.command()
@click.argument("name", required=False)
@click.option("--split", type=click.Choice(["test", "validation"]), default="test", show_default=True,
              help="Which split's metrics the table shows.")
@click.option("--plot", "plot_metric", metavar="METRIC",
              help="Write an HTML page charting METRIC (e.g. test_roc_auc) across versions over time.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Where --plot writes (default: NAME-METRIC.html).")
@click.option("--state-dir", type=click.Path(file_okay=False),
              help="Where runs are recorded (default: $DAGC_STATE_DIR, else <project>/.dagc).")
@format_options
def models(name: str | None, split: str, plot_metric: str | None, output: str | None, state_dir: str | None,
           fmt: str) -> int:
    """List models, or one model's versions with metrics; `*` marks the default version.

    \b
    Examples:
      dagc models                                   # every model, its default and test metrics
      dagc models approval_model                    # versions, oldest first
      dagc models approval_model --plot test_roc_auc -o auc.html
    """
    as_json = fmt == "json"
    from dagc import modelview
    from dagc.diagnostics import UsageError
    from dagc.engine.project import find_project_root, state_dir_for
    from dagc.engine.registry import LocalModelRegistry

    sdir = state_dir_for(find_project_root(Path.cwd()), state_dir)
    if not (sdir / "models" / "registry.db").exists():  # a read-only command: create nothing
        if name is not None:
            from dagc.diagnostics import DagcError

            raise DagcError(f"no model named {name!r}: no models are registered in {sdir}",
                            "train one first: dagc run pipelines/training.yaml")
        click.echo("[]" if as_json else f"no models registered in {sdir}; train one: dagc run pipelines/training.yaml")
        return 0
    registry = LocalModelRegistry(sdir)
    try:
        if name is None:
            if plot_metric:
                raise UsageError("--plot needs a model NAME", "e.g. dagc models approval_model --plot test_roc_auc")
            rows = modelview.summary_rows(registry)
            if as_json:
                click.echo(json.dumps(rows, indent=2))
            elif not rows:
                click.echo(f"no models registered in {sdir}; train one: dagc run pipelines/training.yaml")
            else:
                modelview.print_summary(rows)
            return 0
        resolved = modelview.resolve_model(registry, name)
        rows = modelview.version_rows(registry, resolved)
        if plot_metric:
            page = modelview.metric_page(rows, resolved, plot_metric)
            target = Path(output or f"{resolved.lower()}-{plot_metric}.html")
            target.write_text(page, encoding="utf-8")
            click.echo(f"wrote {target} ({plot_metric} across {len(rows)} version(s))")
            return 0
        if as_json:
            click.echo(json.dumps(rows, indent=2))
        else:
            modelview.print_versions(rows, resolved, split)
        return 0
    finally:
        registry.close()
