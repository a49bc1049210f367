"""What runs inside each deployed Python task: Snowflake's task functions -> StepContext -> step -> return value.

Every Python task of a dagc graph runs the same entry point (`run_task`) bound to its task spec
(step name, params, branch cases, predecessors, compute) by `make_entry`. The step receives the
same `StepContext` as on the local engine: the Snowpark session, the decoded graph config, its
params, its predecessors' decoded return values by YAML name, a run id and the original scheduled
time in UTC (both stable across a retry), and a logger. dagc then sets the task's return value
itself: JSON, at most 10 kB, and for a branch the *child task name* mapped from the case the step
returned (dagv1 conditions each branch child on exactly that string).

Decision: the runtime calls Snowflake's SYSTEM$ functions through the Snowpark session itself
instead of through `snowflake.core.task.context.TaskContext`. TaskContext is a thin wrapper over
the same calls, but it lives in snowflake.core, which a task procedure has only if the pipeline's
`packages:` list it (snowflake-ml-python >= 1.29 stopped bringing it along), and importing it costs
seconds at every task start. The only package this module needs is Snowpark, which every Python
procedure has; `dagc.snowflake.packaging.effective_packages` adds it (and snowflake-ml-python for
`compute:` tasks) to what the manifest shows and what the procedures get.

This module is shipped to Snowflake inside the staged bundle; it imports Snowpark only inside
functions.
"""

import json
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Protocol

from dagc.configcodec import decode_config, logical_date_of
from dagc.runtime.context import StepContext
from dagc.runtime.returns import ReturnValueError, decode_return, encode_return
from dagc.runtime.secrets import resolve_refs, snowflake_secret
from dagc.runtime.stepload import StepFailure, resolve_step

__all__ = ["StepFailure", "resolve_step", "SessionFacts", "run_task", "make_entry", "build_context", "finish"]

log = logging.getLogger("dagc.step")

SCHEDULED_AT = "CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP"
RUN_GROUP = "CURRENT_TASK_GRAPH_RUN_GROUP_ID"


class TaskFacts(Protocol):
    """What the runtime needs from Snowflake's task functions (so it can be driven offline)."""

    def graph_config(self) -> dict[str, Any] | None: ...
    def predecessor_value(self, task: str) -> str | None: ...
    def run_id(self) -> str: ...
    def scheduled_at(self) -> datetime: ...
    def set_return_value(self, text: str) -> None: ...


