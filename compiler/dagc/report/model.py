"""The plain data a report is drawn from, whoever produced the run.

The report page must not know whether a run came from the local engine's SQLite state, from
Snowflake's task history, or from a test: each source has a small adapter that fills these
dataclasses, and the renderer only reads them (plus the manifest for the graph and settings).
Times are UTC epoch seconds (floats) because both the engine and JSON speak them natively;
Snowflake's timestamps are converted by its adapter.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

# Task and run states, spelled as Snowflake's TASK_HISTORY spells them.
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
SKIPPED = "SKIPPED"
CANCELLED = "CANCELLED"
NOT_EXECUTED = "NOT_EXECUTED"  # "not run": outside this run, or never reached
EXECUTING = "EXECUTING"
SCHEDULED = "SCHEDULED"

STATES = (SUCCEEDED, FAILED, SKIPPED, CANCELLED, NOT_EXECUTED, EXECUTING, SCHEDULED)
TERMINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED, NOT_EXECUTED})

# Other spellings seen in the wild (Snowflake history, the local engine, older exports).
_ALIASES = {
    "SUCCESS": SUCCEEDED,
    "SUCCEEDED": SUCCEEDED,
    "FAILED": FAILED,
    "FAILURE": FAILED,
    "FAILED_AND_AUTO_SUSPENDED": FAILED,
    "ERROR": FAILED,
    "SKIPPED": SKIPPED,
    "CANCELLED": CANCELLED,
    "CANCELED": CANCELLED,
    "NOT_EXECUTED": NOT_EXECUTED,
    "NOT_RUN": NOT_EXECUTED,
    "EXECUTING": EXECUTING,
    "RUNNING": EXECUTING,
    "SCHEDULED": SCHEDULED,
    "PENDING": SCHEDULED,
}

LOG_EXCERPT_CHARS = 4000  # the tail of a log is what explains a failure; keep the page small


def normalize_state(state: str | None) -> str:
    """One spelling per state; anything unknown is shown as not run rather than crashing a report."""
    if not state:
        return NOT_EXECUTED
    return _ALIASES.get(str(state).strip().upper(), NOT_EXECUTED)


def to_epoch(value: Any) -> float | None:
    """Epoch seconds from a float, an int, an ISO string or a datetime (naive means UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean is not a time")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    raise TypeError(f"cannot read a time from {type(value).__name__}")


def tail(text: str | None, limit: int = LOG_EXCERPT_CHARS) -> str | None:
    """The last `limit` characters of a log, cut at a line start, marked as cut."""
    if text is None:
        return None
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    nl = cut.find("\n")
    if 0 <= nl < 200:
        cut = cut[nl + 1:]
    return f"[... {len(text) - len(cut):,} earlier characters not shown ...]\n{cut}"


@dataclass(frozen=True)
class AttemptView:
    """One try of one task (task-level retries and graph retries both add attempts)."""

    attempt: int
    state: str
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"attempt": self.attempt, "state": normalize_state(self.state), "started_at": self.started_at,
                "ended_at": self.ended_at, "error": self.error}


@dataclass(frozen=True)
class TaskRunView:
    """What one task did in a run: its final state and the facts a person debugging it needs."""

    name: str  # the YAML (short) task name, as in the manifest
    state: str  # the final state, after every attempt
    started_at: float | None = None  # start of the first attempt of this run
    ended_at: float | None = None  # end of the last attempt
    attempts: int = 0
    return_value: str | None = None  # the raw string Snowflake stores (JSON for dagc steps)
    error: str | None = None
    log_excerpt: str | None = None
    history: tuple[AttemptView, ...] = ()  # earlier attempts included, oldest first; may be empty
    reused_from: str | None = None  # run id whose result this task reused (retry / --from), if any

    @property
    def duration(self) -> float | None:
        """How long the attempt that decided the state took (retries are counted in `attempts`).

        Not the span from the first start to the last end: a graph retry can come minutes later,
        and that wait is not the task's time."""
        timed = [a for a in self.history if a.started_at is not None and a.ended_at is not None]
        if timed:
            return max(0.0, timed[-1].ended_at - timed[-1].started_at)  # type: ignore[operator]
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": normalize_state(self.state),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration": self.duration,
            "attempts": self.attempts,
            "return_value": self.return_value,
            "error": self.error,
            "log_excerpt": tail(self.log_excerpt),
            "history": [a.to_dict() for a in self.history],
            "reused_from": self.reused_from,
        }


@dataclass(frozen=True)
class RunView:
    """One run of one pipeline, as the report shows it."""

    run_id: str
    pipeline: str
    state: str
    started_at: float | None = None
    ended_at: float | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    tasks: tuple[TaskRunView, ...] = ()
    source: str = "local"  # "local" or "snowflake": where the run happened
    environment: str | None = None
    first_error_task: str | None = None
    first_error: str | None = None
    manifest_hash: str | None = None  # of the pipeline the run executed, to spot a changed file
    extra: Mapping[str, Any] = field(default_factory=dict)  # source-specific facts shown as-is

    def task(self, name: str) -> TaskRunView | None:
        return next((t for t in self.tasks if t.name == name), None)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "state": normalize_state(self.state),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration": self.duration,
            "config": _jsonable(dict(self.config)),
            "tasks": [t.to_dict() for t in self.tasks],
            "source": self.source,
            "environment": self.environment,
            "first_error_task": self.first_error_task,
            "first_error": self.first_error,
            "manifest_hash": self.manifest_hash,
            "extra": _jsonable(dict(self.extra)),
        }


def _jsonable(value: Any) -> Any:
    """Config and extras may hold anything a source returned; the page needs JSON."""
    return json.loads(json.dumps(value, default=str))


def state_counts(tasks: Iterable[TaskRunView]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tasks:
        s = normalize_state(t.state)
        out[s] = out.get(s, 0) + 1
    return out
