"""Retry-last locally, graph-level automatic retries, --only / --from."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine_helpers import P, T, cli_env, dagc_cmd, run, states
from dagc.diagnostics import DagcError
from dagc.engine.api import retry_run
from dagc.engine.state import StateStore


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_retry_reruns_failed_and_not_run_keeps_succeeded(project: Path, tmp_path: Path) -> None:
    counts, fixed = tmp_path / "counts.txt", tmp_path / "fixed"
    p = P("retry", [
        T("up", "count", params={"marker": str(counts)}),
        T("cfg", "echo_config", after=["up"]),
        T("flaky", "flaky", after=["up"], params={"marker": str(fixed)}),
        T("down", "ok", after=["flaky", "cfg"]),
    ], finalizer=T("fin", "count", params={"marker": str(counts)}, finalizer=True), config={"k": 1})
    first = run(p, project)
    assert first.state == "FAILED" and states(first)["down"] == "SKIPPED"
    fixed.touch()
    second = retry_run(first.run_id, project_root=project, state_dir=project / ".dagc", pipeline=p)
    assert second.run_id == first.run_id and second.state == "SUCCEEDED"
    assert lines(counts) == ["up", "fin", "fin"]  # up kept; the finalizer runs after each attempt
    down = json.loads(second.tasks["down"].return_value or "")
    assert down["inputs"]["cfg"] == json.loads(first.tasks["cfg"].return_value or "")  # kept return value
    store = StateStore(project / ".dagc")
    rec = store.get_run(first.run_id)
    assert rec is not None and rec.graph_attempt == 2 and rec.state == "SUCCEEDED"
    latest = store.latest_attempts(first.run_id)
    assert (latest["up"].attempt, latest["flaky"].attempt, latest["down"].attempt) == (1, 2, 2)
    with pytest.raises(DagcError, match="nothing to retry"):
        retry_run(first.run_id, project_root=project, state_dir=project / ".dagc", pipeline=p)


def test_graph_level_retries(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "calls"
    p = P("auto", [T("a", "ok"), T("b", "fail_times", after=["a"], params={"marker": str(marker), "times": 1}),
                   T("c", "ok", after=["b"])], retries=1)
    result = run(p, project)
    assert result.state == "SUCCEEDED" and result.graph_attempts == 2
    latest = StateStore(project / ".dagc").latest_attempts(result.run_id)
    assert (latest["a"].attempt, latest["b"].attempt, latest["c"].attempt) == (1, 2, 2)
    # without retries the same fault fails the run
    marker.unlink()
    assert run(P("auto", list(p.tasks)), project).state == "FAILED"


def write_yaml(project: Path, text: str) -> Path:
    (project / "pipelines").mkdir(exist_ok=True)
    path = project / "pipelines" / "r.yaml"
    path.write_text(text)
    return path


YAML = """
name: changing
config: {threshold: 0.5}
tasks:
  a:
    step: ok
    params: {value: 1}
  b:
    step: boom
    after: [a]
"""


def test_retry_refuses_a_changed_pipeline_unless_forced(project: Path) -> None:
    path = write_yaml(project, YAML)
    done = subprocess.run(dagc_cmd("run", str(path), "--json"), cwd=project, env=cli_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    run_id = json.loads(done.stdout)["run_id"]
    write_yaml(project, YAML.replace("value: 1", "value: 2"))
    refused = subprocess.run(dagc_cmd("retry", run_id), cwd=project, env=cli_env(), capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 1 and "changed since run" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    forced = subprocess.run(dagc_cmd("retry", run_id, "--force", "--json"), cwd=project, env=cli_env(),
                            capture_output=True, text=True, timeout=60)
    doc = json.loads(forced.stdout)
    assert forced.returncode == 1 and doc["run_id"] == run_id and doc["graph_attempt"] == 2
    assert {t["task"]: t["attempt"] for t in doc["tasks"]} == {"a": 1, "b": 2}


def test_only_and_from_reuse_earlier_values(project: Path) -> None:
    p = P("part", [T("a", "ok", params={"value": "A"}), T("b", "ok", after=["a"]), T("c", "ok", after=["b"])])
    full = run(p, project)
    assert full.state == "SUCCEEDED"
    only = run(p, project, only=["b"])
    assert states(only) == {"a": "SUCCEEDED", "b": "SUCCEEDED", "c": "NOT_EXECUTED"}
    assert only.tasks["a"].reused_from == full.run_id and only.tasks["b"].started_at is not None
    assert json.loads(only.tasks["b"].return_value or "")["inputs"]["a"]["value"] == "A"
    frm = run(p, project, from_task="b")
    assert frm.tasks["a"].reused_from == full.run_id
    assert frm.tasks["b"].started_at is not None and frm.tasks["c"].started_at is not None
    with pytest.raises(DagcError, match="no task 'zz'"):
        run(p, project, only=["zz"])


def test_retry_of_an_only_run_keeps_its_selection(project: Path, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    p = P("sel", [T("a", "ok"), T("b", "flaky", after=["a"], params={"marker": str(fixed)}), T("c", "ok", after=["b"])])
    first = run(p, project, only=["b"])
    assert states(first) == {"a": "NOT_EXECUTED", "b": "FAILED", "c": "NOT_EXECUTED"}
    fixed.touch()
    again = retry_run(first.run_id, project_root=project, state_dir=project / ".dagc", pipeline=p)
    assert states(again) == {"a": "NOT_EXECUTED", "b": "SUCCEEDED", "c": "NOT_EXECUTED"}
