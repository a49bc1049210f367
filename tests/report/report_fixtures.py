"""Data the report tests share: the training pipeline's path and a run of it in which one task
failed and a branch was skipped, built as plain RunView data (no engine needed)."""

from __future__ import annotations

import os
from pathlib import Path

from dagc.report.model import AttemptView, RunView, TaskRunView

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ROOT / "pipelines" / "training.yaml"
ARTIFACTS = Path(os.environ.get("DAGC_ARTIFACTS", ROOT / "out" / "artifacts"))  # screenshots of the browser tests
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


BIG_STEPS = '''from dagc.runtime import StepContext, step


@step
def choose(ctx: StepContext) -> str:
    return "go" if ctx else "stop"
'''


def write_big_pipeline(folder: Path, n: int = 300, chains: int = 20) -> Path:
    """A realistic large graph: parallel chains off one start task, a few branches, cross links,
    fan-in tasks (one with a condition) and a finalizer, padded with independent probes to `n` tasks."""
    (folder / "steps").mkdir(parents=True, exist_ok=True)
    (folder / "steps" / "__init__.py").write_text("", encoding="utf-8")
    (folder / "steps" / "big.py").write_text(BIG_STEPS, encoding="utf-8")
    length = (n - 12) // chains
    tasks: dict[str, dict] = {"start": {"sql": "select 1"}}
    for c in range(chains):
        for s in range(1, length + 1):
            name = f"c{c:02d}_s{s:02d}"
            after = ["start"] if s == 1 else [f"c{c:02d}_s{s - 1:02d}"]
            if s == 10 and c + 1 < chains:
                after.append(f"c{c + 1:02d}_s09")  # a cross link between neighbouring chains
            tasks[name] = {"sql": f"select {c * 100 + s}", "after": after}
        if c % 5 == 0 and length > 7:
            branch = f"c{c:02d}_s06"
            tasks[branch] = {"after": tasks[branch]["after"],
                             "branch": {"step": "choose", "cases": {"go": f"c{c:02d}_s07", "stop": f"c{c:02d}_alt"}}}
            tasks[f"c{c:02d}_alt"] = {"sql": "select 0", "after": [branch]}
    lasts = [f"c{c:02d}_s{length:02d}" for c in range(chains)]
    for m in range(4):
        tasks[f"merge_{m}"] = {"sql": "select 2", "after": lasts[m::4]}
    tasks["merge_3"]["when"] = "all_done"
    tasks["publish"] = {"sql": "select 3", "after": [f"merge_{m}" for m in range(4)], "when": "none_failed_min_one_succeeded"}
    k = 0
    while len(tasks) < n - 1:
        tasks[f"probe_{k:02d}"] = {"sql": "select 4", "after": ["start"]}
        k += 1
    lines = ["name: big", "description: A generated graph of %d tasks." % n, "warehouse: WH", "tasks:"]
    for name, spec in tasks.items():
        lines.append(f"  {name}:")
        for key, value in spec.items():
            if key == "branch":
                lines.append("    branch:")
                lines.append(f"      step: {value['step']}")
                lines.append("      cases: {" + ", ".join(f"{a}: {b}" for a, b in value["cases"].items()) + "}")
            elif key == "after":
                lines.append("    after: [" + ", ".join(value) + "]")
            else:
                lines.append(f'    {key}: "{value}"' if key == "sql" else f"    {key}: {value}")
    lines += ["finally:", "  cleanup:", '    sql: "select 5"']
    path = folder / "big.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def big_run(manifest: dict, fail: str = "c03_s05") -> RunView:
    """A run of the big graph: chains run in parallel, `fail` fails and what depends on it is
    skipped, branches take `go` (so their `alt` task is skipped). States follow Snowflake's rules
    for the conditions this graph uses."""
    tasks = {t["name"]: t for t in manifest["tasks"]}
    state: dict[str, str] = {}
    end: dict[str, float] = {}
    start: dict[str, float] = {}
    order = [t["name"] for t in manifest["tasks"] if not t["is_finalizer"]]
    for i, name in enumerate(order):
        t = tasks[name]
        preds = t["after"]
        pstates = [state[p] for p in preds]
        parent = t["branch_parent"]
        if parent and (state.get(parent["task"]) != "SUCCEEDED" or parent["case"] != "go"):
            ok = False
        elif t["when"] == "all_done":
            ok = True
        elif t["when"] == "none_failed_min_one_succeeded":
            ok = "FAILED" not in pstates and "SUCCEEDED" in pstates
        else:
            ok = all(s == "SUCCEEDED" for s in pstates)
        if not ok:
            state[name] = "SKIPPED"
            continue
        begin = max([end[p] for p in preds if p in end] or [0.0]) + 0.1
        start[name] = begin
        end[name] = begin + 0.5 + (i * 7 % 11) / 4
        state[name] = "FAILED" if name == fail else "SUCCEEDED"
    fin = manifest["finalizer"]
    if fin:
        start[fin] = max(end.values()) + 0.1
        end[fin] = start[fin] + 0.4
        state[fin] = "SUCCEEDED"
    views = tuple(TaskRunView(
        name=n, state=state[n], started_at=T0 + start[n] if n in start else None,
        ended_at=T0 + end[n] if n in end else None, attempts=1 if n in start else 0,
        return_value=('"go"' if tasks[n]["kind"] == "branch" else None) if state[n] == "SUCCEEDED" else None,
        error=f"SQL compilation error: object 'X_{n.upper()}' does not exist" if state[n] == "FAILED" else None)
        for n in state)
    return RunView(run_id="20260921T030000Z-big001", pipeline=manifest["pipeline"], state="FAILED",
                   started_at=T0, ended_at=T0 + max(end.values()) + 0.1, config={}, tasks=views,
                   first_error_task=fail, first_error="SQL compilation error")


