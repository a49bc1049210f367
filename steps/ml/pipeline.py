"""The training pipeline's stages as pure functions over frames.

`build_dataset` runs the dataset SQL (warehouse.py) over in-memory frames; `fit_model` and
`evaluate_model` work on frames. `evaluate_table` is what the evaluate step runs: the dataset
table's validation and test rows, batch by batch, for one or more models at once.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from steps.ml import evaluate, train, warehouse
from steps.ml.data import LABEL
from steps.ml.features import FEATURES, normalise


def build_dataset(
    apps: pd.DataFrame,
    credit: pd.DataFrame,
    econ: pd.DataFrame,
    *,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    source: str = "applications",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The dataset of in-memory frames, built by the SAME SQL the steps run (warehouse.py), on a
    throw-away DuckDB warehouse: labelled events with as-of features and `split`, plus the summary.
    For tests and small experiments; the steps never hold the dataset in memory."""
    import tempfile
    from pathlib import Path

    from dagc.engine.tables import DuckTables, release

    with tempfile.TemporaryDirectory(prefix="dagc_ds_") as tmp:
        tables = DuckTables(Path(tmp))
        try:
            name = source if source.isidentifier() else "applications"
            for table, df, kind in ((name, apps, "applications"), ("credit_reports", credit, "credit_reports"),
                                    ("county_economics", econ, "county_economics")):
                tables.write(table, normalise(df, table, kind))
            info = warehouse.build_dataset(tables, apps=name, credit="credit_reports", econ="county_economics",
                                           target="dataset", validation_fraction=validation_fraction,
                                           test_fraction=test_fraction)
            ds = tables.read("dataset")
        finally:
            release(Path(tmp))
    ds.columns = [str(c).lower() for c in ds.columns]
    ds[LABEL] = ds[LABEL].astype("int64")
    return ds, info


def xy(dataset: pd.DataFrame, split: str) -> tuple[pd.DataFrame, np.ndarray]:
    part = dataset[dataset["split"] == split]
    return part[list(FEATURES)].astype("float64"), part[LABEL].to_numpy(dtype="int64")


def fit_model(dataset: pd.DataFrame, params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    tx, ty = xy(dataset, "train")
    vx, vy = xy(dataset, "validation")
    return train.fit(tx, ty, vx, vy, params, seed=seed)


def evaluate_model(model: Any, dataset: pd.DataFrame, threshold: float = 0.5) -> tuple[dict[str, float], np.ndarray]:
    """Validation and test metrics, prefixed (`test_roc_auc`), and the test scores."""
    metrics: dict[str, float] = {}
    scores = np.zeros(0)
    for name in ("validation", "test"):
        x, y = xy(dataset, name)
        p = train.predict_proba(model, x, FEATURES)
        metrics.update(evaluate.prefixed(name, evaluate.classification_metrics(y, p, threshold)))
        if name == "test":
            scores = p
    return metrics, scores


def evaluate_table(tables: Any, table: str, features: list[str], models: list[Any], threshold: float = 0.5,
                   *, sample_rows: int = 20) -> tuple[list[dict[str, float] | None], np.ndarray, pd.DataFrame]:
    """Validation and test metrics of each model over the dataset table, read batch by batch.

    Returns (metrics per model, None for a model that could not score these rows), the first
    model's test scores, and the first `sample_rows` test feature rows (the registry's signature
    sample). Only labels and scores are kept: two floats per row and model.
    """
    out: list[dict[str, float] | None] = [{} for _ in models]
    first_test = np.zeros(0)
    sample = pd.DataFrame(columns=features)
    for split in ("validation", "test"):
        ys: list[np.ndarray] = []
        ps: list[list[np.ndarray]] = [[] for _ in models]
        for df in warehouse.batches(tables, table, [split], [*features, LABEL]):
            ys.append(df[LABEL].to_numpy(dtype="int64"))
            if split == "test" and len(sample) < sample_rows:
                sample = pd.concat([sample, df[features].head(sample_rows - len(sample)).astype("float64")],
                                   ignore_index=True) if len(sample) else df[features].head(sample_rows).astype("float64")
            for i, model in enumerate(models):
                if out[i] is None:
                    continue
                try:
                    ps[i].append(train.predict_proba(model, df, features))
                except Exception:  # noqa: BLE001 - e.g. a champion trained on other features
                    if i == 0:
                        raise
                    out[i] = None
        y = np.concatenate(ys) if ys else np.zeros(0, dtype="int64")
        for i in range(len(models)):
            if out[i] is None:
                continue
            p = np.concatenate(ps[i]) if ps[i] else np.zeros(0)
            out[i].update(evaluate.prefixed(split, evaluate.classification_metrics(y, p, threshold)))  # type: ignore[union-attr]
            if i == 0 and split == "test":
                first_test = p
    return out, first_test, sample
