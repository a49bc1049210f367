"""Point-in-time features: every value a row sees was known at that row's event time.

- As-of joins (`as_of_join`): for each application, the latest credit report and the latest
  county economics snapshot with a timestamp <= the application's time (a report taken at the
  exact same second counts as known; anything later does not). A plain "latest report" join would
  leak the outcome, because reports taken after a decision move with it (see data.py).
- Rolling windows (`prior_window`): per-county counts and means over [t - window, t), strictly
  before the event, so an application never sees itself or anything at or after its own time.
- Ratios and codes: loan-to-income, income relative to the county's recent applicants, loan
  relative to local house prices; categoricals become codes in a FIXED vocabulary (data.py), so
  training and scoring encode identically without storing an encoder.

The same function serves training (history) and scoring (history + new rows), which is what
keeps training and serving features identical.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from steps.ml.data import COUNTIES, LABEL, LOAN_PURPOSES, LOAN_TYPES

ID = "application_id"
TIME = "event_time"
FEATURES: tuple[str, ...] = (
    "applicant_income",
    "loan_amount",
    "log_income",
    "loan_to_income",
    "credit_score",
    "credit_age_days",
    "has_credit_history",
    "unemployment_rate",
    "house_price_index",
    "loan_to_hpi",
    "county_apps_30d",
    "county_income_90d",
    "income_vs_county",
    "county_lti_90d",
    "loan_type_code",
    "loan_purpose_code",
    "county_code",
)
# Source columns the features come from; a column that is entirely missing makes them meaningless.
RAW_FEATURE_COLUMNS = ("applicant_income", "loan_amount", "loan_type", "loan_purpose", "county")
REQUIRED = {
    "applications": ("application_id", "applicant_id", "event_time", "loan_type", "loan_purpose",
                     "applicant_income", "loan_amount", "county"),
    "credit_reports": ("applicant_id", "reported_at", "credit_score"),
    "county_economics": ("county", "as_of", "unemployment_rate", "house_price_index"),
}
MAX_WINDOW = pd.Timedelta(days=90)  # the longest look-back; scoring needs this much history


def normalise(df: pd.DataFrame, table: str, kind: str) -> pd.DataFrame:
    """Lower-case column names (Snowflake returns them upper-case) and check the required ones."""
    df = df.rename(columns={c: str(c).lower() for c in df.columns})
    missing = [c for c in REQUIRED[kind] if c not in df.columns]
    if missing:
        raise ValueError(
            f"table {table} lacks column(s) {', '.join(missing)}; expected at least {', '.join(REQUIRED[kind])}"
        )
    return df


def as_of_join(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    left_on: str,
    right_on: str,
    by: str,
    columns: Sequence[str],
) -> pd.DataFrame:
    """`columns` of the latest `right` row with right_on <= left_on and the same `by` key.

    Returns a frame aligned with `left`'s index. Rows whose key is missing, or with no earlier
    right row, get NaN/NaT.
    """
    out = pd.DataFrame(index=left.index, columns=list(columns), dtype="float64")
    for col in columns:
        if pd.api.types.is_datetime64_any_dtype(right[col]):
            out[col] = pd.Series(pd.NaT, index=left.index, dtype="datetime64[ns]")
    keyed = left[left[by].notna() & left[left_on].notna()]
    rights = right[right[by].notna() & right[right_on].notna()]
    if keyed.empty or rights.empty:
        return out
    numeric = pd.api.types.is_numeric_dtype(keyed[by]) and pd.api.types.is_numeric_dtype(rights[by])
    key = (lambda s: s.astype("int64").to_numpy()) if numeric else (lambda s: s.astype(str).to_numpy())
    l = pd.DataFrame({"_row": keyed.index, "_t": pd.to_datetime(keyed[left_on]).astype("datetime64[ns]"), "_k": key(keyed[by])})
    r = rights[[right_on, *[c for c in columns if c != right_on]]].copy()
    r["_k"] = key(rights[by])
    r["_t"] = pd.to_datetime(rights[right_on]).astype("datetime64[ns]")
    merged = pd.merge_asof(
        l.sort_values("_t", kind="stable"),
        r.sort_values("_t", kind="stable"),
        on="_t",
        by="_k",
        direction="backward",
        allow_exact_matches=True,
    )
    merged = merged.set_index("_row")
    for col in columns:
        out.loc[merged.index, col] = merged[col].values
    return out


def prior_window(
    times: pd.Series, groups: pd.Series, values: pd.Series | None, window: pd.Timedelta
) -> tuple[np.ndarray, np.ndarray]:
    """Per group, over rows with time in [t - window, t): (row count, mean of non-missing values).

    Vectorised: rows sorted by (group, time) get one monotone key, group * offset + seconds, where
    the offset exceeds the data span plus the window, so a window never reaches into another group.
    Rows with a missing group get count 0 and mean NaN.
    """
    n = len(times)
    count = np.zeros(n, dtype="float64")
    mean = np.full(n, np.nan)
    t = pd.to_datetime(times).astype("datetime64[ns]").to_numpy().astype("int64") // 1_000_000_000
    codes, _ = pd.factorize(groups, use_na_sentinel=True)
    ok = np.flatnonzero((codes >= 0) & (t > np.iinfo("int64").min // 1_000_000_000))
    if ok.size == 0:
        return count, mean
    w = int(window.total_seconds())
    t0 = t[ok].min()
    offset = int(t[ok].max() - t0) + w + 1
    order = ok[np.lexsort((t[ok], codes[ok]))]
    key = codes[order].astype("int64") * offset + (t[order] - t0)
    lo = np.searchsorted(key, key - w, side="left")
    hi = np.searchsorted(key, key, side="left")
    count[order] = hi - lo
    if values is not None:
        v = np.asarray(values, dtype="float64")[order]
        present = ~np.isnan(v)
        cs = np.concatenate([[0.0], np.cumsum(np.where(present, v, 0.0))])
        cn = np.concatenate([[0], np.cumsum(present)])
        nn = cn[hi] - cn[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[order] = np.where(nn > 0, (cs[hi] - cs[lo]) / np.maximum(nn, 1), np.nan)
    return count, mean


def _codes(values: pd.Series, vocabulary: Sequence[str]) -> np.ndarray:
    lookup = {v: float(i) for i, v in enumerate(vocabulary)}
    return values.map(lambda v: lookup.get(v, np.nan) if isinstance(v, str) else np.nan).to_numpy(dtype="float64")


def build_features(apps: pd.DataFrame, credit: pd.DataFrame, econ: pd.DataFrame) -> pd.DataFrame:
    """One row per application (sorted by time, id): id, time, label if present, FEATURES.

    Also keeps `credit_reported_at` and `economics_as_of`, the timestamps of the joined rows, so
    anyone can check that no feature came from after the event.
    """
    apps = normalise(apps, "applications", "applications")
    credit = normalise(credit, "credit_reports", "credit_reports")
    econ = normalise(econ, "county_economics", "county_economics")
    apps = apps.assign(**{TIME: pd.to_datetime(apps[TIME]).astype("datetime64[ns]")})
    apps = apps.sort_values([TIME, ID], kind="stable").reset_index(drop=True)

    income = pd.to_numeric(apps["applicant_income"], errors="coerce").astype("float64")
    income = income.where(income > 0)
    loan = pd.to_numeric(apps["loan_amount"], errors="coerce").astype("float64")
    out = pd.DataFrame({ID: apps[ID].to_numpy(), TIME: apps[TIME].to_numpy()})
    if LABEL in apps.columns:
        out[LABEL] = pd.to_numeric(apps[LABEL], errors="coerce").to_numpy()

    cr = as_of_join(apps, credit, left_on=TIME, right_on="reported_at", by="applicant_id", columns=["credit_score", "reported_at"])
    ec = as_of_join(apps, econ, left_on=TIME, right_on="as_of", by="county", columns=["unemployment_rate", "house_price_index", "as_of"])
    out["credit_reported_at"] = cr["reported_at"].to_numpy()
    out["economics_as_of"] = ec["as_of"].to_numpy()

    lti = (loan / income).to_numpy()
    apps_30d, _ = prior_window(apps[TIME], apps["county"], None, pd.Timedelta(days=30))
    _, income_90d = prior_window(apps[TIME], apps["county"], income, pd.Timedelta(days=90))
    _, lti_90d = prior_window(apps[TIME], apps["county"], pd.Series(lti), pd.Timedelta(days=90))
    hpi = pd.to_numeric(ec["house_price_index"], errors="coerce").to_numpy(dtype="float64")
    credit_age = (apps[TIME] - pd.to_datetime(cr["reported_at"])).dt.total_seconds().to_numpy() / 86_400
    with np.errstate(invalid="ignore", divide="ignore"):
        feats = {
            "applicant_income": income.to_numpy(),
            "loan_amount": loan.to_numpy(),
            "log_income": np.log(income.to_numpy()),
            "loan_to_income": lti,
            "credit_score": pd.to_numeric(cr["credit_score"], errors="coerce").to_numpy(dtype="float64"),
            "credit_age_days": credit_age,
            "has_credit_history": cr["credit_score"].notna().to_numpy(dtype="float64"),
            "unemployment_rate": pd.to_numeric(ec["unemployment_rate"], errors="coerce").to_numpy(dtype="float64"),
            "house_price_index": hpi,
            "loan_to_hpi": loan.to_numpy() / (hpi * 1000.0),
            "county_apps_30d": np.where(apps["county"].notna(), apps_30d, np.nan),
            "county_income_90d": income_90d,
            "income_vs_county": income.to_numpy() / income_90d,
            "county_lti_90d": lti_90d,
            "loan_type_code": _codes(apps["loan_type"], LOAN_TYPES),
            "loan_purpose_code": _codes(apps["loan_purpose"], LOAN_PURPOSES),
            "county_code": _codes(apps["county"], COUNTIES),
        }
    for name in FEATURES:
        out[name] = feats[name].astype("float64")
    return out


def all_missing_columns(apps: pd.DataFrame) -> list[str]:
    """Raw feature columns with no value at all: training on them would learn nothing."""
    return [c for c in RAW_FEATURE_COLUMNS if c in apps.columns and apps[c].isna().all()]
