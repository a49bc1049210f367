"""Training pipeline steps. STUBS with the final signatures: the ML-pipelines issue fills them in."""

from __future__ import annotations

from steps import StepContext, step


@step
def load_source(ctx: StepContext, rows: int = 20000, seed: int = 7) -> dict:
    raise NotImplementedError("stub: filled in by the ML-pipelines issue")


@step
def build_dataset(ctx: StepContext, validation_fraction: float = 0.15, test_fraction: float = 0.15) -> dict:
    raise NotImplementedError("stub")


@step
def train_xgboost(ctx: StepContext, max_depth: int = 6, n_estimators: int = 200, learning_rate: float = 0.1) -> dict:
    raise NotImplementedError("stub")


@step
def evaluate_model(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def metric_gate(ctx: StepContext) -> str:
    raise NotImplementedError("stub")


@step
def promote_model(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def alert_gate_failed(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def summarize_run(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def cleanup_run(ctx: StepContext, retention_days: int = 30) -> dict:
    raise NotImplementedError("stub")
