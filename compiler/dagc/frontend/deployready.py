"""Warnings for pipelines that validate and run locally but that `dagc deploy` would refuse.

`dagc run` needs no Snowflake objects, so a newcomer's pipeline can pass `validate` and `run` and
only fail at the first deploy. What the Snowflake emitter refuses for a valid pipeline is
checked here too, as a warning (the pipeline is still usable locally), so CI says it first.
"""

from __future__ import annotations

from pathlib import Path

from dagc import ir
from dagc.diagnostics import Diagnostic, Severity


def deploy_warnings(path: str | Path, pipeline: ir.Pipeline) -> list[Diagnostic]:
    """DAGC520: Python tasks (step or branch) and no `stage:` to upload their code to.

    Reported by `dagc validate` (not by check_file, which `dagc run` uses: a local run needs no stage).
    """
    python = [t for t in pipeline.all_tasks() if t.kind is not ir.TaskKind.SQL]
    if not python or pipeline.stage:
        return []
    first = python[0]
    line, col = first.line or 1, 1
    try:
        text = Path(path).read_text(encoding="utf-8").splitlines()[line - 1]
        col = len(text) - len(text.lstrip()) + 1
    except (OSError, IndexError, UnicodeDecodeError):
        pass
    more = f" (and {len(python) - 1} more)" if len(python) > 1 else ""
    return [Diagnostic(
        "DAGC520", f"task {first.name!r}{more} runs Python but the pipeline has no `stage:`, so `dagc deploy` "
        "would refuse it (`dagc run` works)", str(path), line, col,
        hint='add `stage: "@DB.SCHEMA.STAGE"` at the top level: dagc uploads the step code there on deploy',
        severity=Severity.WARNING)]
