"""Every task of the shipped training pipeline, made to fail: the finalizer runs, the history says what happened.

Two variants, both parametrized over the tasks of pipelines/training.yaml as it is in the tree:
  - against stand-in steps (same names, trivial bodies): whole runs, every outcome compared with
    the reference evaluator of Snowflake's rules;
  - against the real steps in steps/: one full baseline run, then each task failed in a run
    `--from` that task, so its upstream outputs are the real ones (reused) and the test stays
    fast. A task is skipped only if one of its upstream steps fails on its own in the tree.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine_helpers import REPO, make_project
from dagc.engine.api import run_pipeline
from dagc.engine.notify import read_notifications
from dagc.engine.project import load_pipeline
from dagc.engine.state import StateStore
from dagc.ir import Pipeline
from test_engine_fidelity import reference_outcomes

TRAINING = REPO / "pipelines" / "training.yaml"
PIPELINE = load_pipeline(TRAINING, var_sets={"rows": 3000})  # the real steps on a small dataset
TASKS = [t.name for t in PIPELINE.all_tasks()]
FIN = PIPELINE.finalizer.name if PIPELINE.finalizer else None

def stand_in_project(root: Path) -> Path:
    names = sorted({t.step for t in PIPELINE.all_tasks() if t.step and t.step != "metric_gate"})
    # one plain function per step so the static registry finds them
    body = "import os\nfrom dagc.runtime import step\n\n"
    for n in names:
        body += f"@step\ndef {n}(ctx, **params):\n    return {{'step': '{n}', 'task': ctx.task}}\n\n"
    body += "@step\ndef metric_gate(ctx, **params):\n    return os.environ.get('DAGC_TEST_GATE', 'pass')\n"
    project = make_project(root, {"training": body})
    (project / "pipelines").mkdir(exist_ok=True)
    shutil.copy(TRAINING, project / "pipelines" / "training.yaml")
    return project


def expected(p: Pipeline, failing: str, case: str) -> dict[str, str]:
    graph: dict[str, dict[str, Any]] = {}
    for t in p.tasks:
        spec: dict[str, Any] = {"after": list(t.after), "when": t.when.value, "fail": t.name == failing}
        if t.is_branch:
            spec.update(branch=dict(t.cases), choose=case)
        graph[t.name] = spec
    out = reference_outcomes(graph)
    if p.finalizer:
        out[p.finalizer.name] = "FAILED" if failing == p.finalizer.name else "SUCCEEDED"
    return out


def check_history(state_dir: Path, result: Any, failing: str, also_first: set[str] = frozenset()) -> None:
    store = StateStore(state_dir)
    rec = store.get_run(result.run_id)
    assert rec is not None and rec.state == "FAILED" and result.exit_code != 0
    assert store.list_runs("training", limit=1)[0].run_id == result.run_id
    latest = store.latest_attempts(result.run_id)
    assert latest[failing].state == "FAILED" and "injected failure" in (latest[failing].error or "")
    assert rec.first_failed_task == failing or rec.first_failed_task in also_first
    if FIN:
        assert latest[FIN].started_at is not None, "the finalizer did not run"


def gate_case_reaching(task: str) -> str:
    for t in PIPELINE.tasks:
        if t.is_branch:
            for case, child in t.cases.items():
                if child == task:
                    return case
    return "pass"


@pytest.mark.parametrize("failing", TASKS)
def test_training_task_fails_with_stand_in_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 failing: str) -> None:
    project = stand_in_project(tmp_path / "proj")
    case = gate_case_reaching(failing)
    monkeypatch.setenv("DAGC_TEST_GATE", case)
    # graph-level retries off here (they repeat the same injected failure; the real-steps variant keeps them)
    p = dataclasses.replace(load_pipeline(project / "pipelines" / "training.yaml"), retries=None)
    sdir = project / ".dagc"
    fail = [failing] + (["load_source"] if failing == "on_failure" else [])  # on_failure runs only after a failure
    result = run_pipeline(p, project_root=project, state_dir=sdir, fail_tasks=fail, parallelism=2)
    want = expected(p, failing, case) if failing != "on_failure" else None
    got = {n: v.state for n, v in result.tasks.items()}
    if want is not None:
        assert got == want
    check_history(sdir, result, "load_source" if failing == "on_failure" else failing)
    if failing == "on_failure":
        assert got["on_failure"] == "FAILED"
    if got.get("on_failure") == "SUCCEEDED":
        notes = [n for n in read_notifications(sdir) if n.get("run_id") == result.run_id]
        assert notes and notes[0]["integration"] == "ML_ALERTS"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One full run of the real steps as they are in the tree, without injected faults."""
    sdir = tmp_path_factory.mktemp("training-real") / ".dagc"
    result = run_pipeline(PIPELINE, project_root=REPO, state_dir=sdir, parallelism=2)
    return sdir, {n: v for n, v in result.tasks.items()}


def _ancestors(name: str) -> set[str]:
    from dagc.engine.api import _ancestors as ancestors  # which upstream values a --from run reuses

    return ancestors(PIPELINE, {name})


@pytest.mark.parametrize("failing", TASKS)
def test_training_task_fails_with_real_steps(baseline: tuple[Path, dict[str, Any]], failing: str) -> None:
    """Fail one task of the real pipeline, its upstream reused from the baseline run (`--from TASK`)."""
    sdir, base = baseline
    broken = sorted(a for a in _ancestors(failing) if base[a].state == "FAILED")
    if broken:
        pytest.skip(f"upstream step(s) {', '.join(broken)} fail on their own in the tree as it is "
                    f"({base[broken[0]].error})")
    result = run_pipeline(PIPELINE, project_root=REPO, state_dir=sdir, from_task=failing, fail_tasks=[failing],
                          parallelism=2)
    check_history(sdir, result, failing)
    for a in _ancestors(failing):
        if base[a].state == "SUCCEEDED":
            assert result.tasks[a].reused_from is not None  # upstream outputs came from the real run
    for child in PIPELINE.children(failing):
        if PIPELINE.task(child).when.value == "all_succeeded":
            assert result.tasks[child].state == "SKIPPED"
    if FIN and failing != FIN:
        assert result.tasks[FIN].state == "SUCCEEDED"
