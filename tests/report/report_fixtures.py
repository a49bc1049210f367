"""Data the report tests share: the training pipeline's path and a run of it in which one task
failed and a branch was skipped, built as plain RunView data (no engine needed)."""

from __future__ import annotations

from pathlib import Path

from dagc.report.model import AttemptView, RunView, TaskRunView

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ROOT / "pipelines" / "training.yaml"
T0 = 1_789_956_000.0  # 2026-09-21T02:00:00Z: a fixed start keeps the pages deterministic

PROMOTE_ERROR = ("ModelRegistryError: cannot promote approval_model v7: the registry refused the alias "
                 "'production' (model is locked by another deployment)")


def failed_run() -> RunView:
    """quality_gate chose `promote`, promote failed (after a retry); the other case and its followers were skipped."""
    def t(name, state, start, end, **kw):
        return TaskRunView(name=name, state=state, started_at=None if start is None else T0 + start,
                           ended_at=None if end is None else T0 + end, **kw)

    tasks = (
        t("load_source", "SUCCEEDED", 0.0, 2.5, attempts=1, return_value='{"rows": 20000, "table": "LOAN_APPLICATIONS"}'),
        t("build_dataset", "SUCCEEDED", 2.6, 6.0, attempts=1, return_value='{"train": 14000, "validation": 3000, "test": 3000}'),
        t("train", "SUCCEEDED", 6.1, 21.4, attempts=1, return_value='{"model_path": "/tmp/model.json"}',
          log_excerpt="[0]\tvalidation-auc:0.71\n[199]\tvalidation-auc:0.83\n"),
        t("evaluate", "SUCCEEDED", 21.5, 24.0, attempts=1, return_value='{"test_roc_auc": 0.83}'),
        t("quality_gate", "SUCCEEDED", 24.1, 24.4, attempts=1, return_value="promote"),
        t("promote", "FAILED", 24.5, 27.9, attempts=2, error=PROMOTE_ERROR,
          log_excerpt="promoting approval_model v7\nTraceback (most recent call last):\n  ...\n" + PROMOTE_ERROR + "\n",
          history=(AttemptView(1, "FAILED", T0 + 24.5, T0 + 25.6, "registry timeout"),
                   AttemptView(2, "FAILED", T0 + 26.0, T0 + 27.9, PROMOTE_ERROR))),
        t("alert_gate_failed", "SKIPPED", None, None),
        t("summarize", "SKIPPED", None, None),
        t("on_failure", "SKIPPED", None, None),
        t("cleanup", "SUCCEEDED", 28.0, 28.6, attempts=1),
    )
    return RunView(run_id="20260921T020000Z-a1b2c3", pipeline="training", state="FAILED", started_at=T0,
                   ended_at=T0 + 28.7, config={"model_name": "approval_model", "gate.threshold": 0.7},
                   tasks=tasks, first_error_task="promote", first_error=PROMOTE_ERROR, environment="dev")
