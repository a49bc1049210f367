"""pipelines/training.yaml and inference.yaml end to end on the real local engine (DuckDB, registry).

One state directory carries a scenario in order (train, score, drift, gate failure, retention),
the way a deployment lives; failure cases use fresh state directories.
"""

from __future__ import annotations

import pandas as pd
import pytest


def test_training_promotes_a_model_with_metrics_and_lineage(trained):
    r = trained.first
    assert r.tasks["promote"].state == "SUCCEEDED"
    assert r.tasks["alert_gate_failed"].state == "SKIPPED"
    assert r.tasks["quality_gate"].branch_case == "pass"
    versions = trained.models.versions("approval_model")
    assert [v.version for v in versions] == [r.values["promote"]["version"]]
    v = versions[0]
    assert v.is_default
    for split in ("validation", "test"):
        for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"):
            assert f"{split}_{m}" in v.metrics
    assert v.metrics["test_roc_auc"] > 0.75
    assert v.lineage["run_id"] == r.run_id
    catalog = trained.tables.read("APPROVAL_MODEL_DATASETS")
    assert v.lineage["dataset_version"] in set(catalog["version"])
    assert trained.tables.exists(v.lineage["dataset_table"])
    assert r.values["summarize"]["test_metrics"]["roc_auc"] == round(v.metrics["test_roc_auc"], 4)
    assert trained.scratch() == []  # the run finished: the finalizer dropped its scratch tables


def test_inference_writes_predictions_with_the_model_version(trained):
    r = trained.run("inference", var={"new_rows": 800})
    assert r.state == "SUCCEEDED", r.first_error
    default = trained.models.get_default("approval_model")
    preds = trained.tables.read("LOAN_PREDICTIONS")
    assert len(preds) == 800
    assert set(preds["model_version"]) == {default}
    assert preds["score"].between(0, 1).all()
    assert set(preds["prediction"]) <= {0, 1}
    assert pd.to_datetime(preds["scored_at"]).notna().all()
    assert r.tasks["drift_check"].branch_case == "stable"
    assert trained.scratch() == []

    again = trained.run("inference", var={"new_rows": 500})
    assert again.state == "SUCCEEDED", again.first_error
    preds = trained.tables.read("LOAN_PREDICTIONS")
    assert len(preds) == 1300 and preds["application_id"].is_unique  # appended, nothing scored twice


def test_drifted_batch_raises_an_alert(trained):
    before = len(trained.notifications())
    r = trained.run("inference", var={"new_rows": 800, "shift": 0.8})
    assert r.state == "SUCCEEDED", r.first_error
    assert r.tasks["drift_check"].branch_case == "drifted"
    assert r.tasks["alert_drift"].state == "SUCCEEDED" and r.tasks["report"].state == "SKIPPED"
    note = trained.notifications()[before:]
    assert len(note) == 1 and "drift" in note[0]["subject"] and note[0]["integration"] == "ML_ALERTS"


def test_prediction_table_with_another_schema_is_refused(trained):
    trained.tables.write("ODD_PREDICTIONS", pd.DataFrame({"application_id": [1], "proba": [0.3]}))
    r = trained.run("inference", sets={"predictions_table": "ODD_PREDICTIONS"})
    assert r.state == "FAILED"
    error = r.tasks["build_features"].error
    assert "ODD_PREDICTIONS has a different schema" in error and "unexpected proba" in error
    assert r.tasks["cleanup"].state == "SUCCEEDED"


def test_gate_failure_alerts_and_retention_keeps_the_default(trained):
    default = trained.models.get_default("approval_model")
    before = len(trained.notifications())
    # the default is older than the retention cutoff (0 days) and this model is not promoted
    r = trained.run("training", sets={"gate.threshold": "0.999"}, var={"retention_days": 0})
    assert r.state == "SUCCEEDED", r.first_error
    assert r.tasks["quality_gate"].branch_case == "fail"
    assert r.tasks["promote"].state == "SKIPPED"
    assert trained.models.get_default("approval_model") == default
    assert [v.version for v in trained.models.versions("approval_model")] == [default]
    assert r.values["cleanup"]["deleted_model_versions"] == []
    note = trained.notifications()[before:]
    assert any("quality gate" in n["subject"] and "misses threshold" in n["message"] for n in note)
    assert r.values["summarize"]["promoted"] is False


LOWER_IS_BETTER = {"gate.metric": "test_log_loss", "gate.higher_is_better": "false"}


