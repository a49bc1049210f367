"""Shared helpers for the engine tests: a throwaway project with real step modules, IR builders."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from dagc.ir import Condition, FrozenDict, Pipeline, Task, TaskKind, freeze

REPO = Path(__file__).resolve().parents[2]

COMMON_STEPS = '''
import json, os, sys, time
from dagc.runtime import step

@step
def ok(ctx, value=None):
    print("running", ctx.task)
    return {"task": ctx.task, "value": value, "inputs": dict(ctx.inputs)}

@step
def boom(ctx, message="boom"):
    raise ValueError(message)

@step
def sleep(ctx, seconds=1.0):
    time.sleep(seconds)
    return {"slept": seconds}

@step
def hang(ctx):
    print("hanging", flush=True)
    while True:
        time.sleep(0.05)

@step
def exit_hard(ctx, code=3):
    os._exit(code)

@step
def segfault(ctx):
    import ctypes
    ctypes.string_at(0)

@step
def not_json(ctx):
    return {"when": object()}

@step
def too_big(ctx):
    return "x" * 20000

@step
def choose(ctx, case="pass"):
    return case

@step
def echo_config(ctx):
    return {"config": dict(ctx.config), "run_id": ctx.run_id, "scheduled_at": ctx.scheduled_at.isoformat()}

@step
def flaky(ctx, marker=""):
    """Fails until the marker file exists (a fix between a run and its retry)."""
    if not os.path.exists(marker):
        raise RuntimeError("not fixed yet")
    return {"fixed": True}

@step
def fail_times(ctx, marker="", times=1):
    """Fails the first `times` calls (counted in a file), then succeeds."""
    with open(marker, "a") as fh:
        fh.write("x\\n")
    n = len(open(marker).read().splitlines())
    if n <= times:
        raise RuntimeError(f"failure {n} of {times}")
    return {"calls": n}

@step
def count(ctx, marker=""):
    """Appends to a file each time it runs, to count executions across retries."""
    with open(marker, "a") as fh:
        fh.write(ctx.task + "\\n")
    return {"ran": ctx.task}
'''


def make_project(root: Path, modules: dict[str, str] | None = None) -> Path:
    """A project directory with a steps/ package: `common` plus any extra modules."""
    (root / "steps").mkdir(parents=True, exist_ok=True)
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "common.py").write_text(COMMON_STEPS)
    for name, code in (modules or {}).items():
        (root / "steps" / f"{name}.py").write_text(textwrap.dedent(code))
    return root


def T(name: str, step: str | None = None, *, after: tuple[str, ...] | list[str] = (), sql: str | None = None,
      cases: dict[str, str] | None = None, when: str = "all_succeeded", params: dict[str, Any] | None = None,
      timeout_ms: int | None = None, finalizer: bool = False) -> Task:
    kind = TaskKind.SQL if sql is not None else TaskKind.BRANCH if cases else TaskKind.STEP
    return Task(name=name, kind=kind, step=step, sql=sql, cases=freeze(cases or {}), after=tuple(after),
                when=Condition(when), params=freeze(params or {}), timeout_ms=timeout_ms, is_finalizer=finalizer)


def P(name: str, tasks: list[Task], *, finalizer: Task | None = None, config: dict[str, Any] | None = None,
      retries: int | None = None, source: str = "") -> Pipeline:
    return Pipeline(name=name, tasks=tuple(tasks), finalizer=finalizer, config=freeze(config or {}),
                    retries=retries, source=source)


def run(p: Pipeline, project: Path, **kw: Any) -> Any:
    from dagc.engine.api import run_pipeline

    kw.setdefault("parallelism", 2)
    return run_pipeline(p, project_root=project, state_dir=project / ".dagc", **kw)


def states(result: Any) -> dict[str, str]:
    return {n: v.state for n, v in result.tasks.items()}


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "compiler"), str(REPO)])
    env.pop("DAGC_STATE_DIR", None)
    env.pop("DAGC_FAIL_TASKS", None)
    env.update(extra)
    return env


def dagc_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dagc", *args]
