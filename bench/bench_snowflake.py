"""Snowflake back end benchmarks (prints figures; no assertions).

1. Build time of the dagv1 objects for a generated 999-task pipeline (1000 with the root, the
   Snowflake limit): dagc's emitter vs the same DAG written by hand with dagv1, in the same run.
2. API calls a one-task change costs: dagc's diffing deploy vs dagv1's `DAGOperation.deploy(
   mode=or_replace)` of the same graph, both counted on the recording stand-in schema.

Run: /work/main/.venv/bin/python bench/bench_snowflake.py [--tasks 999] [--repeat 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "compiler"), str(ROOT)]

from dagc import ir  # noqa: E402


def generated(n: int, name: str = "big") -> ir.Pipeline:
    """A chain with a fan-in every 10 tasks and one branch every 100, Python steps throughout."""
    tasks = []
    for i in range(n):
        after = [f"t{i - 1}"] if i else []
        if i >= 10 and i % 10 == 0:
            after.append(f"t{i - 10}")
        tasks.append(ir.Task(name=f"t{i}", kind=ir.TaskKind.STEP, step="noop", after=tuple(after),
                             params=ir.freeze({"i": i}), timeout_ms=600_000))
    return ir.Pipeline(name=name, tasks=tuple(tasks), warehouse="WH", stage="@DB.SC.STAGE",
                       packages=("snowflake-snowpark-python",), schedule=ir.Interval(3600, "1h"),
                       config=ir.freeze({"k": 1, "nested": {"a": 2}}), retries=1, overlap=ir.Overlap.NONE)


def by_hand(p: ir.Pipeline):  # type: ignore[no-untyped-def]
    """What an engineer writes with dagv1 for the same graph: one function per task, >> edges."""
    from datetime import timedelta

    from snowflake.core.task import OverlapPolicy, StoredProcedureCall
    from snowflake.core.task.dagv1 import DAG, DAGTask

    def make_handler(params: dict) -> object:  # one bound function per task, as a generated graph needs
        def handler(session) -> str:  # type: ignore[no-untyped-def]
            return str(params)

        return handler

    with DAG(p.name, schedule=timedelta(hours=1), warehouse="WH", stage_location="@DB.SC.STAGE",
             packages=["snowflake-snowpark-python"], config={"k": 1, "nested.a": 2}, task_auto_retry_attempts=1,
             overlap_policy=OverlapPolicy.NO_OVERLAP) as dag:
        made = {}
        for t in p.tasks:
            made[t.name] = DAGTask(t.name, StoredProcedureCall(make_handler(dict(t.params)), stage_location="@DB.SC.STAGE",
                                                               packages=["snowflake-snowpark-python"]),
                                   user_task_timeout_ms=600_000)
        for t in p.tasks:
            for a in t.after:
                made[a] >> made[t.name]
    return dag


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def one_task_change(p: ir.Pipeline, task: str) -> ir.Pipeline:
    changed = dataclasses.replace(p.task(task), warehouse="OTHER_WH")
    return dataclasses.replace(p, tasks=tuple(changed if t.name == task else t for t in p.tasks))


def count_calls(p: ir.Pipeline, task: str) -> dict[str, int]:
    from snowflake.core._common import CreateMode
    from snowflake.core.task.dagv1 import DAGOperation

    from dagc.emit.snowflake import build_dag
    from dagc.snowflake import deploy as d
    from dagc.snowflake.recording import SHOW_TASKS_OMITS, RecordingSchema

    p2 = one_task_change(p, task)
    out: dict[str, int] = {}

    schema = RecordingSchema()
    schema.listing_omits = set(SHOW_TASKS_OMITS)  # a listing shows what SHOW TASKS shows, no task parameters
    d.deploy(d.desired(p, project_root=ROOT), schema, upload=lambda: True)
    schema.reset_calls()
    d.deploy(d.desired(p2, project_root=ROOT), schema, upload=lambda: True)
    out["dagc_total"] = len(schema.calls)
    out["dagc_mutating"] = len(schema.mutations())
    schema.reset_calls()
    d.deploy(d.desired(p2, project_root=ROOT), schema, upload=lambda: True)
    out["dagc_redeploy_unchanged"] = len(schema.calls)

    schema = RecordingSchema()
    op = DAGOperation(schema)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        op.deploy(build_dag(p), mode=CreateMode.or_replace)
        schema.reset_calls()
        op.deploy(build_dag(p2), mode=CreateMode.or_replace)
    out["dagv1_total"] = len(schema.calls)
    out["dagv1_mutating"] = len(schema.mutations())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=999)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    t0 = time.perf_counter()
    import snowflake.core.task.dagv1  # noqa: F401

    from dagc.emit.snowflake import build_dag, low_level_tasks

    print(f"import snowflake.core.task.dagv1 + dagc.emit.snowflake: {time.perf_counter() - t0:.2f} s (once)")

    p = generated(args.tasks)
    dagc_s = timed(lambda: build_dag(p), args.repeat)
    hand_s = timed(lambda: by_hand(p), args.repeat)
    print(f"\n1) build dagv1 objects, {args.tasks} tasks (+ root), median of {args.repeat}:")
    print(f"   dagc emitter      {dagc_s * 1000:8.1f} ms")
    print(f"   hand-written dagv1 {hand_s * 1000:7.1f} ms")
    print(f"   ratio dagc / hand  {dagc_s / hand_s:7.2f}x")
    dag = build_dag(p)
    low_s = timed(lambda: low_level_tasks(dag), args.repeat)
    print(f"   + low-level Task objects (what deploy sends) {low_s * 1000:.1f} ms")

    print("\n2) API calls for a one-task change (recording schema):")
    from tests.snowflake.sfixtures import training_ir

    for label, pipe, task in (("training (11 tasks)", training_ir(), "evaluate"),
                              (f"generated ({min(args.tasks, 200)} tasks)", generated(min(args.tasks, 200)), "t57")):
        c = count_calls(pipe, task)
        print(f"   {label}:")
        print(f"     dagc deploy        {c['dagc_total']:5d} calls ({c['dagc_mutating']} mutating)")
        print(f"     dagv1 or_replace   {c['dagv1_total']:5d} calls ({c['dagv1_mutating']} mutating)")
        print(f"     ratio dagv1 / dagc {c['dagv1_total'] / c['dagc_total']:5.1f}x;  unchanged re-deploy: "
              f"{c['dagc_redeploy_unchanged']} call(s)")


if __name__ == "__main__":
    main()