# A small project the real local engine runs: `load` fails, the branch's other case is skipped.
LOCAL_STEPS = '''
import time
from dagc.runtime import step


@step
def ok(ctx, value=None):
    print("running", ctx.task)
    return {"task": ctx.task, "value": value}


@step
def slow(ctx, seconds=0.4):
    time.sleep(seconds)
    return {"slept": seconds}


@step
def boom(ctx, message="boom"):
    print("about to fail")
    raise ValueError(message)


@step
def choose(ctx, case="pass"):
    return case
'''

LOCAL_PIPELINE = """\
name: nightly
description: A small pipeline whose load step fails.
config: {threshold: 0.5}
tasks:
  extract: {step: ok, params: {value: 1}}
  transform_a: {step: slow, after: [extract]}
  transform_b: {step: slow, after: [extract]}
  gate:
    after: [transform_a, transform_b]
    branch: {step: choose, cases: {pass: load, fail: alert}}
  load: {step: boom, params: {message: "warehouse NIGHTLY_WH is read-only"}, after: [gate]}
  alert: {step: ok, after: [gate]}
  notify: {step: ok, after: [load, alert], when: none_failed_min_one_succeeded}
finally:
  cleanup: {step: ok}
"""


def make_local_run(root: Path) -> tuple[Path, Path, str]:
    """Run LOCAL_PIPELINE with the local engine in `root`: (pipeline file, state dir, run id)."""
    from dagc.engine.api import run_pipeline
    from dagc.frontend import load_pipeline

    (root / "steps").mkdir(parents=True, exist_ok=True)
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "nightly.py").write_text(LOCAL_STEPS)
    path = root / "nightly.yaml"
    path.write_text(LOCAL_PIPELINE)
    state = root / ".dagc"
    result = run_pipeline(load_pipeline(path), project_root=root, state_dir=state, parallelism=2)
    assert result.state == "FAILED", result.state
    return path, state, result.run_id
