"""`dagc backfill`: one graph run per logical date, resumable, on the local engine or on Snowflake.

Each run carries its logical date in the run's config (dagc.configcodec.LOGICAL_DATE), which is
how Snowflake passes anything to one run (EXECUTE TASK ... USING CONFIG); steps read it as
`ctx.logical_date`. The ledger (dagc.ops.ledger) makes a re-run of the same command skip dates
that succeeded and run the failed, interrupted and missing ones again.

Targets are a small interface so that the Snowflake side sits on top of whatever run identity
dagc.snowflake.operate exposes: `run(logical_date)` blocks until that date's run ended and
returns its state and id. Overlap is respected: with `overlap: none` (Snowflake's default, no
overlapping runs of one graph) runs go one at a time whatever --max-concurrent says.

Ctrl-C: on the local engine the run in flight is cancelled the engine's way (its finalizer still
runs) and recorded as INTERRUPTED; nothing new starts; the history is kept. With several runs in
flight, they finish first. A second Ctrl-C stops at once (the next invocation marks what was in
flight as INTERRUPTED and runs it again).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from dagc.ops import ledger as L


@dataclass
class Outcome:
    state: str  # a ledger state: SUCCEEDED | FAILED | INTERRUPTED
    run_id: str | None
    error: str | None = None


class Target(Protocol):
    name: str

    def allows_overlap(self) -> bool: ...
    def run(self, logical_date: datetime) -> Outcome: ...


@dataclass
class Event:
    kind: str  # "skip" | "start" | "end"
    logical_date: str
    index: int  # 1-based position among the dates of this invocation
    total: int
    row: L.DateRow | None = None


@dataclass
class BackfillResult:
    rows: list[L.DateRow]
    skipped: list[str] = field(default_factory=list)  # succeeded before this invocation
    interrupted: bool = False
    concurrency: int = 1
    wall_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.state] = out.get(r.state, 0) + 1
        return out

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 0 if all(r.state == L.SUCCEEDED for r in self.rows) else 1


def effective_concurrency(requested: int, target: Target) -> int:
    return max(1, requested) if target.allows_overlap() else 1


def run_backfill(target: Target, dates: Sequence[datetime], ledger: L.Ledger, *, max_concurrent: int = 1,
                 on_event: Callable[[Event], None] = lambda e: None) -> BackfillResult:
    """Run every date that has not succeeded yet; returns the ledger rows of all `dates`."""
    started = time.monotonic()
    planned = ledger.plan(list(dates))
    keys = list(planned)
    total = len(keys)
    todo: list[tuple[int, str, datetime]] = []
    skipped = []
    for i, (key, d) in enumerate(zip(keys, dates), 1):
        if planned[key].state == L.SUCCEEDED:
            skipped.append(key)
            on_event(Event("skip", key, i, total, planned[key]))
        else:
            todo.append((i, key, d))
    n = effective_concurrency(max_concurrent, target)
    stop = threading.Event()
    lock = threading.Lock()

    def one(i: int, key: str, d: datetime) -> None:
        with lock:
            ledger.start(key)
        on_event(Event("start", key, i, total))
        try:
            out = target.run(d)
        except KeyboardInterrupt:
            with lock:
                ledger.finish(key, L.INTERRUPTED, None, "interrupted (Ctrl-C) while this run was in flight")
            raise
        except Exception as exc:  # noqa: BLE001 - one date's failure must not lose the others' records
            from dagc.diagnostics import DagcError

            message = exc.message if isinstance(exc, DagcError) else f"{type(exc).__name__}: {exc}"
            out = Outcome(L.FAILED, None, message)
        with lock:
            ledger.finish(key, out.state, out.run_id, out.error)
            row = ledger.rows()[key]
        on_event(Event("end", key, i, total, row))
        if out.state == L.INTERRUPTED:
            stop.set()

    interrupted = False
    try:
        if n == 1:
            for i, key, d in todo:
                if stop.is_set():
                    break
                one(i, key, d)
        else:
            with ThreadPoolExecutor(max_workers=n, thread_name_prefix="dagc-backfill") as pool:
                pending: set[Future[None]] = set()
                queue = list(todo)
                try:
                    while queue or pending:
                        while queue and len(pending) < n and not stop.is_set():
                            pending.add(pool.submit(one, *queue.pop(0)))
                        if not pending:
                            break
                        done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                        for f in done:
                            f.result()
                except KeyboardInterrupt:
                    stop.set()  # nothing new starts; the runs in flight finish and are recorded
                    interrupted = True
                    for f in pending:
                        f.result()
    except KeyboardInterrupt:
        interrupted = True
    interrupted = interrupted or stop.is_set()
    rows = ledger.rows()
    return BackfillResult([rows[k] for k in keys], skipped, interrupted, n, time.monotonic() - started)


# -- targets -----------------------------------------------------------------------------------------
class LocalTarget:
    """Runs on the local engine, in this process, one StateStore per run (threads are safe)."""

    name = "local"

    def __init__(self, pipeline: Any, *, project_root: Path, state_dir: Path, sets: Mapping[str, Any] | None = None,
                 var_sets: Mapping[str, Any] | None = None, parallelism: int | None = None,
                 fail_tasks: Sequence[str] = ()) -> None:
        self.pipeline = pipeline
        self.project_root = project_root
        self.state_dir = state_dir
        self.sets = dict(sets or {})
        self.var_sets = dict(var_sets or {})
        self.parallelism = parallelism
        self.fail_tasks = tuple(fail_tasks)

    def allows_overlap(self) -> bool:
        from dagc.ir import Overlap

        return self.pipeline.overlap in (Overlap.ALL, Overlap.CHILDREN)

    def run(self, logical_date: datetime) -> Outcome:
        from dagc.engine.api import run_pipeline

        result = run_pipeline(self.pipeline, project_root=self.project_root, state_dir=self.state_dir,
                              sets=self.sets, var_sets=self.var_sets, parallelism=self.parallelism,
                              fail_tasks=self.fail_tasks, logical_date=logical_date)
        state = {"SUCCEEDED": L.SUCCEEDED, "CANCELLED": L.INTERRUPTED}.get(result.state, L.FAILED)
        error = None
        if result.first_failed_task:
            error = f"{result.first_failed_task}: {(result.first_error or '').strip().splitlines()[0] if result.first_error else ''}"
        elif state == L.INTERRUPTED:
            error = "interrupted (Ctrl-C); the run was cancelled and its finalizer ran"
        return Outcome(state, result.run_id, error)


class SnowflakeTarget:
    """EXECUTE TASK <root> USING CONFIG = '{..., logical date}' per date, each followed to its end.

    `source` is a dagc.snowflake.operate RunSource for the deployed graph; `execute_sql` sends
    one statement (the session's `sql(...).collect()`). Starting a run and finding its id happen
    under one lock, so that concurrent runs (only with overlap allowed) are told apart.
    """

    name = "snowflake"

    def __init__(self, pipeline: Any, source: Any, execute_sql: Callable[[str], Any], root: str,
                 overrides: Mapping[str, Any], *, timeout: float = 3600.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, poll: float = 2.0) -> None:
        self.pipeline = pipeline
        self.source = source
        self.execute_sql = execute_sql
        self.root = root
        self.overrides = dict(overrides)
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.poll = poll
        self.lock = threading.Lock()
        self.sent: list[str] = []

    def allows_overlap(self) -> bool:
        from dagc.ir import Overlap

        return self.pipeline.overlap in (Overlap.ALL, Overlap.CHILDREN)

    def run(self, logical_date: datetime) -> Outcome:
        from dagc.snowflake import operate as op
        from dagc.snowflake.runconfig import execute_sql, override_object

        stmt = execute_sql(self.root, override_object(self.overrides, logical_date))
        with self.lock:
            known = {_ident(r) for r in self.source.graph_runs()}
            self.sent.append(stmt)
            self.execute_sql(stmt)
            new = self._new_run(known)
        if hasattr(op, "RunKey"):  # runs keyed by graph run group + attempt: follow it through its retries
            rep = op.follow(self.source, pipeline=self.pipeline.name, key=new.key, retries=self.pipeline.retries or 0,
                            timeout=self.timeout, clock=self.clock, sleep=self.sleep, first_delay=self.poll)
        else:
            rep = op.follow(self.source, pipeline=self.pipeline.name, run_id=new.run_id, timeout=self.timeout,
                            clock=self.clock, sleep=self.sleep, first_delay=self.poll)
        run_id = str(getattr(rep.run, "key", None) or rep.run.run_id)
        state = rep.run.state
        first = rep.first_failure()
        error = f"{first.task}: {first.error or '(no message)'}" if first is not None and state != "SUCCEEDED" else None
        return Outcome({"SUCCEEDED": L.SUCCEEDED, "CANCELLED": L.INTERRUPTED}.get(state, L.FAILED), run_id, error)

    def _new_run(self, known: set[str]) -> Any:
        from dagc.diagnostics import DagcError

        deadline = self.clock() + min(self.timeout, 600.0)
        while True:
            new = [r for r in self.source.graph_runs() if _ident(r) not in known and r.state != "SCHEDULED"]
            if new:
                return min(new, key=lambda r: (r.scheduled_time or datetime.max, _ident(r)))
            if self.clock() >= deadline:
                raise DagcError(f"{self.pipeline.name}: the run started by EXECUTE TASK never appeared",
                                "check the root task's state and your role's OPERATE privilege")
            self.sleep(self.poll)


def _ident(run: Any) -> str:
    """A graph run's identity: its run group when Snowflake reports one (RunKey), else its run id."""
    key = getattr(run, "key", None)
    return str(key.group_id) if key is not None else str(run.run_id)
