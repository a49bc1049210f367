"""The event loop that executes one graph attempt of a run with Snowflake's rules.

A task is decided the moment its last predecessor reaches a terminal state: it either joins the
ready queue or is SKIPPED (which in turn may decide its children). Ready tasks go to idle
workers, up to the pool size. The finalizer starts once every other task is terminal, whatever
happened, including after a Ctrl-C. Every transition is committed to the state store before the
loop moves on, so what is on disk is always the truth a retry can resume from.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from dagc.engine import rules
from dagc.engine.project import StepRef
from dagc.engine.state import StateStore
from dagc.engine.workers import Worker, WorkerPool
from dagc.redact import secrets_of
from dagc.ir import Pipeline, Task, TaskKind, thaw

DEFAULT_TIMEOUT_MS = 3_600_000  # Snowflake's default USER_TASK_TIMEOUT_MS


@dataclass
class TaskView:
    """What observers (the live view, tests) see of a task."""

    name: str
    state: str = rules.PENDING
    attempt: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    return_value: str | None = None
    branch_case: str | None = None
    reused_from: str | None = None
    is_finalizer: bool = False


class Observer(Protocol):
    def task_changed(self, view: TaskView) -> None: ...
    def tick(self) -> None: ...


class NullObserver:
    def task_changed(self, view: TaskView) -> None:
        pass

    def tick(self) -> None:
        pass


@dataclass
class Preset:
    """A task's outcome known before this attempt starts (kept by a retry, reused by --only/--from)."""

    state: str
    return_value: str | None = None
    branch_case: str | None = None
    reused_from: str | None = None
    record: bool = False  # write a record for it in this run (reused values); retry keeps its records


@dataclass
class RunContext:
    pipeline: Pipeline
    steps: dict[str, StepRef]
    store: StateStore
    state_dir: Path
    run_id: str
    scheduled_at: float
    config: dict[str, Any]  # encoded flat config
    environment: str | None
    pool: WorkerPool
    fail_tasks: frozenset[str] = frozenset()
    webhook_url: str | None = None
    observer: Observer = field(default_factory=NullObserver)
    streams: Any = None  # engine.streams.Streams when the pipeline declares streams
    stub_returns: dict[str, Any] = field(default_factory=dict)  # task -> value returned without the step


