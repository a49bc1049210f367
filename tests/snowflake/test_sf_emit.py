"""The Snowflake emitter builds the dagv1 graph a careful engineer would write, and refuses what
Snowflake cannot express."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from dagc import ir
from dagc.diagnostics import DagcError
from tests.snowflake.sfixtures import PIPELINES, T, load_shipped, training_ir

emit = pytest.importorskip("dagc.emit.snowflake")
from snowflake.core.task import Cron, OverlapPolicy, StoredProcedureCall  # noqa: E402
from snowflake.core.task.dagv1 import DAG, DAGTaskBranch  # noqa: E402

from dagc.snowflake.state import canon, from_manifest, from_tasks  # noqa: E402


@pytest.fixture(scope="module")
def dag() -> DAG:
    return emit.build_dag(training_ir())


@pytest.fixture(scope="module")
def low(dag: DAG) -> dict[str, object]:
    return {t.name: t for t in emit.low_level_tasks(dag)}


def test_names_are_dag_dollar_task_and_root_first(dag: DAG) -> None:
    names = [t.name for t in emit.low_level_tasks(dag)]
    assert names[0] == "training"
    assert names[-1] == "training$cleanup"
    assert set(names[1:]) == {f"training${t.name}" for t in training_ir().all_tasks()}
    # dependency order: every predecessor appears before its successor
    pos = {n: i for i, n in enumerate(names)}
    for t in emit.low_level_tasks(dag)[1:]:
        for p in t.predecessors or []:
            assert pos[p] < pos[t.name]


def test_graph_settings_map_to_dagv1(dag: DAG, low: dict) -> None:
    root = low["training"]
    assert root.schedule == Cron("0 2 * * *", "UTC")
    assert root.warehouse == "PROD_WH"
    assert root.overlap_policy == OverlapPolicy.NO_OVERLAP
    assert root.task_auto_retry_attempts == 1
    assert root.user_task_timeout_ms == 7_200_000
    assert root.suspend_task_after_num_failures == 3
    assert root.comment == "managed by dagc"
    assert root.config["gate.threshold"] == 0.8 and root.config["model_name"] == "approval_model"
    assert dag.use_func_return_value is False  # dagc sets return values itself (JSON, branch mapping)


def test_predecessors_conditions_and_finalizer(low: dict) -> None:
    assert low["training$load_source"].predecessors == ["training"]  # a root task hangs off the DAG root
    assert low["training$summarize"].predecessors == ["training$alert_gate_failed", "training$promote"]
    assert low["training$summarize"].condition == "SYSTEM$PREDECESSORS_STATE('NONE_FAILED_MIN_ONE_SUCCEEDED')"
    assert low["training$on_failure"].condition == "SYSTEM$PREDECESSORS_STATE('AT_LEAST_ONE_FAILED')"
    assert low["training$promote"].condition == "SYSTEM$GET_PREDECESSOR_RETURN_VALUE('TRAINING$QUALITY_GATE') = 'promote'"
    assert low["training$alert_gate_failed"].condition.endswith("= 'alert_gate_failed'")
    assert low["training$train"].condition is None
    fin = low["training$cleanup"]
    assert fin.finalize == "training" and fin.predecessors is None


def test_branch_task_is_dagtaskbranch_and_python_tasks_use_the_staged_entry(dag: DAG, low: dict) -> None:
    assert isinstance(dag.get_task("quality_gate"), DAGTaskBranch)
    assert isinstance(low["training$on_failure"].definition, str)
    job = dag.get_task("train").definition  # a compute: task is a native ML Job (tests/ml/test_ml_mljob.py)
    assert job.spec["step"] == "train_xgboost" and job.spec["compute"] == {"pool": "TRAINING_POOL", "instances": 2}
    assert low["training$train"].definition.startswith("CALL SYSTEM$EXECUTE_ML_JOB(")
    d = low["training$evaluate"].definition
    assert isinstance(d, StoredProcedureCall)
    assert low["training$quality_gate"].definition.func.dagc_spec["cases"] == {"pass": "promote", "fail": "alert_gate_failed"}
    assert low["training$promote"].definition.func.dagc_spec["branch_after"] == ["quality_gate"]
    assert d._stage_location == "@ML.PROD.DAGC_STAGE"


def test_serverless_and_task_settings() -> None:
    p = training_ir()
    tasks = list(p.tasks)
    tasks[0] = dataclasses.replace(tasks[0], serverless=True, serverless_size="small",
                                   session_parameters=ir.freeze({"query_tag": "dagc"}))
    tasks[1] = dataclasses.replace(tasks[1], warehouse="BIG_WH")
    low = {t.name: t for t in emit.low_level_tasks(emit.build_dag(dataclasses.replace(p, tasks=tuple(tasks))))}
    assert low["training$load_source"].warehouse is None
    assert low["training$load_source"].user_task_managed_initial_warehouse_size == "SMALL"
    assert low["training$load_source"].session_parameters == {"QUERY_TAG": "dagc", "LOG_LEVEL": "INFO"}
    assert low["training$build_dataset"].warehouse == "BIG_WH"
    assert low["training$train"].warehouse == "PROD_WH"  # inherits the graph's


def test_interval_schedule_is_whole_seconds() -> None:
    low = emit.low_level_tasks(emit.build_dag(training_ir(schedule=ir.Interval(5400, "90m"))))
    assert low[0].schedule == timedelta(minutes=90)


@pytest.mark.parametrize(
    "schedule, needle",
    [
        (ir.Interval(5, "5s"), "at least 10 seconds"),
        (ir.Interval(9 * 86400, "9d"), "11520 minutes"),
        (ir.Cron("0 2 * *", "UTC"), "five-field"),
        (ir.Cron("0 2 * * *", "Mars/Olympus"), "time zone"),
    ],
)
def test_schedules_snowflake_would_reject_are_compile_errors(schedule: ir.Schedule, needle: str) -> None:
    with pytest.raises(DagcError, match=needle):
        emit.build_dag(training_ir(schedule=schedule))


def test_settings_with_no_place_in_dagv1_are_compile_errors() -> None:
    p = training_ir()
    sql_with_compute = dataclasses.replace(p.task("on_failure"), compute=ir.Compute("POOL", 1))
    bad = dataclasses.replace(p, tasks=tuple(sql_with_compute if t.name == "on_failure" else t for t in p.tasks))
    with pytest.raises(DagcError, match="SQL task cannot use it"):
        emit.build_dag(bad)
    nested = dataclasses.replace(p.tasks[0], session_parameters=ir.freeze({"x": {"y": 1}}))
    with pytest.raises(DagcError, match="session parameters take"):
        emit.build_dag(dataclasses.replace(p, tasks=(nested,) + p.tasks[1:]))
    with pytest.raises(DagcError, match="no stage"):
        emit.build_dag(dataclasses.replace(p, stage=None))
    stray = T("audit", after=["quality_gate"])
    with pytest.raises(DagcError, match="follows branch 'quality_gate' but is none of its cases"):
        emit.build_dag(dataclasses.replace(p, tasks=p.tasks + (stray,)))
    size_on_wh = dataclasses.replace(p.tasks[0], serverless_size="SMALL")
    with pytest.raises(DagcError, match="serverless tasks only"):
        emit.build_dag(dataclasses.replace(p, tasks=(size_on_wh,) + p.tasks[1:]))


def test_emitted_tasks_agree_with_the_manifest_model_for_the_fixture() -> None:
    """Without the front end: the normalised state of the emitted tasks equals the state derived
    from a manifest written the way the contract describes it."""
    p = training_ir()
    manifest = _contract_manifest(p)
    a = from_tasks(emit.low_level_tasks(emit.build_dag(p)), p.name, deployed=False)
    b = from_manifest(manifest)
    assert list(a.tasks) == list(b.tasks)
    for name in a.tasks:
        assert a.tasks[name].settings == b.tasks[name].settings, name


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_shipped_pipelines_agree_with_dagc_compile_manifest(path, env) -> None:
    """The two back ends must agree: dagv1 objects vs the manifest `dagc compile` writes."""
    pytest.importorskip("dagc.frontend")
    manifest_mod = pytest.importorskip("dagc.emit.manifest")
    p = load_shipped(path, env)
    manifest = manifest_mod.build_manifest(p)
    low = emit.low_level_tasks(emit.build_dag(p))
    by = {canon(t.name): t for t in low}
    for t in manifest["tasks"]:
        got = by[canon(t["snowflake_name"])]
        assert got.name == f"{p.name}${t['name']}"
        want_preds = sorted(t["predecessors"]) if t["predecessors"] else ([] if t["is_finalizer"] else [p.name])
        assert sorted(got.predecessors or []) == sorted(want_preds), t["name"]
        assert bool(got.finalize) == bool(t["is_finalizer"])
        if t["serverless"]:
            assert got.warehouse is None
    assert len(low) == len(manifest["tasks"]) + 1
    a = from_tasks(low, p.name, deployed=False)
    b = from_manifest(manifest)
    assert {k: v.settings for k, v in a.tasks.items()} == {k: v.settings for k, v in b.tasks.items()}


def _contract_manifest(p: ir.Pipeline) -> dict:
    """The manifest shape from the lead's contract, written out for the hand-built fixture."""
    from dagc.configcodec import encode_config

    def task(t: ir.Task) -> dict:
        parent = next((b for b in p.tasks if b.is_branch and t.name in b.cases.values()), None)
        return {
            "name": t.name, "snowflake_name": p.snowflake_name(t.name), "kind": t.kind.value, "step": t.step,
            "params": ir.thaw(t.params), "sql": t.sql, "after": list(t.after),
            "predecessors": [p.snowflake_name(a) for a in t.after], "when": t.when.value,
            "cases": dict(t.cases),
            "branch_parent": {"task": parent.name, "case": next(k for k, v in parent.cases.items() if v == t.name)} if parent else None,
            "warehouse": t.warehouse, "serverless": t.serverless, "serverless_size": t.serverless_size,
            "compute": {"pool": t.compute.pool, "instances": t.compute.instances} if t.compute else None,
            "timeout_ms": t.timeout_ms, "comment": t.comment, "session_parameters": dict(t.session_parameters) if t.kind is ir.TaskKind.SQL
            else {"LOG_LEVEL": "INFO", **dict(t.session_parameters)},  # a Python task's log level
            "is_finalizer": t.is_finalizer,
        }

    sched = {"cron": p.schedule.expr, "timezone": p.schedule.timezone} if isinstance(p.schedule, ir.Cron) else None
    return {
        "dagc_manifest": 1, "pipeline": p.name, "environment": p.environment,
        "graph": {"name": p.name, "schedule": sched, "warehouse": p.warehouse, "stage": p.stage,
                  "packages": list(p.packages), "imports": list(p.imports), "config": encode_config(p.config),
                  "retries": p.retries, "timeout_ms": p.timeout_ms, "overlap": p.overlap.snowflake if p.overlap else None,
                  "suspend_after_failures": p.suspend_after_failures, "error_integration": p.error_integration,
                  "session_parameters": dict(p.session_parameters), "comment": p.comment, "description": p.description},
        "tasks": [task(t) for t in p.all_tasks()],
        "finalizer": p.finalizer.name if p.finalizer else None,
        "hash": "sha256:0",
    }
