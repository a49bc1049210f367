"""Deploy against the strict stand-in (tests/snowflake/standin.py: Snowflake's task DDL rules, every call
recorded): order, idempotence, minimal changes, finalizer, drop, interrupted deploys."""

from __future__ import annotations

import dataclasses
import re

import pytest

from dagc import ir
from tests.snowflake.sfixtures import ROOT, T, training_ir

pytest.importorskip("snowflake.core")
from snowflake.core._common import CreateMode  # noqa: E402
from snowflake.core.task.dagv1 import DAGOperation  # noqa: E402

from dagc.snowflake import deploy as d  # noqa: E402
from dagc.diagnostics import DagcError  # noqa: E402
from dagc.snowflake.recording import RecordingSchema  # noqa: E402  (dagv1 baseline only)
from tests.snowflake.standin import SnowflakeRefused, StrictSchema, assert_runnable  # noqa: E402


def want(p: ir.Pipeline | None = None, **kw) -> d.Desired:
    return d.desired(p or training_ir(), project_root=kw.pop("project_root", ROOT), **kw)


def deployed(p: ir.Pipeline | None = None) -> tuple[StrictSchema, d.Desired]:
    schema = StrictSchema()
    w = want(p)
    d.deploy(w, schema, upload=lambda: True)
    return schema, w


def test_first_deploy_creates_root_then_tasks_in_dependency_order_and_resumes() -> None:
    schema, w = deployed()
    creates = [n for op, n in schema.calls if op == "create"]
    assert creates[0] == "TRAINING"
    assert set(creates) == set(w.tasks)
    pos = {n: i for i, n in enumerate(creates)}
    for name, task in w.tasks.items():
        for p in task.predecessors or []:
            assert pos[p.upper()] < pos[name], (p, name)
    assert all(t.state == "started" for t in schema.store.values())
    assert schema.calls[-1] == ("resume", "TRAINING")  # the scheduled root is resumed last


def test_redeploy_of_unchanged_pipeline_changes_nothing() -> None:
    schema, _ = deployed()
    schema.reset_calls()
    result = d.deploy(want(), schema, upload=lambda: True)
    assert result.plan.changes == [] and result.plan.empty
    assert schema.mutations() == []
    assert [op for op, _ in schema.calls] == ["list"]  # one listing, nothing else


def test_one_task_change_touches_that_task_only() -> None:
    schema, _ = deployed()
    schema.reset_calls()
    p = training_ir()
    evaluate = dataclasses.replace(p.task("evaluate"), warehouse="BIG_WH")
    p2 = dataclasses.replace(p, tasks=tuple(evaluate if t.name == "evaluate" else t for t in p.tasks))
    result = d.deploy(want(p2), schema, upload=lambda: True)
    assert [(c.action, c.short) for c in result.plan.changes] == [("alter", "evaluate")]
    assert [(f.key, f.old, f.new) for f in result.plan.changes[0].fields] == [("warehouse", "PROD_WH", "BIG_WH")]
    assert schema.mutations() == [
        ("suspend", "TRAINING"),  # the root first, then the task to alter: both must be suspended
        ("suspend", "TRAINING$EVALUATE"),
        ("create_or_alter", "TRAINING$EVALUATE"),
        ("resume", "TRAINING$EVALUATE"),
        ("resume", "TRAINING"),
    ]
    assert schema.store["TRAINING$EVALUATE"].warehouse == "BIG_WH"


def test_removed_task_is_dropped_after_its_successors_are_rewired_and_finalizer_survives() -> None:
    schema, _ = deployed()
    schema.reset_calls()
    p = training_ir()
    # drop `evaluate`: the gate now follows `train` directly, on_failure loses a predecessor
    tasks = []
    for t in p.tasks:
        if t.name == "evaluate":
            continue
        if "evaluate" in t.after:
            t = dataclasses.replace(t, after=tuple("train" if a == "evaluate" else a for a in t.after if not (a == "evaluate" and "train" in t.after)))
        tasks.append(t)
    d.deploy(want(dataclasses.replace(p, tasks=tuple(tasks))), schema, upload=lambda: True)
    muts = schema.mutations()
    assert ("drop", "TRAINING$EVALUATE") in muts
    assert muts.index(("create_or_alter", "TRAINING$QUALITY_GATE")) < muts.index(("drop", "TRAINING$EVALUATE"))
    assert "TRAINING$EVALUATE" not in schema.store
    assert schema.store["TRAINING$QUALITY_GATE"].predecessors == ["TRAINING$TRAIN"]
    assert "TRAINING$CLEANUP" in schema.store and schema.store["TRAINING$CLEANUP"].finalize == "TRAINING"
    assert not any(n == "TRAINING$CLEANUP" for _, n in muts)


