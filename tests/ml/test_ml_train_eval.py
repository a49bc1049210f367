"""Training, metrics with the right names, the model's byte form, and bad training data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from steps.ml import evaluate, train
from steps.ml.pipeline import build_dataset, evaluate_model, fit_model


@pytest.fixture(scope="module")
def model_and_metrics(dataset_20k):
    ds, _ = dataset_20k
    model = fit_model(ds, {"n_estimators": 60})
    metrics, scores = evaluate_model(model, ds)
    return model, metrics, scores


def test_model_learns_the_signal(model_and_metrics, dataset_20k):
    _, metrics, _ = model_and_metrics
    assert metrics["test_roc_auc"] > 0.8
    # better than always predicting the majority class
    ds, _ = dataset_20k
    majority = ds.loc[ds["split"] == "test", "approved"].mean()
    assert metrics["test_accuracy"] > max(majority, 1 - majority)


def test_metric_names_and_recall_is_recall(model_and_metrics, dataset_20k):
    _, metrics, scores = model_and_metrics
    for split in ("validation", "test"):
        for name in evaluate.METRICS:
            assert f"{split}_{name}" in metrics
    assert not any("all" in k.split("_") for k in metrics)
    ds, _ = dataset_20k
    y = ds.loc[ds["split"] == "test", "approved"].to_numpy()
    pred = scores >= 0.5
    tp, fn, fp = np.sum(pred & (y == 1)), np.sum(~pred & (y == 1)), np.sum(pred & (y == 0))
    assert metrics["test_recall"] == pytest.approx(tp / (tp + fn))
    assert metrics["test_precision"] == pytest.approx(tp / (tp + fp))


def test_single_class_labels_are_refused():
    with pytest.raises(ValueError, match="single class"):
        evaluate.classification_metrics(np.ones(10), np.linspace(0, 1, 10))
    x = pd.DataFrame({"a": np.arange(10.0)})
    with pytest.raises(ValueError, match="single class"):
        train.fit(x, np.zeros(10), x, np.zeros(10))


def test_model_bytes_round_trip(model_and_metrics, dataset_20k):
    model = model_and_metrics[0]
    ds, info = dataset_20k
    data = train.to_bytes(model)
    frame = train.to_frame(data)
    again = train.from_bytes(train.from_frame(frame.sample(frac=1, random_state=0)))
    x = ds[ds["split"] == "test"]
    assert np.array_equal(train.predict_proba(model, x, info["features"]), train.predict_proba(again, x, info["features"]))


def test_large_payload_spans_several_rows():
    data = np.random.default_rng(0).bytes(int(train.CHUNK * 1.6))
    frame = train.to_frame(data)
    assert len(frame) >= 3
    assert train.from_frame(frame) == data


def test_bad_hyperparameter():
    x = pd.DataFrame({"a": np.arange(10.0)})
    with pytest.raises(ValueError, match="max_depth"):
        train.fit(x, np.arange(10) % 2, x, np.arange(10) % 2, {"max_depth": 0})


# ---- bad source data ------------------------------------------------------------------------

def _build(source, apps):
    return build_dataset(apps, source["credit_reports"], source["county_economics"], source="LOAN_APPLICATIONS")


def test_empty_source_table(source_20k):
    with pytest.raises(ValueError, match="LOAN_APPLICATIONS has no labelled rows"):
        _build(source_20k, source_20k["applications"].iloc[0:0])


def test_label_with_one_class(source_20k):
    apps = source_20k["applications"].assign(approved=1)
    with pytest.raises(ValueError, match=r"single class \(1\)"):
        _build(source_20k, apps)


def test_nan_only_feature_column(source_20k):
    apps = source_20k["applications"].assign(applicant_income=np.nan)
    with pytest.raises(ValueError, match="applicant_income.*only missing values"):
        _build(source_20k, apps)


def test_label_outside_zero_one(source_20k):
    apps = source_20k["applications"].copy()
    apps.loc[5, "approved"] = 3
    with pytest.raises(ValueError, match="must be 0 or 1"):
        _build(source_20k, apps)


def test_pending_rows_are_history_not_training_rows(source_20k):
    apps = source_20k["applications"].copy()
    apps["approved"] = apps["approved"].astype("Int64")
    apps.loc[apps.index[-100:], "approved"] = pd.NA
    ds, info = _build(source_20k, apps)
    assert len(ds) == len(apps) - 100
    assert sum(info["rows"].values()) == len(ds)
