"""Training pipeline steps (pipelines/training.yaml): thin wrappers over steps/ml.

Data flow between tasks. Return values are small JSON (names, counts, metrics), never data:
- load_source      creates the source tables with synthetic applications if they are missing;
- build_dataset    computes the dataset IN THE WAREHOUSE (one SQL statement, steps/ml/sqlfeatures.py)
                   into a VERSION table <MODEL>_DATASET_<run> (kept, listed in <MODEL>_DATASETS,
                   referenced by the model's lineage; retention removes it);
- train_xgboost    reads the dataset in batches (or through DataConnectors on a multi-node ML
                   Job) and writes the fitted model, as XGBoost's portable format in base64 rows, to the
                   per-run scratch table TMP_..._MODEL. An unpromoted model never enters the
                   registry: only promote_model logs a version, so the registry holds promoted
                   models only, each with its metrics and lineage;
- evaluate_model   scores validation and test, and the current default model on the same test
                   rows (a fair champion/challenger comparison), and forwards what later steps need;
- metric_gate      returns "pass" or "fail";
- promote_model / alert_gate_failed, then summarize_run; cleanup_run always runs last.
Scratch tables are named from the run id (steps/ml/naming.py), so the finalizer, which has no
predecessors, can find and drop them.
"""

from __future__ import annotations

from dagc import StepContext, step


@step
def load_source(ctx: StepContext, rows: int = 50000, seed: int = 7) -> dict:
    """Create the source tables with `rows` synthetic applications unless they exist."""
    from steps.ml import gate
    from steps.ml.runs import clear_errors, setting

    with clear_errors("config.gate"):  # fail before any training time is spent
        gate.parse_config(ctx.config.get("gate"))
    source = setting(ctx, "source_table")
    if ctx.tables.exists(source):
        ctx.log.info("source table %s exists; not generating data", source)
        return {"source_table": source, "created": False, "summary": f"{source} exists"}

    from steps.ml.data import source_batches

    # Streamed: one batch of applications in memory at a time. The applications go to a staging
    # table first and become the source in one statement at the end, so a half-finished load
    # never looks like a loaded source (the source's existence means "loaded").
    staging = f"{source}_LOADING"
    targets = {"county_economics": setting(ctx, "economics_table"), "credit_reports": setting(ctx, "credit_table"),
               "applications": staging}
    written: dict[str, int] = {}
    with clear_errors("load_source"):
        for kind, df in source_batches(int(rows), int(seed)):
            table = targets[kind]
            mode = "append" if table in written else "overwrite"
            written[table] = written.get(table, 0) + ctx.tables.write(table, df, mode=mode)
    from steps.ml.sqlfeatures import ident

    written[source] = ctx.tables.create_table_as(source, f"SELECT * FROM {ident(staging)}")
    written.pop(staging)
    ctx.tables.drop(staging)
    ctx.log.info("generated %s", written)
    return {"source_table": source, "created": True, "rows": written,
            "summary": f"generated {written[source]:,} applications"}


def _require_tables(ctx: StepContext, *keys: str) -> list[str]:
    from dagc.diagnostics import DagcError
    from steps.ml.runs import setting

    hint = "run load_source first, or point config.source_table at your table"
    what = {"source_table": "source table", "credit_table": "credit reports table",
            "economics_table": "county economics table"}
    names = []
    for key in keys:
        name = setting(ctx, key)
        if not ctx.tables.exists(name):
            raise DagcError(f"{what[key]} {name} does not exist", hint)
        names.append(name)
    return names


