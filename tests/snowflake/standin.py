"""A strict stand-in for a Snowflake schema: the recording schema plus Snowflake's documented task DDL rules.

`RecordingSchema` (dagc.snowflake.recording) keeps tasks in memory and records every call; this
subclass refuses what Snowflake refuses, with Snowflake's wording where it matters, so the deploy
tests check dagc against the rules and not against whatever dagc happens to call:

- a task that is part of a graph can be created, altered, dropped, suspended or resumed only while
  the graph's root is suspended (for an altered task: the task itself too) -- "Unable to update
  graph with root task X since that root task is not suspended";
- predecessors must exist and be in the same schema; a task has at most 100 predecessors and
  100 children; a graph has at most 1000 tasks;
- a graph has at most one finalizer; a finalizer has no predecessors and finalizes a root;
- names are case-insensitive unless quoted (the store is keyed by `canon`);
- a listing carries only what SHOW TASKS shows (no task parameters: timeout, retries, session
  parameters...), a fetch everything;
- dropping a predecessor turns children that lose their last predecessor into stand-alone tasks
  (they stay, suspended: what an interrupted deploy can leave behind);
- `EXECUTE TASK ... RETRY LAST` needs the last run FAILED or CANCELLED, within 14 days, and the graph
  unmodified since that run.

Procedures: with a Snowpark `session` set, a Python task's body is made as snowflake.core makes it
when it creates the task (`Task._extract_definition`: the procedure is registered, through the
session, unless the definition holds a registered one already) and the text Snowflake would store
(`WITH task_handler_sp AS PROCEDURE ... CALL ...`) is kept as the task's definition.

Failure injection: `fail_at = k` makes the k-th mutating statement (0-based) fail once with a
Snowflake-style error, as a refused privilege or a transient error would; `fail_after` (inherited)
models a connection that is gone for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from snowflake.core._common import CreateMode
from snowflake.core.exceptions import APIError

from dagc.snowflake.names import canon
from dagc.snowflake.recording import SHOW_TASKS_OMITS, RecordingSchema, RecordingTask, RecordingTasks

MAX_TASKS = 1000
MAX_EDGES = 100
RETRY_WINDOW = timedelta(days=14)


class SnowflakeRefused(APIError):
    """What snowflake.core raises when Snowflake answers a statement with an error."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.message = message
        super().__init__(None, status, message)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"({self.status}) {self.message}"


@dataclass
class Run:
    """A graph run as the stand-in remembers it (for RETRY LAST)."""

    group_id: int
    attempt: int
    state: str  # SUCCEEDED | FAILED | CANCELLED
    completed: datetime
    graph_version: int