def test_renamed_finalizer_is_dropped_before_the_new_one_is_created() -> None:
    schema, _ = deployed()
    schema.reset_calls()
    p = training_ir()
    p2 = dataclasses.replace(p, finalizer=dataclasses.replace(p.finalizer, name="tidy_up"))
    d.deploy(want(p2), schema, upload=lambda: True)
    muts = schema.mutations()
    assert muts.index(("drop", "TRAINING$CLEANUP")) < muts.index(("create", "TRAINING$TIDY_UP"))
    finalizers = [k for k, t in schema.store.items() if t.finalize]
    assert finalizers == ["TRAINING$TIDY_UP"]


def test_drop_removes_everything_including_orphans_and_the_finalizer() -> None:
    schema, _ = deployed()
    # an orphan left by some earlier, interrupted deploy
    from snowflake.core.task import Task

    schema.store["TRAINING$OLD_STEP"] = Task("TRAINING$OLD_STEP", "select 1", state="suspended")
    schema.store["OTHER$X"] = Task("OTHER$X", "select 1", state="started")
    done = d.drop_graph(schema, "training")
    assert sorted(schema.store) == ["OTHER$X"]
    assert done[0] == "suspend TRAINING" and done[-1] == "drop TRAINING"
    assert d.drop_graph(schema, "training") == []  # dropping again is a no-op


def _without_evaluate(p: ir.Pipeline) -> ir.Pipeline:
    tasks = []
    for t in p.tasks:
        if t.name == "evaluate":
            continue
        if "evaluate" in t.after:
            t = dataclasses.replace(t, after=tuple(dict.fromkeys("train" if a == "evaluate" else a for a in t.after)))
        tasks.append(t)
    return dataclasses.replace(p, tasks=tuple(tasks))


def _statement_count(build, change) -> int:  # type: ignore[no-untyped-def]
    schema = build()
    before = schema.statements
    d.deploy(want(change), schema, upload=lambda: True)
    return schema.statements - before


def _first() -> StrictSchema:
    return StrictSchema()


def _running() -> StrictSchema:
    return deployed()[0]


