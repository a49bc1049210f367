"""What every rule receives: the document, the data, where to put diagnostics, and the rule registry.

A rule is a plain function registered with `@rule(stage, *codes)` in the family module that owns
its codes. Five stages exist, run in this order by `build.py`:

- ``document``: `fn(ctx)` on the data as written, before include/templates/matrix expand it (what
  Snowflake would refuse about the names and values the user typed, each at its own position);
- ``pipeline``: `fn(ctx)` on the schema-valid, expanded data (names, settings, config, counts);
- ``task``: `fn(ctx, src)` once per declared task, with its YAML spec and resolved settings;
- ``graph``: `fn(ctx, graph)` once, on the tasks with their edges (order is None if there is a cycle);
- ``ir``: `fn(ctx, pipeline)` once the IR is built without errors (rules that need resolved
  settings, e.g. the packages a Python task's procedure will have).

Rules only report; they never build the IR. Value parsers that both parse and report (durations,
schedules) are ordinary functions the build calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from dagc import ir
from dagc.diagnostics import Diagnostic, Severity
from dagc.frontend.load import Document, Path, Pos
from dagc.frontend.registry import Registry

Stage = Literal["document", "pipeline", "task", "graph", "ir"]


@dataclass
class Checker:
    """The state one check of one document shares between rules."""

    doc: Document
    data: dict[str, Any]
    registry: Registry | None
    environment: str | None
    pruned: frozenset[Path] = frozenset()  # paths the schema rejected (already reported)
    diags: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)  # task -> the YAML path it was declared at
    reported_cycles: set[frozenset[str]] = field(default_factory=set)  # template cycles already reported
    templating: dict[str, Any] = field(default_factory=dict)  # how `include:`d files render (template.render_included)

    def source_path(self, task: str) -> Path:
        return self.sources.get(task, ("tasks", task))

    def err(self, code: str, message: str, path: Path, hint: str | None = None, *, key: bool = False,
            severity: Severity = Severity.ERROR) -> None:
        p = self.doc.pos(path, key=key)
        self.diags.append(Diagnostic(code, message, p.file or self.doc.path, p.line, p.col, hint, severity, p.end_col))

    def err_at(self, code: str, message: str, p: Pos, hint: str | None = None, *,
               severity: Severity = Severity.ERROR) -> None:
        """Report at an exact position (e.g. a character inside a string, see load.locate)."""
        self.diags.append(Diagnostic(code, message, p.file or self.doc.path, p.line, p.col, hint, severity, p.end_col))

    def warn(self, code: str, message: str, path: Path, hint: str | None = None, *, key: bool = False) -> None:
        self.err(code, message, path, hint, key=key, severity=Severity.WARNING)


@dataclass(frozen=True)
class TaskSource:
    """One declared task as a task rule sees it: its YAML, where it is, and what the build made of it."""

    name: str
    spec: dict[str, Any]
    defaults: dict[str, Any]
    path: Path  # ("tasks", name) or ("finally", name)
    task: ir.Task  # the IR the build made (settings resolved)
    kinds: tuple[str, ...]  # which of step/sql/branch the spec has (DAGC306 wants exactly one)

    @property
    def finalizer(self) -> bool:
        return self.task.is_finalizer


@dataclass(frozen=True)
class Graph:
    """The declared tasks with their valid edges, as the graph rules see them."""

    tasks: tuple[ir.Task, ...]  # declaration order, finalizer excluded
    finalizer: ir.Task | None
    children: dict[str, list[str]]  # task -> children that name it in `after` (valid edges only)
    order: tuple[ir.Task, ...] | None  # topological order; None when there is a cycle

    @property
    def names(self) -> set[str]:
        return {t.name for t in self.tasks}


@dataclass(frozen=True)
class Rule:
    stage: Stage
    fn: Callable[..., None]
    codes: tuple[str, ...]
    family: str


RULES: list[Rule] = []  # filled by the family modules as they are imported (see checks/__init__.py)


def rule(stage: Stage, *codes: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `fn` as a rule of `stage` that may report `codes` (declared, so docs and tests can check)."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        RULES.append(Rule(stage, fn, codes, fn.__module__.rsplit(".", 1)[-1]))
        return fn

    return register


def rules(stage: Stage) -> list[Rule]:
    return [r for r in RULES if r.stage == stage]
