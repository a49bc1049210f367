"""XGBoost (hist) on pandas frames, and a portable byte form of the fitted model.

`fit` is what runs in-process locally and inside the ML Job on a compute pool, so it takes plain
frames and returns a fitted `xgboost.XGBClassifier`. Early stopping watches the validation split,
so `n_estimators` is a ceiling, not a cost paid every time.

`to_bytes`/`from_bytes` use XGBoost's own UBJSON model format rather than pickle: the trained
model travels between steps through a per-run table, and on Snowflake the step that trains (an ML
Job container) and the steps that evaluate and promote (warehouse procedures) need not share an
XGBoost build; the model format is stable across versions, pickles are not.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

# OpenMP threads that find no work spin by default. On a shared 2-core machine (and on a busy
# warehouse node) a spinning thread steals the core its partner needs: measured here under load,
# 60 trees on 200k rows took 23.9 s on two spinning threads, 6.5 s on two passive ones, 4.7-6.7 s
# on one. Read when XGBoost's OpenMP runtime loads, so set before the first `import xgboost`;
# setdefault keeps a user's own choice.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DEFAULT_PARAMS: dict[str, Any] = {
    "max_depth": 6,
    "n_estimators": 200,
    "learning_rate": 0.1,
    "subsample": 0.9,
    "colsample_bytree": 0.9,
    "min_child_weight": 1.0,
    "reg_lambda": 1.0,
    "early_stopping_rounds": 25,
}


PARALLEL_MIN_ROWS = 200_000


def n_jobs(rows: int) -> int:
    """Threads for XGBoost: one below PARALLEL_MIN_ROWS, else every core this process may use.

    On small data the per-level thread synchronisation costs more than the parallel work saves,
    and badly so on a busy 2-core machine (measured: 100 trees on 14k rows took 0.5-0.8 s on one
    thread and 1.4-7.6 s on two while other processes ran).
    """
    if rows < PARALLEL_MIN_ROWS:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def fit(
    train_x: pd.DataFrame,
    train_y: np.ndarray,
    valid_x: pd.DataFrame,
    valid_y: np.ndarray,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> Any:
    """A fitted XGBClassifier (hist) with early stopping on the validation split."""
    import xgboost as xgb

    p = {**DEFAULT_PARAMS, **(params or {})}
    _check_params(p)
    y = np.asarray(train_y).astype("int64")
    if np.unique(y).size < 2:
        raise ValueError(f"the training labels have a single class ({int(y[0]) if y.size else 'none'}); a classifier needs both 0 and 1")
    model = xgb.XGBClassifier(
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="logloss",
        n_jobs=n_jobs(len(train_x)),
        random_state=seed,
        **p,
    )
    model.fit(train_x, y, eval_set=[(valid_x, np.asarray(valid_y).astype("int64"))], verbose=False)
    return model


def _check_params(p: Mapping[str, Any]) -> None:
    rules = {
        "max_depth": lambda v: isinstance(v, int) and 1 <= v <= 20,
        "n_estimators": lambda v: isinstance(v, int) and v >= 1,
        "learning_rate": lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
        "subsample": lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
        "colsample_bytree": lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
    }
    for name, ok in rules.items():
        if name in p and (isinstance(p[name], bool) or not ok(p[name])):
            raise ValueError(f"hyperparameter {name}={p[name]!r} is out of range")


def predict_proba(model: Any, x: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """Positive-class probabilities, with columns in the order the model was trained on."""
    if len(x) == 0:
        return np.zeros(0)
    return np.asarray(model.predict_proba(x[list(features)])[:, 1], dtype="float64")


def to_bytes(model: Any) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.ubj")
        model.save_model(path)
        with open(path, "rb") as f:
            return f.read()


def from_bytes(data: bytes) -> Any:
    import xgboost as xgb

    model = xgb.XGBClassifier()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.ubj")
        with open(path, "wb") as f:
            f.write(data)
        model.load_model(path)
    return model


CHUNK = 1_000_000  # characters of base64 per row; far below Snowflake's VARCHAR limit


def to_frame(data: bytes) -> pd.DataFrame:
    """Bytes as rows of base64 text: storable in any table on either target."""
    import base64

    text = base64.b64encode(data).decode("ascii")
    chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
    return pd.DataFrame({"part": np.arange(len(chunks), dtype="int64"), "chunk": chunks})


def from_frame(df: pd.DataFrame) -> bytes:
    import base64

    df = df.rename(columns={c: str(c).lower() for c in df.columns}).sort_values("part")
    return base64.b64decode("".join(df["chunk"].astype(str)))


# ---- training from batches: the same model, without the table in memory ----------------------

def booster_params(params: Mapping[str, Any] | None, seed: int, rows: int) -> tuple[dict[str, Any], int, int]:
    """(XGBoost learning parameters, boosting rounds, early-stopping rounds) for `params`.

    One translation of the pipeline's hyper-parameters, shared by the in-process and the
    distributed trainer, so both fit the same model definition and are judged by the same metrics.
    """
    p = {**DEFAULT_PARAMS, **(params or {})}
    _check_params(p)
    rounds = int(p.pop("n_estimators"))
    early = int(p.pop("early_stopping_rounds"))
    learning = {"objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist",
                "seed": int(seed), "nthread": n_jobs(rows), **p}
    learning["eta"] = learning.pop("learning_rate")
    learning["lambda"] = learning.pop("reg_lambda")
    return learning, rounds, early


def _frames_iter(make: Any, features: Sequence[str], label: str) -> Any:
    """An xgboost.DataIter over the frames `make()` yields (called again on every reset)."""
    import xgboost as xgb

    class Frames(xgb.DataIter):
        def __init__(self) -> None:
            self._it: Any = None
            self.rows = 0
            self.labels: set[int] = set()
            super().__init__(release_data=True)

        def reset(self) -> None:
            self._it = None

        def next(self, input_data: Any) -> bool:
            if self._it is None:
                self._it = iter(make())
                self.rows = 0
            for df in self._it:
                if len(df) == 0:
                    continue
                y = df[label].to_numpy(dtype="int64")
                self.rows += len(df)
                self.labels.update(int(v) for v in set(y.tolist()))
                input_data(data=df[list(features)].to_numpy(dtype="float32"), label=y, feature_names=list(features))
                return True
            return False

    return Frames()


def fit_batches(train_batches: Any, valid_batches: Any, features: Sequence[str], label: str,
                params: Mapping[str, Any] | None = None, seed: int = 0, rows: int = 0) -> Any:
    """A fitted XGBClassifier from batch iterators (callables returning iterators of frames).

    Builds XGBoost's QuantileDMatrix from the batches (it keeps the quantised features, ~1 byte
    per value, not the frames), trains with early stopping on validation, and returns the model
    as the same XGBClassifier type `fit` returns.
    """
    import xgboost as xgb

    learning, rounds, early = booster_params(params, seed, rows)
    it_train = _frames_iter(train_batches, features, label)
    dtrain = xgb.QuantileDMatrix(it_train, max_bin=learning.get("max_bin", 256))
    if len(it_train.labels) < 2:
        only = next(iter(it_train.labels)) if it_train.labels else "none"
        raise ValueError(f"the training labels have a single class ({only}); a classifier needs both 0 and 1")
    dvalid = xgb.QuantileDMatrix(_frames_iter(valid_batches, features, label), ref=dtrain)
    booster = xgb.train(learning, dtrain, num_boost_round=rounds, evals=[(dvalid, "validation")],
                        early_stopping_rounds=early, verbose_eval=False)
    return from_booster(booster)


def from_booster(booster: Any) -> Any:
    """The XGBClassifier form of a Booster (what the registry, evaluation and scoring expect)."""
    import xgboost as xgb

    model = xgb.XGBClassifier()
    model.load_model(bytearray(booster.save_raw("ubj")))
    return model


def predict_batches(model: Any, batches: Any, features: Sequence[str]) -> Any:
    """(frame without the features, scores) per batch: scoring without holding the table."""
    for df in batches:
        yield df, predict_proba(model, df, features)
