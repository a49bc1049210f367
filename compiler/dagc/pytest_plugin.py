"""dagc's pytest plugin (entry point `pytest11`): the `step_context` fixture for testing steps.

Loaded by pytest in any environment where dagc is installed; it imports nothing heavy, so it
costs a project's test run next to nothing until a test asks for the fixture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from dagc.runtime.context import StepContext


@pytest.fixture
def step_context(tmp_path: Path) -> Iterator[Callable[..., StepContext]]:
    """A factory: `step_context(task=..., config=..., params=..., inputs=...)` -> a StepContext
    over the real local backend (dagc.testing.local_context).

    Every context it makes shares one state folder, `tmp_path / ".dagc"` (also
    `ctx.backend.state_dir`), so a test can run steps in order; all are closed after the test.
    """
    from dagc.testing import make_context

    made: list[Any] = []

    def make(*, task: str = "test", pipeline: str = "test", config: Any = None, params: Any = None,
             inputs: Any = None, run_id: str = "test", scheduled_at: Any = None,
             environment: str | None = None) -> StepContext:
        ctx, backend = make_context(tmp_path / ".dagc", task=task, pipeline=pipeline, config=config,
                                    params=params, inputs=inputs, run_id=run_id, scheduled_at=scheduled_at,
                                    environment=environment)
        made.append(backend)
        return ctx

    yield make
    for backend in reversed(made):
        backend.close()
