"""Point-in-time correctness of the features: nothing from after the event, ever."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.ml.features import FEATURES, as_of_join, build_features, prior_window


@pytest.fixture(scope="module")
def features_20k(source_20k):
    s = source_20k
    return build_features(s["applications"], s["credit_reports"], s["county_economics"])


def test_no_joined_timestamp_is_after_its_event(features_20k):
    f = features_20k
    for col in ("credit_reported_at", "economics_as_of"):
        joined = f[f[col].notna()]
        assert len(joined) > 0.8 * len(f)
        assert (joined[col] <= joined["event_time"]).all(), col


def test_as_of_picks_the_latest_earlier_report(source_20k, features_20k):
    """Brute force on a sample: the joined report is the newest one at or before the event."""
    reports = source_20k["credit_reports"]
    apps = source_20k["applications"].set_index("application_id")
    f = features_20k.set_index("application_id")
    by_applicant = dict(tuple(reports.groupby("applicant_id")))
    for app_id in np.random.default_rng(0).choice(f.index.to_numpy(), 300, replace=False):
        row, app = f.loc[app_id], apps.loc[app_id]
        mine = by_applicant.get(app["applicant_id"])
        earlier = mine[mine["reported_at"] <= app["event_time"]] if mine is not None else None
        if earlier is None or earlier.empty:
            assert np.isnan(row["credit_score"]) and pd.isna(row["credit_reported_at"])
        else:
            latest = earlier.sort_values("reported_at").iloc[-1]
            assert row["credit_reported_at"] == latest["reported_at"]
            assert row["credit_score"] == latest["credit_score"]


def test_a_report_at_the_exact_event_time_counts_and_a_later_one_does_not():
    t = pd.Timestamp("2024-05-01 12:00:00")
    left = pd.DataFrame({"k": [1, 2], "t": [t, t]})
    right = pd.DataFrame(
        {"k": [1, 1, 2], "at": [t - pd.Timedelta(days=3), t, t + pd.Timedelta(seconds=1)], "v": [1.0, 2.0, 3.0]}
    )
    out = as_of_join(left, right, left_on="t", right_on="at", by="k", columns=["v", "at"])
    assert out["v"].tolist()[0] == 2.0
    assert np.isnan(out["v"].tolist()[1])


def test_time_blind_join_would_leak_and_as_of_does_not(source_20k, features_20k):
    """Reports after the decision move with it; the as-of feature must not carry that signal."""
    reports = source_20k["credit_reports"].sort_values("reported_at")
    latest_ever = reports.groupby("applicant_id")["credit_score"].last()
    apps = source_20k["applications"]
    leaky = apps["applicant_id"].map(latest_ever)
    f = features_20k.set_index("application_id").loc[apps["application_id"]]
    both = pd.DataFrame({"leaky": leaky.to_numpy(), "as_of": f["credit_score"].to_numpy(), "y": apps["approved"].to_numpy()}).dropna()
    assert both["leaky"].corr(both["y"]) > both["as_of"].corr(both["y"]) + 0.05


def test_rolling_windows_use_only_strictly_earlier_events(source_20k, features_20k):
    apps = source_20k["applications"]
    f = features_20k.set_index("application_id")
    rng = np.random.default_rng(1)
    for app_id in rng.choice(apps["application_id"].to_numpy(), 200, replace=False):
        app = apps.loc[apps["application_id"] == app_id].iloc[0]
        if app["county"] is None:
            assert np.isnan(f.loc[app_id, "county_apps_30d"])
            continue
        t = app["event_time"]
        same = apps[(apps["county"] == app["county"]) & (apps["event_time"] >= t - pd.Timedelta(days=30)) & (apps["event_time"] < t)]
        assert f.loc[app_id, "county_apps_30d"] == len(same)
        win = apps[(apps["county"] == app["county"]) & (apps["event_time"] >= t - pd.Timedelta(days=90)) & (apps["event_time"] < t)]
        income = win["applicant_income"].where(win["applicant_income"] > 0).dropna()
        expected = income.mean() if len(income) else np.nan
        assert np.isclose(f.loc[app_id, "county_income_90d"], expected, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 200)), min_size=1, max_size=40),
    values=st.lists(st.one_of(st.none(), st.floats(-100, 100)), min_size=40, max_size=40),
    window=st.integers(1, 60),
)
def test_prior_window_matches_brute_force(events, values, window):
    base = pd.Timestamp("2024-01-01")
    times = pd.Series([base + pd.Timedelta(days=d) for _, d in events])
    groups = pd.Series([("g%d" % g) if g else None for g, _ in events], dtype=object)
    vals = pd.Series([np.nan if v is None else v for v in values[: len(events)]], dtype="float64")
    count, mean = prior_window(times, groups, vals, pd.Timedelta(days=window))
    for i in range(len(events)):
        if groups[i] is None:
            assert count[i] == 0 and np.isnan(mean[i])
            continue
        mask = (groups == groups[i]) & (times >= times[i] - pd.Timedelta(days=window)) & (times < times[i])
        assert count[i] == mask.sum()
        expect = vals[mask].dropna()
        assert np.isclose(mean[i], expect.mean() if len(expect) else np.nan, equal_nan=True)


def test_features_are_numeric_and_complete(features_20k):
    assert list(features_20k.columns[-len(FEATURES):]) == list(FEATURES)
    assert all(features_20k[c].dtype == "float64" for c in FEATURES)
    assert features_20k["application_id"].is_unique


def test_missing_required_column_is_named(source_20k):
    apps = source_20k["applications"].drop(columns=["loan_amount"])
    with pytest.raises(ValueError, match="lacks column.*loan_amount"):
        build_features(apps, source_20k["credit_reports"], source_20k["county_economics"])


def test_upper_case_columns_from_snowflake_are_accepted(source_20k):
    s = {k: v.head(500).rename(columns=str.upper) for k, v in source_20k.items()}
    out = build_features(s["applications"], s["credit_reports"], s["county_economics"])
    assert len(out) == 500


@settings(max_examples=60, deadline=None)
@given(
    left=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.integers(0, 50)), min_size=1, max_size=30),
    right=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50), st.floats(0, 1)), max_size=30),
)
def test_as_of_join_matches_brute_force(left, right):
    base = pd.Timestamp("2024-01-01")
    lf = pd.DataFrame({"k": pd.array([k for k, _ in left], dtype="Int64"),
                       "t": [base + pd.Timedelta(hours=h) for _, h in left]})
    rf = pd.DataFrame({"k": [k for k, _, _ in right], "at": [base + pd.Timedelta(hours=h) for _, h, _ in right],
                       "v": [v for _, _, v in right]})
    out = as_of_join(lf, rf, left_on="t", right_on="at", by="k", columns=["v", "at"])
    for i, (k, h) in enumerate(left):
        t = base + pd.Timedelta(hours=h)
        cands = [(at, v) for kk, at_h, v in right for at in [base + pd.Timedelta(hours=at_h)] if k is not None and kk == k and at <= t]
        if not cands:
            assert pd.isna(out["at"].iloc[i]) and np.isnan(out["v"].iloc[i])
        else:
            latest = max(at for at, _ in cands)
            assert out["at"].iloc[i] == latest
            assert out["v"].iloc[i] in [v for at, v in cands if at == latest]  # ties: any row of that instant