class StrictSchema(RecordingSchema):
    def __init__(self, name: str = "PUBLIC", database: str = "DB") -> None:
        super().__init__(name, database)
        self.tasks = StrictTasks(self)
        self.fail_at: int | None = None
        self.statements = 0  # mutating statements attempted
        self.versions: dict[str, int] = {}  # root -> graph version (bumped by every change to the graph)
        self.runs: dict[str, list[Run]] = {}
        self.now = datetime(2026, 11, 21, 12, 0, 0)
        self.listing_omits = set(SHOW_TASKS_OMITS)  # a listing shows SHOW TASKS' columns only
        self.session: Any = None  # a Snowpark session: Python task bodies are made (see the module doc)

    def make_body(self, task: Any, key: str) -> None:
        """Store the SQL snowflake.core sends for a Python task (its procedure registered first)."""
        if self.session is None or isinstance(task.definition, str):
            return

        class Root:
            session = self.session
            _telemetry_client = RecordingSchema.root._telemetry_client

        task._extract_definition(Root())
        self.store[key].definition = task.definition._sql

    # -- failure injection -----------------------------------------------------------------------
    def record(self, op: str, name: str) -> None:
        super().record(op, name)
        if op in ("create", "create_or_alter", "drop", "suspend", "resume"):
            k = self.statements
            self.statements += 1
            if self.fail_at is not None and k == self.fail_at:
                self.calls.pop()
                raise SnowflakeRefused(f"SQL execution internal error: injected failure at statement {k} ({op} {name})",
                                       500)

    # -- graph structure -------------------------------------------------------------------------
    def root_of(self, key: str, seen: frozenset[str] = frozenset()) -> str:
        """The root of the graph `key` belongs to (itself for a root or a stand-alone task)."""
        t = self.store.get(key)
        if t is None:
            return key
        if t.finalize:
            return canon(t.finalize) or key
        preds = [canon(p) for p in (t.predecessors or [])]
        if not preds or key in seen:
            return key
        return self.root_of(preds[0], seen | {key})  # type: ignore[arg-type]

    def graph_members(self, root: str) -> list[str]:
        return [k for k in self.store if self.root_of(k) == root]

    def children(self, key: str) -> list[str]:
        return [k for k, t in self.store.items() if key in {canon(p) for p in (t.predecessors or [])}]

    def in_graph(self, key: str) -> bool:
        t = self.store.get(key)
        if t is None:
            return False
        return bool(t.predecessors or t.finalize or self.children(key)
                    or any(canon(x.finalize) == key for x in self.store.values() if x.finalize))

    def require_root_suspended(self, key: str, what: str) -> None:
        root = self.root_of(key)
        r = self.store.get(root)
        if r is not None and r.state == "started" and (root != key or self.in_graph(key)):
            raise SnowflakeRefused(f"Unable to update graph with root task {self.database_name}.{self.name}.{root} "
                                   f"since that root task is not suspended ({what} {key}).")

    def touch(self, key: str) -> None:
        root = self.root_of(key)
        self.versions[root] = self.versions.get(root, 0) + 1
        if key in self.store:  # SHOW TASKS' last_committed_on (a real clock, as TIMESTAMP_LTZ)
            self.store[key].last_committed_on = datetime.now(timezone.utc)

    def check_shape(self, task: Any, key: str) -> None:
        preds = list(task.predecessors or [])
        if task.finalize and preds:
            raise SnowflakeRefused(f"Task {key} cannot have both FINALIZE and AFTER.")
        if len(preds) > MAX_EDGES:
            raise SnowflakeRefused(f"Task {key} has {len(preds)} predecessors; the limit is {MAX_EDGES}.")
        for p in preds:
            parts = str(p).split(".")
            if len(parts) == 3 and (canon(parts[0]) != canon(self.database_name) or canon(parts[1]) != canon(self.name)):
                raise SnowflakeRefused(f"Predecessor {p} of {key} must be in the same schema as the task.")
            pk = canon(p)
            if pk not in self.store:
                raise SnowflakeRefused(f"Task '{p}' does not exist or not authorized.", 404)
            if pk != key and len([c for c in self.children(pk) if c != key]) + 1 > MAX_EDGES:
                raise SnowflakeRefused(f"Task {pk} would have more than {MAX_EDGES} child tasks.")
        if task.finalize:
            root = canon(task.finalize)
            if root not in self.store:
                raise SnowflakeRefused(f"Task '{task.finalize}' does not exist or not authorized.", 404)
            others = [k for k, t in self.store.items() if k != key and t.finalize and canon(t.finalize) == root]
            if others:
                raise SnowflakeRefused(f"Root task {root} already has a finalizer task {others[0]}.")
        root = self.root_of(canon(preds[0]) or key) if preds else (canon(task.finalize) if task.finalize else key)
        size = len([k for k in self.graph_members(root) if k != key]) + 1
        if size > MAX_TASKS:
            raise SnowflakeRefused(f"Task graph {root} would have {size} tasks; the limit is {MAX_TASKS}.")

    # -- runs (RETRY LAST) -----------------------------------------------------------------------
    def finish_run(self, root: str, state: str, *, attempt: int = 1, group_id: int | None = None,
                   ago: timedelta = timedelta(minutes=5)) -> Run:
        key = canon(root) or root
        run = Run(group_id or 1000 + len(self.runs.get(key, [])), attempt, state, self.now - ago,
                  self.versions.get(key, 0))
        self.runs.setdefault(key, []).append(run)
        return run

    def last_run(self, root: str) -> Run | None:
        runs = self.runs.get(canon(root) or root) or []
        return max(runs, key=lambda r: r.completed) if runs else None


