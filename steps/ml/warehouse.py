"""The training and scoring data work, done where the data lives, over any `ctx.tables`.

Every function takes a Tables object (the local DuckDB warehouse, or Snowflake) and runs the SQL
of sqlfeatures.py through its set-based methods (`create_table_as`, `query`, `read_batches`).
What comes back to Python is small: row counts, per-split summaries, cut points. Training data
comes back batch by batch (`batches`), so memory is one batch, not one table.

Bad input raises ValueError with the message a user needs (the step wrappers turn it into a
DagcError); the checks are aggregate queries, so they cost one scan, not a download.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import pandas as pd

from steps.ml.data import LABEL
from steps.ml.features import FEATURES, RAW_FEATURE_COLUMNS, REQUIRED
from steps.ml.split import SPLITS
from steps.ml.sqlfeatures import dataset_select, ident, scoring_select

BATCH_ROWS = 500_000


def columns_of(tables: Any, table: str) -> list[str]:
    """The table's column names, lower-case (no rows read)."""
    df = tables.query(f"SELECT * FROM {ident(table)} LIMIT 0")
    return [str(c).lower() for c in df.columns]


def _require(tables: Any, table: str, kind: str) -> list[str]:
    have = columns_of(tables, table)
    missing = [c for c in REQUIRED[kind] if c not in have]
    if missing:
        raise ValueError(
            f"table {table} lacks column(s) {', '.join(missing)}; expected at least {', '.join(REQUIRED[kind])}")
    return have


def check_fractions(validation_fraction: float, test_fraction: float) -> None:
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
            raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    if validation_fraction + test_fraction >= 0.9:
        raise ValueError(
            f"validation_fraction + test_fraction = {validation_fraction + test_fraction:.2f} leaves "
            "too little to train on; keep their sum below 0.9")


def check_source(tables: Any, apps: str, credit: str, econ: str, *, as_of: str | None = None) -> dict[str, int]:
    """Refuse a source that cannot make a dataset, with one aggregate query over it (over the
    events before `as_of`, when given: what was known at a run's logical date)."""
    have = _require(tables, apps, "applications")
    _require(tables, credit, "credit_reports")
    _require(tables, econ, "county_economics")
    if LABEL not in have:
        raise ValueError(f"table {apps} has no label column {LABEL!r}")
    present = ", ".join(f"COUNT(IFF({LABEL} IS NOT NULL, {c}, NULL)) AS has_{c}" for c in RAW_FEATURE_COLUMNS)
    row = tables.query(
        f"SELECT COUNT(*) AS n, COUNT({LABEL}) AS labelled, COUNT_IF({LABEL} = 1) AS positives, "
        f"COUNT_IF({LABEL} = 0) AS negatives, COUNT_IF(event_time IS NULL AND {LABEL} IS NOT NULL) AS no_time, "
        f"{present} FROM {ident(apps)}{before(as_of)}").iloc[0]
    row = {str(k).lower(): int(v) if pd.notna(v) else 0 for k, v in row.items()}
    if row["labelled"] == 0:
        raise ValueError(f"table {apps} has no labelled rows ({row['n']} rows, none with {LABEL} set); nothing to train on")
    if row["positives"] + row["negatives"] < row["labelled"]:
        cut = before(as_of).replace(" WHERE ", " AND ")
        bad = tables.query(f"SELECT DISTINCT {LABEL} AS v FROM {ident(apps)} WHERE {LABEL} NOT IN (0, 1){cut} "
                           "ORDER BY 1 LIMIT 5")
        values = [float(v) if float(v) != int(v) else int(v) for v in bad.iloc[:, 0]]
        raise ValueError(f"label {LABEL!r} must be 0 or 1; table {apps} also has {values}")
    if row["positives"] == 0 or row["negatives"] == 0:
        one = 1 if row["positives"] else 0
        raise ValueError(f"label {LABEL!r} has a single class ({one}) in all {row['labelled']} labelled rows of "
                         f"{apps}; a classifier needs both approved and denied applications")
    empty = [c for c in RAW_FEATURE_COLUMNS if row[f"has_{c}"] == 0]
    if empty:
        raise ValueError(f"feature column(s) {', '.join(empty)} of {apps} contain only missing values; "
                         "fix the source or its load before training")
    if row["no_time"]:
        raise ValueError(f"{row['no_time']} event(s) have no timestamp; a temporal split needs one on every row")
    return row


