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


# ---- running the real pipelines on the real local engine --------------------------------------

from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SMALL_ROWS = 6000  # enough for a learnable model; keeps each local run to a few seconds


class LocalRuns:
    """Runs pipelines/*.yaml through dagc.engine in one state directory, like `dagc run` does."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.root = ROOT

    def run(self, pipeline: str, *, sets=None, var=None, fail_tasks=()):
        import json

        from dagc.engine.api import run_pipeline
        from dagc.engine.project import load_pipeline

        var = {"retries": 0, **({"rows": SMALL_ROWS} if pipeline == "training" else {}), **(var or {})}
        from dagc.frontend.overlay import parse_assignment

        sets = dict(parse_assignment(f"{k}={v}") for k, v in (sets or {}).items())  # as `--set k=v` does
        var = dict(parse_assignment(f"{k}={v}") for k, v in var.items())
        p = load_pipeline(ROOT / "pipelines" / f"{pipeline}.yaml", None, sets=sets, var_sets=var)
        result = run_pipeline(p, project_root=ROOT, state_dir=self.state_dir, sets=sets, var_sets=var,
                              fail_tasks=fail_tasks, parallelism=1)  # one warm worker: fewer imports
        result.values = {n: (json.loads(v.return_value) if v.return_value and v.return_value[:1] in "{[" else v.return_value)
                         for n, v in result.tasks.items()}
        return result

    @property
    def tables(self):
        from dagc.engine.tables import DuckTables

        return DuckTables(self.state_dir)

    @property
    def models(self):
        from dagc.engine.registry import LocalModelRegistry

        return LocalModelRegistry(self.state_dir)

    def notifications(self):
        from dagc.engine.notify import read_notifications

        return read_notifications(self.state_dir)

    def scratch(self):
        return self.tables.list("TMP_")


@pytest.fixture
def local(tmp_path):
    pytest.importorskip("dagc.engine.api")
    return LocalRuns(tmp_path / "state")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A state directory where one training run has promoted a model."""
    pytest.importorskip("dagc.engine.api")
    runs = LocalRuns(tmp_path_factory.mktemp("trained") / "state")
    result = runs.run("training")
    assert result.state == "SUCCEEDED", {n: v.error for n, v in result.tasks.items() if v.error}
    runs.first = result
    return runs
