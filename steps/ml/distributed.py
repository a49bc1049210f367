"""Which trainer a training step uses, and what the distributed one is given.

One code path (steps/training.py `train_xgboost`) with one choice:
- the step runs in an ML Job with more than one node (Snowflake sets SNOWFLAKE_JOBS_COUNT to the
  job's instance count on every node): the ML Runtime's distributed XGBoost,
  `snowflake.ml.modeling.distributors.xgboost.XGBEstimator` with an `XGBScalingConfig`, reading
  the dataset table through `snowflake.ml.data.DataConnector`s, one per split, so every node
  trains on its shard and none holds the whole table;
- otherwise (one node, a warehouse task, the local engine): in-process XGBoost over the dataset
  read batch by batch (train.fit_batches).
Both get the hyper-parameters from train.booster_params, and the model is evaluated by the same
evaluate step, so the metrics mean the same whichever trainer ran.

The distributed estimator exists only inside Snowflake's Container Runtime image (it is not part
of the snowflake-ml-python package), so it is imported inside `fit_distributed`; what it would
be given (`distributed_inputs`) is plain data and real DataConnectors, tested offline.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from steps.ml.train import booster_params, from_booster
from steps.ml.warehouse import split_select

JOBS_COUNT = "SNOWFLAKE_JOBS_COUNT"  # snowflake.ml.jobs._utils.constants.TARGET_INSTANCES_ENV_VAR


def nodes(env: Mapping[str, str] | None = None) -> int:
    """The number of nodes of the ML Job this process runs in (1 outside a job)."""
    value = (os.environ if env is None else env).get(JOBS_COUNT, "1")
    try:
        return max(1, int(value))
    except ValueError:
        return 1


def trainer(env: Mapping[str, str] | None = None) -> str:
    """"distributed" on a multi-node ML Job, else "in_process"."""
    return "distributed" if nodes(env) > 1 else "in_process"


def distributed_inputs(session: Any, table: str, features: Sequence[str], label: str,
                       params: Mapping[str, Any] | None, seed: int, rows: int) -> dict[str, Any]:
    """Everything XGBEstimator gets: the DataConnectors, estimator and scaling settings, fit arguments.

    The connectors read the same SELECTs the in-process path reads batch by batch. Column names
    are upper-case: that is how Snowflake returns unquoted identifiers.
    """
    from snowflake.ml.data import DataConnector

    learning, rounds, early = booster_params(params, seed, rows)
    learning.pop("nthread")  # the distributor gives each worker its cores
    upper = [c.upper() for c in features]
    columns = [*features, label]
    return {
        "train": DataConnector.from_sql(split_select(table, ["train"], columns), session=session),
        "validation": DataConnector.from_sql(split_select(table, ["validation"], columns), session=session),
        "estimator": {"n_estimators": rounds, "objective": learning.pop("objective"),
                      "params": {**learning, "early_stopping_rounds": early}},
        # every node, every core of each (-1 = all); CPU pools
        "scaling": {"num_workers": -1, "num_cpu_per_worker": -1, "use_gpu": False},
        "fit": {"input_cols": upper, "label_col": label.upper()},
        "features": list(features),
    }


def fit_distributed(inputs: Mapping[str, Any]) -> Any:
    """Train with the ML Runtime's distributed XGBoost; return the XGBClassifier form of the model."""
    from snowflake.ml.modeling.distributors.xgboost.xgboost_estimator import XGBEstimator, XGBScalingConfig

    estimator = XGBEstimator(**inputs["estimator"], scaling_config=XGBScalingConfig(**inputs["scaling"]))
    fitted = estimator.fit(inputs["train"], eval_set=inputs["validation"], verbose_eval=False, **inputs["fit"])
    booster = fitted if hasattr(fitted, "save_raw") else getattr(fitted, "get_booster", lambda: fitted)()
    booster.feature_names = list(inputs["features"])  # score lower-case frames like the in-process model
    return from_booster(booster)
