"""Synthetic mortgage applications: deterministic, seeded, learnable, and as messy as real ones.

Three source tables, shaped like what a lender actually has:

- applications: one row per application (id, applicant, time, loan type and purpose, stated
  income, loan amount, county) and the decision `approved` (0/1; null while pending);
- credit_reports: bureau snapshots per applicant over time, some of them taken AFTER the decision,
  and those move with the outcome (a denial is followed by more inquiries). A join that ignores
  time leaks the label, so the as-of join in features.py matters;
- county_economics: weekly unemployment rate and house price index per county.

The label comes from a known logistic model of true (unobserved) quantities: credit quality,
loan-to-income, income, local unemployment, loan type/purpose and county, so there is a real
signal to learn, but the model only sees noisy, faulty observations: skewed incomes, missing
income/county/purpose, incomes typed per month instead of per year, applicants with no credit
history, about 22% denials (class imbalance) and a slow macro trend (drift over time).

The "world" (county sizes, income levels, economics) is fixed by WORLD_SEED, so a later batch
(`generate_batch`, used by the inference pipeline) continues the same world; `seed` only drives
the sampling of applications. Same arguments, same frames, on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd

WORLD_SEED = 20240101
START = pd.Timestamp("2024-01-01")
SPAN_DAYS = 730
EPOCH = pd.Timestamp("2023-01-02")  # a Monday: economics are published weekly from here

LOAN_TYPES = ("conventional", "fha", "va", "usda")
LOAN_TYPE_P = (0.68, 0.20, 0.09, 0.03)
LOAN_TYPE_EFFECT = (0.0, -0.35, 0.25, -0.15)
LOAN_PURPOSES = ("purchase", "refinance", "cash_out_refinance", "home_improvement")
LOAN_PURPOSE_P = (0.55, 0.25, 0.14, 0.06)
LOAN_PURPOSE_EFFECT = (0.0, 0.15, -0.55, -0.3)
COUNTIES = (
    "Adams", "Alder", "Baker", "Benton", "Birch", "Cedar", "Clark", "Clay", "Cook", "Crane",
    "Dale", "Delta", "Dunn", "Eagle", "Elm", "Fair", "Ford", "Grant", "Green", "Hale",
    "Hill", "Iron", "Jasper", "Kent", "Lake", "Lee", "Lima", "Logan", "Marsh", "Mesa",
    "Noble", "Oak", "Park", "Pine", "Polk", "Reed", "Ross", "Sage", "Stone", "Vale",
)

APPLICATION_COLUMNS = (
    "application_id", "applicant_id", "event_time", "loan_type", "loan_purpose",
    "applicant_income", "loan_amount", "county", "approved",
)
CREDIT_COLUMNS = ("applicant_id", "reported_at", "credit_score")
ECONOMICS_COLUMNS = ("county", "as_of", "unemployment_rate", "house_price_index")
LABEL = "approved"


@dataclass(frozen=True)
class World:
    """Per-county constants every batch shares."""

    weight: np.ndarray  # share of applications (Zipf-like: a few big counties)
    income_level: np.ndarray  # log-income offset
    unemployment_base: np.ndarray
    hpi_base: np.ndarray
    approval_effect: np.ndarray  # unobserved local lender behaviour


def world() -> World:
    rng = np.random.default_rng(WORLD_SEED)
    k = len(COUNTIES)
    weight = 1.0 / np.arange(1, k + 1) ** 0.9
    rng.shuffle(weight)
    return World(
        weight=weight / weight.sum(),
        income_level=rng.normal(0.0, 0.25, k),
        unemployment_base=rng.uniform(2.8, 8.5, k),
        hpi_base=rng.uniform(140.0, 420.0, k),
        approval_effect=rng.normal(0.0, 0.3, k),
    )


def _week_index(ts: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    days = (pd.to_datetime(ts) - EPOCH) / pd.Timedelta(days=1)
    return np.floor(np.asarray(days, dtype="float64") / 7.0).astype("int64")


def _economics_for_weeks(weeks: np.ndarray, w: World) -> tuple[np.ndarray, np.ndarray]:
    """Unemployment and HPI, shape (len(weeks), counties); a pure function of the week."""
    k = len(COUNTIES)
    unemp = np.empty((len(weeks), k))
    hpi = np.empty((len(weeks), k))
    for i, week in enumerate(weeks):
        rng = np.random.default_rng([WORLD_SEED, int(week) + 10_000])
        years = (week * 7 - (START - EPOCH).days) / 365.0
        unemp[i] = w.unemployment_base + 0.9 * years + 0.35 * np.sin(2 * np.pi * week / 52) + rng.normal(0, 0.15, k)
        hpi[i] = w.hpi_base * 1.04**years * (1 + rng.normal(0, 0.01, k))
    return np.clip(unemp, 1.5, 18.0).round(2), hpi.round(1)


def county_economics(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Weekly snapshots for every county with as_of in [start, end] (week starts)."""
    w = world()
    first, last = int(_week_index(pd.DatetimeIndex([start]))[0]), int(_week_index(pd.DatetimeIndex([end]))[0])
    weeks = np.arange(first, last + 1)
    unemp, hpi = _economics_for_weeks(weeks, w)
    k = len(COUNTIES)
    as_of = EPOCH + pd.to_timedelta(np.repeat(weeks * 7, k), unit="D")
    df = pd.DataFrame(
        {
            "county": np.tile(np.array(COUNTIES, dtype=object), len(weeks)),
            "as_of": as_of,
            "unemployment_rate": unemp.ravel(),
            "house_price_index": hpi.ravel(),
        }
    )
    return df[(df["as_of"] >= start) & (df["as_of"] <= end)].reset_index(drop=True)