def _literal(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


class SessionFacts:
    """`TaskFacts` answered by Snowflake's task functions, called through the Snowpark session.

    Predecessors are asked for by their deployed name, `<PIPELINE>$<TASK>` in upper case: dagv1
    creates tasks with unquoted names, which Snowflake stores upper-cased, and
    SYSTEM$GET_PREDECESSOR_RETURN_VALUE compares the name it is given case-sensitively. Steps and
    dagc only ever use YAML names ("train", never "TRAINING$TRAIN").
    """

    def __init__(self, session: Any, pipeline: str) -> None:
        self.s = session
        self.prefix = f"{pipeline.upper()}$"
        self._info: tuple[str, datetime] | None = None

    def graph_config(self) -> dict[str, Any] | None:
        text = self.s.call("system$get_task_graph_config")
        return json.loads(text) if text else None

    def predecessor_value(self, task: str) -> str | None:
        value = self.s.call("system$get_predecessor_return_value", self.prefix + task.upper())
        # NULL for a predecessor that set nothing (or was skipped); a JSON-encoded dagc value is never "".
        return None if value is None or value == "" else str(value)

    def _runtime_info(self) -> tuple[str, datetime]:
        if self._info is None:
            # One query (SELECT, not CALL, so the text converts). SYSTEM$TASK_RUNTIME_INFO gives the
            # scheduled time as text without a zone, meant in the session's TIMEZONE (TaskContext's
            # to_timestamp makes it TIMESTAMP_NTZ wall-clock time there); to_timestamp_tz reads it
            # in the session's TIMEZONE and convert_timezone turns it into UTC, all in SQL, so the
            # procedure need not read a session parameter itself.
            row = self.s.sql(
                f"select to_char(system$task_runtime_info({_literal(RUN_GROUP)})), "
                f"convert_timezone('UTC', to_timestamp_tz(system$task_runtime_info({_literal(SCHEDULED_AT)})))"
            ).collect()[0]
            self._info = (str(row[0]), self._utc(row[1]))
        return self._info

    def _utc(self, value: Any) -> datetime:
        """A TIMESTAMP_TZ as an aware UTC datetime; a naive value (TIMESTAMP_NTZ: wall-clock time
        in the session's TIMEZONE) is read in that zone first."""
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(str(value))
        if value.tzinfo is not None:
            return value.astimezone(timezone.utc)
        zone = self.session_timezone()
        from zoneinfo import ZoneInfo

        return value.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)

    def session_timezone(self) -> str:
        rows = self.s.sql("show parameters like 'TIMEZONE' in session").collect()
        for r in rows:
            d = r.as_dict() if hasattr(r, "as_dict") else dict(r)
            if str(d.get("key", "")).upper() == "TIMEZONE" and d.get("value"):
                return str(d["value"])
        return "America/Los_Angeles"  # Snowflake's documented default for TIMEZONE

    def run_id(self) -> str:
        return self._runtime_info()[0]

    def scheduled_at(self) -> datetime:
        return self._runtime_info()[1]

    def set_return_value(self, text: str) -> None:
        self.s.call("system$set_return_value", text)


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


def build_context(spec: Mapping[str, Any], facts: TaskFacts, backend: Any, *, environment: str | None = None,
                  secret: Callable[[str], str] | None = None) -> StepContext:
    """The StepContext of one task run; secret references in config and params are resolved by `secret`."""
    from dagc.runtime.context import Inputs

    branch_preds = set(spec.get("branch_after") or ()) | set(spec.get("branch_ancestors") or ())

    def load(name: str) -> Any:  # one SYSTEM$GET_PREDECESSOR_RETURN_VALUE call, when the step asks
        raw = facts.predecessor_value(name)
        return raw if name in branch_preds else decode_return(raw)

    inputs = Inputs(spec["task"], list(spec.get("after") or ()) + list(spec.get("ancestors") or ()), load)
    flat_config = facts.graph_config()
    config = raw_config = decode_config(flat_config)
    params = raw_params = dict(spec.get("params") or {})
    if secret is not None:
        config, params = resolve_refs(config, secret), resolve_refs(params, secret)
    ctx = StepContext(
        pipeline=spec["pipeline"],
        task=spec["task"],
        run_id=facts.run_id(),
        scheduled_at=facts.scheduled_at(),
        config=config,
        params=params,
        inputs=inputs,
        backend=backend,
        environment=spec.get("environment"),
        log=logging.getLogger(f"dagc.step.{spec['pipeline']}.{spec['task']}"),
        logical_date=logical_date_of(flat_config),
        secret_reader=secret,
    )
    # what an ML Job is sent: secret references, never the values (job arguments are visible)
    ctx.unresolved = {"config": raw_config, "params": raw_params}  # type: ignore[attr-defined]
    return ctx


def run_task(session: Any, spec: Mapping[str, Any], *, facts: TaskFacts | None = None,
             backend: Any = None, step_fn: Callable[..., Any] | None = None,
             secret: Callable[[str], str] | None = None) -> str | None:
    """The body of every dagc Python task on Snowflake."""
    facts = facts or SessionFacts(session, spec["pipeline"])
    if backend is None:
        from dagc.snowflake.backend import SnowflakeBackend

        backend = SnowflakeBackend(session)
    ctx = build_context(spec, facts, backend, secret=secret or snowflake_secret)
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
