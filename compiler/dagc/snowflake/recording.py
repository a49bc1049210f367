"""A stand-in for `snowflake.core`'s SchemaResource that keeps tasks in memory and records every call.

It implements the slice of the task API that dagv1's `DAGOperation` and dagc's deploy use
(`tasks.create/iter/[name]`, `fetch/create_or_alter/drop/suspend/resume/execute/
fetch_task_dependents/get_current_graphs/get_complete_graphs`), with Snowflake's observable rules
where they matter to a deploy: creating an existing task fails unless replaced, a missing task
raises `NotFoundError`, a created task starts suspended. Tests and `bench/` drive both dagc's deploy
and dagv1's `DAGOperation.deploy(or_replace)` against it and compare the recorded calls.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterable, Iterator

from snowflake.core._common import CreateMode
from snowflake.core.exceptions import ConflictError, NotFoundError

from dagc.snowflake.names import canon

MUTATING = {"create", "create_or_alter", "drop", "suspend", "resume", "execute", "put"}

# Task attributes SHOW TASKS (one listing) has no column for: they are task parameters, which only a
# fetch of that task (DESCRIBE / SHOW PARAMETERS IN TASK) returns. Whether snowflake.core's REST
# listing fills them in is for a real account to settle; tests assume it does not.
SHOW_TASKS_OMITS = frozenset({"session_parameters", "user_task_timeout_ms", "task_auto_retry_attempts",
                              "suspend_task_after_num_failures", "user_task_managed_initial_warehouse_size",
                              "serverless_task_min_statement_size", "serverless_task_max_statement_size",
                              "target_completion_interval"})


class Interrupted(RuntimeError):
    """Raised by a RecordingSchema set to fail after N mutating calls (a deploy cut half-way)."""


class _NoTelemetry:
    def safe_send(self, *_: Any, **__: Any) -> None:
        """DAGOperation's telemetry decorator reports through `schema.root`; nothing to send here."""


class _Root:
    _telemetry_client = _NoTelemetry()


class RecordingSchema:
    root = _Root()

    def __init__(self, name: str = "PUBLIC", database: str = "DB") -> None:
        self.name = name
        self.database_name = database
        self.store: dict[str, Any] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_after: int | None = None
        self.current_runs: list[Any] = []
        self.complete_runs: list[Any] = []
        self.listing_omits: set[str] = set()  # attributes a listing leaves out (fetch has them all)
        self.tasks = RecordingTasks(self)

    @property
    def database(self) -> Any:
        """Like SchemaResource.database: something with the database's name."""

        class Database:
            name = self.database_name

        return Database()

    # -- bookkeeping ----------------------------------------------------------------------------
    def record(self, op: str, name: str) -> None:
        if op in MUTATING and self.fail_after is not None:
            if self.fail_after <= 0:
                raise Interrupted(f"connection lost before {op} {name}")
            self.fail_after -= 1
        self.calls.append((op, name))

    def mutations(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in MUTATING]

    def reset_calls(self) -> None:
        self.calls.clear()

    def get(self, name: str) -> Any:
        key = canon(name)
        if key not in self.store:
            raise NotFoundError(None, 404, f"Task '{name}' does not exist or not authorized.")  # type: ignore[arg-type]
        return self.store[key]


class RecordingTasks:
    def __init__(self, schema: RecordingSchema) -> None:
        self.schema = schema

    def create(self, task: Any, *, mode: Any = CreateMode.error_if_exists) -> "RecordingTask":
        mode = CreateMode[mode] if isinstance(mode, str) else mode
        key = canon(task.name)
        self.schema.record("create", key)
        if key in self.schema.store:
            if mode is CreateMode.if_not_exists:
                return self[task.name]
            if mode is not CreateMode.or_replace:
                raise ConflictError(None, 409, f"Task '{task.name}' already exists.")  # type: ignore[arg-type]
        self.schema.store[key] = _stored(task, "suspended")
        return self[task.name]

    def iter(self, *, like: str | None = None, root_only: bool = False, **_: Any) -> Iterator[Any]:
        self.schema.record("list", like or "")
        pattern = None
        if like is not None:
            pattern = re.compile("^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in like) + "$",
                                 re.IGNORECASE)
        out = []
        for key, t in self.schema.store.items():
            if pattern is not None and not pattern.match(key):
                continue
            if root_only and (t.predecessors or t.finalize):
                continue
            listed = copy.copy(t)
            for attr in self.schema.listing_omits:
                setattr(listed, attr, None)
            out.append(listed)
        return iter(out)

    def __getitem__(self, name: str) -> "RecordingTask":
        return RecordingTask(self.schema, name)


class RecordingTask:
    def __init__(self, schema: RecordingSchema, name: str) -> None:
        self.schema = schema
        self.name = name

    def fetch(self) -> Any:
        self.schema.record("fetch", canon(self.name) or self.name)
        return copy.copy(self.schema.get(self.name))

    def create_or_alter(self, task: Any) -> None:
        key = canon(task.name)
        self.schema.record("create_or_alter", key or task.name)
        old = self.schema.store.get(key)
        self.schema.store[key] = _stored(task, old.state if old is not None else "suspended")

    def drop(self, if_exists: bool | None = None) -> None:
        self.schema.record("drop", canon(self.name) or self.name)
        key = canon(self.name)
        if key not in self.schema.store:
            if if_exists:
                return
            self.schema.get(self.name)
        del self.schema.store[key]

    def suspend(self) -> None:
        self.schema.record("suspend", canon(self.name) or self.name)
        self.schema.get(self.name).state = "suspended"

    def resume(self) -> None:
        self.schema.record("resume", canon(self.name) or self.name)
        self.schema.get(self.name).state = "started"

    def execute(self, *, retry_last: bool = False) -> None:
        self.schema.get(self.name)
        self.schema.record("execute", f"{canon(self.name)}{' retry_last' if retry_last else ''}")

    def fetch_task_dependents(self, **_: Any) -> list[Any]:
        """The root and every task reachable from it, predecessors first, finalizer last."""
        self.schema.record("fetch_task_dependents", canon(self.name) or self.name)
        root = canon(self.name)
        out = [copy.copy(self.schema.get(self.name))]
        reached = {root}
        changed = True
        while changed:
            changed = False
            for key, t in self.schema.store.items():
                if key in reached:
                    continue
                preds = {canon(p) for p in (t.predecessors or [])}
                if preds and all(p in reached for p in preds):
                    out.append(copy.copy(t))
                    reached.add(key)
                    changed = True
        out.extend(copy.copy(t) for k, t in self.schema.store.items() if t.finalize and canon(t.finalize) == root)
        return out

    def get_current_graphs(self) -> Iterable[Any]:
        self.schema.record("get_current_graphs", canon(self.name) or self.name)
        return list(self.schema.current_runs)

    def get_complete_graphs(self, *, error_only: bool = True) -> Iterable[Any]:
        self.schema.record("get_complete_graphs", canon(self.name) or self.name)
        return [r for r in self.schema.complete_runs if not error_only or getattr(r, "state", "") == "FAILED"]


def _stored(task: Any, state: str) -> Any:
    stored = copy.copy(task)
    if not isinstance(stored.definition, str):
        # Snowflake stores the SQL Snowpark generated when it registered the procedure.
        stored.definition = f"WITH task_handler_sp AS PROCEDURE () ... CALL task_handler_sp()  -- {task.name}"
    stored.state = state
    if stored.predecessors:
        stored.predecessors = [canon(p) for p in stored.predecessors]
    if stored.finalize:
        stored.finalize = canon(stored.finalize)
    return stored
