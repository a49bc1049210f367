"""Inference pipeline steps (pipelines/inference.yaml): score new applications with the default model.

- ingest_new_applications  appends the next day of new, undecided applications (synthetic, the same
                           world as the training data), once per run (a log table makes retries safe);
- load_default_model       finds the default version (fails clearly if there is none);
- build_scoring_features   features for the newest unscored rows: after the model's training
                           data and not in the predictions table yet, with the same point-in-time
                           feature SQL as training, computed in the warehouse;
- predict                  scores them into a per-run scratch table (the registry's `run` in the
                           warehouse on Snowflake, batch by batch locally);
- publish_predictions      appends them to the predictions table with model name, version and
                           time; rows already there are not written again (idempotent);
- drift_check              "stable" or "drifted" (score PSI and positive-rate shift against the
                           model's test-set profile), then report_scoring or alert_drift;
- cleanup_scoring          drops the run's scratch tables, whatever happened.
"""

from __future__ import annotations

from dagc import StepContext, step

PREDICTION_COLUMNS = ("application_id", "event_time", "score", "prediction", "model_name", "model_version",
                      "scored_at", "scoring_date")


def _predictions_table(ctx: StepContext, table: str) -> str | None:
    """`table` if it exists (None if not yet), after checking its schema without reading its rows.

    An existing table must have exactly our columns: appending to another table is a mess.
    """
    from dagc.diagnostics import DagcError
    from steps.ml.warehouse import columns_of

    if not ctx.tables.exists(table):
        return None
    have = columns_of(ctx.tables, table)
    missing = [c for c in PREDICTION_COLUMNS if c not in have]
    extra = [c for c in have if c not in PREDICTION_COLUMNS]
    if missing or extra:
        raise DagcError(
            f"predictions table {table} has a different schema: "
            + "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                    f"unexpected {', '.join(extra)}" if extra else "") if p),
            f"expected columns {', '.join(PREDICTION_COLUMNS)}; rename or drop {table}, or set "
            "config.predictions_table to a new table",
        )
    return table


@step
def ingest_new_applications(ctx: StepContext, rows: int = 2000, seed: int = 11, shift: float = 0.0) -> dict:
    """Append a day of new applications after the newest one; once per run (a retry adds nothing).

    `shift` (0..1) simulates a macro shock (lower incomes and credit), to see the drift alert.
    """
    import pandas as pd

    from steps.ml.data import generate_batch
    from steps.ml.runs import clear_errors, read, setting, utc

    source = setting(ctx, "source_table")
    hint = "run the training pipeline first (dagc run pipelines/training.yaml): it creates the source tables"
    from dagc.diagnostics import DagcError
    from steps.ml.sqlfeatures import ident

    if not ctx.tables.exists(source):
        raise DagcError(f"source table {source} does not exist", hint)
    top = ctx.tables.query(f"SELECT COUNT(*) AS n, MAX(application_id) AS last_id, MAX(event_time) AS last_time "
                           f"FROM {ident(source)}")
    top.columns = [str(c).lower() for c in top.columns]
    n_apps, last_id, last_time = int(top["n"].iloc[0]), top["last_id"].iloc[0], top["last_time"].iloc[0]
    log_table = f"{source}_INGESTS"
    log = read(ctx, log_table) if ctx.tables.exists(log_table) else None
    mine = log[log["run_id"].astype(str) == ctx.run_id] if log is not None else None
    if mine is not None and len(mine) and n_apps and int(last_id) >= int(mine["first_id"].iloc[0]):
        ctx.log.info("this run's batch is already ingested")
        return {"ingested": 0, "summary": "batch already ingested by this run"}
    if n_apps == 0:
        raise DagcError(f"source table {source} is empty: there is no history to continue", hint)
    first_id = int(last_id) + 1
    after = pd.Timestamp(last_time)
    with clear_errors("ingest_new_applications"):
        batch = generate_batch(int(rows), int(seed), after=after, first_id=first_id, shift=float(shift))
    entry = pd.DataFrame([{"run_id": ctx.run_id, "ingested_at": pd.Timestamp(utc(ctx.scheduled_at)),
                           "first_id": first_id, "rows": int(rows), "shift": float(shift)}])
    if log is not None:
        entry = pd.concat([log[log["run_id"].astype(str) != ctx.run_id], entry], ignore_index=True)
    ctx.tables.write(log_table, entry)  # intent first: a retry of this run finds it
    econ_table = setting(ctx, "economics_table")
    if not ctx.tables.exists(econ_table):
        raise DagcError(f"county economics table {econ_table} does not exist", hint)
    last_week = ctx.tables.query(f"SELECT MAX(as_of) AS last FROM {ident(econ_table)}").iloc[0, 0]
    new_weeks = batch["county_economics"][batch["county_economics"]["as_of"] > pd.Timestamp(last_week)]
    if len(new_weeks):
        ctx.tables.write(econ_table, new_weeks, mode="append")
    ctx.tables.write(setting(ctx, "credit_table"), batch["credit_reports"], mode="append")
    ctx.tables.write(source, batch["applications"], mode="append")
    return {"ingested": int(rows), "first_id": first_id,
            "summary": f"{rows:,} new applications after {after}"}


