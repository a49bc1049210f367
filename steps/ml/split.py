"""A temporal train / validation / test split: the model is always tested on its future.

A random split over time-ordered events lets the model peek at the period it is evaluated on (and
our rolling features make neighbouring rows share information), so metrics come out optimistic.
Here two cutoff times divide the events: train < t_validation <= validation < t_test <= test.
Cutting on timestamps, not row positions, keeps events with the same timestamp in one split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class TemporalSplit:
    labels: pd.Series  # "train" | "validation" | "test", aligned with the input
    validation_start: pd.Timestamp
    test_start: pd.Timestamp

    def counts(self) -> dict[str, int]:
        vc = self.labels.value_counts()
        return {s: int(vc.get(s, 0)) for s in SPLITS}


def temporal_split(times: pd.Series, validation_fraction: float = 0.15, test_fraction: float = 0.15) -> TemporalSplit:
    """Cut at the time quantiles 1 - validation - test and 1 - test of `times`."""
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
            raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    if validation_fraction + test_fraction >= 0.9:
        raise ValueError(
            f"validation_fraction + test_fraction = {validation_fraction + test_fraction:.2f} leaves "
            "too little to train on; keep their sum below 0.9"
        )
    t = pd.to_datetime(times).astype("datetime64[ns]")
    if t.isna().any():
        raise ValueError(f"{int(t.isna().sum())} event(s) have no timestamp; a temporal split needs one on every row")
    ns = t.to_numpy().astype("int64")
    v_ns, t_ns = np.quantile(ns, [1 - validation_fraction - test_fraction, 1 - test_fraction], method="lower")
    v_start, t_start = pd.Timestamp(int(v_ns)), pd.Timestamp(int(t_ns))
    if t_start <= v_start:  # too few distinct times for two cuts; nudge the test cut forward
        later = np.unique(ns[ns > v_ns])
        t_start = pd.Timestamp(int(later[0])) if later.size else t_start
    labels = pd.Series(np.where(ns < v_start.value, "train", np.where(ns < t_start.value, "validation", "test")), index=times.index)
    split = TemporalSplit(labels, v_start, t_start)
    empty = [s for s, n in split.counts().items() if n == 0]
    if empty:
        raise ValueError(
            f"the temporal split left {', '.join(empty)} empty ({len(ns)} rows, {np.unique(ns).size} distinct "
            "timestamps); the source needs more rows spread over time"
        )
    return split