def _simulate(
    rng: np.random.Generator, times: pd.DatetimeIndex, first_id: int, *, labelled: bool, shift: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Applications at `times` and their applicants' credit reports."""
    w = world()
    n = len(times)
    ids = np.arange(first_id, first_id + n, dtype="int64")
    applicant = (ids * 2654435761) % (2**31)  # a bijection: unique, unordered applicant ids
    c = rng.choice(len(COUNTIES), n, p=w.weight)
    lt = rng.choice(len(LOAN_TYPES), n, p=LOAN_TYPE_P)
    lp = rng.choice(len(LOAN_PURPOSES), n, p=LOAN_PURPOSE_P)

    # True, unobserved quantities; `shift` (0..1) is a macro shock used to demonstrate drift.
    true_income = np.exp(np.log(82_000) + w.income_level[c] + rng.normal(0, 0.5, n)) * (1 - 0.6 * shift)
    credit = np.clip(rng.normal(712, 58, n) - 120 * shift, 300, 850)
    ratio = np.exp(
        np.log(3.0) + 0.25 * (lt == 1) + 0.15 * (lp == 0) - 0.6 * (lp == 3) + rng.normal(0, 0.4, n)
    )
    loan_amount = np.maximum(np.round(true_income * ratio, -3), 10_000.0)
    ratio = loan_amount / true_income

    weeks = _week_index(times)
    uniq, inv = np.unique(weeks, return_inverse=True)
    unemp, _ = _economics_for_weeks(uniq, w)
    unemployment = unemp[inv, c] + 4.0 * shift

    logit = (
        2.6
        + 1.0 * (credit - 700) / 50
        - 0.9 * (ratio - 3.0)
        - 0.8 * np.maximum(ratio - 4.5, 0)
        + 0.5 * np.log(true_income / 82_000)
        - 0.22 * (unemployment - 5.0)
        - 0.9 * ((credit < 640) & (ratio > 4.0))
        + np.asarray(LOAN_TYPE_EFFECT)[lt]
        + np.asarray(LOAN_PURPOSE_EFFECT)[lp]
        + w.approval_effect[c]
    )
    approved = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")

    # What the lender's system recorded: rounded, skewed, sometimes wrong or missing.
    income = np.round(true_income, -2)
    monthly = rng.random(n) < 0.006  # typed per month
    income = np.where(monthly, np.round(true_income / 12, -1), income)
    income = np.where(rng.random(n) < 0.001, income * 10, income)  # an extra zero
    income = np.where(rng.random(n) < 0.04, np.nan, income)
    county = np.array(COUNTIES, dtype=object)[c]
    county[rng.random(n) < 0.015] = None
    purpose = np.array(LOAN_PURPOSES, dtype=object)[lp]
    purpose[rng.random(n) < 0.01] = None

    apps = pd.DataFrame(
        {
            "application_id": ids,
            "applicant_id": applicant.astype("int64"),
            "event_time": times,
            "loan_type": np.array(LOAN_TYPES, dtype=object)[lt],
            "loan_purpose": purpose,
            "applicant_income": income,
            "loan_amount": loan_amount,
            "county": county,
            "approved": approved if labelled else pd.array([pd.NA] * n, dtype="Int64"),
        }
    )

    # Credit reports: 0-3 before the application (12% have no history at all), 2% taken at the
    # exact application time, and for decided applications some after it that reflect the outcome.
    k_pre = rng.choice(4, n, p=(0.12, 0.45, 0.30, 0.13))
    owner = np.repeat(np.arange(n), k_pre)
    when = times.values[owner] - pd.to_timedelta(rng.uniform(1, 540, len(owner)), unit="D").values
    score = credit[owner] + rng.normal(0, 12, len(owner))
    exact = np.flatnonzero(rng.random(n) < 0.02)
    owner = np.concatenate([owner, exact])
    when = np.concatenate([when, times.values[exact]])
    score = np.concatenate([score, credit[exact] + rng.normal(0, 12, len(exact))])
    if labelled:
        k_post = rng.poisson(0.6, n)
        post = np.repeat(np.arange(n), k_post)
        owner = np.concatenate([owner, post])
        when = np.concatenate([when, times.values[post] + pd.to_timedelta(rng.uniform(1, 180, len(post)), unit="D").values])
        outcome = np.where(approved[post] == 1, 18.0, -45.0)
        score = np.concatenate([score, credit[post] + outcome + rng.normal(0, 12, len(post))])
    reports = pd.DataFrame(
        {
            "applicant_id": applicant[owner].astype("int64"),
            "reported_at": pd.DatetimeIndex(when).floor("s"),
            "credit_score": np.clip(np.round(score), 300, 850),
        }
    )
    return apps, reports.sort_values(["reported_at", "applicant_id"], kind="stable").reset_index(drop=True)


def _check_rows(rows: int) -> int:
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    return int(rows)


BATCH_ROWS = 1_000_000  # applications per generated batch: memory is one batch, whatever `rows` is


def source_batches(rows: int, seed: int = 7, *, start: pd.Timestamp = START, span_days: int = SPAN_DAYS,
                   batch_rows: int = BATCH_ROWS) -> Iterator[tuple[str, pd.DataFrame]]:
    """Labelled history as a stream of (table, frame) pieces: county_economics once, then per batch
    its applications and credit reports. `rows` applications over `span_days` days from `start`,
    volume growing over time. The same (rows, seed, batch_rows) gives the same pieces on any
    machine (the batching is part of the sample: another batch_rows draws other rows).

    The time axis is cut into K equal slices of the (uniform) sampling space; a multinomial draw
    gives each slice its count, and each slice's times are sorted uniforms within it, so the batches
    are contiguous in time and ids, and only one is in memory at a time.
    """
    rows = _check_rows(rows)
    k = max(1, -(-rows // max(1, int(batch_rows))))
    counts = np.random.default_rng([seed, rows]).multinomial(rows, [1.0 / k] * k)
    yield "county_economics", county_economics(start - pd.Timedelta(weeks=8), start + pd.Timedelta(days=span_days))
    first_id = 1
    for i, n in enumerate(counts):
        if n == 0:
            continue
        rng = np.random.default_rng([seed, rows, i])
        u = ((i + np.sort(rng.random(int(n)))) / k) ** 0.85
        times = pd.DatetimeIndex(start + pd.to_timedelta(u * span_days * 86_400, unit="s")).floor("s")
        apps, reports = _simulate(rng, times, first_id, labelled=True, shift=0.0)
        yield "applications", apps
        yield "credit_reports", reports
        first_id += int(n)


def generate_source(rows: int, seed: int = 7, *, start: pd.Timestamp = START, span_days: int = SPAN_DAYS) -> dict[str, pd.DataFrame]:
    """The whole of `source_batches` in memory (tests, small samples), credit reports in time order."""
    parts: dict[str, list[pd.DataFrame]] = {"applications": [], "credit_reports": [], "county_economics": []}
    for table, df in source_batches(rows, seed, start=start, span_days=span_days):
        parts[table].append(df)
    out = {t: pd.concat(p, ignore_index=True) if len(p) > 1 else p[0] for t, p in parts.items()}
    out["credit_reports"] = out["credit_reports"].sort_values(["reported_at", "applicant_id"], kind="stable").reset_index(drop=True)
    return out


def generate_batch(
    rows: int, seed: int, *, after: pd.Timestamp, first_id: int, shift: float = 0.0, hours: float = 24.0
) -> dict[str, pd.DataFrame]:
    """New, undecided applications in the `hours` after `after`, continuing the same world.

    county_economics covers the weeks of the batch; the caller appends only the weeks it lacks.
    """
    rows = _check_rows(rows)
    if not 0.0 <= shift <= 1.0:
        raise ValueError(f"shift must be between 0 and 1, got {shift!r}")
    rng = np.random.default_rng([seed, first_id, rows])
    offsets = np.sort(rng.uniform(1, hours * 3600, rows))
    times = pd.DatetimeIndex(pd.Timestamp(after) + pd.to_timedelta(offsets, unit="s")).floor("s")
    apps, reports = _simulate(rng, times, first_id, labelled=False, shift=shift)
    econ = county_economics(pd.Timestamp(after) - pd.Timedelta(weeks=1), times.max())
    return {"applications": apps, "credit_reports": reports, "county_economics": econ}
