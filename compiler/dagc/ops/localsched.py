"""`dagc schedule`: start pipelines on their schedules on this machine, with Snowflake's rules.

For trying a schedule before deploying it, and for small teams on one machine. Snowflake is the
production scheduler; this one follows its rules so that what you see here is what you get there:

- no catch-up: fire times that passed while the scheduler was not running, or while it was busy,
  are not run later; the next run is the next fire time from now;
- overlap: with `overlap: none` (Snowflake's default) a fire time that comes while the previous
  run is still running is skipped; with `children`/`all` the run starts anyway;
- suspend after N consecutive failed runs (`suspend_after_failures:`, Snowflake's default 10);
  a success resets the count;
- intervals are anchored where the scheduler started (Snowflake anchors them when the root task is
  resumed); cron schedules fire at the cron times of their time zone.

The loop is `tick(now)`: reap finished runs, then start what is due. Time comes from an injected
clock, so tests drive it with explicit times and no sleeping; the CLI drives it with the wall
clock (or a scaled one, for demos). Runs execute on the local engine in threads, one worker pool
each; each run's logical date is its fire time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from dagc.ops.cron import fire_times

SNOWFLAKE_DEFAULT_SUSPEND_AFTER = 10  # SUSPEND_TASK_AFTER_NUM_FAILURES' default


@dataclass
class SchedEvent:
    kind: str  # started | finished | skipped | missed | suspended | stopping
    pipeline: str
    at: datetime  # scheduler time when it happened
    fire_time: datetime | None = None
    run_id: str | None = None
    state: str | None = None
    detail: str = ""
    lag_s: float | None = None  # started: how late after the fire time (scheduler clock)


@dataclass
class Entry:
    pipeline: Any
    next_fire: datetime
    anchor: datetime | None = None  # where interval schedules count from (the scheduler's start)
    running: list["Flight"] = field(default_factory=list)
    consecutive_failures: int = 0
    suspended: bool = False
    runs: int = 0


@dataclass
class Flight:
    fire_time: datetime
    thread: threading.Thread
    result: Any = None
    error: BaseException | None = None


Runner = Callable[[Any, datetime], Any]  # (pipeline, logical date) -> engine RunResult


class LocalScheduler:
    def __init__(self, pipelines: list[Any], *, now: datetime, runner: Runner,
                 on_event: Callable[[SchedEvent], None] = lambda e: None, max_runs: int | None = None) -> None:
        self.entries: dict[str, Entry] = {}
        self.runner = runner
        self.on_event = on_event
        self.max_runs = max_runs
        self.events: list[SchedEvent] = []
        self.stopping = False
        for p in pipelines:
            if p.schedule is None:
                continue
            first = next(iter(fire_times(p.schedule, now, anchor=now)))
            self.entries[p.name] = Entry(p, first, now)

    # -- the loop body -----------------------------------------------------------------------
    def tick(self, now: datetime) -> None:
        self._reap(now)
        if self.stopping:
            return
        for name, e in self.entries.items():
            if e.suspended or now < e.next_fire or self._done(e):
                continue
            due = e.next_fire
            upcoming = fire_times(e.pipeline.schedule, now, anchor=self._anchor(e))
            nxt = next(iter(upcoming))
            missed = self._count_between(e, due, now)
            e.next_fire = nxt
            if missed:
                self._emit(SchedEvent("missed", name, now, due, detail=(
                    f"{missed} earlier fire time(s) passed while busy or stopped; not run (no catch-up)")))
            if e.running and not self._overlap_allowed(e):
                self._emit(SchedEvent("skipped", name, now, due, detail=(
                    "the previous run is still running (overlap: none)")))
                continue
            self._start(e, due, now)

    def next_wakeup(self) -> datetime | None:
        times = [e.next_fire for e in self.entries.values() if not e.suspended and not self._done(e)]
        return min(times) if times else None

    def busy(self) -> bool:
        return any(e.running for e in self.entries.values())

    def finished(self) -> bool:
        """Nothing left to do: every pipeline suspended or at --max-runs, and no run in flight."""
        return not self.busy() and all(e.suspended or self._done(e) for e in self.entries.values())

    def wait_idle(self, now: datetime, timeout: float = 600.0) -> None:
        """Join every run in flight, then reap them (tests; graceful stop)."""
        for e in self.entries.values():
            for f in list(e.running):
                f.thread.join(timeout)
        self._reap(now)

    def stop(self, now: datetime) -> None:
        self.stopping = True
        self._emit(SchedEvent("stopping", "*", now, detail="no new runs; runs in flight finish"))

    # -- internals ---------------------------------------------------------------------------
    def _done(self, e: Entry) -> bool:
        return self.max_runs is not None and e.runs >= self.max_runs

    def _anchor(self, e: Entry) -> datetime | None:
        return e.anchor

    def _count_between(self, e: Entry, due: datetime, now: datetime) -> int:
        n = 0
        for t in fire_times(e.pipeline.schedule, due, anchor=self._anchor(e)):
            if t > now or n > 100_000:
                break
            n += 1
        return n

    def _overlap_allowed(self, e: Entry) -> bool:
        from dagc.ir import Overlap

        return e.pipeline.overlap in (Overlap.ALL, Overlap.CHILDREN)

    def _start(self, e: Entry, fire: datetime, now: datetime) -> None:
        flight = Flight(fire, threading.Thread())

        def body() -> None:
            try:
                flight.result = self.runner(e.pipeline, fire)
            except BaseException as exc:  # noqa: BLE001 - reported as a failed run
                flight.error = exc

        flight.thread = threading.Thread(target=body, name=f"dagc-schedule-{e.pipeline.name}", daemon=True)
        e.running.append(flight)
        e.runs += 1
        self._emit(SchedEvent("started", e.pipeline.name, now, fire, lag_s=(now - fire).total_seconds()))
        flight.thread.start()

    def _reap(self, now: datetime) -> None:
        for name, e in self.entries.items():
            for f in [f for f in e.running if not f.thread.is_alive()]:
                e.running.remove(f)
                if f.error is not None:
                    from dagc.diagnostics import DagcError

                    msg = f.error.message if isinstance(f.error, DagcError) else f"{type(f.error).__name__}: {f.error}"
                    state, run_id, detail = "FAILED", None, msg
                else:
                    state, run_id = f.result.state, f.result.run_id
                    detail = (f"{f.result.first_failed_task}: {(f.result.first_error or '').strip()[:200]}"
                              if f.result.first_failed_task else "")
                self._emit(SchedEvent("finished", name, now, f.fire_time, run_id, state, detail))
                if state == "FAILED":
                    e.consecutive_failures += 1
                    limit = e.pipeline.suspend_after_failures or SNOWFLAKE_DEFAULT_SUSPEND_AFTER
                    if e.consecutive_failures >= limit and not e.suspended:
                        e.suspended = True
                        self._emit(SchedEvent("suspended", name, now, detail=(
                            f"suspended after {e.consecutive_failures} consecutive failed runs "
                            f"(suspend_after_failures: {limit}); fix it, then restart `dagc schedule`")))
                elif state == "SUCCEEDED":
                    e.consecutive_failures = 0

    def _emit(self, ev: SchedEvent) -> None:
        self.events.append(ev)
        self.on_event(ev)


def engine_runner(project_root: Path, state_dir: Path, *, parallelism: int | None = None) -> Runner:
    """Runs on the local engine; the fire time is the run's logical date."""

    def run(pipeline: Any, fire: datetime) -> Any:
        from dagc.engine.api import run_pipeline

        return run_pipeline(pipeline, project_root=project_root, state_dir=state_dir, parallelism=parallelism,
                            logical_date=fire)

    return run


class ScaledClock:
    """Wall time, optionally sped up: `scale` scheduler seconds per real second (demos, the CLI test)."""

    def __init__(self, scale: float = 1.0, *, real: Callable[[], float] = time.time) -> None:
        self.scale = scale
        self.real = real
        self.t0 = real()

    def now(self) -> datetime:
        elapsed = (self.real() - self.t0) * self.scale
        return datetime.fromtimestamp(self.t0, tz=timezone.utc) + timedelta(seconds=elapsed)

    def real_seconds(self, scheduler_seconds: float) -> float:
        return scheduler_seconds / self.scale


def serve(sched: LocalScheduler, clock: ScaledClock, *, stop: threading.Event, poll: float = 0.5,
          sleep: Callable[[float], None] | None = None) -> None:
    """The CLI's loop: tick, sleep until the next fire time (at most `poll` s, so a stop is prompt)."""
    wait = sleep or (lambda s: stop.wait(s))
    while not stop.is_set() and not sched.finished():
        now = clock.now()
        sched.tick(now)
        nxt = sched.next_wakeup()
        delay = poll if nxt is None else max(0.0, min(poll, clock.real_seconds((nxt - clock.now()).total_seconds())))
        wait(delay)
    sched.stop(clock.now())
