"""IR for the Snowflake tests: the shipped pipelines through the real front end when it is present,
and a hand-built copy of pipelines/training.yaml (prod) so the back end is testable on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagc import ir

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = sorted((ROOT / "pipelines").glob("*.yaml"))


def T(name: str, kind: str = "step", **kw: Any) -> ir.Task:
    kw.setdefault("step", name if kind != "sql" else None)
    if "params" in kw:
        kw["params"] = ir.freeze(kw["params"])
    if "cases" in kw:
        kw["cases"] = ir.freeze(kw["cases"])
    if "after" in kw:
        kw["after"] = tuple(kw["after"])
    return ir.Task(name=name, kind=ir.TaskKind(kind), **kw)


def training_ir(env: str = "prod", **overrides: Any) -> ir.Pipeline:
    wh = "PROD_WH" if env == "prod" else "DEV_WH"
    schema = "PROD" if env == "prod" else "DEV"
    tasks = (
        T("load_source", params={"rows": 1000000, "seed": 7}, timeout_ms=1_800_000,
          comment="Create the source table with synthetic applications if it does not exist."),
        T("build_dataset", step="build_dataset", after=["load_source"],
          params={"validation_fraction": 0.15, "test_fraction": 0.15}, timeout_ms=1_800_000),
        T("train", step="train_xgboost", after=["build_dataset"], timeout_ms=1_800_000,
          params={"max_depth": 6, "n_estimators": 200, "learning_rate": 0.1},
          compute=ir.Compute("TRAINING_POOL", 2)),
        T("evaluate", step="evaluate_model", after=["train"], timeout_ms=1_800_000),
        T("quality_gate", "branch", step="metric_gate", after=["evaluate"], timeout_ms=1_800_000,
          cases={"pass": "promote", "fail": "alert_gate_failed"}),
        T("promote", step="promote_model", after=["quality_gate"], timeout_ms=1_800_000),
        T("alert_gate_failed", after=["quality_gate"], timeout_ms=1_800_000),
        T("summarize", step="summarize_run", after=["promote", "alert_gate_failed"],
          when=ir.Condition.NONE_FAILED_MIN_ONE_SUCCEEDED, timeout_ms=1_800_000),
        T("on_failure", "sql", after=["load_source", "build_dataset", "train", "evaluate"],
          when=ir.Condition.AT_LEAST_ONE_FAILED, timeout_ms=1_800_000,
          sql="CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('dagc: training "
              "pipeline failed; see dagc status'), SNOWFLAKE.NOTIFICATION.INTEGRATION('ML_ALERTS'))"),
    )
    fields: dict[str, Any] = dict(
        name="training",
        tasks=tasks,
        finalizer=T("cleanup", step="cleanup_run", params={"retention_days": 30}, is_finalizer=True,
                    timeout_ms=1_800_000),
        description="Build an as-of dataset, train XGBoost, evaluate, and promote the model only if it clears the gate.",
        schedule=ir.Cron("0 2 * * *", "UTC"),
        warehouse=wh,
        stage=f"@ML.{schema}.DAGC_STAGE",
        packages=("snowflake-snowpark-python", "snowflake-ml-python", "xgboost", "scikit-learn", "pandas"),
        config=ir.freeze({
            "model_name": "approval_model",
            "source_table": "LOAN_APPLICATIONS",
            "notification_integration": "ML_ALERTS",
            "gate": {"metric": "test_roc_auc", "threshold": 0.8, "higher_is_better": True},
            "retention_days": 30,
        }),
        retries=1,
        timeout_ms=7_200_000,
        overlap=ir.Overlap.NONE,
        suspend_after_failures=3,
        comment="managed by dagc",
        environment=env,
        source=str(ROOT / "pipelines" / "training.yaml"),
    )
    fields.update(overrides)
    return ir.Pipeline(**fields)


def chain_ir(n: int, name: str = "big") -> ir.Pipeline:
    """A generated n-task pipeline: a chain with fan-in every 10 tasks (for benches and limits)."""
    tasks = []
    for i in range(n):
        after = [f"t{i - 1}"] if i else []
        if i >= 10 and i % 10 == 0:
            after.append(f"t{i - 10}")
        tasks.append(T(f"t{i}", step="noop", after=after, params={"i": i}))
    return ir.Pipeline(name=name, tasks=tuple(tasks), warehouse="WH", stage="@DB.SC.STAGE",
                       schedule=ir.Interval(3600, "1h"), config=ir.freeze({"k": 1}))


def load_shipped(path: Path, env: str | None = "prod") -> ir.Pipeline:
    from dagc.frontend import load_pipeline

    return load_pipeline(path, env=env)
