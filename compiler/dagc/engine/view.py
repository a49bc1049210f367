"""How runs look to people and machines: the live view, plain progress lines, tables, JSON.

A live rich view only on a terminal; plain lines (one per state change) otherwise, so CI logs
stay readable; JSON documents for machines. Rendering only: the data comes from the scheduler's
TaskView objects during a run and from the state store afterwards.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Iterable

from dagc.engine import rules
from dagc.engine.scheduler import TaskView
from dagc.engine.state import AttemptRecord, RunRecord
from dagc.textsafe import printable

STYLE = {
    rules.SUCCEEDED: "green", rules.FAILED: "bold red", rules.SKIPPED: "dim", rules.CANCELLED: "yellow",
    rules.RUNNING: "cyan", rules.PENDING: "dim", rules.NOT_EXECUTED: "dim",
}


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def fmt_time(t: float | None) -> str:
    return "" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def first_line(text: str | None, width: int = 100) -> str:
    """The first line of a step's text, at most `width` characters, control characters escaped."""
    if not text:
        return ""
    head = text[: width * 4 + 2000].strip()  # a 5 MB error is not split into lines whole
    line = printable(head.splitlines()[0] if head else "", newlines=False)
    return line if len(line) <= width else line[: width - 1] + "…"


def cell(text: str, style: str = "") -> object:
    """A table cell holding `text` as text: rich markup in step output (`[/]`, `[red]`) is not parsed."""
    from rich.text import Text

    return Text(printable(text, newlines=False), style=style)


def note_for(state: str, error: str | None, branch_case: str | None, return_value: str | None,
             reused_from: str | None) -> str:
    if reused_from:
        return f"reused from run {reused_from}"
    if error:
        return first_line(error)
    if branch_case:
        return f"case {branch_case!r} -> {first_line(return_value)}"
    return summary_of(return_value)


def summary_of(return_value: str | None) -> str:
    """A step may return {"summary": "one line"}; the run table shows it (the ML steps do)."""
    if not return_value or not return_value.startswith("{") or '"summary"' not in return_value:
        return ""
    import json

    try:
        value = json.loads(return_value)
    except ValueError:
        return ""
    summary = value.get("summary") if isinstance(value, dict) else None
    return first_line(summary) if isinstance(summary, str) else ""


