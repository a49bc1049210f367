"""Has the score distribution moved? PSI over reference deciles, and the positive-rate shift.

At promotion time the model's scores on its own test split become the reference profile: decile
edges, the share of scores in each bin, and the share of positive predictions. A scoring batch is
compared with it:

- PSI (population stability index) = sum over bins of (a - r) * ln(a / r), with a and r the
  batch and reference shares; conventionally < 0.1 stable, 0.1-0.25 moderate, > 0.25 major shift;
- positive-rate shift = |batch positive rate - reference positive rate|.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

EPS = 1e-4  # floor for empty bins, so one empty bin does not make PSI infinite


def profile(scores: np.ndarray, threshold: float = 0.5, bins: int = 10) -> dict[str, Any]:
    """A small, JSON-able description of a score distribution (stored with the model)."""
    s = np.asarray(scores, dtype="float64")
    if s.size == 0:
        raise ValueError("cannot profile zero scores")
    inner = np.unique(np.quantile(s, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(inner, s, side="right"), minlength=inner.size + 1)
    return {
        "edges": [float(e) for e in inner],
        "fractions": [float(c) / s.size for c in counts],
        "positive_rate": float((s >= threshold).mean()),
        "threshold": float(threshold),
        "rows": int(s.size),
    }


def psi(reference: Mapping[str, Any], scores: np.ndarray) -> float:
    s = np.asarray(scores, dtype="float64")
    if s.size == 0:
        return 0.0
    edges = np.asarray(reference["edges"], dtype="float64")
    ref = np.maximum(np.asarray(reference["fractions"], dtype="float64"), EPS)
    cur = np.bincount(np.searchsorted(edges, s, side="right"), minlength=edges.size + 1) / s.size
    cur = np.maximum(cur, EPS)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def check(
    reference: Mapping[str, Any], scores: np.ndarray, *, max_psi: float, max_positive_rate_shift: float
) -> dict[str, Any]:
    """Drift figures and the verdict; an empty batch is reported as stable (nothing to judge)."""
    s = np.asarray(scores, dtype="float64")
    rate = float((s >= float(reference.get("threshold", 0.5))).mean()) if s.size else float("nan")
    value = psi(reference, s)
    shift = abs(rate - float(reference["positive_rate"])) if s.size else 0.0
    reasons = []
    if s.size and value > max_psi:
        reasons.append(f"score PSI {value:.3f} > {max_psi:g}")
    if s.size and shift > max_positive_rate_shift:
        reasons.append(
            f"positive rate {rate:.3f} vs reference {float(reference['positive_rate']):.3f} "
            f"(shift {shift:.3f} > {max_positive_rate_shift:g})"
        )
    return {
        "rows": int(s.size),
        "psi": round(value, 6),
        "positive_rate": None if not s.size else round(rate, 6),
        "reference_positive_rate": float(reference["positive_rate"]),
        "positive_rate_shift": round(shift, 6),
        "drifted": bool(reasons),
        "reasons": reasons,
    }
