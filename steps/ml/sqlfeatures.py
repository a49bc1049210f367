"""The point-in-time features as ONE Snowflake SQL text: run by Snowflake on the warehouse, by DuckDB locally.

Why SQL text and not Snowpark DataFrames or pandas: the features must be computed where the data
lives. A Snowpark DataFrame only runs on Snowflake (Snowpark's local testing mode has no ASOF join
and runs in pandas, i.e. in Python memory), and pandas pulls every table into one process. Snowflake
SQL runs as written on the warehouse and, translated by sqlglot (dagc.engine.snowsql: one rewrite,
ASOF JOIN ... MATCH_CONDITION -> DuckDB's ASOF LEFT JOIN), on the local DuckDB warehouse: the same
text on both targets, set-based on both, with only counts and summaries coming back to Python.

The definition (what features.py documents, and what its pandas implementation, kept as the
independent reference for the tests, computes the same way):
- as-of joins: the latest credit report and county economics row with a timestamp <= the event's
  (a report at the same instant counts; anything later does not), by applicant / county;
- rolling windows over epoch microseconds, RANGE BETWEEN <window> PRECEDING AND 1 PRECEDING, i.e.
  [t - window, t): strictly before the event, so a row never sees itself or anything at its time;
  NULL for a row without a county;
- ratios with NULLIF-guarded denominators, and categorical codes from the fixed vocabularies.

Identifiers passed in are checked to be plain (they are interpolated into the text).
"""

from __future__ import annotations

import re
from typing import Sequence

from steps.ml.data import COUNTIES, LABEL, LOAN_PURPOSES, LOAN_TYPES
from steps.ml.features import FEATURES, MAX_WINDOW

US_PER_DAY = 86_400_000_000
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")


def ident(name: str) -> str:
    """A (possibly qualified) unquoted identifier, refused unless it is one."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"{name!r} is not a plain table name (letters, digits, underscores)")
    return name


def _literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _codes(column: str, vocabulary: Sequence[str]) -> str:
    cases = " ".join(f"WHEN {_literal(v)} THEN {i}" for i, v in enumerate(vocabulary))
    return f"CAST(CASE {column} {cases} END AS DOUBLE)"


def _window(expr: str, days: int) -> str:
    span = days * US_PER_DAY
    return (f"{expr} OVER (PARTITION BY county ORDER BY t_us "
            f"RANGE BETWEEN {span} PRECEDING AND 1 PRECEDING)")


def feature_ctes(apps_sql: str, credit: str, econ: str, *, labelled: bool) -> str:
    """WITH-list entries ending in `features`: one row per row of `apps_sql` (which names `application_id`,
    `applicant_id`, `event_time`, the raw columns and, if labelled, the label), with FEATURES, the
    joined rows' timestamps (`credit_reported_at`, `economics_as_of`) and `t_us` (epoch microseconds)."""
    label = f", {LABEL}" if labelled else ""
    income = "IFF(CAST(applicant_income AS DOUBLE) > 0, CAST(applicant_income AS DOUBLE), NULL)"
    feats = {
        "applicant_income": "income",
        "loan_amount": "loan",
        "log_income": "LN(income)",
        "loan_to_income": "lti",
        "credit_score": "cr_score",
        "credit_age_days": f"DATEDIFF(microsecond, credit_reported_at, event_time) / {US_PER_DAY}.0",
        "has_credit_history": "IFF(cr_score IS NULL, 0.0, 1.0)",
        "unemployment_rate": "unemployment_rate",
        "house_price_index": "house_price_index",
        "loan_to_hpi": "loan / NULLIF(house_price_index * 1000.0, 0)",
        "county_apps_30d": "IFF(county IS NULL, NULL, apps_30d)",
        "county_income_90d": "IFF(county IS NULL, NULL, income_90d)",
        "income_vs_county": "income / NULLIF(IFF(county IS NULL, NULL, income_90d), 0)",
        "county_lti_90d": "IFF(county IS NULL, NULL, lti_90d)",
        "loan_type_code": _codes("loan_type", LOAN_TYPES),
        "loan_purpose_code": _codes("loan_purpose", LOAN_PURPOSES),
        "county_code": _codes("county", COUNTIES),
    }
    assert tuple(feats) == FEATURES, "the SQL must build exactly FEATURES, in order"
    assert MAX_WINDOW.days == 90
    projected = ",\n    ".join(f"CAST({expr} AS DOUBLE) AS {name}" for name, expr in feats.items())
    return f"""src AS (
  SELECT application_id, applicant_id, CAST(event_time AS TIMESTAMP_NTZ) AS event_time, loan_type, loan_purpose,
         county, {income} AS income, CAST(loan_amount AS DOUBLE) AS loan{label}
  FROM ({apps_sql})
),
credit AS (
  SELECT applicant_id, CAST(reported_at AS TIMESTAMP_NTZ) AS reported_at, CAST(credit_score AS DOUBLE) AS credit_score
  FROM {ident(credit)} WHERE applicant_id IS NOT NULL AND reported_at IS NOT NULL
),
econ AS (
  SELECT county, CAST(as_of AS TIMESTAMP_NTZ) AS as_of, CAST(unemployment_rate AS DOUBLE) AS unemployment_rate,
         CAST(house_price_index AS DOUBLE) AS house_price_index
  FROM {ident(econ)} WHERE county IS NOT NULL AND as_of IS NOT NULL
),
with_credit AS (
  SELECT s.*, c.credit_score AS cr_score, c.reported_at AS credit_reported_at
  FROM src s ASOF JOIN credit c MATCH_CONDITION (s.event_time >= c.reported_at) ON s.applicant_id = c.applicant_id
),
with_econ AS (
  SELECT w.*, e.unemployment_rate, e.house_price_index, e.as_of AS economics_as_of
  FROM with_credit w ASOF JOIN econ e MATCH_CONDITION (w.event_time >= e.as_of) ON w.county = e.county
),
timed AS (
  SELECT *, DATE_PART(epoch_microsecond, event_time) AS t_us, loan / NULLIF(income, 0) AS lti FROM with_econ
),
windowed AS (
  SELECT *,
    {_window("COUNT(*)", 30)} AS apps_30d,
    {_window("AVG(income)", 90)} AS income_90d,
    {_window("AVG(lti)", 90)} AS lti_90d
  FROM timed
),
features AS (
  SELECT application_id, event_time, t_us{label}, credit_reported_at, economics_as_of,
    {projected}
  FROM windowed
)"""


