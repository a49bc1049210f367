"""Which trainer runs where, and what the distributed one would be given (it cannot run here:
XGBEstimator lives only in Snowflake's Container Runtime image)."""

from __future__ import annotations

import pytest

from steps.ml import distributed, train
from steps.ml.data import LABEL
from steps.ml.features import FEATURES
from steps.ml.warehouse import split_select


@pytest.mark.parametrize("env,choice", [
    ({}, "in_process"),  # locally, and in a warehouse task
    ({"SNOWFLAKE_JOBS_COUNT": "1"}, "in_process"),  # a one-node ML Job
    ({"SNOWFLAKE_JOBS_COUNT": "2"}, "distributed"),
    ({"SNOWFLAKE_JOBS_COUNT": "8"}, "distributed"),
    ({"SNOWFLAKE_JOBS_COUNT": "two"}, "in_process"),
])
def test_trainer_follows_the_jobs_node_count(env, choice):
    assert distributed.trainer(env) == choice


def test_the_variable_is_the_one_ml_jobs_set():
    from snowflake.ml.jobs._utils import constants

    assert distributed.JOBS_COUNT == constants.TARGET_INSTANCES_ENV_VAR


@pytest.fixture(scope="module")
def local_session():
    from snowflake.snowpark import Session

    s = Session.builder.config("local_testing", True).create()
    yield s
    s.close()


def test_distributed_inputs_read_the_dataset_through_data_connectors(local_session):
    from snowflake.ml.data import DataConnector
    from snowflake.ml.data.data_source import DataFrameInfo

    params = {"max_depth": 5, "n_estimators": 300, "learning_rate": 0.05, "subsample": 0.8, "early_stopping_rounds": 20}
    got = distributed.distributed_inputs(local_session, "APPROVAL_MODEL_DATASET_R1", list(FEATURES), LABEL, params,
                                         seed=3, rows=5_000_000)
    cols = [*FEATURES, LABEL]
    for split in ("train", "validation"):
        dc = got[split]
        assert isinstance(dc, DataConnector)
        # the very SELECT the in-process trainer reads batch by batch: one definition of the rows
        assert dc.data_sources == [DataFrameInfo(split_select("APPROVAL_MODEL_DATASET_R1", [split], cols))]
        assert f"split IN ('{split}')" in dc.data_sources[0].sql
    assert got["fit"] == {"input_cols": [f.upper() for f in FEATURES], "label_col": "APPROVED"}
    assert got["scaling"] == {"num_workers": -1, "num_cpu_per_worker": -1, "use_gpu": False}


def test_both_trainers_get_the_same_hyper_parameters(local_session):
    params = {"max_depth": 5, "n_estimators": 300, "learning_rate": 0.05, "subsample": 0.8, "early_stopping_rounds": 20}
    learning, rounds, early = train.booster_params(params, 3, 5_000_000)
    got = distributed.distributed_inputs(local_session, "DS", list(FEATURES), LABEL, params, seed=3, rows=5_000_000)
    est = got["estimator"]
    assert est["n_estimators"] == rounds == 300
    assert est["objective"] == learning["objective"] == "binary:logistic"
    in_process = {k: v for k, v in learning.items() if k not in ("nthread", "objective")}
    assert est["params"] == {**in_process, "early_stopping_rounds": early}
    assert est["params"]["eta"] == 0.05 and est["params"]["max_depth"] == 5 and est["params"]["seed"] == 3


def test_the_distributed_branch_needs_the_container_runtime():
    """Here (no ML Runtime) the distributed branch fails on the import, not somewhere obscure."""
    with pytest.raises(ModuleNotFoundError, match="snowflake.ml.modeling.distributors"):
        distributed.fit_distributed({"estimator": {}, "scaling": {}, "fit": {}, "train": None, "validation": None,
                                     "features": []})


def test_in_process_training_from_batches_learns(dataset_20k):
    ds, _ = dataset_20k
    part = lambda s: (lambda: iter([ds[ds["split"] == s].iloc[i:i + 3000] for i in range(0, (ds["split"] == s).sum(), 3000)]))  # noqa: E731
    model = train.fit_batches(part("train"), part("validation"), list(FEATURES), LABEL, {"n_estimators": 60}, rows=14_000)
    test = ds[ds["split"] == "test"]
    from steps.ml.evaluate import classification_metrics

    m = classification_metrics(test[LABEL].to_numpy(), train.predict_proba(model, test, FEATURES))
    assert m["roc_auc"] > 0.8
    with pytest.raises(ValueError, match="single class"):
        one = ds[(ds["split"] == "train") & (ds[LABEL] == 1)]
        train.fit_batches(lambda: iter([one]), part("validation"), list(FEATURES), LABEL, {"n_estimators": 5})


@pytest.fixture(scope="module")
def step_ctx(dataset_20k, tmp_path_factory):
    """The real train step's context over a local warehouse holding a dataset table."""
    import logging
    from datetime import datetime

    from dagc.engine.backend import LocalBackend
    from dagc.runtime.context import StepContext

    ds, info = dataset_20k
    backend = LocalBackend(tmp_path_factory.mktemp("step"), pipeline="training", task="train", run_id="r1")
    backend.tables().write("APPROVAL_MODEL_DATASET_R1", ds)

    def make():
        return StepContext(pipeline="training", task="train", run_id="r1", scheduled_at=datetime(2026, 1, 1),
                           config={"model_name": "approval_model"}, params={},
                           inputs={"build_dataset": {**info, "dataset_table": "APPROVAL_MODEL_DATASET_R1",
                                                     "dataset_version": "R1"}},
                           backend=backend, log=logging.getLogger("test"))
    return make


def test_the_train_step_selects_by_node_count(step_ctx, monkeypatch):
    from steps.training import train_xgboost

    monkeypatch.delenv("SNOWFLAKE_JOBS_COUNT", raising=False)
    out = train_xgboost(step_ctx(), n_estimators=20)
    assert out["trainer"] == "in_process" and out["nodes"] == 1 and out["best_iteration"] >= 0
    monkeypatch.setenv("SNOWFLAKE_JOBS_COUNT", "2")  # what a 2-node ML Job sets on every node
    with pytest.raises(ModuleNotFoundError, match="distributors"):  # it reached XGBEstimator's import
        train_xgboost(step_ctx(), n_estimators=20)