@step
def load_default_model(ctx: StepContext) -> dict:
    """The default version of config.model_name and what scoring needs from its lineage."""
    from dagc.diagnostics import DagcError
    from steps.ml.runs import setting

    name = setting(ctx, "model_name")
    version = ctx.models.get_default(name)
    if version is None:
        raise DagcError(f"model {name} has no default version: there is nothing to score with",
                        "train and promote one first: dagc run pipelines/training.yaml")
    info = next(v for v in ctx.models.versions(name) if v.version == version)
    lineage = dict(info.lineage)
    missing = [k for k in ("features", "drift_reference", "data_end") if k not in lineage]
    if missing:
        raise DagcError(f"model {name} {version} lacks lineage {', '.join(missing)}",
                        "it was not logged by the training pipeline's promote_model step; promote a model with it")
    return {"model": name, "version": version, "features": lineage["features"], "reference": lineage["drift_reference"],
            "data_end": lineage["data_end"], "dataset_version": lineage.get("dataset_version"),
            "summary": f"{name} {version}"}


@step
def build_scoring_features(ctx: StepContext) -> dict:
    """Point-in-time features for applications newer than the model's data and not yet scored.

    The same SQL definition as training (steps/ml/sqlfeatures.py), run in the warehouse: the
    unscored rows and the 90 days of history their windows need; nothing is read into Python.
    """
    from steps.ml import warehouse
    from steps.ml.runs import clear_errors, prefix, setting

    m = ctx.inputs["load_model"]
    scored = _predictions_table(ctx, setting(ctx, "predictions_table"))
    table = prefix(ctx) + "FEATURES"
    with clear_errors("build_scoring_features"):
        try:
            rows = warehouse.build_scoring_features(
                ctx.tables, apps=setting(ctx, "source_table"), credit=setting(ctx, "credit_table"),
                econ=setting(ctx, "economics_table"), target=table, data_end=str(m["data_end"]), scored=scored,
                features=m["features"])
        except ValueError as exc:
            if "does not build" not in str(exc):
                raise
            from dagc.diagnostics import DagcError

            raise DagcError(f"model {m['model']} {m['version']} needs {exc}",
                            "retrain and promote a model with the current feature code") from None
    if rows == 0:
        ctx.log.info("no unscored applications")
        return {"features_table": table, "rows": 0, "summary": "nothing new to score"}
    return {"features_table": table, "rows": int(rows), "summary": f"{rows:,} rows to score"}


@step
def predict(ctx: StepContext) -> dict:
    """Score the feature rows with the exact version load_model chose, batch by batch.

    On Snowflake the registry's model version scores the table in the warehouse
    (`ModelVersion.run`); locally (or where that is unavailable) the model scores batches here.
    """
    from steps.ml.runs import prefix, utc
    from steps.ml.scoring import score_table

    m, f = ctx.inputs["load_model"], ctx.inputs["build_features"]
    threshold = float(m["reference"].get("threshold", 0.5))
    table = prefix(ctx) + "SCORES"
    now = utc(ctx.scheduled_at)
    rows, positives = score_table(ctx, m["model"], m["version"], f["features_table"], table, list(m["features"]),
                                  threshold=threshold, scored_at=now)
    rate = positives / rows if rows else None
    return {"scores_table": table, "rows": int(rows), "model": m["model"], "version": m["version"],
            "reference": m["reference"], "positive_rate": rate,
            "summary": f"{rows:,} scored with {m['model']} {m['version']}"
                       + (f", {rate:.1%} predicted approved" if rate is not None else "")}


