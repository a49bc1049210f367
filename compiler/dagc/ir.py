"""The one intermediate representation every back end consumes.

The front end (load, overlay, template, schema, checks) produces a `Pipeline`; the manifest,
graph, Snowflake emitters and the local engine only ever read it. It is frozen so that no back
end can quietly change what another one sees, and it carries every setting already resolved
(defaults applied, templates rendered, durations in milliseconds), so back ends hold no
language knowledge of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterator, Mapping


class FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that refuses mutation but still serialises with `json.dumps`."""

    def _blocked(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("the IR is immutable")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _blocked  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: kv[0])))


def freeze(value: Any) -> Any:
    """Deep-freeze plain YAML data (dicts become FrozenDict, lists become tuples)."""
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of `freeze`, for handing data to user code that may mutate it."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


class Condition(str, Enum):
    """Snowflake's SYSTEM$PREDECESSORS_STATE conditions; the value is the YAML spelling."""

    ALL_SUCCEEDED = "all_succeeded"
    ALL_DONE = "all_done"
    ALL_FAILED = "all_failed"
    ALL_SKIPPED = "all_skipped"
    AT_LEAST_ONE_FAILED = "at_least_one_failed"
    AT_LEAST_ONE_SUCCEEDED = "at_least_one_succeeded"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCEEDED = "none_failed_min_one_succeeded"
    NONE_SKIPPED = "none_skipped"

    @property
    def snowflake(self) -> str:
        """The keyword inside SYSTEM$PREDECESSORS_STATE('...')."""
        return self.value.upper()


class TaskKind(str, Enum):
    STEP = "step"
    SQL = "sql"
    BRANCH = "branch"


class Overlap(str, Enum):
    """YAML `overlap:` values mapped to snowflake.core's OverlapPolicy names."""

    NONE = "none"
    CHILDREN = "children"
    ALL = "all"

    @property
    def snowflake(self) -> str:
        return {"none": "NO_OVERLAP", "children": "ALLOW_CHILD_OVERLAP", "all": "ALLOW_ALL_OVERLAP"}[self.value]


@dataclass(frozen=True)
class Cron:
    expr: str  # five fields
    timezone: str = "UTC"


@dataclass(frozen=True)
class Interval:
    seconds: int
    text: str  # as written, e.g. "30m", for messages and the manifest


Schedule = Cron | Interval


@dataclass(frozen=True)
class Trigger:
    """A triggered graph: the root runs when `stream` has data, at most every `min_interval_s`."""

    stream: str  # as written (DB.SCHEMA.STREAM or a bare name)
    min_interval_s: int | None = None  # USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS; None: Snowflake's 30 s


@dataclass(frozen=True)
class Compute:
    """Run the step as an ML Job on a compute pool (Snowflake only; in-process locally)."""

    pool: str
    instances: int = 1
    # What users of snowflake.ml.jobs `@remote` set (see dagc.snowflake.mljob):
    min_instances: int | None = None  # nodes needed to start; None = all `instances`
    stage: str | None = None  # where the job payload is uploaded; None = the pipeline's stage
    external_access_integrations: tuple[str, ...] = ()
    pip_requirements: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=FrozenDict)
    runtime: str | None = None  # runtime image tag or URL (runtime_environment)
    spec_overrides: Mapping[str, Any] = field(default_factory=FrozenDict)
    timeout_ms: int | None = None  # the job's own limit; never longer than the task's

    def to_json(self) -> dict[str, Any]:
        """The manifest / fingerprint form (only what is set, so old manifests stay equal)."""
        out: dict[str, Any] = {"pool": self.pool, "instances": self.instances}
        extra = {"min_instances": self.min_instances, "stage": self.stage,
                 "external_access_integrations": list(self.external_access_integrations) or None,
                 "pip_requirements": list(self.pip_requirements) or None, "env": dict(self.env) or None,
                 "runtime": self.runtime, "spec_overrides": thaw(self.spec_overrides) or None,
                 "timeout_ms": self.timeout_ms}
        out.update({k: v for k, v in extra.items() if v is not None})
        return out

    @classmethod
    def from_json(cls, c: Mapping[str, Any]) -> "Compute":
        return cls(pool=c["pool"], instances=c.get("instances", 1), min_instances=c.get("min_instances"),
                   stage=c.get("stage"), external_access_integrations=tuple(c.get("external_access_integrations") or ()),
                   pip_requirements=tuple(c.get("pip_requirements") or ()), env=freeze(dict(c.get("env") or {})),
                   runtime=c.get("runtime"), spec_overrides=freeze(dict(c.get("spec_overrides") or {})),
                   timeout_ms=c.get("timeout_ms"))


