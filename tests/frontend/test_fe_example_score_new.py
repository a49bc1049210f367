"""docs/examples/score_new is issue 13's example pipeline, shipped as a project of its own: it
validates, `dagc compile` shows the WHEN texts and the trigger, and a local run skips what a false
`if:` and a failed predecessor skip on Snowflake. The project is copied, so runs write nothing here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "score_new"
PIPELINE = "pipelines/score_new.yaml"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("score_new") / "score_new"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns(".dagc", "__pycache__"))
    return dst


def dagc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'compiler'}{os.pathsep}{ROOT}"}
    env.pop("DAGC_STATE_DIR", None)
    env.pop("DAGC_FAIL_TASKS", None)
    return subprocess.run([sys.executable, "-m", "dagc", *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_example_validates_and_compiles_to_its_when_texts(project):
    r = dagc(project, "validate", PIPELINE)
    assert r.returncode == 0 and "1 pipeline file(s) valid" in r.stdout, r.stdout + r.stderr
    r = dagc(project, "compile", PIPELINE)
    assert r.returncode == 0, r.stderr
    manifest = json.loads(r.stdout)
    graph, tasks = manifest["graph"], {t["name"]: t for t in manifest["tasks"]}
    assert graph["schedule"] is None and graph["condition"] == "SYSTEM$STREAM_HAS_DATA('RAW.APPLICATIONS_STREAM')"
    assert graph["trigger"] == {"stream": "RAW.APPLICATIONS_STREAM", "min_interval_s": 30}
    assert list(tasks) == ["score", "publish", "retrain_US", "retrain_EU", "retrain_APAC", "compare"]
    assert tasks["publish"]["when_sql"] == (
        "(TRY_TO_DOUBLE(PARSE_JSON(SYSTEM$GET_PREDECESSOR_RETURN_VALUE('SCORE_NEW$SCORE'))['rows']::STRING) > 0 "
        "AND TRY_TO_BOOLEAN(SYSTEM$GET_TASK_GRAPH_CONFIG('publish.enabled')::STRING))")
    assert tasks["compare"]["when_sql"] == ("(SYSTEM$TASK_COMPLETION_STATE('SCORE_NEW$RETRAIN_US') = 'SUCCEEDED' OR "
                                            "SYSTEM$STREAM_HAS_DATA('RAW.LABELS_STREAM'))")
    assert tasks["compare"]["after"] == ["retrain_US", "retrain_EU", "retrain_APAC"]
    assert tasks["retrain_EU"]["params"] == {"region": "EU"} and tasks["retrain_EU"]["expanded_from"] == "retrain"


def _states(r: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return {t["task"]: t["state"] for t in json.loads(r.stdout)["tasks"]}


def test_the_example_runs_locally_with_the_right_skips(project):
    r = dagc(project, "run", PIPELINE, "--json", "-j", "2", "--fail-task", "retrain_EU")
    assert r.returncode == 1, r.stderr
    assert _states(r) == {"score": "SUCCEEDED", "publish": "SKIPPED",  # no applications: value(score).rows is 0
                          "retrain_US": "SUCCEEDED", "retrain_EU": "FAILED", "retrain_APAC": "SUCCEEDED",
                          "compare": "SKIPPED"}  # a failed predecessor skips it, whatever its `if:` says
    from dagc.engine import tables

    with tables.connect(project / ".dagc") as con:  # new applications land in the stream's table
        con.execute("CREATE TABLE APPLICATIONS (id INTEGER, income DOUBLE); INSERT INTO APPLICATIONS VALUES (1, 2.5), (2, -1)")
    tables.release(project / ".dagc")
    r = dagc(project, "run", PIPELINE, "--json", "-j", "2", "--if-triggered")
    assert r.returncode == 0, r.stdout + r.stderr
    run = json.loads(r.stdout)
    assert set(_states(r).values()) == {"SUCCEEDED"}
    values = {t["task"]: json.loads(t["return_value"]) for t in run["tasks"]}
    assert values["score"] == {"rows": 2, "approved": 1} and values["publish"] == {"published": 2}
    assert values["compare"]["compared"] == 3 and values["compare"]["best"] in ("US", "EU", "APAC")
    assert "not triggered" in dagc(project, "run", PIPELINE, "--if-triggered", "-q").stdout  # consumed
