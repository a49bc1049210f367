"""The generator: deterministic, realistic faults, a world shared by later batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from steps.ml.data import (
    APPLICATION_COLUMNS, COUNTIES, CREDIT_COLUMNS, ECONOMICS_COLUMNS, county_economics, generate_batch, generate_source,
)


def test_same_seed_same_tables_and_other_seed_differs():
    a, b, c = generate_source(3000, seed=1), generate_source(3000, seed=1), generate_source(3000, seed=2)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["applications"]["approved"].equals(c["applications"]["approved"])


def test_shapes_columns_and_ids(source_20k):
    apps = source_20k["applications"]
    assert tuple(apps.columns) == APPLICATION_COLUMNS
    assert tuple(source_20k["credit_reports"].columns) == CREDIT_COLUMNS
    assert tuple(source_20k["county_economics"].columns) == ECONOMICS_COLUMNS
    assert len(apps) == 20_000
    assert apps["application_id"].is_unique and apps["applicant_id"].is_unique
    assert apps["event_time"].is_monotonic_increasing


def test_realistic_faults(source_20k):
    apps = source_20k["applications"]
    rate = apps["approved"].mean()
    assert 0.6 < rate < 0.9, rate  # imbalanced, but both classes well represented
    for col in ("applicant_income", "county", "loan_purpose"):
        assert 0 < apps[col].isna().mean() < 0.1, col
    income = apps["applicant_income"].dropna()
    assert income.mean() > income.median() * 1.05  # right-skewed
    assert (income < 15_000).sum() > 0  # incomes typed per month
    # some applicants have no credit history at all before applying
    first_report = source_20k["credit_reports"].groupby("applicant_id")["reported_at"].min()
    joined = apps.set_index("applicant_id")["event_time"]
    no_history = (first_report.reindex(joined.index).isna()) | (first_report.reindex(joined.index) > joined)
    assert 0.05 < no_history.mean() < 0.25


def test_rows_parameter_is_checked():
    with pytest.raises(ValueError, match="positive integer"):
        generate_source(0)


def test_economics_are_a_function_of_the_week_only():
    a = county_economics(pd.Timestamp("2024-03-01"), pd.Timestamp("2024-06-01"))
    b = county_economics(pd.Timestamp("2024-05-01"), pd.Timestamp("2024-09-01"))
    overlap = a.merge(b, on=["county", "as_of"], suffixes=("_a", "_b"))
    assert len(overlap) >= 4 * len(COUNTIES)
    assert np.allclose(overlap["unemployment_rate_a"], overlap["unemployment_rate_b"])


def test_batch_continues_after_history_unlabelled():
    after = pd.Timestamp("2025-12-31 00:00:00")
    batch = generate_batch(500, seed=3, after=after, first_id=20_001)
    apps = batch["applications"]
    assert apps["application_id"].tolist() == list(range(20_001, 20_501))
    assert (apps["event_time"] > after).all() and (apps["event_time"] <= after + pd.Timedelta(hours=24)).all()
    assert apps["approved"].isna().all()
    # no credit report from after the (undecided) application exists yet
    reports = batch["credit_reports"].merge(apps[["applicant_id", "event_time"]], on="applicant_id")
    assert (reports["reported_at"] <= reports["event_time"]).all()
    assert batch["county_economics"]["as_of"].max() <= apps["event_time"].max()


def test_shift_moves_the_population():
    after = pd.Timestamp("2025-12-31")
    calm = generate_batch(4000, seed=3, after=after, first_id=1)["applications"]
    shocked = generate_batch(4000, seed=3, after=after, first_id=1, shift=0.6)["applications"]
    assert shocked["applicant_income"].median() < 0.8 * calm["applicant_income"].median()
    with pytest.raises(ValueError, match="shift"):
        generate_batch(10, seed=3, after=after, first_id=1, shift=2.0)