@step
def build_dataset(ctx: StepContext, validation_fraction: float = 0.15, test_fraction: float = 0.15) -> dict:
    """Labelled events + as-of features + temporal split, computed in the warehouse as a dataset version.

    One SQL statement (steps/ml/sqlfeatures.py) creates the table where the data lives (DuckDB
    locally, the task's warehouse on Snowflake); only counts and the split summary come back.
    """
    import pandas as pd

    from steps.ml import naming, warehouse
    from steps.ml.runs import clear_errors, read, setting, utc

    source, credit, econ = _require_tables(ctx, "source_table", "credit_table", "economics_table")
    as_of = pd.Timestamp(utc(ctx.logical_date)).isoformat()  # what was known at the run's logical date (a backfill's)
    model = setting(ctx, "model_name")
    version = naming.dataset_version(ctx.run_id)
    table = naming.dataset_table(model, version)
    catalog = naming.dataset_catalog(model)
    with clear_errors("build_dataset"):
        warehouse.check_fractions(validation_fraction, test_fraction)
        warehouse.check_source(ctx.tables, source, credit, econ, as_of=as_of)

    def record(info: dict | None) -> None:
        rows = (info or {}).get("rows", {})
        entry = pd.DataFrame([{
            "version": version, "table_name": table, "run_id": ctx.run_id,
            "created_at": pd.Timestamp(utc(ctx.scheduled_at)), "rows": int(sum(rows.values())),
            "train_rows": int(rows.get("train", 0)), "validation_rows": int(rows.get("validation", 0)),
            "test_rows": int(rows.get("test", 0)),
            "data_end": pd.Timestamp(info["data_end"]) if info else pd.Timestamp(utc(ctx.scheduled_at)),
        }])
        if ctx.tables.exists(catalog):  # a retry replaces its own entry
            old = read(ctx, catalog)
            entry = pd.concat([old[old["version"] != version], entry], ignore_index=True)
        ctx.tables.write(catalog, entry)

    record(None)  # catalog first: the finalizer can always find the table
    try:
        with clear_errors("build_dataset"):
            info = warehouse.build_dataset(ctx.tables, apps=source, credit=credit, econ=econ, target=table,
                                           validation_fraction=validation_fraction, test_fraction=test_fraction,
                                           as_of=as_of)
    except Exception:
        ctx.tables.drop(table)
        raise
    record(info)
    ctx.log.info("dataset %s: %s", table, info["rows"])
    total = sum(info["rows"].values())
    return {"dataset_table": table, "dataset_version": version, **info,
            "summary": f"{total:,} rows: " + ", ".join(f"{k} {v:,}" for k, v in info["rows"].items())}


@step
def train_xgboost(ctx: StepContext, max_depth: int = 6, n_estimators: int = 200, learning_rate: float = 0.1,
                  subsample: float = 0.9, early_stopping_rounds: int = 25, seed: int = 0) -> dict:
    """XGBoost (hist) with early stopping on the validation split; the model goes to a scratch table.

    Same code path everywhere; the trainer depends on where it runs (steps/ml/distributed.py):
    in an ML Job with more than one node, the ML Runtime's distributed XGBEstimator over
    DataConnectors; otherwise in-process XGBoost over the dataset read batch by batch. Same
    hyper-parameters either way, and the evaluate step judges both by the same metrics.
    """
    import time

    from steps.ml import distributed, train, warehouse
    from steps.ml.data import LABEL
    from steps.ml.runs import clear_errors, prefix

    ds = ctx.inputs["build_dataset"]
    table, features = ds["dataset_table"], list(ds["features"])
    if not ctx.tables.exists(table):
        from dagc.diagnostics import DagcError

        raise DagcError(f"dataset table {table} does not exist", "re-run build_dataset (dagc retry reruns it)")
    params = {"max_depth": int(max_depth), "n_estimators": int(n_estimators), "learning_rate": float(learning_rate),
              "subsample": float(subsample), "early_stopping_rounds": int(early_stopping_rounds)}
    train_rows = int(ds["rows"]["train"])
    choice, nodes = distributed.trainer(), distributed.nodes()
    started = time.perf_counter()
    with clear_errors("train_xgboost"):
        if choice == "distributed":
            ctx.log.info("training on %d nodes with the distributed XGBEstimator", nodes)
            model = distributed.fit_distributed(
                distributed.distributed_inputs(ctx.session, table, features, LABEL, params, int(seed), train_rows))
        else:
            cols = [*features, LABEL]
            model = train.fit_batches(lambda: warehouse.batches(ctx.tables, table, ["train"], cols),
                                      lambda: warehouse.batches(ctx.tables, table, ["validation"], cols),
                                      features, LABEL, params, seed=int(seed), rows=train_rows)
    seconds = time.perf_counter() - started
    model_table = prefix(ctx) + "MODEL"
    ctx.tables.write(model_table, train.to_frame(train.to_bytes(model)))
    best = int(getattr(model, "best_iteration", n_estimators - 1) or 0)
    ctx.log.info("trained in %.2fs, best iteration %d", seconds, best)
    return {"model_table": model_table, "dataset_table": table, "dataset_version": ds["dataset_version"],
            "data_end": ds["data_end"], "features": features, "params": params, "best_iteration": best,
            "train_rows": train_rows, "seconds": round(seconds, 3), "trainer": choice, "nodes": nodes,
            "threads": train.n_jobs(train_rows),
            "summary": f"{best + 1} trees in {seconds:.1f}s ({choice.replace('_', '-')}"
                       + (f", {nodes} nodes)" if nodes > 1 else ")")}