CASES = {
    "first deploy": (_first, training_ir()),
    "warehouse changed (root and every task)": (_running, dataclasses.replace(training_ir(), warehouse="OTHER_WH")),
    "task removed, successors rewired": (_running, _without_evaluate(training_ir())),
    "finalizer replaced": (_running, dataclasses.replace(training_ir(), finalizer=dataclasses.replace(
        training_ir().finalizer, name="tidy_up"))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_failure_at_any_statement_leaves_the_graph_running_and_the_next_deploy_converges(case: str) -> None:
    build, change = CASES[case]
    n = _statement_count(build, change)
    assert n > 0
    for k in range(n):
        schema = build()
        was_running = schema.store.get("TRAINING") is not None and schema.store["TRAINING"].state == "started"
        schema.fail_at = schema.statements + k
        with pytest.raises(DagcError) as err:
            d.deploy(want(change), schema, upload=lambda: True)
        assert "stopped at `" in err.value.message and f"({k} of {n} statements done)" in err.value.message
        assert isinstance(err.value.__cause__, SnowflakeRefused)
        if was_running:  # a scheduled pipeline is never left suspended
            assert schema.store["TRAINING"].state == "started", (k, schema.mutations())
            assert_runnable(schema, "TRAINING")
            assert "the graph was resumed as it stands" in err.value.message
        schema.fail_at = None
        d.deploy(want(change), schema, upload=lambda: True)
        assert_runnable(schema, "TRAINING")
        assert schema.store["TRAINING"].state == "started"
        assert d.deploy(want(change), schema, upload=lambda: True).plan.changes == [], k


def test_a_lost_connection_says_what_it_left_suspended_and_how_to_recover() -> None:
    schema, _ = deployed()
    change = _without_evaluate(training_ir())
    schema.fail_after = 2  # suspend root, suspend one task, then the connection is gone for good
    with pytest.raises(DagcError) as err:
        d.deploy(want(change), schema, upload=lambda: True)
    msg = err.value.message
    assert "restoring failed too" in msg and "left SUSPENDED: " in msg and "TRAINING" in msg.split("left SUSPENDED: ")[1]
    assert "dagc resume PIPELINE" in msg and "dagc deploy" in (err.value.hint or "")
    schema.fail_after = None
    d.deploy(want(change), schema, upload=lambda: True)
    assert "TRAINING$EVALUATE" not in schema.store and schema.store["TRAINING"].state == "started"
    assert_runnable(schema, "TRAINING")


def test_an_unscheduled_graph_stays_suspended_after_a_failure() -> None:
    p = dataclasses.replace(training_ir(), schedule=None)
    schema = StrictSchema()
    schema.fail_at = 3
    with pytest.raises(DagcError, match="was not running before this deploy and stays suspended"):
        d.deploy(want(p), schema, upload=lambda: True)
    assert schema.store["TRAINING"].state == "suspended"


def test_code_change_redeploys_python_tasks_only(tmp_path) -> None:
    import shutil

    shutil.copytree(ROOT / "steps", tmp_path / "steps")
    schema = StrictSchema()
    d.deploy(want(project_root=tmp_path), schema, upload=lambda: True)
    (tmp_path / "steps" / "training.py").write_text((tmp_path / "steps" / "training.py").read_text() + "\n# tweak\n")
    schema.reset_calls()
    uploads = []
    result = d.deploy(want(project_root=tmp_path), schema, upload=lambda: uploads.append(1) or True)
    altered = {c.short for c in result.plan.changes}
    assert "on_failure" not in altered and "training" not in altered  # SQL task and root untouched
    assert {"train", "cleanup", "quality_gate"} <= altered
    assert uploads == [1] and result.plan.uploads[0]["target"].startswith("@ML.PROD.DAGC_STAGE/dagc/training/dagc_bundle_")


def test_dagv1_or_replace_rebuilds_everything_for_the_same_change() -> None:
    """The baseline dagc replaces: dagv1's or_replace drops and recreates every task."""
    from dagc.emit.snowflake import build_dag

    schema = RecordingSchema()
    op = DAGOperation(schema)  # type: ignore[arg-type]
    op.deploy(build_dag(training_ir()), mode=CreateMode.or_replace)
    schema.reset_calls()
    p = training_ir()
    evaluate = dataclasses.replace(p.task("evaluate"), warehouse="BIG_WH")
    p2 = dataclasses.replace(p, tasks=tuple(evaluate if t.name == "evaluate" else t for t in p.tasks))
    with pytest.warns(DeprecationWarning):
        op.deploy(build_dag(p2), mode=CreateMode.or_replace)
    creates = [n for op_, n in schema.mutations() if op_ == "create"]
    assert len(creates) == len(list(p.all_tasks())) + 1
    # dagv1's drop keeps the finalizer by default; or_replace then re-creates it in place
    assert "TRAINING$CLEANUP" in schema.store


def test_plan_against_manifest_offline() -> None:
    pytest.importorskip("dagc.emit.manifest")
    import json

    from dagc.emit.manifest import build_manifest

    p = training_ir()
    evaluate = dataclasses.replace(p.task("evaluate"), timeout_ms=60_000)
    p2 = dataclasses.replace(p, tasks=tuple(evaluate if t.name == "evaluate" else t for t in p.tasks))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.json"
        path.write_text(json.dumps(build_manifest(p)))
        plan = d.plan_against_manifest(p2, path)
        assert [(c.action, c.short, [(f.key, f.old, f.new) for f in c.fields]) for c in plan.changes] == [
            ("alter", "evaluate", [("timeout_ms", 1_800_000, 60_000)])]
        assert d.plan_against_manifest(p, path).changes == []


def test_sql_only_pipeline_has_no_bundle() -> None:
    p = ir.Pipeline(name="sqlonly", tasks=(T("a", "sql", sql="select 1"),), warehouse="WH")
    w = want(p)
    assert w.bundle is None and w.uploads() == []
    schema = StrictSchema()
    d.deploy(w, schema)
    assert sorted(schema.store) == ["SQLONLY", "SQLONLY$A"]
    assert schema.store["SQLONLY"].state == "suspended"  # unscheduled: the root waits for `dagc trigger`


def test_branch_cases_that_do_not_match_the_step_are_refused_before_deploy(tmp_path) -> None:
    from dagc.diagnostics import DagcError
    from dagc.snowflake.branchcheck import branch_problems

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "steps" / "gate.py").write_text(
        "from dagc.runtime import step\n"
        "@step\n"
        "def metric_gate(ctx):\n"
        "    if ctx.inputs['evaluate']['auc'] > 0.8:\n"
        "        return 'pass'\n"
        "    return 'retrain'\n"
    )
    p = training_ir()
    problems = branch_problems(p, tmp_path)
    assert any("can return 'retrain', which is not one of its cases" in m for m in problems)
    assert any("case 'fail' can never be chosen" in m for m in problems)
    with pytest.raises(DagcError, match="2 branch problems"):
        d.desired(p, project_root=tmp_path)
    # computed results cannot be checked statically: left to the runtime check
    (tmp_path / "steps" / "gate.py").write_text(
        "from dagc.runtime import step\n@step\ndef metric_gate(ctx):\n    return ctx.params['x']\n")
    assert branch_problems(p, tmp_path) == []
    # a Literal return annotation states the results
    (tmp_path / "steps" / "gate.py").write_text(
        "from typing import Literal\nfrom dagc.runtime import step\n"
        "@step\ndef metric_gate(ctx) -> 'Literal[\"pass\", \"fail\", \"skip\"]':\n    return decide(ctx)\n")
    assert [m for m in branch_problems(p, tmp_path) if "'skip'" in m]


def test_settings_a_listing_does_not_show_cost_no_fetch_when_the_mark_matches() -> None:
    """SHOW TASKS has no task parameters; the `[dagc-s:...]` mark in the comment stands in for them."""
    p = training_ir()
    tagged = dataclasses.replace(p.task("train"), session_parameters=ir.freeze({"QUERY_TAG": "dagc-train"}))
    p2 = dataclasses.replace(p, tasks=tuple(tagged if t.name == "train" else t for t in p.tasks))
    schema, _ = deployed(p2)
    assert "session_parameters" in schema.listing_omits and "user_task_timeout_ms" in schema.listing_omits
    assert all("[dagc-s:" in (t.comment or "") for t in schema.store.values())
    schema.reset_calls()
    result = d.deploy(want(p2), schema, upload=lambda: True)
    assert result.plan.changes == []
    assert schema.calls == [("list", "training%")]  # a no-op deploy: one call (was 12: a fetch per task)
    # a graph deployed without marks (an older dagc, or by hand): one fetch confirms each task
    for t in schema.store.values():
        t.comment = re.sub(r"\s*\[dagc-s:[0-9a-f]+\]$", "", t.comment or "") or None
    schema.reset_calls()
    result = d.deploy(want(p2), schema, upload=lambda: True)
    assert result.plan.changes == []
    assert ("fetch", "TRAINING$TRAIN") in schema.calls and schema.mutations() == []
    # a real change of such a setting is still found and applied
    retag = dataclasses.replace(tagged, session_parameters=ir.freeze({"QUERY_TAG": "other"}))
    p3 = dataclasses.replace(p, tasks=tuple(retag if t.name == "train" else t for t in p.tasks))
    d.deploy(want(p2), schema, upload=lambda: True)
    schema.reset_calls()
    result = d.deploy(want(p3), schema, upload=lambda: True)
    assert [(c.short, [(f.key, f.old, f.new) for f in c.fields]) for c in result.plan.changes] == [
        ("train", [("session_parameters.QUERY_TAG", "dagc-train", "other")])]
    assert schema.store["TRAINING$TRAIN"].session_parameters == {"QUERY_TAG": "other", "LOG_LEVEL": "INFO"}


def test_api_calls_for_a_no_op_deploy_and_a_one_task_change() -> None:
    schema, _ = deployed()
    schema.reset_calls()
    d.deploy(want(), schema, upload=lambda: True)
    assert len(schema.calls) == 1
    p = training_ir()
    evaluate = dataclasses.replace(p.task("evaluate"), warehouse="BIG_WH")
    p2 = dataclasses.replace(p, tasks=tuple(evaluate if t.name == "evaluate" else t for t in p.tasks))
    schema.reset_calls()
    d.deploy(want(p2), schema, upload=lambda: True)
    assert [op for op, _ in schema.calls] == ["list", "suspend", "suspend", "create_or_alter", "resume", "resume"]


def test_ctrl_c_mid_deploy_restores_the_running_graph_then_stops(monkeypatch) -> None:
    schema, _ = deployed()
    change = _without_evaluate(training_ir())
    calls = {"n": 0}
    real = StrictSchema.record

    def interrupt_third(self, op, name):  # type: ignore[no-untyped-def]
        if op in ("create_or_alter", "drop"):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
        return real(self, op, name)

    monkeypatch.setattr(StrictSchema, "record", interrupt_third)
    with pytest.raises(KeyboardInterrupt):
        d.deploy(want(change), schema, upload=lambda: True)
    assert schema.store["TRAINING"].state == "started"
    assert_runnable(schema, "TRAINING")


def test_resume_graph_is_the_way_out_of_a_deploy_that_could_not_restore() -> None:
    schema, _ = deployed()
    schema.fail_after = 3  # suspend root and two tasks, then the connection is gone for good
    with pytest.raises(DagcError, match="left SUSPENDED"):
        d.deploy(want(dataclasses.replace(training_ir(), warehouse="X_WH")), schema, upload=lambda: True)
    schema.fail_after = None
    done = d.resume_graph(schema, "training")
    assert done[-1] == "resume TRAINING" and len(done) >= 2  # children first, the root last
    assert_runnable(schema, "TRAINING")
    assert schema.store["TRAINING"].state == "started"
    assert d.resume_graph(schema, "training") == []  # nothing left to resume


def test_a_deploy_registers_secret_procedures_through_its_own_session(tmp_path, monkeypatch) -> None:
    """snowflake.core registers task procedures without SECRETS; dagc's secret procedures are
    registered by the deploy itself, through the deploy's session (not `get_active_session()`),
    before the task is created, and the task body Snowflake stores carries SECRETS=(...) and
    EXTERNAL_ACCESS_INTEGRATIONS=(...)."""
    from snowflake.snowpark import Session
    from snowflake.snowpark.session import _remove_session
    from snowflake.snowpark.stored_procedure import StoredProcedureRegistration

    from dagc.frontend import load_pipeline
    from tests.snowflake.test_sf_runtime import _secret_project

    monkeypatch.setenv("DAGC_IT_TOKEN", "tok-very-secret-1")
    f = _secret_project(tmp_path)
    session = Session.builder.config("local_testing", True).create()
    # Snowpark's own registration (local testing's refuses anonymous procedures); it makes the SQL
    session._sp_registration = StoredProcedureRegistration(session)
    # LIST @stage, which local testing cannot run: it decides uploads of local imports only, and the
    # bundle is a stage import already (the deploy's upload put it there)
    session._list_files_in_stage = lambda *a, **kw: set()
    _remove_session(session)  # not the active session: only a deploy that hands over its session registers
    schema = StrictSchema()
    schema.session = session
    try:
        result = d.deploy(d.desired(load_pipeline(f), project_root=tmp_path), schema, upload=lambda: True,
                          session=session)
    finally:
        session.close()
    calls = result.calls
    assert "register NOTIFY$POST" in calls and calls.index("register NOTIFY$POST") < calls.index("create NOTIFY$POST")
    assert not any(c.startswith("register") and c != "register NOTIFY$POST" for c in calls)  # SQL tasks, root: none
    body = schema.store["NOTIFY$POST"].definition
    assert "SECRETS=('DAGC_IT_TOKEN'=ML.PROD.HOOK_TOKEN)" in body and "EXTERNAL_ACCESS_INTEGRATIONS=(HOOKS_EAI)" in body
    assert body.lstrip().startswith("WITH task_handler_sp AS PROCEDURE") and body.rstrip().endswith("CALL task_handler_sp()")
    assert "IMPORTS=('@ML.PROD.DAGC_STAGE/dagc/notify/dagc_bundle_" in body and "'snowflake-snowpark-python'" in body
    assert "tok-very-secret-1" not in body
    assert schema.store["NOTIFY$COUNT"].definition == "select 1"
    assert_runnable(schema, "NOTIFY")