def before(as_of: str | None) -> str:
    """` WHERE event_time < <as_of>` (Snowflake SQL), or nothing."""
    if not as_of:
        return ""
    return f" WHERE CAST(event_time AS TIMESTAMP_NTZ) < CAST('{pd.Timestamp(as_of).isoformat()}' AS TIMESTAMP_NTZ)"


def summarize(tables: Any, table: str) -> pd.DataFrame:
    """Per split: rows, positives, first/last event, and how many rows have each feature."""
    present = ", ".join(f"COUNT({f}) AS n_{f}" for f in FEATURES)
    df = tables.query(f"SELECT split, COUNT(*) AS n, SUM({LABEL}) AS positives, MIN(event_time) AS first_time, "
                      f"MAX(event_time) AS last_time, {present} FROM {ident(table)} GROUP BY split")
    df.columns = [str(c).lower() for c in df.columns]
    return df.set_index("split")


def build_dataset(tables: Any, *, apps: str, credit: str, econ: str, target: str,
                  validation_fraction: float = 0.15, test_fraction: float = 0.15,
                  as_of: str | None = None) -> dict[str, Any]:
    """Write the dataset table `target` (labelled rows, FEATURES, `split`); return its summary.

    With `as_of` (an ISO time) only events before it are used, as a run at that logical date saw them."""
    check_fractions(validation_fraction, test_fraction)
    check_source(tables, apps, credit, econ, as_of=as_of)
    tables.create_table_as(target, dataset_select(apps, credit, econ, validation_fraction=validation_fraction,
                                                  test_fraction=test_fraction, as_of=as_of))
    s = summarize(tables, target)
    rows = {name: int(s.loc[name, "n"]) if name in s.index else 0 for name in SPLITS}
    empty = [name for name, n in rows.items() if n == 0]
    if empty:
        raise ValueError(f"the temporal split left {', '.join(empty)} empty ({sum(rows.values())} rows); "
                         "the source needs more rows spread over time")
    train_rows = int(s.loc["train", "n"])
    hollow = [f for f in FEATURES if int(s.loc["train", f"n_{f}"]) == 0]
    if hollow:
        raise ValueError(
            f"feature(s) {', '.join(hollow)} have no value in any of the {train_rows} training rows; "
            "check that the credit reports and county economics tables cover the applications "
            "(same applicant ids and counties, timestamps before the events)")
    for name in SPLITS:
        pos, n = int(s.loc[name, "positives"]), int(s.loc[name, "n"])
        if pos in (0, n):
            raise ValueError(f"the {name} split ({n} rows) has a single class ({1 if pos else 0}); "
                             "there are too few denied or approved applications in that period")
    iso = lambda t: pd.Timestamp(t).isoformat()  # noqa: E731
    return {
        "rows": rows,
        "positive_rate": {name: round(int(s.loc[name, "positives"]) / rows[name], 4) for name in SPLITS},
        "validation_start": iso(s.loc["validation", "first_time"]),
        "test_start": iso(s.loc["test", "first_time"]),
        "data_start": iso(s["first_time"].min()),
        "data_end": iso(s["last_time"].max()),
        "features": list(FEATURES),
        "label": LABEL,
    }


def build_scoring_features(tables: Any, *, apps: str, credit: str, econ: str, target: str, data_end: str,
                           scored: str | None, features: Sequence[str]) -> int:
    """Write `target`: application_id, event_time and `features` of the unscored rows after data_end."""
    _require(tables, apps, "applications")
    return int(tables.create_table_as(target, scoring_select(apps, credit, econ, data_end=data_end, scored=scored,
                                                             features=features)))


def split_select(table: str, splits: Sequence[str], columns: Sequence[str]) -> str:
    """The SELECT for some splits' rows of a dataset table, in a stable order."""
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ValueError(f"unknown split(s) {bad}")
    names = ", ".join(f"'{s}'" for s in splits)
    return (f"SELECT {', '.join(ident(c) for c in columns)} FROM {ident(table)} WHERE split IN ({names}) "
            "ORDER BY event_time, application_id")


def batches(tables: Any, table: str, splits: Sequence[str], columns: Sequence[str],
            batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Rows of the given splits, `columns` only, batch by batch, column names lower-case."""
    for df in tables.read_batches(split_select(table, splits, columns), batch_rows):
        df.columns = [str(c).lower() for c in df.columns]
        yield df


def frame(tables: Any, table: str, splits: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """The same rows as one frame (small splits only: tests, samples)."""
    parts = list(batches(tables, table, splits, columns))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))


def info_rows(info: Mapping[str, Any]) -> int:
    return int(sum(info["rows"].values()))
