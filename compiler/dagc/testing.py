"""Testing steps: a StepContext over the real local backend, for a project's own pytest suite.

A step is a plain function, so the natural test calls it. What it needs is a context whose
`ctx.tables`, `ctx.models`, `ctx.session` and `ctx.notify` work: this module gives one over the
same backend `dagc run` uses (a DuckDB warehouse, the local model registry, the notifications
log, a Snowpark local-testing session), kept under a folder the test owns (pytest's `tmp_path`).
Nothing is mocked, so a step that passes here behaves the same in `dagc run`.

    from dagc.testing import call_step, local_context

    def test_build(tmp_path):
        with local_context(tmp_path, task="build", params={"rows": 3}) as ctx:
            ctx.tables.write("raw", pandas.DataFrame({"x": [1, 2, 3]}))
            assert call_step(build, ctx) == {"rows": 3}
            assert ctx.tables.read("clean").shape == (3, 1)

With pytest, the `step_context` fixture (dagc.pytest_plugin, registered through the `pytest11`
entry point when dagc is installed) does the same and closes the backend after the test: `ctx = step_context(task="build")`.
Importing this module is cheap: DuckDB, pandas and Snowpark load only when a step uses them.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from dagc.runtime.context import StepContext

__all__ = ["local_context", "call_step", "notifications", "make_context"]


def make_context(state_dir: Path, *, task: str, pipeline: str, config: Mapping[str, Any] | None,
             params: Mapping[str, Any] | None, inputs: Mapping[str, Any] | None, run_id: str,
             scheduled_at: datetime | None, environment: str | None) -> tuple[StepContext, Any]:
    """A StepContext and its LocalBackend, left open: the caller closes the backend (local_context does)."""
    from dagc.engine.backend import LocalBackend

    backend = LocalBackend(Path(state_dir), pipeline=pipeline, task=task, run_id=run_id)
    ctx = StepContext(pipeline=pipeline, task=task, run_id=run_id,
                      scheduled_at=scheduled_at or datetime.now(timezone.utc),
                      config=dict(config or {}), params=dict(params or {}), inputs=dict(inputs or {}),
                      backend=backend, environment=environment, log=logging.getLogger(f"dagc.step.{task}"))
    return ctx, backend


@contextlib.contextmanager
def local_context(state_dir: str | Path, *, task: str = "test", pipeline: str = "test",
                  config: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
                  inputs: Mapping[str, Any] | None = None, run_id: str = "test",
                  scheduled_at: datetime | None = None, environment: str | None = None) -> Iterator[StepContext]:
    """A StepContext over the local backend with its state in `state_dir`, closed on exit.

    `inputs` are predecessors' return values by task name (decoded, as a step sees them), `config`
    the nested graph config, `params` the task's params (pass them to the step too, or use
    call_step). Tables, models and notifications persist in `state_dir` across contexts, so one
    test can run two steps in order with the same folder. On exit, tables a Snowpark session
    saved are written back to DuckDB, as at the end of a task in `dagc run`.
    """
    ctx, backend = make_context(Path(state_dir), task=task, pipeline=pipeline, config=config, params=params,
                            inputs=inputs, run_id=run_id, scheduled_at=scheduled_at, environment=environment)
    ok = False
    try:
        yield ctx
        ok = True
    finally:
        backend.close(persist=ok)


def call_step(fn: Callable[..., Any], ctx: StepContext, **params: Any) -> Any:
    """Call `fn(ctx, **params)` (default: ctx.params) as the engine does, and return its value.

    The value goes through the same encoding a task return value does (JSON, at most 10 kB), so a
    step returning a numpy number or a DataFrame fails here, not after deploying.
    """
    from dagc.runtime.returns import decode_return, encode_return

    value = fn(ctx, **(params or dict(ctx.params)))
    return decode_return(encode_return(ctx.task, value))


def notifications(state_dir: str | Path) -> list[dict[str, Any]]:
    """The notifications steps sent with ctx.notify under `state_dir`, oldest first."""
    from dagc.engine.notify import read_notifications

    return read_notifications(Path(state_dir))