def _source(apps: str, as_of: str | None = None) -> str:
    cols = "application_id, applicant_id, event_time, loan_type, loan_purpose, applicant_income, loan_amount, county"
    cut = ""
    if as_of:  # a run at a logical date sees only the events before it (a backfill's as-of cut)
        import pandas as pd

        cut = (f" WHERE CAST(event_time AS TIMESTAMP_NTZ) < "
               f"CAST({_literal(pd.Timestamp(as_of).isoformat())} AS TIMESTAMP_NTZ)")
    return f"SELECT {cols}, {LABEL} FROM {ident(apps)}{cut}"


def dataset_select(apps: str, credit: str, econ: str, *, validation_fraction: float, test_fraction: float,
                   as_of: str | None = None) -> str:
    """Labelled rows with FEATURES and `split`, ordered by (event_time, application_id).

    Pending rows (label NULL) are history the windows count, not training rows. The temporal split
    cuts at the labelled times' discrete percentiles 1 - v - t and 1 - t (train < validation start
    <= validation < test start <= test); with too few distinct times for two cuts the test cut moves
    to the next later time, so events at one instant always share a split.
    """
    v_cut = 1.0 - float(validation_fraction) - float(test_fraction)
    t_cut = 1.0 - float(test_fraction)
    columns = ", ".join(["application_id", "event_time", f"CAST({LABEL} AS INT) AS {LABEL}", "credit_reported_at",
                         "economics_as_of", *FEATURES])
    return f"""WITH {feature_ctes(_source(apps, as_of), credit, econ, labelled=True)},
labelled AS (SELECT * FROM features WHERE {LABEL} IS NOT NULL),
cuts AS (
  SELECT PERCENTILE_DISC({v_cut!r}) WITHIN GROUP (ORDER BY t_us) AS v_us,
         PERCENTILE_DISC({t_cut!r}) WITHIN GROUP (ORDER BY t_us) AS t_raw
  FROM labelled
),
bounds AS (
  SELECT v_us, COALESCE(IFF(t_raw > v_us, t_raw, NULL),
                        (SELECT MIN(t_us) FROM labelled WHERE t_us > (SELECT v_us FROM cuts)), t_raw) AS t_us_cut
  FROM cuts
)
SELECT {columns},
  CASE WHEN l.t_us < b.v_us THEN 'train' WHEN l.t_us < b.t_us_cut THEN 'validation' ELSE 'test' END AS split
FROM labelled l CROSS JOIN bounds b
ORDER BY event_time, application_id"""


def scoring_select(apps: str, credit: str, econ: str, *, data_end: str, scored: str | None,
                   features: Sequence[str]) -> str:
    """Features of the applications after `data_end` (ISO time) that `scored` (a table with
    application_id, or None) does not hold yet; windows see the 90 days of history before them."""
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ValueError(f"feature(s) this code does not build: {', '.join(unknown)}")
    anti = (f" AND NOT EXISTS (SELECT 1 FROM {ident(scored)} p WHERE p.application_id = a.application_id)"
            if scored else "")
    fresh = (f"SELECT a.application_id, CAST(a.event_time AS TIMESTAMP_NTZ) AS event_time FROM {ident(apps)} a "
             f"WHERE CAST(a.event_time AS TIMESTAMP_NTZ) > CAST({_literal(data_end)} AS TIMESTAMP_NTZ){anti}")
    history = (f"SELECT h.application_id, h.applicant_id, h.event_time, h.loan_type, h.loan_purpose, h.applicant_income, "
               f"h.loan_amount, h.county FROM {ident(apps)} h WHERE CAST(h.event_time AS TIMESTAMP_NTZ) >= "
               f"(SELECT DATEADD(day, -{MAX_WINDOW.days}, MIN(event_time)) FROM fresh)")
    cols = ", ".join(["f.application_id", "f.event_time", *(f"f.{c}" for c in features)])
    return f"""WITH fresh AS ({fresh}),
{feature_ctes(history, credit, econ, labelled=False)}
SELECT {cols} FROM features f WHERE f.application_id IN (SELECT application_id FROM fresh)
ORDER BY f.event_time, f.application_id"""
