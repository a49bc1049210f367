"""What runs inside each deployed Python task: TaskContext -> StepContext -> step -> return value.

Every Python task of a dagc graph runs the same entry point (`run_task`) bound to its task spec
(step name, params, branch cases, predecessors, compute) by `make_entry`. The step receives the
same `StepContext` as on the local engine: the Snowpark session, the decoded graph config, its
params, its predecessors' decoded return values by YAML name, a run id and the original scheduled
time (both stable across a retry), and a logger. dagc then sets the task's return value itself:
JSON, at most 10 kB, and for a branch the *child task name* mapped from the case the step
returned (dagv1 conditions each branch child on exactly that string).

This module is shipped to Snowflake inside the staged bundle; it imports snowflake.core and
Snowpark only inside functions.
"""

import importlib
import json
import logging
import pkgutil
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Protocol

from dagc.configcodec import decode_config
from dagc.runtime.context import StepContext
from dagc.runtime.returns import ReturnValueError, decode_return, encode_return
from dagc.runtime.steps import STEP_ATTR

log = logging.getLogger("dagc.step")


class StepFailure(RuntimeError):
    """A step cannot run or its result cannot travel; the message says what to do."""


class TaskFacts(Protocol):
    """What the runtime needs from Snowflake's TaskContext (so it can be driven offline)."""

    def graph_config(self) -> dict[str, Any] | None: ...
    def predecessor_value(self, task: str) -> str | None: ...
    def run_id(self) -> str: ...
    def scheduled_at(self) -> datetime: ...
    def set_return_value(self, text: str) -> None: ...


class TaskContextFacts:
    """`TaskFacts` over `snowflake.core.task.context.TaskContext`.

    TaskContext upper-cases a predecessor name and prefixes it with `<DAG>$`, so steps and dagc
    only ever use YAML names ("train", never "TRAINING$TRAIN").
    """

    def __init__(self, session: Any) -> None:
        from snowflake.core.task.context import TaskContext

        self.tc = TaskContext(session)

    def graph_config(self) -> dict[str, Any] | None:
        return self.tc.get_task_graph_config()

    def predecessor_value(self, task: str) -> str | None:
        value = self.tc.get_predecessor_return_value(task)
        # TaskContext returns str(NULL) == "None" for a predecessor that set nothing (or was skipped);
        # a JSON-encoded dagc value can never be the bare word None.
        return None if value in (None, "None", "") else value

    def run_id(self) -> str:
        return str(self.tc.get_current_task_graph_run_group_id())

    def scheduled_at(self) -> datetime:
        value: Any = self.tc.get_current_task_graph_original_schedule()
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return datetime.fromisoformat(str(value))

    def set_return_value(self, text: str) -> None:
        self.tc.set_return_value(text)


def resolve_step(step: str, module: str | None = None, package: str = "steps") -> Callable[..., Any]:
    """Import the module that defines `step` (or search the steps package) and return the function."""
    modules = [module] if module else None
    if modules is None:
        pkg = importlib.import_module(package)
        modules = [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, package + ".")]
    for name in modules:
        mod = importlib.import_module(name)
        for value in vars(mod).values():
            if callable(value) and getattr(value, STEP_ATTR, None) == step:
                return value  # type: ignore[no-any-return]
    raise StepFailure(
        f"step {step!r} is not defined in {module or package}; was the bundle uploaded with this deploy? "
        "Run `dagc plan` to see what would be uploaded"
    )


def finish(spec: Mapping[str, Any], value: Any) -> str | None:
    """A step's result -> the task's return value text (branch case -> child name, JSON, 10 kB)."""
    task = spec["task"]
    if spec.get("kind") == "branch":
        cases: Mapping[str, str] = spec.get("cases") or {}
        if not isinstance(value, str) or value not in cases:
            raise StepFailure(
                f"branch task {task!r} returned {value!r}; it must return one of its cases: "
                + ", ".join(repr(c) for c in cases)
            )
        return cases[value]  # dagv1 compares the predecessor return value with the child's short name
    try:
        return encode_return(task, value)
    except ReturnValueError as exc:
        raise StepFailure(str(exc)) from None


def build_context(spec: Mapping[str, Any], facts: TaskFacts, backend: Any, *, environment: str | None = None) -> StepContext:
    from dagc.runtime.context import Inputs

    branch_preds = set(spec.get("branch_after") or ()) | set(spec.get("branch_ancestors") or ())

    def load(name: str) -> Any:  # one SYSTEM$GET_PREDECESSOR_RETURN_VALUE call, when the step asks
        raw = facts.predecessor_value(name)
        return raw if name in branch_preds else decode_return(raw)

    inputs = Inputs(spec["task"], list(spec.get("after") or ()) + list(spec.get("ancestors") or ()), load)
    return StepContext(
        pipeline=spec["pipeline"],
        task=spec["task"],
        run_id=facts.run_id(),
        scheduled_at=facts.scheduled_at(),
        config=decode_config(facts.graph_config()),
        params=dict(spec.get("params") or {}),
        inputs=inputs,
        backend=backend,
        environment=spec.get("environment"),
        log=logging.getLogger(f"dagc.step.{spec['pipeline']}.{spec['task']}"),
    )


def run_task(session: Any, spec: Mapping[str, Any], *, facts: TaskFacts | None = None,
             backend: Any = None, step_fn: Callable[..., Any] | None = None) -> str | None:
    """The body of every dagc Python task on Snowflake."""
    facts = facts or TaskContextFacts(session)
    if backend is None:
        from dagc.snowflake.backend import SnowflakeBackend

        backend = SnowflakeBackend(session)
    ctx = build_context(spec, facts, backend)
    if getattr(backend, "default_integration", "") is None:
        backend.default_integration = ctx.config.get("notification_integration")
    if spec.get("compute"):
        from dagc.snowflake.mljob import run_as_ml_job

        value = run_as_ml_job(session, spec, ctx)
    else:
        fn = step_fn or resolve_step(spec["step"], spec.get("module"))
        value = fn(ctx, **ctx.params)
    text = finish(spec, value)
    if text is not None:
        facts.set_return_value(text)
    return text


_SESSION_TYPE: Any = None


def make_entry(pipeline: str, spec: Mapping[str, Any], *, spec_json: str | None = None) -> Callable[..., Any]:
    """A Snowpark-registrable handler `(session) -> str` bound to one task's spec.

    The closure holds only JSON text, so cloudpickle ships a few hundred bytes per task; the
    code it calls comes from the staged bundle.
    """
    spec = dict(spec, pipeline=pipeline)
    if spec_json is None:
        spec_json = json.dumps(spec, sort_keys=True)

    def dagc_task(session):  # type: ignore[no-untyped-def]
        import json as _json

        from dagc.runtime.snowflake import run_task as _run

        return _run(session, _json.loads(spec_json)) or ""

    global _SESSION_TYPE
    if _SESSION_TYPE is None:
        from snowflake.snowpark import Session

        _SESSION_TYPE = Session
    dagc_task.__annotations__ = {"session": _SESSION_TYPE, "return": str}
    dagc_task.__qualname__ = dagc_task.__name__ = f"dagc_{pipeline}_{spec['task']}"
    dagc_task.dagc_spec = spec  # type: ignore[attr-defined]
    return dagc_task
