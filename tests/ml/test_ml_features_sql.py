"""The feature SQL (steps/ml/sqlfeatures.py) against the independent pandas reference (features.py),
and its point-in-time property: an as-of value never comes from after the event."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steps.ml.features import FEATURES, build_features
from steps.ml.sqlfeatures import dataset_select, scoring_select


@pytest.fixture(scope="module")
def reference_20k(source_20k):
    s = source_20k
    return build_features(s["applications"], s["credit_reports"], s["county_economics"]).set_index("application_id")


@pytest.fixture(scope="module")
def warehouse_20k(source_20k, tmp_path_factory):
    from dagc.engine.tables import DuckTables

    t = DuckTables(tmp_path_factory.mktemp("wh"))
    t.write("APPS", source_20k["applications"])
    t.write("CREDIT", source_20k["credit_reports"])
    t.write("ECON", source_20k["county_economics"])
    return t


def _lower(df):
    df.columns = [str(c).lower() for c in df.columns]
    return df


def test_sql_dataset_equals_the_pandas_reference(dataset_20k, reference_20k):
    ds, info = dataset_20k  # built by the SQL (pipeline.build_dataset runs warehouse.build_dataset)
    ref = reference_20k.loc[ds["application_id"]]
    assert len(ds) == 20_000 and sum(info["rows"].values()) == 20_000
    for f in FEATURES:
        assert np.allclose(ds[f].to_numpy("float64"), ref[f].to_numpy("float64"), equal_nan=True, rtol=1e-9), f
    for col in ("credit_reported_at", "economics_as_of"):
        a, b = pd.to_datetime(ds[col]).to_numpy(), pd.to_datetime(ref[col]).to_numpy()
        assert ((a == b) | (pd.isna(a) & pd.isna(b))).all(), col


def test_sql_dataset_never_looks_ahead(dataset_20k):
    ds, _ = dataset_20k
    t = pd.to_datetime(ds["event_time"])
    for col in ("credit_reported_at", "economics_as_of"):
        joined = pd.to_datetime(ds[col]).notna()
        assert joined.mean() > 0.8
        assert (pd.to_datetime(ds.loc[joined, col]) <= t[joined]).all(), col


def test_sql_split_is_temporal_and_sized(dataset_20k):
    ds, info = dataset_20k
    t = pd.to_datetime(ds["event_time"])
    assert t[ds["split"] == "train"].max() < t[ds["split"] == "validation"].min()
    assert t[ds["split"] == "validation"].max() < t[ds["split"] == "test"].min()
    assert info["validation_start"] == t[ds["split"] == "validation"].min().isoformat()
    for split, share in (("train", 0.70), ("validation", 0.15), ("test", 0.15)):
        assert abs(info["rows"][split] / len(ds) - share) < 0.01


def test_scoring_sql_gives_new_rows_the_same_features_as_full_history(source_20k, warehouse_20k, reference_20k):
    """Scoring reads only 90 days of history; its features equal those computed over everything."""
    end = pd.Timestamp(source_20k["applications"]["event_time"].quantile(0.9))
    n = warehouse_20k.create_table_as("SCORING", scoring_select("APPS", "CREDIT", "ECON", data_end=end.isoformat(),
                                                                scored=None, features=list(FEATURES)))
    got = _lower(warehouse_20k.read("SCORING")).set_index("application_id")
    fresh = source_20k["applications"].loc[source_20k["applications"]["event_time"] > end, "application_id"]
    assert n == len(fresh) and set(got.index) == set(fresh)
    ref = reference_20k.loc[got.index]
    for f in FEATURES:
        assert np.allclose(got[f].to_numpy("float64"), ref[f].to_numpy("float64"), equal_nan=True, rtol=1e-9), f


def test_scoring_sql_skips_rows_already_scored(source_20k, warehouse_20k):
    end = pd.Timestamp(source_20k["applications"]["event_time"].quantile(0.95)).isoformat()
    fresh = source_20k["applications"].loc[source_20k["applications"]["event_time"] > pd.Timestamp(end)]
    warehouse_20k.write("DONE", fresh[["application_id"]].head(100))
    n = warehouse_20k.create_table_as("SCORING2", scoring_select("APPS", "CREDIT", "ECON", data_end=end, scored="DONE",
                                                                 features=["credit_score"]))
    assert n == len(fresh) - 100


def test_the_text_is_snowflake_sql_and_duckdb_gets_its_asof_rewrite():
    import sqlglot

    from dagc.engine.snowsql import to_duckdb

    text = dataset_select("APPS", "CREDIT", "ECON", validation_fraction=0.15, test_fraction=0.15)
    sqlglot.parse_one(text, read="snowflake")  # what Snowflake receives parses as Snowflake SQL
    assert text.count("ASOF JOIN") == 2 and text.count("MATCH_CONDITION") == 2
    duck = to_duckdb(text)
    assert "MATCH_CONDITION" not in duck and duck.count("ASOF LEFT JOIN") == 2


def test_identifiers_are_checked():
    with pytest.raises(ValueError, match="not a plain table name"):
        dataset_select("APPS; DROP TABLE X", "C", "E", validation_fraction=0.1, test_fraction=0.1)


# ---- the property, on random small tables: as-of never looks ahead, windows are strictly prior ----

@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    from dagc.engine.tables import DuckTables

    return DuckTables(tmp_path_factory.mktemp("prop"))


@settings(max_examples=25, deadline=None)
@given(
    apps=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 60), st.sampled_from(["Adams", "Baker", None])),
                  min_size=1, max_size=25),
    reports=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 60), st.integers(300, 850)), max_size=25),
)
def test_sql_as_of_and_windows_match_brute_force(scratch, apps, reports):
    base = pd.Timestamp("2024-01-01")
    a = pd.DataFrame({
        "application_id": np.arange(len(apps), dtype="int64"),
        "applicant_id": [k for k, _, _ in apps],
        "event_time": [base + pd.Timedelta(days=d) for _, d, _ in apps],
        "loan_type": "fha", "loan_purpose": "purchase", "applicant_income": 50_000.0, "loan_amount": 100_000.0,
        "county": pd.Series([c for _, _, c in apps], dtype=object), "approved": 1,
    })
    c = pd.DataFrame({"applicant_id": pd.Series([k for k, _, _ in reports], dtype="int64"),
                      "reported_at": pd.Series([base + pd.Timedelta(days=d) for _, d, _ in reports], dtype="datetime64[ns]"),
                      "credit_score": pd.Series([float(s) for _, _, s in reports], dtype="float64")})
    e = pd.DataFrame({"county": ["Adams"], "as_of": [base], "unemployment_rate": [5.0], "house_price_index": [200.0]})
    scratch.write("A", a)
    scratch.write("C", c)
    scratch.write("E", e)
    scratch.create_table_as("F", scoring_select("A", "C", "E", data_end="2000-01-01", scored=None,
                                                features=["credit_score", "county_apps_30d"]))
    f = _lower(scratch.query("SELECT * FROM F")).set_index("application_id")
    for i, (k, d, county) in enumerate(apps):
        t = base + pd.Timedelta(days=d)
        known = [s for kk, dd, s in reports if kk == k and base + pd.Timedelta(days=dd) <= t]
        if not known:
            assert np.isnan(f.loc[i, "credit_score"])
        else:
            latest = max(dd for kk, dd, _ in reports if kk == k and base + pd.Timedelta(days=dd) <= t)
            assert f.loc[i, "credit_score"] in [s for kk, dd, s in reports if kk == k and dd == latest]
        if county is None:
            assert np.isnan(f.loc[i, "county_apps_30d"])
        else:
            prior = sum(1 for _, dd, cc in apps if cc == county and t - pd.Timedelta(days=30) <= base + pd.Timedelta(days=dd) < t)
            assert f.loc[i, "county_apps_30d"] == prior


def test_set_based_statements_fail_clearly(scratch):
    from dagc.diagnostics import DagcError

    with pytest.raises(DagcError, match="creating table X failed: .*missing_table does not exist"):
        scratch.create_table_as("X", "SELECT a FROM missing_table")
    with pytest.raises(DagcError, match="cannot parse the Snowflake SQL"):
        scratch.query("SELECT FROM WHERE (")
    with pytest.raises(DagcError, match="query failed"):
        list(scratch.read_batches("SELECT nope FROM F"))
    # after a failure the shared connection is back to its defaults, and works
    assert scratch.query("SELECT current_setting('preserve_insertion_order') AS p").iloc[0, 0] in (True, "true")


def test_read_batches_streams_in_the_tables_order(scratch):
    scratch.create_table_as("SEQ", "SELECT seq4() AS i FROM TABLE(GENERATOR(ROWCOUNT => 2500)) ORDER BY i")
    sizes = [len(b) for b in scratch.read_batches("SELECT i FROM SEQ", batch_rows=1000)]
    assert sizes == [1000, 1000, 500]