class Scheduler:
    def __init__(self, rc: RunContext, graph_attempt: int, presets: dict[str, Preset],
                 attempts: dict[str, int], forced: frozenset[str] = frozenset()) -> None:
        self.rc = rc
        self.p = rc.pipeline
        self.graph_attempt = graph_attempt
        self.attempts = dict(attempts)
        self.forced = forced
        self.tasks: dict[str, Task] = {t.name: t for t in self.p.all_tasks()}
        self.order = [t.name for t in self.p.tasks]
        self.children: dict[str, list[str]] = {n: [] for n in self.tasks}
        for t in self.p.tasks:
            for a in t.after:
                self.children[a].append(t.name)
        self.fin = self.p.finalizer.name if self.p.finalizer else None
        self.views = {n: TaskView(n, is_finalizer=(n == self.fin)) for n in self.tasks}
        self._ancestors: dict[str, tuple[str, ...]] = {}
        self.ready: deque[str] = deque()
        self.decided: set[str] = set()  # queued or terminal in this attempt: never decided twice
        self.running: dict[str, Worker] = {}
        self.first_failed: tuple[float, str, str] | None = None
        self.cancel_requested = 0  # 1: stop tasks, run the finalizer; 2: stop the finalizer too
        self.cancelled = False
        self.log_dir = rc.state_dir / "logs" / rc.run_id
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, pre in presets.items():
            if name not in self.views:
                continue
            v = self.views[name]
            v.state, v.return_value, v.branch_case, v.reused_from = (
                pre.state, pre.return_value, pre.branch_case, pre.reused_from)
            if pre.record:
                self.attempts[name] = self.attempts.get(name, 0) + 1
                v.attempt = self.attempts[name]
                rc.store.record_outcome(rc.run_id, name, v.attempt, graph_attempt, pre.state,
                                        return_value=pre.return_value, branch_case=pre.branch_case,
                                        reused_from=pre.reused_from)
            rc.observer.task_changed(v)

    # ---- public -------------------------------------------------------------------------------

    def request_cancel(self) -> None:
        self.cancel_requested += 1

    def execute(self, on_idle: Callable[[], None] | None = None) -> str:
        """Run this graph attempt to the end; returns the run state for it."""
        for name in self.order:
            if name not in self.decided and self.views[name].state == rules.PENDING and self._preds_done(name):
                self._decide(name)
        fin_started = self.fin is None or self.views[self.fin].state != rules.PENDING
        while True:
            if self.cancel_requested and not self.cancelled:
                self._cancel()
            if self.cancel_requested >= 2 and self.running:
                self._cancel_running("cancelled (interrupted twice)")
            while self.ready and self.rc.pool.has_capacity():
                self._start(self.ready.popleft())
            if not fin_started and not self.ready and not self.running and self._all_done():
                fin_started = True
                if self.cancel_requested >= 2:
                    self._outcome(self.fin, rules.CANCELLED, error="cancelled before the finalizer started")  # type: ignore[arg-type]
                else:
                    self._start(self.fin)  # type: ignore[arg-type]
            if not self.running and not self.ready:
                break
            self._wait()
            self.rc.observer.tick()
        states = {n: v.state for n, v in self.views.items()}
        return rules.run_state(states, cancelled=self.cancelled)

    @property
    def first_failure(self) -> tuple[str | None, str | None]:
        if self.first_failed is None:
            return None, None
        return self.first_failed[1], self.first_failed[2]

    # ---- graph walking ------------------------------------------------------------------------

    def _preds_done(self, name: str) -> bool:
        return all(self.views[a].state in rules.TERMINAL for a in self.tasks[name].after)

    def _all_done(self) -> bool:
        return all(self.views[n].state in rules.TERMINAL for n in self.order)

    def _decide(self, name: str) -> None:
        if name in self.decided:
            return
        self.decided.add(name)
        t = self.tasks[name]
        if self.cancelled:
            self._outcome(name, rules.CANCELLED, error="the run was cancelled before this task started")
            return
        if name in self.forced:
            self.ready.append(name)
            return
        states = {a: self.views[a].state for a in t.after}
        choice = {a: (self.views[a].return_value if self.views[a].state == rules.SUCCEEDED else None)
                  for a in t.after if self.tasks[a].kind is TaskKind.BRANCH}
        if rules.should_run(name, t.when, t.after, states, choice) and self._condition_holds(t):
            self.ready.append(name)
        else:
            self._outcome(name, rules.SKIPPED)

    def ancestors(self, name: str) -> tuple[str, ...]:
        if name not in self._ancestors:
            self._ancestors[name] = self.p.ancestors(name)
        return self._ancestors[name]

    def _condition_holds(self, t: Task) -> bool:
        """The task's `if:`, evaluated as its WHEN would be on Snowflake (true runs; false or NULL skips)."""
        if t.condition is None:
            return True
        from dagc.configcodec import decode_config
        from dagc.engine.rules import condition_value
        from dagc.runtime.returns import decode_return

        names = self.ancestors(t.name)
        values = {n: (self.views[n].return_value if self.tasks[n].kind is not TaskKind.STEP
                      else decode_return(self.views[n].return_value)) for n in names}
        streams = self.rc.streams
        return condition_value(self.p, t, values, {n: self.views[n].state for n in names},
                               decode_config(self.rc.config), streams.has_data if streams else (lambda s: False))

    def _settle(self, name: str) -> None:
        for child in self.children.get(name, ()):
            if child not in self.decided and self.views[child].state == rules.PENDING and self._preds_done(child):
                self._decide(child)

    def _outcome(self, name: str, state: str, *, error: str | None = None) -> None:
        """A terminal state reached without running the task (SKIPPED, CANCELLED)."""
        v = self.views[name]
        self.attempts[name] = self.attempts.get(name, 0) + 1
        v.attempt = self.attempts[name]
        v.state, v.error, v.started_at, v.ended_at = state, error, None, time.time()
        v.return_value = v.branch_case = v.reused_from = None
        self.rc.store.record_outcome(self.rc.run_id, name, v.attempt, self.graph_attempt, state, error=error)
        self.rc.observer.task_changed(v)
        self._settle(name)

    # ---- running tasks ------------------------------------------------------------------------

    def _timeout_s(self, t: Task) -> float:
        ms = t.timeout_ms or self.p.timeout_ms or DEFAULT_TIMEOUT_MS
        return ms / 1000.0

    def _job(self, t: Task, attempt: int, log_path: Path) -> dict[str, Any]:
        ref = self.rc.steps.get(t.step) if t.step else None
        job: dict[str, Any] = {
            "run_id": self.rc.run_id,
            "pipeline": self.p.name,
            "task": t.name,
            "attempt": attempt,
            "kind": t.kind.value,
            "module": ref.module if ref else None,
            "function": ref.function if ref else None,
            "params": thaw(t.params),
            "sql": t.sql,
            "cases": dict(t.cases),
            "config": self.rc.config,
            # every ancestor's value, as SYSTEM$GET_PREDECESSOR_RETURN_VALUE gives it (nearest first)
            "inputs": {a: self.views[a].return_value for a in (*t.after, *self.ancestors(t.name))},
            "raw_inputs": [a for a in self.ancestors(t.name) if self.tasks[a].kind is TaskKind.BRANCH],
            "scheduled_at": self.rc.scheduled_at,
            "environment": self.rc.environment,
            "state_dir": str(self.rc.state_dir),
            "log_path": str(log_path),
            "inject_failure": t.name in self.rc.fail_tasks,
            "webhook_url": self.rc.webhook_url,
            "secrets": sorted(secrets_of(self.p)),  # masked in the log, error, traceback and return value
        }
        if t.name in self.rc.stub_returns:
            job["stub_return"] = self.rc.stub_returns[t.name]
        if t.kind is TaskKind.SQL:
            job["task_states"] = {n: v.state for n, v in self.views.items()}
            job["graph_attempt"] = self.graph_attempt
        return job

    def _start(self, name: str) -> None:
        t = self.tasks[name]
        attempt = self.attempts.get(name, 0) + 1
        self.attempts[name] = attempt
        log_path = self.log_dir / f"{name}.{attempt}.log"
        w = self.rc.pool.submit(self._job(t, attempt, log_path), self._timeout_s(t))
        self.running[name] = w
        v = self.views[name]
        v.state, v.attempt, v.started_at, v.ended_at, v.error = rules.RUNNING, attempt, w.started, None, None
        v.return_value = v.branch_case = v.reused_from = None
        self.rc.store.start_attempt(self.rc.run_id, name, attempt, self.graph_attempt, str(log_path), w.pid,
                                    w.started)
        self.rc.observer.task_changed(v)

    def _finish(self, name: str, state: str, *, return_value: str | None = None, branch_case: str | None = None,
                error: str | None = None, traceback: str | None = None) -> None:
        self.running.pop(name, None)
        v = self.views[name]
        v.state, v.ended_at, v.return_value, v.branch_case, v.error = (
            state, time.time(), return_value, branch_case, error)
        self.rc.store.finish_attempt(self.rc.run_id, name, v.attempt, state=state, ended_at=v.ended_at,
                                     started_at=v.started_at, return_value=return_value, branch_case=branch_case,
                                     error=error, traceback=traceback)
        if state == rules.FAILED and (self.first_failed is None or v.ended_at < self.first_failed[0]):
            self.first_failed = (v.ended_at, name, error or "")
        self.rc.observer.task_changed(v)
        self._settle(name)

    def _wait(self) -> None:
        now = time.monotonic()
        deadlines = [w.deadline for w in self.running.values() if w.deadline is not None]
        timeout = 0.2
        if deadlines:
            timeout = max(0.0, min(timeout, min(deadlines) - now))
        for ev in self.rc.pool.wait(timeout):
            name = ev.worker.task if ev.result is not None else None
            name = name or next((n for n, w in self.running.items() if w is ev.worker), None)
            if name is None:
                continue
            if ev.result is None:
                self._seal_log(name)  # the worker died before it could mask its log
                last = self._last_output(name)
                self._finish(name, rules.FAILED, error=(
                    f"the worker process running the step {ev.exit_description} before the step returned "
                    "(os._exit, a crash in native code, or out of memory); see the task log"
                    + (f"; its last output: {last}" if last else "")))
            elif ev.result.get("ok"):
                self._finish(name, rules.SUCCEEDED, return_value=ev.result.get("return_value"),
                             branch_case=ev.result.get("branch_case"))
            else:
                self._finish(name, rules.FAILED, error=ev.result.get("error"), traceback=ev.result.get("traceback"))
        now = time.monotonic()
        for name, w in list(self.running.items()):
            if w.deadline is not None and now >= w.deadline:
                self.rc.pool.kill(w)
                limit = self._timeout_s(self.tasks[name])
                self._append_log(name, f"--- {name} stopped: timed out after {limit:g} s")
                self._finish(name, rules.FAILED, error=(
                    f"timed out after {limit:g} s (timeout of task {name!r}); the step was stopped"))

    def _last_output(self, name: str) -> str:
        """The step's last line of output before its process died: the message a crash would lose."""
        try:
            with open(self.log_dir / f"{name}.{self.views[name].attempt}.log", "rb") as fh:
                fh.seek(0, 2)
                fh.seek(max(0, fh.tell() - 8192))
                tail = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [ln.strip() for ln in tail.splitlines() if ln.strip() and not ln.startswith("--- ")]
        if not lines:
            return ""
        from dagc.redact import redact_text, secrets_of

        line = redact_text(lines[-1], secrets_of(self.p))
        return line if len(line) <= 500 else line[:499] + "…"

    def _append_log(self, name: str, line: str) -> None:
        """Called when the engine stops a worker (timeout, cancel): the last line, then the mask."""
        try:
            with open(self.log_dir / f"{name}.{self.views[name].attempt}.log", "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError:
            pass
        self._seal_log(name)

    def _seal_log(self, name: str) -> None:
        """Mask the secrets in an attempt's log whose worker was stopped or died (it masks its own
        log only when the step returns or raises)."""
        from dagc.redact import redact_file, secrets_of

        redact_file(str(self.log_dir / f"{name}.{self.views[name].attempt}.log"), secrets_of(self.p))

    def _cancel_running(self, message: str) -> None:
        for name, w in list(self.running.items()):
            self.rc.pool.kill(w)
            self._append_log(name, f"--- {name} stopped: {message}")
            self._finish(name, rules.CANCELLED, error=message)

    def _cancel(self) -> None:
        """First Ctrl-C: stop every running task (not the finalizer) and cancel what has not started."""
        self.cancelled = True
        for name, w in list(self.running.items()):
            if name != self.fin:
                self.rc.pool.kill(w)
                self._append_log(name, f"--- {name} stopped: the run was cancelled")
                self._finish(name, rules.CANCELLED, error="the run was cancelled while this task was running")
        pending = [n for n in self.ready]
        self.ready.clear()
        for n in pending:
            self.decided.add(n)
            self._outcome(n, rules.CANCELLED, error="the run was cancelled before this task started")
        for n in self.order:
            if self.views[n].state == rules.PENDING:
                self.decided.add(n)
                self._outcome(n, rules.CANCELLED, error="the run was cancelled before this task started")


def default_parallelism() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
