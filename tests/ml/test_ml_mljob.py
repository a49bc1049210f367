"""`compute:` tasks as native ML Jobs: the task definition, its payload, the job entry, the timeout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.ml.conftest import ROOT

pytest.importorskip("snowflake.core")
from dagc.snowflake import mljob  # noqa: E402

TRAINING = ROOT / "pipelines" / "training.yaml"


def _load(path: Path = TRAINING, env: str | None = "prod"):
    from dagc.engine.project import load_pipeline

    return load_pipeline(path, env)


@pytest.fixture(scope="module")
def want():
    from dagc.snowflake.deploy import desired

    return desired(_load(), project_root=ROOT)


def test_the_training_task_is_a_native_ml_job(want) -> None:
    train = want.dag.get_task("train")
    assert isinstance(train.definition, mljob.MLJobTask)
    low = want.tasks["TRAINING$TRAIN"]
    assert isinstance(low.definition, str) and low.definition.startswith("CALL SYSTEM$EXECUTE_ML_JOB(")
    s = mljob.summarize_sql(low.definition)
    assert s["pool"] == "TRAINING_POOL" and s["instances"] == 2 and s["min_instances"] == 2
    assert s["payload"] == train.definition.stage_path
    assert s["payload"].startswith("@ML.PROD.DAGC_STAGE/dagc/training/jobs/DAGC_TRAINING_TRAIN_")
    assert s["timeout_s"] == 25 * 60 and s["query_warehouse"] == "PROD_WH"
    spec_json = json.loads(mljob._LITERAL.findall(low.definition)[3].replace("\\'", "'"))
    assert spec_json["ASYNC"] is False  # the task waits for its job, so its result is the task's


def test_the_call_text_round_trips_to_the_summary_with_awkward_values() -> None:
    spec = {"pipeline": "training", "task": "train", "stage": "@ML.DEV.S",
            "compute": {"pool": "P", "instances": 3, "min_instances": 2, "env": {"Q": "it's \\ odd"},
                        "external_access_integrations": ["PYPI"], "runtime": "1.7.1",
                        "spec_overrides": {"spec": {"containers": [{"name": "main", "secrets": []}]}}}}
    job = mljob.MLJobTask(spec, bundle_hash="b", warehouse="WH")
    assert mljob.summarize_sql(job.to_sql()) == job.summary()
    assert job.summary()["min_instances"] == 2 and job.summary()["runtime"] == "1.7.1"


def test_the_options_are_the_librarys_own_dataclasses() -> None:
    import dataclasses

    from snowflake.ml.jobs._utils import type_utils

    job = mljob.MLJobTask({"pipeline": "p", "task": "t", "stage": "@D.S.ST", "compute": {"pool": "P"}},
                          bundle_hash="b", warehouse="WH")
    spec, opts = job.options()
    assert set(spec) == {f.name.upper() for f in dataclasses.fields(type_utils.SpecOptions)}
    assert set(opts) == ({f.name.upper() for f in dataclasses.fields(type_utils.JobOptions)} - {"USE_ASYNC"}) | {"ASYNC"}


def test_the_payload_is_content_addressed() -> None:
    base = {"pipeline": "p", "task": "t", "stage": "@D.S.ST", "params": {"a": 1}, "compute": {"pool": "P"}}
    a = mljob.MLJobTask(base, bundle_hash="b1", warehouse=None)
    assert a.stage_path == mljob.MLJobTask(dict(base), bundle_hash="b1", warehouse=None).stage_path
    for other in (mljob.MLJobTask(base, bundle_hash="b2", warehouse=None),  # the step code changed
                  mljob.MLJobTask({**base, "params": {"a": 2}}, bundle_hash="b1", warehouse=None),
                  mljob.MLJobTask({**base, "compute": {"pool": "P", "pip_requirements": ["lightgbm"]}},
                                  bundle_hash="b1", warehouse=None)):
        assert other.stage_path != a.stage_path


def test_the_job_stage_can_be_chosen() -> None:
    job = mljob.MLJobTask({"pipeline": "p", "task": "t", "stage": "@D.S.ST",
                           "compute": {"pool": "P", "stage": "@D.S.JOBS/ml"}}, bundle_hash="b", warehouse=None)
    assert job.stage_path.startswith("@D.S.JOBS/ml/dagc/p/jobs/") and job.job_id == "D.S.DAGC_P_T"


@pytest.mark.parametrize("task_ms,own_ms,expected", [
    (None, None, 3600 - 60),  # Snowflake's default task timeout, less a minute
    (1_800_000, None, 1800 - 60),
    (1_800_000, 1_500_000, 1500),
    (1_800_000, 9_000_000, 1799),  # never the task's (validate refuses this; the runtime clamps anyway)
])
def test_the_job_never_outlives_its_task(task_ms, own_ms, expected) -> None:
    assert mljob.job_timeout_s({"timeout_ms": own_ms}, task_ms) == expected


def test_plan_fingerprints_cover_the_job_definition(tmp_path) -> None:
    """Changing only a job setting changes the task's desired state, and the plan says what changed."""
    from dagc.snowflake.deploy import desired
    from dagc.snowflake.state import diff

    text = TRAINING.read_text()
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(text)
    b.write_text(text.replace("instances: 2, timeout: 25m", "instances: 2, timeout: 20m, env: {MODE: fast}"))
    wa, wb = desired(_load(a), project_root=ROOT), desired(_load(b), project_root=ROOT)
    changes = [c for c in diff(wb.state, wa.state) if c.action == "alter"]
    assert [c.short for c in changes] == ["train"]
    keys = {f.key for f in changes[0].fields}
    assert {"definition.timeout_s", "definition.env", "definition.native_ml_job", "definition.payload"} <= keys


