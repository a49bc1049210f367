"""Scoring a features table into a scores table: in the warehouse on Snowflake, in batches locally.

On Snowflake the promoted model is a registry version, and `ModelVersion.run` scores a Snowpark
DataFrame in the warehouse (the model runs next to the data; nothing is downloaded). Locally the
model scores the features table batch by batch and the scores are appended per batch, so memory
is one batch whatever the number of new rows. Both write the same columns
(inference.PREDICTION_COLUMNS).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import numpy as np
import pandas as pd

from steps.ml.sqlfeatures import ident
from steps.ml.train import predict_proba

COLUMNS = ("application_id", "event_time", "score", "prediction", "model_name", "model_version",
           "scored_at", "scoring_date")


def _literal(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def score_table(ctx: Any, model: str, version: str, features_table: str, target: str, features: Sequence[str],
                *, threshold: float, scored_at: datetime) -> tuple[int, int]:
    """Write `target` (COLUMNS) for every row of `features_table`; return (rows, predicted positives)."""
    registry = getattr(ctx.models, "reg", None)  # snowflake.ml.registry.Registry on Snowflake only
    if registry is not None:
        return _score_in_warehouse(ctx, registry, model, version, features_table, target, features,
                                   threshold=threshold, scored_at=scored_at)
    return _score_in_batches(ctx, model, version, features_table, target, features, threshold=threshold,
                             scored_at=scored_at)


def _frame(ids: Any, times: Any, scores: np.ndarray, model: str, version: str, threshold: float,
           scored_at: datetime) -> pd.DataFrame:
    return pd.DataFrame({
        "application_id": pd.Series(ids, dtype="int64"),
        "event_time": pd.to_datetime(pd.Series(times)).astype("datetime64[ns]"),
        "score": pd.Series(scores, dtype="float64"),
        "prediction": pd.Series((np.asarray(scores) >= threshold).astype("int64")),
        "model_name": model, "model_version": version,
        "scored_at": pd.Timestamp(scored_at),  # UTC, without a zone (Snowflake TIMESTAMP_NTZ)
        "scoring_date": scored_at.date().isoformat(),
    })


def _score_in_batches(ctx: Any, model: str, version: str, features_table: str, target: str,
                      features: Sequence[str], *, threshold: float, scored_at: datetime) -> tuple[int, int]:
    fitted = ctx.models.load(model, version)
    cols = ", ".join(["application_id", "event_time", *(ident(f) for f in features)])
    rows = positives = 0
    mode = "overwrite"
    for df in ctx.tables.read_batches(f"SELECT {cols} FROM {ident(features_table)} ORDER BY event_time, application_id"):
        df.columns = [str(c).lower() for c in df.columns]
        if len(df) == 0:
            continue
        out = _frame(df["application_id"], df["event_time"], predict_proba(fitted, df, features), model, version,
                     threshold, scored_at)
        ctx.tables.write(target, out[list(COLUMNS)], mode=mode)
        mode = "append"
        rows += len(out)
        positives += int(out["prediction"].sum())
    if rows == 0:  # an empty table with the right columns, so later steps read it the same way
        empty = _frame([], [], np.zeros(0), model, version, threshold, scored_at)
        ctx.tables.write(target, empty[list(COLUMNS)])
    return rows, positives


def _score_in_warehouse(ctx: Any, registry: Any, model: str, version: str, features_table: str, target: str,
                        features: Sequence[str], *, threshold: float, scored_at: datetime) -> tuple[int, int]:
    """ModelVersion.run(predict_proba) on the features table, then one CTAS for our columns."""
    session = ctx.session
    mv = registry.get_model(model).version(version)
    inputs = session.table(ident(features_table)).select(["APPLICATION_ID", "EVENT_TIME", *(f.upper() for f in features)])
    raw = f"{target}_RAW"
    mv.run(inputs, function_name="predict_proba").write.save_as_table(raw, mode="overwrite")
    proba = next((c for c in session.table(raw).columns if c.strip('"').lower().endswith("output_feature_1")), None)
    if proba is None:
        raise ValueError(f"the registry's predict_proba of {model} {version} returned no positive-class column")
    stamp = scored_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    ctx.tables.create_table_as(target, (
        f"SELECT application_id, event_time, CAST({proba} AS DOUBLE) AS score, "
        f"IFF({proba} >= {float(threshold)!r}, 1, 0) AS prediction, {_literal(model)} AS model_name, "
        f"{_literal(version)} AS model_version, CAST({_literal(stamp)} AS TIMESTAMP_NTZ) AS scored_at, "
        f"{_literal(scored_at.date().isoformat())} AS scoring_date FROM {ident(raw)}"))
    ctx.tables.drop(raw)
    row = ctx.tables.query(f"SELECT COUNT(*) AS n, COALESCE(SUM(prediction), 0) AS p FROM {ident(target)}").iloc[0]
    return int(row.iloc[0]), int(row.iloc[1])
