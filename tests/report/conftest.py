"""Fixtures for the report tests (the data itself lives in report_fixtures.py)."""

from __future__ import annotations

import pytest

from report_fixtures import TRAINING, failed_run, make_local_run
from dagc.report.model import RunView


@pytest.fixture(scope="session")
def training_pipeline():
    from dagc.frontend import load_pipeline

    return load_pipeline(TRAINING)


@pytest.fixture(scope="session")
def training_manifest(training_pipeline):
    from dagc.emit.manifest import build_manifest

    return build_manifest(training_pipeline)


@pytest.fixture()
def run_with_failure() -> RunView:
    return failed_run()


@pytest.fixture(scope="session")
def local_run(tmp_path_factory):
    """(project, pipeline file, state dir, run id) of one real engine run where `load` failed."""
    root = tmp_path_factory.mktemp("proj")
    path, state, run_id = make_local_run(root)
    return root, path, state, run_id



def pytest_terminal_summary(terminalreporter):
    """Say where the browser tests left their screenshots, so a person (or CI) can look at them."""
    from report_fixtures import ARTIFACTS

    shots = sorted(ARTIFACTS.glob("report-*.png")) if ARTIFACTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"report screenshots ({len(shots)}): {ARTIFACTS}")