def test_manifest_state_agrees_with_the_emitted_ml_job(want) -> None:
    """`plan --against manifest.json` (no snowflake.ml import) sees the same job as the emitted task."""
    from dagc.emit import snowflake as emit
    from dagc.emit.manifest import build_manifest
    from dagc.snowflake.state import from_manifest, from_tasks

    p = want.pipeline
    emitted = from_tasks(emit.low_level_tasks(emit.build_dag(p)), p.name, deployed=False)
    manifest = from_manifest(json.loads(json.dumps(build_manifest(p), default=str)))
    job = emitted.tasks["TRAINING$TRAIN"].settings["definition"]
    assert job == manifest.tasks["TRAINING$TRAIN"].settings["definition"]
    assert job["pool"] == "TRAINING_POOL" and "native_ml_job" in job


def test_dry_run_verbose_shows_the_native_job_and_its_payload(capsys, monkeypatch, tmp_path) -> None:
    from dagc.cli.main import main

    for k in list(os.environ):
        if k.startswith("SNOWFLAKE_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / ".snowflake"))
    with pytest.raises(SystemExit) as exc:
        main(["deploy", "--dry-run", "-v", str(TRAINING), "--env", "prod"])
    out = capsys.readouterr().out
    assert exc.value.code in (0, None)
    assert "definition: native ML Job on TRAINING_POOL x 2 (CALL SYSTEM$EXECUTE_ML_JOB" in out
    assert "payload: @ML.PROD.DAGC_STAGE/dagc/training/jobs/DAGC_TRAINING_TRAIN_" in out
    assert "timeout_s: 1500" in out
    assert "^ upload @ML.PROD.DAGC_STAGE/dagc/training/jobs/DAGC_TRAINING_TRAIN_" in out and "dagc_job_entry.py" in out


# ---- the job's entry, run offline to its return value ------------------------------------------

class TaskFacts:
    """What the task's SYSTEM$ functions answer (the job runs on behalf of its task)."""

    def __init__(self, config: dict, predecessors: dict[str, str]) -> None:
        self.config, self.predecessors, self.returned = config, predecessors, None

    def graph_config(self):
        from dagc.configcodec import encode_config

        return encode_config(self.config)

    def predecessor_value(self, task):
        return self.predecessors.get(task)

    def run_id(self):
        return "rg-42"

    def scheduled_at(self):
        from datetime import datetime, timezone

        return datetime(2026, 1, 1, tzinfo=timezone.utc)

    def set_return_value(self, text):
        assert len(text.encode()) <= 10_000
        self.returned = text


@pytest.fixture(scope="module")
def payload(want, tmp_path_factory) -> Path:
    """The train task's payload directory, built as a deploy builds it."""
    job = want.dag.get_task("train").definition
    return job.payload_dir(want.bundle.data, tmp_path_factory.mktemp("job") / "payload")


def test_the_payload_holds_the_steps_the_runtime_the_entry_and_the_spec(payload) -> None:
    for rel in ("steps/training.py", "steps/ml/sqlfeatures.py", "dagc/snowflake/mljob.py", "dagc/runtime/snowflake.py",
                mljob.ENTRY_SCRIPT, mljob.SPEC_FILE):
        assert (payload / rel).is_file(), rel
    assert "job_entry(run=run_task)" in (payload / mljob.ENTRY_SCRIPT).read_text()
    spec = json.loads((payload / mljob.SPEC_FILE).read_text())
    assert spec["task"] == "train" and spec["step"] == "train_xgboost" and spec["compute"]["instances"] == 2


def test_the_job_entry_runs_the_step_to_the_tasks_return_value(payload, dataset_20k, tmp_path, monkeypatch) -> None:
    from dagc.engine.backend import LocalBackend

    ds, info = dataset_20k
    backend = LocalBackend(tmp_path / "state", pipeline="training", task="train", run_id="rg-42")
    backend.tables().write("APPROVAL_MODEL_DATASET_RG42", ds)
    facts = TaskFacts({"model_name": "approval_model"},
                      {"build_dataset": json.dumps({**info, "dataset_table": "APPROVAL_MODEL_DATASET_RG42",
                                                    "dataset_version": "RG42"})})
    spec = json.loads((payload / mljob.SPEC_FILE).read_text())
    spec["params"] = {**spec["params"], "n_estimators": 15}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    monkeypatch.setenv(mljob.TIMEOUT_ENV, "600")
    monkeypatch.delenv("SNOWFLAKE_JOBS_COUNT", raising=False)
    from dagc.runtime.snowflake import run_task

    text = mljob.job_entry(tmp_path / "spec.json", run=run_task, session=object(), facts=facts, backend=backend)
    assert text == facts.returned
    value = json.loads(text)
    assert value["trainer"] == "in_process" and value["model_table"].endswith("_MODEL")
    assert backend.tables().exists(value["model_table"])


def test_the_job_entry_stops_at_its_timeout(payload, tmp_path, monkeypatch) -> None:
    import time

    spec = json.loads((payload / mljob.SPEC_FILE).read_text())
    spec["after"], spec["params"] = [], {}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    monkeypatch.setenv(mljob.TIMEOUT_ENV, "1")

    def slow(ctx, **kw):
        time.sleep(5)
        return {}

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="reached its timeout of 1 s"):
        from dagc.runtime.snowflake import run_task

        mljob.job_entry(tmp_path / "spec.json", run=run_task, session=object(), facts=TaskFacts({}, {}), backend=None,
                        step_fn=slow)
    assert time.monotonic() - started < 4


