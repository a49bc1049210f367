"""Inference pipeline steps. STUBS with the final signatures: the ML-pipelines issue fills them in."""

from __future__ import annotations

from steps import StepContext, step


@step
def ingest_new_applications(ctx: StepContext, rows: int = 2000) -> dict:
    raise NotImplementedError("stub")


@step
def load_default_model(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def build_scoring_features(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def predict(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def drift_check(ctx: StepContext) -> str:
    raise NotImplementedError("stub")


@step
def publish_predictions(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def alert_drift(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")


@step
def cleanup_scoring(ctx: StepContext) -> dict:
    raise NotImplementedError("stub")
