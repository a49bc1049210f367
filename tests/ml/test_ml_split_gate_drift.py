"""Temporal split, quality gate and drift check: the decisions, in each direction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from steps.ml import drift, gate
from steps.ml.split import temporal_split


# ---- temporal split -------------------------------------------------------------------------

def test_split_has_no_overlap_in_time_or_rows(dataset_20k):
    ds, info = dataset_20k
    parts = {s: ds[ds["split"] == s] for s in ("train", "validation", "test")}
    assert parts["train"]["event_time"].max() < parts["validation"]["event_time"].min()
    assert parts["validation"]["event_time"].max() < parts["test"]["event_time"].min()
    ids = [set(p["application_id"]) for p in parts.values()]
    assert not (ids[0] & ids[1]) and not (ids[1] & ids[2]) and not (ids[0] & ids[2])
    assert sum(len(i) for i in ids) == len(ds)
    assert info["rows"] == {s: len(p) for s, p in parts.items()}
    assert abs(len(parts["test"]) / len(ds) - 0.15) < 0.01


def test_equal_timestamps_never_straddle_a_cut():
    t = pd.Series(pd.to_datetime(["2024-01-01"] * 50 + ["2024-01-02"] * 30 + ["2024-01-03"] * 20))
    s = temporal_split(t, 0.2, 0.2)
    by_time = pd.DataFrame({"t": t, "s": s.labels}).groupby("t")["s"].nunique()
    assert (by_time == 1).all()
    assert set(s.labels) == {"train", "validation", "test"}


@pytest.mark.parametrize("val,test", [(0, 0.1), (0.1, 1.0), (0.5, 0.45), ("x", 0.1)])
def test_bad_fractions(val, test):
    with pytest.raises(ValueError):
        temporal_split(pd.Series(pd.date_range("2024-01-01", periods=100, freq="h")), val, test)


def test_too_few_distinct_times():
    with pytest.raises(ValueError, match="empty"):
        temporal_split(pd.Series(pd.to_datetime(["2024-01-01"] * 100)), 0.15, 0.15)


# ---- quality gate ---------------------------------------------------------------------------

def cfg(metric, threshold, **kw):
    return gate.parse_config({"metric": metric, "threshold": threshold, **kw})


@pytest.mark.parametrize(
    "metric,threshold,value,passed",
    [
        ("test_roc_auc", 0.80, 0.85, True),   # higher is better: above passes
        ("test_roc_auc", 0.80, 0.75, False),  # below fails
        ("test_roc_auc", 0.80, 0.80, True),   # equal clears
        ("test_log_loss", 0.40, 0.35, True),  # lower is better: below passes
        ("test_log_loss", 0.40, 0.45, False), # above fails
        ("validation_recall", 0.9, 0.95, True),
    ],
)
def test_gate_threshold_in_each_direction(metric, threshold, value, passed):
    d = gate.decide(cfg(metric, threshold), {metric: value})
    assert d.passed is passed and d.case == ("pass" if passed else "fail")
    assert d.higher_is_better is (metric != "test_log_loss")


@pytest.mark.parametrize(
    "metric,new,champion,passed",
    [
        ("test_roc_auc", 0.86, 0.84, True),
        ("test_roc_auc", 0.83, 0.84, False),  # clears threshold, worse than the default model
        ("test_log_loss", 0.30, 0.32, True),
        ("test_log_loss", 0.33, 0.32, False),
    ],
)
def test_gate_compares_with_the_default_model(metric, new, champion, passed):
    threshold = 0.5
    d = gate.decide(cfg(metric, threshold), {metric: new}, baseline={metric: champion})
    assert d.passed is passed
    assert d.baseline == champion


def test_min_improvement_and_tolerance():
    strict = cfg("test_roc_auc", 0.5, min_improvement=0.01)
    assert not gate.decide(strict, {"test_roc_auc": 0.845}, {"test_roc_auc": 0.84}).passed
    lenient = cfg("test_roc_auc", 0.5, min_improvement=-0.01)
    assert gate.decide(lenient, {"test_roc_auc": 0.835}, {"test_roc_auc": 0.84}).passed


def test_unknown_metric_is_a_clear_error_with_a_suggestion():
    with pytest.raises(ValueError, match=r"does not know the metric 'test_rocauc'.*did you mean 'test_roc_auc'"):
        cfg("test_rocauc", 0.8)
    with pytest.raises(ValueError, match="Known metrics"):
        cfg("all", 0.8)


def test_direction_contradicting_the_metric_is_refused():
    with pytest.raises(ValueError, match="lower is better"):
        cfg("test_log_loss", 0.4, higher_is_better=True)
    assert cfg("test_log_loss", 0.4, higher_is_better=False).higher_is_better is False


def test_gate_config_must_name_metric_and_threshold():
    with pytest.raises(ValueError, match="metric.*threshold"):
        gate.parse_config({"metric": "test_f1"})
    with pytest.raises(ValueError, match="numbers"):
        gate.parse_config({"metric": "test_f1", "threshold": "high"})


def test_nan_metric_fails_the_gate():
    assert not gate.decide(cfg("test_f1", 0.1), {"test_f1": float("nan")}).passed


# ---- drift ----------------------------------------------------------------------------------

def test_same_distribution_is_stable_and_a_shift_is_drift():
    rng = np.random.default_rng(0)
    ref = drift.profile(rng.beta(5, 2, 5000))
    same = drift.check(ref, rng.beta(5, 2, 3000), max_psi=0.25, max_positive_rate_shift=0.1)
    assert not same["drifted"] and same["psi"] < 0.05
    moved = drift.check(ref, rng.beta(2, 3, 3000), max_psi=0.25, max_positive_rate_shift=0.1)
    assert moved["drifted"] and moved["psi"] > 0.25 and moved["positive_rate_shift"] > 0.1
    assert len(moved["reasons"]) == 2


def test_positive_rate_alone_can_trigger():
    ref = drift.profile(np.linspace(0, 1, 1000))
    out = drift.check(ref, np.linspace(0, 1, 1000) ** 0.8, max_psi=10.0, max_positive_rate_shift=0.02)
    assert out["drifted"] and "positive rate" in out["reasons"][0]


def test_empty_batch_is_stable():
    ref = drift.profile(np.linspace(0, 1, 100))
    assert drift.check(ref, np.zeros(0), max_psi=0.1, max_positive_rate_shift=0.1)["drifted"] is False