@step
def evaluate_model(ctx: StepContext, decision_threshold: float = 0.5) -> dict:
    """Validation/test metrics, the test score profile (drift reference), and the champion's metrics.

    Scores the dataset table's validation and test rows batch by batch, the new model and the
    current default model in the same pass (the champion on the SAME test rows: a fair comparison).
    """
    from steps.ml import drift, train
    from steps.ml.pipeline import evaluate_table
    from steps.ml.runs import clear_errors, core_metrics, metrics_line, prefix, read, setting

    tr = ctx.inputs["train"]
    model = train.from_bytes(train.from_frame(read(ctx, tr["model_table"], what="model scratch table")))
    name = setting(ctx, "model_name")
    default = ctx.models.get_default(name)
    models = [model]
    if default is not None:
        try:
            models.append(ctx.models.load(name, default))
        except Exception as exc:  # noqa: BLE001 - fall back to its recorded metrics below
            ctx.log.warning("could not load default model %s (%s)", default, exc)
    with clear_errors("evaluate_model"):
        results, scores, sample = evaluate_table(ctx.tables, tr["dataset_table"], list(tr["features"]), models,
                                                 float(decision_threshold))
        reference = drift.profile(scores, float(decision_threshold))
    metrics = results[0] or {}
    baseline = None
    if default is not None:
        if len(results) > 1 and results[1] is not None:
            baseline = {"version": default, "metrics": results[1], "source": "same test rows"}
        else:  # e.g. an older feature set: its recorded metrics
            info = next((v for v in ctx.models.versions(name) if v.version == default), None)
            ctx.log.warning("could not score default model %s on this test set; using its recorded metrics", default)
            if info is not None:
                baseline = {"version": default, "metrics": dict(info.metrics), "source": "registry"}
    ctx.log.info("test metrics: %s", metrics_line(metrics))
    sample_table = prefix(ctx) + "SAMPLE"  # Snowflake's registry infers the model signature from it
    ctx.tables.write(sample_table, sample)
    return {**{k: tr[k] for k in ("model_table", "dataset_table", "dataset_version", "data_end", "features", "params")},
            "sample_table": sample_table,
            "metrics": metrics, "reference": reference, "baseline": baseline,
            "summary": "test " + " ".join(f"{k}={v:.4f}" for k, v in core_metrics(metrics).items()
                                          if k in ("accuracy", "precision", "recall", "f1"))}


def _decision(ctx: StepContext) -> object:
    from steps.ml import gate
    from steps.ml.runs import clear_errors

    ev = ctx.inputs["evaluate"]
    with clear_errors("quality gate"):
        cfg = gate.parse_config(ctx.config.get("gate"))
        base = (ev.get("baseline") or {}).get("metrics")
        return gate.decide(cfg, ev["metrics"], base)


@step
def metric_gate(ctx: StepContext) -> str:
    """"pass" if the configured metric clears the threshold and does not regress on the default model."""
    d = _decision(ctx)
    ctx.log.info("gate %s: %s", d.case, "; ".join(d.reasons))  # type: ignore[attr-defined]
    # literal returns: dagc validate checks `cases:` against them, and editors complete them
    return "pass" if d.passed else "fail"  # type: ignore[attr-defined]


