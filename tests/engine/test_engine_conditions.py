"""`if:` conditions, triggers and ancestors' values in local runs (issue 13's example pipeline)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from engine_helpers import cli_env, dagc_cmd, make_project, run, states

from dagc.frontend import load_pipeline

STEPS = '''
from dagc.runtime import step

@step
def predict(ctx, rows: int = 3):
    return {"rows": rows}

@step
def seen(ctx, region: str = ""):
    return {"inputs": list(ctx.inputs), "score": ctx.inputs["score"] if "score" in ctx.inputs else None}

@step
def nosy(ctx):
    return ctx.inputs["publish"]
'''

EXAMPLE = """
name: score_new
trigger: {stream: RAW.APPLICATIONS_STREAM, min_interval: 30s}
streams: {RAW.APPLICATIONS_STREAM: RAW.APPLICATIONS, RAW.LABELS_STREAM: RAW.LABELS}
config: {publish: {enabled: true}}
tasks:
  score: {step: predict, params: {rows: ROWS}}
  publish:
    step: seen
    after: [score]
    if: "value(score).rows > 0 and config.publish.enabled"
  report: {step: seen, after: [publish]}
  retrain:
    step: seen
    matrix: {region: [US, EU, APAC]}
  compare:
    step: seen
    after: [retrain]
    if: "state(retrain_US) == 'SUCCEEDED' or stream_has_data('RAW.LABELS_STREAM')"
  grandchild: {step: seen, after: [report]}
  peek: {step: nosy, after: [score]}
"""


def project(tmp_path: Path, rows: int = 3) -> tuple[Path, Path]:
    root = make_project(tmp_path / "proj", {"scoring": STEPS})
    (root / "pipelines").mkdir()
    path = root / "pipelines" / "score.yaml"
    path.write_text(EXAMPLE.replace("ROWS", str(rows)))
    return root, path


def test_a_false_condition_skips_the_task_and_its_successors(tmp_path):
    root, path = project(tmp_path, rows=0)
    got = states(run(load_pipeline(path), root))
    assert got["score"] == "SUCCEEDED"
    assert (got["publish"], got["report"], got["grandchild"]) == ("SKIPPED", "SKIPPED", "SKIPPED")
    assert got["compare"] == "SUCCEEDED"


def test_a_failed_predecessor_and_a_condition_on_its_state(tmp_path):
    root, path = project(tmp_path)
    got = states(run(load_pipeline(path), root, fail_tasks=["retrain_US"]))
    assert got["retrain_US"] == "FAILED"
    assert got["compare"] == "SKIPPED"  # all_succeeded fails first; and the labels stream has no data
    assert (got["publish"], got["report"], got["grandchild"]) == ("SUCCEEDED",) * 3


def test_steps_read_ancestors_and_a_stranger_is_a_clear_error(tmp_path):
    root, path = project(tmp_path)
    result = run(load_pipeline(path), root)
    grand = json.loads(result.tasks["grandchild"].return_value)
    assert grand == {"inputs": ["report", "publish", "score"], "score": {"rows": 3}}  # nearest first
    assert result.tasks["peek"].state == "FAILED"
    assert "'publish' is not an ancestor of task 'peek'; its ancestors are: score" in result.tasks["peek"].error


def dagc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(dagc_cmd(*args), cwd=root, env=cli_env(), capture_output=True, text=True, timeout=180)


def _table(root: Path, sql: str) -> None:
    from dagc.engine import tables

    with tables.connect(root / ".dagc") as con:
        con.execute(sql)
    tables.release(root / ".dagc")


def test_if_triggered_runs_only_when_the_streams_table_changed(tmp_path):
    root, path = project(tmp_path)
    path.write_text(EXAMPLE.replace("ROWS", "3").replace("  peek: {step: nosy, after: [score]}\n", ""))
    rel = "pipelines/score.yaml"
    r = dagc(root, "run", rel, "--if-triggered", "-q")
    assert r.returncode == 0 and "not triggered" in r.stdout and "RAW.APPLICATIONS unchanged" in r.stdout
    (root / ".dagc").mkdir(exist_ok=True)
    _table(root, "CREATE TABLE APPLICATIONS (id INTEGER); INSERT INTO APPLICATIONS VALUES (1), (2)")
    r = dagc(root, "run", rel, "--if-triggered", "-q", "--fail-task", "score")
    assert r.returncode == 1 and "not triggered" not in r.stdout  # it ran, and failed
    r = dagc(root, "run", rel, "--if-triggered", "-q")  # a failed run did not consume the stream
    assert r.returncode == 0 and "not triggered" not in r.stdout
    assert "not triggered" in dagc(root, "run", rel, "--if-triggered", "-q").stdout  # the success consumed it
    assert dagc(root, "run", rel, "-q").returncode == 0  # a plain run runs anyway, as EXECUTE TASK does
    _table(root, "INSERT INTO APPLICATIONS VALUES (3)")
    assert dagc(root, "run", rel, "--if-triggered", "-q", "--fail-task", "score").returncode == 1
    assert dagc(root, "retry", "-q").returncode == 0  # a retry that succeeds consumes what its run saw
    assert "not triggered" in dagc(root, "run", rel, "--if-triggered", "-q").stdout


def test_if_triggered_needs_a_trigger(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "pipelines").mkdir()
    (root / "pipelines" / "x.yaml").write_text("name: x\ntasks:\n  a: {step: ok}\n")
    r = dagc(root, "run", "pipelines/x.yaml", "--if-triggered")
    assert r.returncode == 2 and "has no trigger" in r.stderr
