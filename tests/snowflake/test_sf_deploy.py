"""Deploy against a stand-in schema that records calls: order, idempotence, minimal changes,
finalizer, drop, interrupted deploys."""

from __future__ import annotations

import dataclasses

import pytest

from dagc import ir
from tests.snowflake.sfixtures import ROOT, T, training_ir

pytest.importorskip("snowflake.core")
from snowflake.core._common import CreateMode  # noqa: E402
from snowflake.core.task.dagv1 import DAGOperation  # noqa: E402

from dagc.snowflake import deploy as d  # noqa: E402
from dagc.snowflake.recording import Interrupted, RecordingSchema  # noqa: E402


def want(p: ir.Pipeline | None = None, **kw) -> d.Desired:
    return d.desired(p or training_ir(), project_root=kw.pop("project_root", ROOT), **kw)


def deployed(p: ir.Pipeline | None = None) -> tuple[RecordingSchema, d.Desired]:
    schema = RecordingSchema()
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
        ("suspend", "TRAINING"),
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


@pytest.mark.parametrize("cut", [1, 4, 9, 17])
def test_interrupted_deploy_converges_on_the_next_one(cut: int) -> None:
    schema = RecordingSchema()
    schema.fail_after = cut
    with pytest.raises(Interrupted):
        d.deploy(want(), schema, upload=lambda: True)
    schema.fail_after = None
    d.deploy(want(), schema, upload=lambda: True)
    reference, _ = deployed()
    assert sorted(schema.store) == sorted(reference.store)
    assert all(t.state == "started" for t in schema.store.values())
    schema.reset_calls()
    assert d.deploy(want(), schema, upload=lambda: True).plan.changes == []


def test_interrupted_change_deploy_leaves_no_orphan() -> None:
    schema, _ = deployed()
    p = training_ir()
    tasks = tuple(t for t in p.tasks if t.name not in ("on_failure",))
    schema.fail_after = 2  # suspend root, then one more call, then the connection drops
    with pytest.raises(Interrupted):
        d.deploy(want(dataclasses.replace(p, tasks=tasks)), schema, upload=lambda: True)
    schema.fail_after = None
    d.deploy(want(dataclasses.replace(p, tasks=tasks)), schema, upload=lambda: True)
    assert "TRAINING$ON_FAILURE" not in schema.store
    assert schema.store["TRAINING"].state == "started"


def test_code_change_redeploys_python_tasks_only(tmp_path) -> None:
    import shutil

    shutil.copytree(ROOT / "steps", tmp_path / "steps")
    schema = RecordingSchema()
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
    schema = RecordingSchema()
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


def test_settings_missing_from_the_listing_are_confirmed_by_one_fetch_not_reported_as_drift() -> None:
    p = training_ir()
    tagged = dataclasses.replace(p.task("train"), session_parameters=ir.freeze({"QUERY_TAG": "dagc-train"}))
    p2 = dataclasses.replace(p, tasks=tuple(tagged if t.name == "train" else t for t in p.tasks))
    schema, _ = deployed(p2)
    schema.listing_omits = {"session_parameters"}
    schema.reset_calls()
    result = d.deploy(want(p2), schema, upload=lambda: True)
    assert result.plan.changes == []
    # every Python task has session parameters (at least its LOG_LEVEL), so each is confirmed by one fetch
    python = [f"TRAINING${t.name.upper()}" for t in p2.all_tasks() if t.kind is not ir.TaskKind.SQL]
    assert schema.calls == [("list", "training%")] + [("fetch", n) for n in python]
    # a real change of that setting is still found and applied
    retag = dataclasses.replace(tagged, session_parameters=ir.freeze({"QUERY_TAG": "other"}))
    p3 = dataclasses.replace(p, tasks=tuple(retag if t.name == "train" else t for t in p.tasks))
    result = d.deploy(want(p3), schema, upload=lambda: True)
    assert [(f.key, f.old, f.new) for f in result.plan.changes[0].fields] == [
        ("session_parameters.QUERY_TAG", "dagc-train", "other")]
    assert schema.store["TRAINING$TRAIN"].session_parameters == {"QUERY_TAG": "other", "LOG_LEVEL": "INFO"}
