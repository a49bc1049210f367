"""Additional conditions, `if:` (DAGC601-609): parsed, typed and name-checked by dagc.expr.

Every error points at the exact characters inside the YAML string (load.locate), with a caret
span and a did-you-mean where one helps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagc.frontend.checks.context import Checker, Graph, rule
from dagc.frontend.load import Path, Pos, locate

if TYPE_CHECKING:  # the language is imported only when a task has an `if:` (most pipelines: ~10 ms saved)
    from dagc.expr import ExprError, Facts

CODES = {
    "DAGC601": "condition syntax error",
    "DAGC602": "unknown function in a condition",
    "DAGC603": "condition names no task",
    "DAGC604": "condition names a task that is not an ancestor",
    "DAGC605": "condition types do not fit",
    "DAGC606": "condition names an unknown config path",
    "DAGC607": "condition compares state() with something that is not a task state",
    "DAGC608": "condition goes into the plain-string value of a sql or branch task",
    "DAGC609": "stream not declared under streams:",
}
DELEGATES = ("dagc.expr",)  # the language package reports these codes; this family places them


def ancestors_of(graph: Graph, name: str) -> tuple[str, ...]:
    """Ancestors through valid edges, nearest first (works on a graph with cycles too)."""
    by_name = {t.name: t for t in graph.tasks}
    seen: dict[str, None] = {}
    frontier = [a for a in by_name[name].after if a in by_name] if name in by_name else []
    while frontier:
        nxt = []
        for a in frontier:
            if a not in seen and a != name:
                seen[a] = None
                nxt.extend(p for p in by_name[a].after if p in by_name)
        frontier = nxt
    return tuple(seen)


def facts_of(ctx: Checker, graph: Graph) -> Facts:
    from dagc.expr import Facts

    kinds = {t.name: t.kind.value for t in graph.tasks}
    matrices: dict[str, list[str]] = {}
    for t in graph.tasks:
        if t.source:
            matrices.setdefault(t.source, []).append(t.name)
    return Facts(kinds=kinds, config=ctx.data.get("config") or {},
                 matrices={k: tuple(v) for k, v in matrices.items()})


def report(ctx: Checker, path: Path, text: str, e: ExprError) -> None:
    start = locate(ctx.doc, path, e.start, text)
    last = locate(ctx.doc, path, max(e.end - 1, e.start), text)
    pos = Pos(start.line, start.col, last.col if last.line == start.line and last.col > start.col else 0, start.file)
    ctx.err_at(e.code, f"if: {e.message}", pos, e.hint)


@rule("graph", *CODES)
def conditions(ctx: Checker, graph: Graph) -> None:
    if all(t.condition is None for t in graph.tasks):
        return
    from dagc.expr import Scope, check_text

    facts = facts_of(ctx, graph)
    streams = frozenset(str(s) for s in ctx.data.get("streams") or {})
    for t in graph.tasks:
        if t.condition is None:
            continue
        path = ctx.source_path(t.name) + ("if",)
        scope = Scope(facts, t.name, ancestors_of(graph, t.name), streams)
        _, errors = check_text(t.condition, scope)
        for e in errors:
            report(ctx, path, t.condition, e)
