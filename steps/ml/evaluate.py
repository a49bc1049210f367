"""Classification metrics with the names people expect.

One function computes them all, so training, the quality gate, the registry and `dagc models`
agree on the names: accuracy, precision, recall, f1, roc_auc, log_loss (plus rows and
positive_rate for context). Prefixed by split (`test_roc_auc`) when stored.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
HIGHER_IS_BETTER = {"accuracy": True, "precision": True, "recall": True, "f1": True, "roc_auc": True, "log_loss": False}


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Metrics of positive-class probabilities `proba` against 0/1 labels `y_true`."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score

    y = np.asarray(y_true).astype("int64")
    p = np.asarray(proba, dtype="float64")
    if y.size == 0:
        raise ValueError("cannot evaluate on zero rows")
    if y.shape != p.shape:
        raise ValueError(f"labels and scores differ in length ({y.size} vs {p.size})")
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(
            f"the labels have a single class ({int(classes[0])}); ROC AUC and log loss need both 0 and 1"
        )
    pred = (p >= threshold).astype("int64")
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "positive_rate": float(pred.mean()),
        "rows": float(y.size),
    }


def prefixed(prefix: str, metrics: Mapping[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": float(v) for k, v in metrics.items()}