class PlainObserver:
    """One line per task state change (not a terminal, or --quiet off with no TTY)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def task_changed(self, v: TaskView) -> None:
        if v.state == rules.PENDING:
            return
        elapsed = fmt_duration(v.ended_at - v.started_at) if v.started_at and v.ended_at else ""
        note = note_for(v.state, v.error, v.branch_case, v.return_value, v.reused_from)
        parts = [time.strftime("%H:%M:%S"), f"{printable(v.name, newlines=False):<24}", f"{v.state:<12}", f"{elapsed:>8}"]
        if note:
            parts.append(note)
        print("  ".join(parts).rstrip(), file=self.stream, flush=True)

    def tick(self) -> None:
        pass


class LiveObserver:
    """A rich live table: each task's state and elapsed time, refreshed while the run goes on.

    Transient: when the run ends the live table is erased and the summary table (with attempts
    and start times) takes its place, instead of a near-copy printed under it.
    """

    def __init__(self, title: str, order: list[str], console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.title = title
        self.views: dict[str, TaskView] = {n: TaskView(n) for n in order}
        self.console = console or Console()
        self.live = Live(get_renderable=self._render, console=self.console, refresh_per_second=8, transient=True)

    def __enter__(self) -> "LiveObserver":
        self.live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.stop()

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=cell(self.title), title_justify="left", expand=False)
        for col in ("task", "state", "elapsed", "note"):
            table.add_column(col, no_wrap=True, overflow="ellipsis", max_width=60 if col == "note" else None)
        now = time.time()
        for v in self.views.values():
            if v.started_at and not v.ended_at:
                elapsed = fmt_duration(now - v.started_at)
            elif v.started_at and v.ended_at:
                elapsed = fmt_duration(v.ended_at - v.started_at)
            else:
                elapsed = ""
            state = v.state if v.state != rules.PENDING else "waiting"
            note = note_for(v.state, v.error, v.branch_case, v.return_value, v.reused_from)
            table.add_row(cell(v.name + (" (finally)" if v.is_finalizer else "")),
                          cell(state, STYLE.get(v.state, "")), elapsed, cell(note))
        return table

    def task_changed(self, v: TaskView) -> None:
        self.views[v.name] = TaskView(**vars(v))

    def tick(self) -> None:
        pass


def run_json(run: RunRecord, attempts: dict[str, AttemptRecord]) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "pipeline": run.pipeline,
        "environment": run.environment,
        "state": run.state,
        "graph_attempt": run.graph_attempt,
        "scheduled_at": run.scheduled_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration_s": run.duration,
        "first_failed_task": run.first_failed_task,
        "first_error": run.first_error,
        "config": run.config,  # the run's effective config, flat as Snowflake stores it (secrets masked)
        "tasks": [
            {
                "task": a.task, "state": a.state, "attempt": a.attempt, "graph_attempt": a.graph_attempt,
                "started_at": a.started_at, "ended_at": a.ended_at, "duration_ms": a.duration_ms,
                "return_value": a.return_value, "branch_case": a.branch_case, "error": a.error,
                "log": a.log_path, "reused_from": a.reused_from,
            }
            for a in attempts.values()
        ],
    }


def _console(stream: IO[str] | None) -> Any:
    """A rich console; wide when not a terminal so CI logs keep whole lines."""
    from rich.console import Console

    stream = stream or sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, highlight=False, width=None if tty else 160)


def print_task_table(attempts: Iterable[AttemptRecord], *, title: str | None = None,
                     stream: IO[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = _console(stream)
    table = Table(title=cell(title) if title else None, title_justify="left")
    for col in ("task", "state", "attempt", "started", "duration", "note"):
        table.add_column(col, no_wrap=True, overflow="ellipsis", max_width=70 if col == "note" else None)
    for a in attempts:
        dur = fmt_duration(a.duration_ms / 1000.0) if a.duration_ms is not None else ""
        table.add_row(cell(a.task), cell(a.state, STYLE.get(a.state, "")), str(a.attempt),
                      fmt_time(a.started_at)[11:], dur,
                      cell(note_for(a.state, a.error, a.branch_case, a.return_value, a.reused_from)))
    console.print(table)


def print_runs(runs: list[RunRecord], stream: IO[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = _console(stream)
    table = Table()
    for col in ("run id", "pipeline", "state", "started", "duration", "first failed task"):
        table.add_column(col, no_wrap=True)
    for r in runs:
        table.add_row(cell(r.run_id), cell(r.pipeline), cell(r.state, STYLE.get(r.state, "")), fmt_time(r.started_at),
                      fmt_duration(r.duration), cell(r.first_failed_task or ""))
    console.print(table)


def compute_notes(pipeline: Any) -> list[str]:
    """One line per `compute:` task: it runs in-process here, and where it would run on Snowflake."""
    out = []
    for t in pipeline.all_tasks():
        c = getattr(t, "compute", None)
        if c is not None:
            out.append(f"{t.name}: runs in-process here; on Snowflake a native ML Job on {c.pool} x {c.instances}"
                       + (" (distributed training: more than one node)" if c.instances > 1 else ""))
    return out


def config_line(run: RunRecord) -> str:
    """The run's effective config on one line; values set for this run (--set) are marked."""
    from dagc.configcodec import LOGICAL_DATE, SIDECAR

    overridden = set((run.sets or {}).get("set") or {})
    parts = [f"{k}={v!r}" + (" (--set)" if k in overridden else "")
             for k, v in run.config.items() if k not in (SIDECAR, LOGICAL_DATE)]
    line = "config  " + (", ".join(parts) or "(empty)")
    if LOGICAL_DATE in run.config:
        line += f"\nlogical date  {run.config[LOGICAL_DATE]}"
    return line
