"""Retention and scratch-table decisions, without a warehouse."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from dagc.runtime.context import ModelVersionInfo
from steps.ml import naming
from steps.ml.cleanup import expired_datasets, expired_versions

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def version(v: str, days_old: float, default: bool = False) -> ModelVersionInfo:
    return ModelVersionInfo("M", v, NOW - timedelta(days=days_old), {}, {"dataset_version": f"D{v}"}, default)


def test_retention_expires_old_versions_but_never_the_default():
    versions = [version("V1", 40, default=True), version("V2", 35), version("V3", 10), version("V4", 0)]
    assert expired_versions(versions, NOW - timedelta(days=30)) == ["V2"]
    assert expired_versions(versions, NOW) == ["V2", "V3"]  # retention 0: all older than now but the default
    assert expired_versions([version("V1", 400, default=True)], NOW) == []


def test_retention_compares_naive_and_aware_times_as_utc():
    naive_cutoff = (NOW - timedelta(days=30)).replace(tzinfo=None)
    assert expired_versions([version("V2", 31)], naive_cutoff) == ["V2"]
    assert expired_versions([version("V2", 29)], naive_cutoff) == []


def test_dataset_retention_keeps_referenced_versions():
    catalog = pd.DataFrame({"version": ["DA", "DB", "DC"],
                            "created_at": pd.to_datetime(["2026-09-01", "2026-09-02", "2026-11-20"])})
    cutoff = datetime(2026, 10, 22)
    assert expired_datasets(catalog, cutoff, referenced=["DA"]) == ["DB"]
    assert expired_datasets(catalog.iloc[0:0], cutoff, referenced=[]) == []


def test_run_prefix_is_stable_and_an_identifier():
    t = datetime(2026, 11, 21, 18, 55, 16)
    a = naming.run_prefix("training", "20261121T185516Z-0cba42", t)
    assert a == naming.run_prefix("training", "20261121T185516Z-0cba42", t)
    assert a != naming.run_prefix("training", "20261121T185516Z-0cba43", t)
    assert a.startswith("TMP_TRAINING_20261121185516_") and naming.identifier(a.rstrip("_")) == a.rstrip("_")


def test_stale_scratch_detection_is_per_pipeline_and_age():
    old = naming.run_prefix("training", "r1", datetime(2026, 11, 19, 0, 0)) + "MODEL"
    fresh = naming.run_prefix("training", "r2", datetime(2026, 11, 21, 11, 0)) + "MODEL"
    other = naming.run_prefix("inference", "r3", datetime(2026, 11, 1)) + "SCORES"
    now = NOW.replace(tzinfo=None)
    assert naming.stale(old, "training", now, timedelta(hours=24))
    assert not naming.stale(fresh, "training", now, timedelta(hours=24))
    assert not naming.stale(other, "training", now, timedelta(hours=24))
    assert not naming.stale("LOAN_APPLICATIONS", "training", now, timedelta(hours=24))


def test_identifiers():
    assert naming.identifier("my-model v2") == "MY_MODEL_V2"
    assert naming.identifier("2fast") == "_2FAST"
    assert naming.dataset_version("20261121T185516Z-0cba42") == "D20261121T185516Z_0CBA42"