class StrictTasks(RecordingTasks):
    schema: StrictSchema

    def create(self, task: Any, *, mode: Any = CreateMode.error_if_exists) -> Any:
        s = self.schema
        key = canon(task.name) or task.name
        mode = CreateMode[mode] if isinstance(mode, str) else mode
        if key in s.store and mode is CreateMode.or_replace:
            s.require_root_suspended(key, "replace")
        if key not in s.store or mode is CreateMode.or_replace:
            s.check_shape(task, key)
            for p in task.predecessors or []:
                s.require_root_suspended(canon(p) or p, "add a child to")
            if task.finalize:
                s.require_root_suspended(canon(task.finalize) or task.finalize, "add a finalizer to")
        out = super().create(task, mode=mode)
        s.make_body(task, key)
        s.touch(key)
        return out

    def __getitem__(self, name: str) -> "StrictTask":
        return StrictTask(self.schema, name)  # type: ignore[arg-type]


class StrictTask(RecordingTask):
    schema: StrictSchema

    def create_or_alter(self, task: Any) -> None:
        s = self.schema
        key = canon(task.name) or task.name
        old = s.store.get(key)
        if old is not None:
            s.require_root_suspended(key, "alter")
            if old.state == "started" and (s.in_graph(key) or task.predecessors or task.finalize):
                raise SnowflakeRefused(f"Cannot alter task {key}: it must be suspended first.")
        s.check_shape(task, key)
        for p in task.predecessors or []:
            s.require_root_suspended(canon(p) or p, "add a child to")
        if task.finalize:
            s.require_root_suspended(canon(task.finalize) or task.finalize, "add a finalizer to")
        super().create_or_alter(task)
        s.make_body(task, key)
        s.touch(key)

    def drop(self, if_exists: bool | None = None) -> None:
        s = self.schema
        key = canon(self.name) or self.name
        if key in s.store:
            s.require_root_suspended(key, "drop")
            s.touch(key)
        super().drop(if_exists=if_exists)
        if key in s.store:
            return
        for t in s.store.values():  # children that lose their last predecessor become stand-alone
            if t.predecessors and key in {canon(p) for p in t.predecessors}:
                t.predecessors = [p for p in t.predecessors if canon(p) != key] or None
            if t.finalize and canon(t.finalize) == key:
                t.finalize = None

    def suspend(self) -> None:
        s = self.schema
        key = canon(self.name) or self.name
        if key in s.store and s.root_of(key) != key:
            s.require_root_suspended(key, "suspend")
        super().suspend()

    def resume(self) -> None:
        s = self.schema
        key = canon(self.name) or self.name
        if key in s.store and s.root_of(key) != key:
            s.require_root_suspended(key, "resume")
        super().resume()

    def execute(self, *, retry_last: bool = False) -> None:
        s = self.schema
        key = canon(self.name) or self.name
        if retry_last:
            last = s.last_run(key)
            if last is None or last.state not in ("FAILED", "CANCELLED"):
                raise SnowflakeRefused(f"Cannot perform retry: no failed or cancelled run of {key} to retry.")
            if s.now - last.completed > RETRY_WINDOW:
                raise SnowflakeRefused(f"Cannot perform retry: the last run of {key} is older than 14 days.")
            if s.versions.get(key, 0) != last.graph_version:
                raise SnowflakeRefused(f"Cannot perform retry: the task graph {key} was modified since its last run.")
        super().execute(retry_last=retry_last)


def assert_runnable(schema: StrictSchema, root: str) -> None:
    """After a deploy: the graph is connected, and every task in it is resumed when the root is."""
    key = canon(root) or root
    members = schema.graph_members(key)
    r = schema.store[key]
    if r.state == "started":
        stopped = [k for k in members if schema.store[k].state != "started"]
        assert not stopped, f"root {key} runs but these graph tasks are suspended: {stopped}"
    orphans = [k for k in schema.store if k.startswith(key + "$") and k not in members]
    assert not orphans, f"tasks named {key}$... outside the graph: {orphans}"
