"""Steps of docs/examples/score_new (pipelines/score_new.yaml), kept small so the example runs in seconds.

- predict              scores the rows of the source table (none on a fresh project: rows = 0);
- publish_predictions  reports what it would publish (runs only when `if:` finds rows);
- train_xgboost        a small XGBoost classifier per region, on synthetic data seeded by the region;
- compare_models       the best region by accuracy, read from the retrain_* ancestors' values.
"""

from __future__ import annotations

import zlib

from dagc import StepContext, step


@step
def predict(ctx: StepContext) -> dict:
    """Score every row of config.source_table with a fixed rule (a positive income is approved);
    no table yet means nothing to score."""
    table = str(ctx.config["source_table"])
    if not ctx.tables.exists(table):
        return {"rows": 0, "approved": 0}
    apps = ctx.tables.read(table)
    apps.columns = [str(c).lower() for c in apps.columns]
    approved = int((apps["income"] > 0).sum()) if "income" in apps.columns else 0
    return {"rows": int(len(apps)), "approved": approved}


@step
def publish_predictions(ctx: StepContext) -> dict:
    scored = ctx.inputs["score"]
    ctx.log.info("publishing %s predictions", scored["rows"])
    return {"published": scored["rows"]}


@step
def train_xgboost(ctx: StepContext, region: str, rounds: int = 8) -> dict:
    """Fit on 400 synthetic rows and score 100 held-out ones; the region seeds the data."""
    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(zlib.crc32(region.encode()))
    x = rng.normal(size=(500, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=500) > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=int(rounds), max_depth=3, n_jobs=1, verbosity=0)
    model.fit(x[:400], y[:400])
    accuracy = float((model.predict(x[400:]) == y[400:]).mean())
    return {"region": region, "accuracy": round(accuracy, 4)}


@step
def compare_models(ctx: StepContext) -> dict:
    """The region whose model scored best (ancestors' values are in ctx.inputs by YAML name)."""
    scores = {v["region"]: v["accuracy"] for name, v in ctx.inputs.items() if name.startswith("retrain_")}
    best = max(scores, key=lambda r: scores[r])
    return {"best": best, "accuracy": scores[best], "compared": len(scores)}