def test_the_task_secrets_are_mounted_in_the_job_container_merged_with_the_users_overrides() -> None:
    spec = {"pipeline": "p", "task": "t", "stage": "@D.S.ST", "secrets": {"TOKEN": "D.S.TOKEN"},
            "external_access_integrations": ["API_EAI"],
            "compute": {"pool": "P", "external_access_integrations": ["PYPI"],
                        "spec_overrides": {"spec": {"containers": [{"name": "main", "resources": {"limits": {"memory": "8Gi"}}}]}}}}
    job = mljob.MLJobTask(spec, bundle_hash="b", warehouse=None)
    spec_d, job_d = job.options()
    [main] = spec_d["SPEC_OVERRIDES"]["spec"]["containers"]
    assert main["resources"] == {"limits": {"memory": "8Gi"}}  # the user's own override is kept
    assert main["secrets"] == [{"snowflakeSecret": {"objectName": "D.S.TOKEN"}, "secretKeyRef": "secret_string",
                                "envVarName": "TOKEN"}]
    assert job_d["EXTERNAL_ACCESS_INTEGRATIONS"] == ["PYPI", "API_EAI"]
    assert mljob.summarize_sql(job.to_sql()) == job.summary()  # plan reads the same back from the task text
    assert job.describe()["secrets"] == {"TOKEN": "D.S.TOKEN"}
    with pytest.raises(ValueError, match="must have the service specification's shape"):
        mljob.MLJobTask({**spec, "compute": {"pool": "P", "spec_overrides": {"spec": ["x"]}}}, bundle_hash="b",
                        warehouse=None)


def test_in_the_job_a_secret_is_read_from_its_mounted_variable(monkeypatch) -> None:
    from dagc.runtime.secrets import SecretUnavailable

    monkeypatch.setenv("TOKEN", "s3cret")
    assert mljob.job_secret("TOKEN") == "s3cret"
    monkeypatch.delenv("TOKEN")
    with pytest.raises(SecretUnavailable, match="is not mounted in this ML Job"):
        mljob.job_secret("TOKEN")