@step
def promote_model(ctx: StepContext) -> dict:
    """Log the model with its metrics and lineage, and make it the default version."""
    from steps.ml import train
    from steps.ml.runs import core_metrics, metrics_line, read, setting, utc

    ev = ctx.inputs["evaluate"]
    name = setting(ctx, "model_name")
    existing = [v for v in ctx.models.versions(name) if v.lineage.get("run_id") == ctx.run_id]
    if existing:  # a retry of this task: the version is already logged
        version = existing[-1].version
    else:
        model = train.from_bytes(train.from_frame(read(ctx, ev["model_table"], what="model scratch table")))
        lineage = {"run_id": ctx.run_id, "pipeline": ctx.pipeline, "scheduled_at": utc(ctx.scheduled_at).isoformat(),
                   "logical_date": utc(ctx.logical_date).isoformat(),
                   "dataset_version": ev["dataset_version"], "dataset_table": ev["dataset_table"],
                   "data_end": ev["data_end"], "features": ev["features"], "params": ev["params"],
                   "drift_reference": ev["reference"], "environment": ctx.environment}
        sample = read(ctx, ev["sample_table"], what="sample scratch table")[ev["features"]]
        version = ctx.models.log_model(name, model, metrics=ev["metrics"], lineage=lineage, sample_input=sample)
    ctx.models.set_default(name, version)
    ctx.log.info("promoted %s %s: %s", name, version, metrics_line(ev["metrics"]))
    return {"model": name, "version": version, "test_metrics": core_metrics(ev["metrics"]),
            "summary": f"{name} {version} is now the default"}


@step
def alert_gate_failed(ctx: StepContext) -> dict:
    """Tell people the new model was not promoted, and why."""
    from steps.ml.runs import core_metrics, setting

    d = _decision(ctx)
    ev = ctx.inputs["evaluate"]
    name = setting(ctx, "model_name")
    message = (f"The model trained by run {ctx.run_id} of {ctx.pipeline} was NOT promoted: "
               + "; ".join(d.reasons) + f". Test metrics: {core_metrics(ev['metrics'])}.")  # type: ignore[attr-defined]
    ctx.notify(f"dagc: {name} failed its quality gate", message, integration=ctx.config.get("notification_integration"),
               recipients=ctx.config.get("alert_recipients"))
    return {"alerted": True, "reasons": d.reasons, "test_metrics": core_metrics(ev["metrics"]),  # type: ignore[attr-defined]
            "summary": "not promoted: " + "; ".join(d.reasons)}  # type: ignore[attr-defined]


@step
def summarize_run(ctx: StepContext) -> dict:
    """One line on what happened: promoted (which version) or not, with the test metrics."""
    promoted = ctx.inputs.get("promote")
    alerted = ctx.inputs.get("alert_gate_failed")
    outcome = promoted or alerted or {}
    test = outcome.get("test_metrics") or {}
    if promoted:
        line = f"promoted {promoted['version']}: test roc_auc={test.get('roc_auc', float('nan')):.4f} " \
               f"log_loss={test.get('log_loss', float('nan')):.4f}"
    else:
        line = outcome.get("summary", "nothing to report")
    ctx.log.info("%s; test metrics %s", line, test)
    print(line)
    from steps.ml.cleanup import mark_done

    mark_done(ctx)
    return {"promoted": bool(promoted), "version": (promoted or {}).get("version"),
            "test_metrics": outcome.get("test_metrics"), "summary": line}


@step
def cleanup_run(ctx: StepContext, retention_days: int = 30, stale_scratch_hours: int = 24,
                keep_for_retry: bool = True) -> dict:
    """Drop scratch tables; apply retention. Runs whatever happened.

    Scratch: this run's tables once it finished (a failed run keeps them for a retry unless
    keep_for_retry is false), and those of this pipeline's runs older than stale_scratch_hours.
    Retention deletes model versions created more than `retention_days` before this run, never
    the default version, and dataset versions as old that no remaining model version references.
    Each action is attempted even when another fails; failures are reported together.
    """
    from steps.ml.cleanup import apply_retention, drop_scratch

    errors: list[str] = []
    dropped, kept = drop_scratch(ctx, stale_scratch_hours, errors, keep_for_retry=keep_for_retry)
    deleted_models, deleted_datasets = apply_retention(ctx, retention_days, errors)
    result = {"dropped_tables": dropped[:50], "kept_for_retry": kept[:50], "deleted_model_versions": deleted_models[:50],
              "deleted_datasets": deleted_datasets[:50],
              "summary": f"dropped {len(dropped)} scratch" + (f", kept {len(kept)} for a retry" if kept else "")
                         + f"; expired {len(deleted_models)} model, {len(deleted_datasets)} dataset versions"}
    ctx.log.info("%s", result["summary"])
    if errors:
        from dagc.diagnostics import DagcError

        raise DagcError("cleanup incomplete: " + "; ".join(errors))
    return result
