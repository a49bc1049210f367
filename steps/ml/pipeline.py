"""The training pipeline's stages as pure functions over frames.

The step wrappers (steps/training.py) call these between table reads and writes; the overhead
benchmark (bench/) calls them back to back in a plain script. One implementation, two drivers.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from steps.ml import evaluate, train
from steps.ml.data import LABEL
from steps.ml.features import FEATURES, TIME, all_missing_columns, build_features, normalise
from steps.ml.split import SPLITS, temporal_split


def build_dataset(
    apps: pd.DataFrame,
    credit: pd.DataFrame,
    econ: pd.DataFrame,
    *,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    source: str = "applications",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Labelled events with as-of features and a `split` column; plus a small summary."""
    apps = normalise(apps, source, "applications")
    if LABEL not in apps.columns:
        raise ValueError(f"table {source} has no label column {LABEL!r}")
    labels = pd.to_numeric(apps[LABEL], errors="coerce")
    labelled = apps[labels.notna()]
    if labelled.empty:
        raise ValueError(
            f"table {source} has no labelled rows ({len(apps)} rows, none with {LABEL} set); "
            "nothing to train on"
        )
    bad = sorted(set(labels.dropna().unique()) - {0, 1})
    if bad:
        raise ValueError(f"label {LABEL!r} must be 0 or 1; table {source} also has {bad[:5]}")
    classes = sorted(int(v) for v in labels.dropna().unique())
    if len(classes) < 2:
        raise ValueError(
            f"label {LABEL!r} has a single class ({classes[0]}) in all {len(labelled)} labelled rows of "
            f"{source}; a classifier needs both approved and denied applications"
        )
    empty = all_missing_columns(labelled)
    if empty:
        raise ValueError(
            f"feature column(s) {', '.join(empty)} of {source} contain only missing values; "
            "fix the source or its load before training"
        )
    # Pending applications stay in as history: they were real events the rolling windows may count.
    feats = build_features(apps, credit, econ)
    feats = feats[feats[LABEL].notna()].reset_index(drop=True)
    feats[LABEL] = feats[LABEL].astype("int64")
    split = temporal_split(feats[TIME], validation_fraction, test_fraction)
    feats["split"] = split.labels.to_numpy()
    for name in SPLITS:
        part = feats.loc[feats["split"] == name, LABEL]
        if part.nunique() < 2:
            raise ValueError(
                f"the {name} split ({len(part)} rows) has a single class ({int(part.iloc[0])}); "
                "there are too few denied or approved applications in that period"
            )
    info = {
        "rows": {s: int((feats["split"] == s).sum()) for s in SPLITS},
        "positive_rate": {s: round(float(feats.loc[feats["split"] == s, LABEL].mean()), 4) for s in SPLITS},
        "validation_start": split.validation_start.isoformat(),
        "test_start": split.test_start.isoformat(),
        "data_start": feats[TIME].min().isoformat(),
        "data_end": feats[TIME].max().isoformat(),
        "features": list(FEATURES),
        "label": LABEL,
    }
    return feats, info


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
