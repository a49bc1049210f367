"""Shared, cached synthetic data for the ML tests (generated once per session: it is deterministic)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def source_20k():
    from steps.ml.data import generate_source

    return generate_source(20_000, seed=7)


@pytest.fixture(scope="session")
def dataset_20k(source_20k):
    from steps.ml.pipeline import build_dataset

    s = source_20k
    return build_dataset(s["applications"], s["credit_reports"], s["county_economics"])
