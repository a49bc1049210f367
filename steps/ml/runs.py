"""What the step wrappers share: per-run names, table reads, config access, clear errors.

Only the StepContext contract is used (ctx.tables, ctx.models, ctx.config, ctx.run_id, ...), so
the wrappers run unchanged on the local engine and on Snowflake.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from dagc.diagnostics import DagcError
from steps.ml import naming

DEFAULT_TABLES = {
    "model_name": "approval_model",
    "source_table": "LOAN_APPLICATIONS",
    "credit_table": "CREDIT_REPORTS",
    "economics_table": "COUNTY_ECONOMICS",
    "predictions_table": "LOAN_PREDICTIONS",
}


def setting(ctx: Any, key: str) -> Any:
    """A top-level config value, falling back to the documented default."""
    value = ctx.config.get(key, DEFAULT_TABLES.get(key))
    if value is None:
        raise DagcError(f"config.{key} is not set", f"add `{key}:` under config: in the pipeline")
    return value


def prefix(ctx: Any) -> str:
    """This run's scratch-table prefix (stable across a retry of the run)."""
    return naming.run_prefix(ctx.pipeline, ctx.run_id, utc(ctx.scheduled_at))


def utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def read(ctx: Any, name: str, *, what: str = "table", hint: str | None = None) -> Any:
    """A table as a frame with lower-case column names (Snowflake returns them upper-case)."""
    if not ctx.tables.exists(name):
        raise DagcError(f"{what} {name} does not exist", hint)
    df = ctx.tables.read(name)
    df.columns = [str(c).lower() for c in df.columns]
    return df


@contextlib.contextmanager
def clear_errors(what: str) -> Iterator[None]:
    """ValueErrors from the ML modules are bad input, not bugs: re-raise them as DagcError."""
    try:
        yield
    except ValueError as exc:
        raise DagcError(f"{what}: {exc}") from None


def core_metrics(metrics: Mapping[str, float], split: str = "test") -> dict[str, float]:
    from steps.ml.evaluate import METRICS

    return {m: round(float(metrics[f"{split}_{m}"]), 4) for m in METRICS if f"{split}_{m}" in metrics}


def metrics_line(metrics: Mapping[str, float], split: str = "test") -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in core_metrics(metrics, split).items())