@dataclass(frozen=True)
class SecretRef:
    """Where a `{{ secret('NAME', ...) }}` value lives on Snowflake: a SECRET object the task
    procedures are granted (SECRETS = ('NAME' = object)) through an external access integration."""

    name: str  # what steps ask for (ctx.secret(name)); locally the environment variable
    object: str  # the Snowflake SECRET object (default: NAME, in the task's schema)
    integration: str | None = None  # the EXTERNAL ACCESS INTEGRATION that allows it


@dataclass(frozen=True)
class Task:
    name: str  # the YAML name, e.g. "train"; Snowflake name is f"{pipeline.name}${name}" (see snowflake_name)
    kind: TaskKind
    step: str | None = None  # registered step (step and branch tasks)
    params: Mapping[str, Any] = field(default_factory=FrozenDict)
    sql: str | None = None
    cases: Mapping[str, str] = field(default_factory=FrozenDict)  # branch case -> child task name
    after: tuple[str, ...] = ()  # YAML names of predecessors, in declaration order
    when: Condition = Condition.ALL_SUCCEEDED
    warehouse: str | None = None  # explicit (task or defaults); None inherits the graph's
    serverless: bool = False
    serverless_size: str | None = None  # initial warehouse size for serverless tasks
    compute: Compute | None = None
    timeout_ms: int | None = None
    comment: str | None = None
    session_parameters: Mapping[str, Any] = field(default_factory=FrozenDict)
    is_finalizer: bool = False
    condition: str | None = None  # `if:` as written (dagc.expr); ANDed with `when` and any branch condition
    serverless_min_size: str | None = None  # SERVERLESS_TASK_MIN_STATEMENT_SIZE
    serverless_max_size: str | None = None  # SERVERLESS_TASK_MAX_STATEMENT_SIZE
    target_completion_s: int | None = None  # TARGET_COMPLETION_INTERVAL (serverless tasks)
    success_integration: str | None = None
    execute_as_user: str | None = None
    log_level: str | None = None  # LOG_LEVEL object parameter
    trace_level: str | None = None  # TRACE_LEVEL object parameter
    source: str | None = None  # the task it was expanded from (matrix), for messages
    line: int = 0  # where the task is declared, for runtime messages (not part of the manifest)

    @property
    def is_branch(self) -> bool:
        return self.kind is TaskKind.BRANCH


@dataclass(frozen=True)
class Pipeline:
    name: str
    tasks: tuple[Task, ...]  # topological order, finalizer excluded
    finalizer: Task | None = None
    description: str | None = None
    schedule: Schedule | None = None
    warehouse: str | None = None
    stage: str | None = None
    packages: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=FrozenDict)  # nested, as written
    retries: int | None = None
    timeout_ms: int | None = None
    overlap: Overlap | None = None
    suspend_after_failures: int | None = None
    error_integration: str | None = None
    session_parameters: Mapping[str, Any] = field(default_factory=FrozenDict)
    comment: str | None = None
    trigger: Trigger | None = None  # exclusive with schedule
    streams: Mapping[str, str] = field(default_factory=FrozenDict)  # stream -> the table it watches (local runs)
    log_level: str | None = None
    trace_level: str | None = None
    environment: str | None = None  # the --env overlay applied, if any
    source: str = ""  # path of the YAML file
    # secret strings found while rendering (see dagc.redact); outputs mask them. Not in repr, so
    # a log line or traceback that prints the pipeline cannot leak them.
    secrets: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    # secret value -> where it lives on Snowflake, for values written as {{ secret('NAME') }}
    secret_refs: Mapping[str, SecretRef] = field(default_factory=FrozenDict, repr=False, compare=False)

    def __repr__(self) -> str:
        """The dataclass repr with secret values masked: a log line or traceback must not leak them."""
        from dataclasses import fields

        from dagc.redact import redact_text, secrets_of

        body = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return redact_text(f"Pipeline({body})", secrets_of(self))

    def all_tasks(self) -> Iterator[Task]:
        yield from self.tasks
        if self.finalizer is not None:
            yield self.finalizer

    def task(self, name: str) -> Task:
        for t in self.all_tasks():
            if t.name == name:
                return t
        raise KeyError(name)

    def children(self, name: str) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks if name in t.after)

    def roots(self) -> tuple[str, ...]:
        """Tasks with no predecessors: on Snowflake they hang off the graph's root task."""
        return tuple(t.name for t in self.tasks if not t.after)

    def snowflake_name(self, task: str) -> str:
        return f"{self.name}${task}"

    def ancestors(self, name: str) -> tuple[str, ...]:
        """Every task `name` runs after, directly or not, nearest first (breadth-first over `after`)."""
        by_name = {t.name: t for t in self.tasks}
        seen: dict[str, None] = {}
        frontier = list(by_name[name].after) if name in by_name else []
        while frontier:
            nxt = []
            for a in frontier:
                if a not in seen and a in by_name:
                    seen[a] = None
                    nxt.extend(by_name[a].after)
            frontier = nxt
        return tuple(seen)