def test_lower_is_better_gate_alerts_above_its_threshold(trained):
    r = trained.run("training", sets={**LOWER_IS_BETTER, "gate.threshold": "0.05"})
    assert r.state == "SUCCEEDED", r.first_error
    assert r.tasks["quality_gate"].branch_case == "fail"
    assert "test_log_loss" in r.values["alert_gate_failed"]["reasons"][0]


def test_retention_deletes_superseded_versions_and_their_datasets(trained):
    old = trained.models.get_default("approval_model")
    # a lower-is-better gate that this model clears; same data, same model: the tie with the default passes
    r = trained.run("training", var={"retention_days": 0}, sets={**LOWER_IS_BETTER, "gate.threshold": "0.9"})
    assert r.tasks["quality_gate"].branch_case == "pass"
    new = r.values["promote"]["version"]
    assert new != old
    assert r.values["cleanup"]["deleted_model_versions"] == [old]
    versions = trained.models.versions("approval_model")
    assert [v.version for v in versions] == [new] and versions[0].is_default
    catalog = trained.tables.read("APPROVAL_MODEL_DATASETS")
    assert list(catalog["version"]) == [versions[0].lineage["dataset_version"]]  # the rest were old and unreferenced
    dataset_tables = [t for t in trained.tables.list("APPROVAL_MODEL_DATASET_")]
    assert dataset_tables == [versions[0].lineage["dataset_table"]]


def test_failed_run_keeps_scratch_for_retry_and_sweeps_stale_scratch(local):
    from dagc.engine.api import retry_run

    local.tables.write("TMP_TRAINING_20200101000000_DEADBEEF_MODEL", pd.DataFrame({"part": [0], "chunk": ["x"]}))
    r = local.run("training", fail_tasks=["evaluate"])
    assert r.state == "FAILED" and r.tasks["train"].state == "SUCCEEDED"
    assert r.tasks["cleanup"].state == "SUCCEEDED" and r.tasks["on_failure"].state == "SUCCEEDED"
    assert not local.tables.exists("TMP_TRAINING_20200101000000_DEADBEEF_MODEL")  # stale: swept
    kept = r.values["cleanup"]["kept_for_retry"]
    assert len(kept) == 1 and kept[0].endswith("_MODEL")
    again = retry_run(r.run_id, project_root=local.root, state_dir=local.state_dir)
    assert again.state == "SUCCEEDED", again.first_error
    assert again.tasks["promote"].state == "SUCCEEDED"
    assert local.scratch() == []


@pytest.mark.parametrize(
    "case,message",
    [
        ("empty", "LOAN_APPLICATIONS has no labelled rows"),
        ("one_class", "has a single class (1)"),
        ("nan_income", "applicant_income of LOAN_APPLICATIONS contain only missing values"),
    ],
)
def test_bad_source_data_fails_clearly_and_cleans_up(local, case, message):
    from steps.ml.data import generate_source

    data = generate_source(3000, seed=5)
    apps = data["applications"]
    apps = {"empty": apps.iloc[0:0], "one_class": apps.assign(approved=1),
            "nan_income": apps.assign(applicant_income=float("nan"))}[case]
    local.tables.write("COUNTY_ECONOMICS", data["county_economics"])
    local.tables.write("CREDIT_REPORTS", data["credit_reports"])
    local.tables.write("LOAN_APPLICATIONS", apps)
    r = local.run("training")
    assert r.state == "FAILED"
    assert r.first_failed_task == "build_dataset"
    assert message in r.tasks["build_dataset"].error
    assert "Traceback" not in r.tasks["build_dataset"].error
    assert r.tasks["cleanup"].state == "SUCCEEDED" and r.tasks["on_failure"].state == "SUCCEEDED"
    assert local.scratch() == []


def test_unknown_gate_metric_fails_before_training(local):
    r = local.run("training", sets={"gate.metric": "test_rocauc"})
    assert r.state == "FAILED" and r.first_failed_task == "load_source"
    assert "did you mean 'test_roc_auc'" in r.tasks["load_source"].error
    assert r.tasks["train"].state != "SUCCEEDED"
    assert r.tasks["cleanup"].state == "SUCCEEDED"


def test_inference_without_a_default_model(local):
    from steps.ml.data import generate_source

    for name, df in zip(("LOAN_APPLICATIONS", "CREDIT_REPORTS", "COUNTY_ECONOMICS"),
                        generate_source(2000, seed=5).values()):
        local.tables.write(name, df)
    r = local.run("inference")
    assert r.state == "FAILED"
    error = r.tasks["load_model"].error
    assert "model approval_model has no default version" in error and "dagc run pipelines/training.yaml" in error
    assert r.tasks["predict"].state != "SUCCEEDED"
    assert r.tasks["cleanup"].state == "SUCCEEDED"
    assert local.scratch() == []