@step
def publish_predictions(ctx: StepContext) -> dict:
    """Append the run's predictions; rows already in the table are left alone (re-runs are no-ops).

    The rows already published are found by an anti-join in the warehouse; only the run's new
    predictions move, batch by batch.
    """
    from steps.ml.runs import setting
    from steps.ml.sqlfeatures import ident

    p = ctx.inputs["predict"]
    table = setting(ctx, "predictions_table")
    done = _predictions_table(ctx, table)
    cols = ", ".join(f"s.{c}" for c in PREDICTION_COLUMNS)
    query = f"SELECT {cols} FROM {ident(p['scores_table'])} s"
    if done is not None:
        query += f" WHERE NOT EXISTS (SELECT 1 FROM {ident(done)} d WHERE d.application_id = s.application_id)"
    written = 0
    for batch in ctx.tables.read_batches(query + " ORDER BY s.event_time, s.application_id"):
        batch.columns = [str(c).lower() for c in batch.columns]
        if len(batch):  # nothing new: leave the table (or its absence) as it is
            written += ctx.tables.write(table, batch[list(PREDICTION_COLUMNS)], mode="append")
    forward = {k: p[k] for k in ("scores_table", "model", "version", "reference", "rows")}
    return {**forward, "predictions_table": table, "written": int(written),
            "summary": f"{written:,} predictions appended to {table} ({p['model']} {p['version']})"}


def _drift(ctx: StepContext) -> dict:
    from steps.ml import drift
    from steps.ml.runs import clear_errors, read

    pub = ctx.inputs["publish"]
    cfg = dict(ctx.config.get("drift") or {})
    scores = read(ctx, pub["scores_table"], what="scores scratch table")["score"].to_numpy(dtype="float64")
    with clear_errors("drift check"):
        try:
            max_psi = float(cfg.get("max_score_psi", 0.25))
            max_shift = float(cfg.get("max_positive_rate_shift", 0.15))
        except (TypeError, ValueError):
            raise ValueError(f"config.drift thresholds must be numbers, got {cfg}") from None
        return drift.check(pub["reference"], scores, max_psi=max_psi, max_positive_rate_shift=max_shift)


@step
def drift_check(ctx: StepContext) -> str:
    """"drifted" when the score PSI or the positive-rate shift exceeds config.drift, else "stable"."""
    report = _drift(ctx)
    ctx.log.info("drift: %s", report)
    return "drifted" if report["drifted"] else "stable"


@step
def report_scoring(ctx: StepContext) -> dict:
    """The stable case: record the figures (they are in the run's history)."""
    report = _drift(ctx)
    pub = ctx.inputs["publish"]
    rate = report["positive_rate"]
    line = (f"stable: PSI {report['psi']:.3f}, positive rate "
            + (f"{rate:.3f} (reference {report['reference_positive_rate']:.3f})" if rate is not None else "n/a (no rows)"))
    print(line)
    from steps.ml.cleanup import mark_done

    mark_done(ctx)
    return {**report, "summary": line}


@step
def alert_drift(ctx: StepContext) -> dict:
    """The drifted case: notify through the notification integration."""
    from steps.ml.runs import setting

    report = _drift(ctx)
    pub = ctx.inputs["publish"]
    message = (f"Scores of {pub['rows']:,} new applications by {pub['model']} {pub['version']} drifted from the "
               f"model's test profile: {'; '.join(report['reasons'])}. Run {ctx.run_id} of {ctx.pipeline}.")
    ctx.notify(f"dagc: prediction drift for {setting(ctx, 'model_name')}", message,
               integration=ctx.config.get("notification_integration"), recipients=ctx.config.get("alert_recipients"))
    from steps.ml.cleanup import mark_done

    mark_done(ctx)
    return {**report, "alerted": True, "summary": "drift: " + "; ".join(report["reasons"])}


@step
def cleanup_scoring(ctx: StepContext, stale_scratch_hours: int = 24, keep_for_retry: bool = True) -> dict:
    """Drop the run's scratch tables once it finished (see cleanup_run), and stale ones of old runs."""
    from steps.ml.cleanup import drop_scratch

    errors: list[str] = []
    dropped, kept = drop_scratch(ctx, stale_scratch_hours, errors, keep_for_retry=keep_for_retry)
    if errors:
        from dagc.diagnostics import DagcError

        raise DagcError("cleanup incomplete: " + "; ".join(errors))
    return {"dropped_tables": dropped[:50], "kept_for_retry": kept[:50],
            "summary": f"dropped {len(dropped)} scratch table(s)" + (f", kept {len(kept)} for a retry" if kept else "")}
