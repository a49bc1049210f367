"""Graph shape (DAGC301-304, 307, 308, 310): edges, cycles, branch cases, the finalizer, reachability.

`order` is also what the build uses to lay the tasks out in topological order; it reports a
cycle (DAGC302) with its whole path and returns None, which stops the build producing IR.
"""

from __future__ import annotations

import graphlib
import heapq

from dagc import ir
from dagc.frontend.checks.context import Checker, Graph, rule
from dagc.frontend.schema import did_you_mean, listing

CODES = {
    "DAGC301": "`after:` names no task",
    "DAGC302": "cycle",
    "DAGC303": "branch case selects no task, or not a direct child",
    "DAGC304": "an edge involving the finalizer",
    "DAGC307": "child of a branch that no case selects",
    "DAGC308": "task that can never run (needs two cases of one branch)",
    "DAGC310": "same name under tasks and finally",
}


@rule("pipeline", "DAGC310")
def tasks_and_finally_disjoint(ctx: Checker) -> None:
    tasks = {str(t) for t in ctx.data.get("tasks") or {}}
    for t in ctx.data.get("finally") or {}:
        if str(t) in tasks:
            ctx.err("DAGC310", f"task {str(t)!r} is declared both under tasks and finally", ("finally", str(t)), key=True)


def children_of(tasks: tuple[ir.Task, ...]) -> dict[str, list[str]]:
    """Each task's children through valid `after` edges (edges to unknown tasks are DAGC301's business)."""
    names = {t.name for t in tasks}
    children: dict[str, list[str]] = {n: [] for n in names}
    for t in tasks:
        for p in t.after:
            if p in names:
                children[p].append(t.name)
    return children


@rule("graph", "DAGC301", "DAGC304")
def edges(ctx: Checker, graph: Graph) -> None:
    names = graph.names
    fin = graph.finalizer
    for t in graph.tasks:
        for i, p in enumerate(t.after):
            if fin is not None and p == fin.name:
                ctx.err("DAGC304", f"task {t.name!r} runs after the finalizer {p!r}; nothing can follow the finalizer",
                        ("tasks", t.name, "after", i), "the finalizer always runs last; remove it from `after`")
            elif p not in names:
                ctx.err("DAGC301", f"task {t.name!r} runs after {p!r}, which is not a task",
                        ("tasks", t.name, "after", i), did_you_mean(str(p), names) or f"tasks: {listing(sorted(names))}")


@rule("graph", "DAGC303", "DAGC304", "DAGC307")
def branch_cases(ctx: Checker, graph: Graph) -> None:
    names = graph.names
    fin = graph.finalizer
    for t in graph.tasks:
        if not t.is_branch:
            continue
        targets = set(t.cases.values())
        for case, child in t.cases.items():
            cpath = ("tasks", t.name, "branch", "cases", case)
            if fin is not None and child == fin.name:
                ctx.err("DAGC304", f"branch case {case!r} selects the finalizer, which always runs anyway", cpath)
            elif child not in names:
                ctx.err("DAGC303", f"branch case {case!r} selects {child!r}, which is not a task", cpath,
                        did_you_mean(str(child), names))
            elif child not in graph.children[t.name]:
                ctx.err("DAGC303", f"branch case {case!r} selects {child!r}, which is not a direct child of {t.name!r}",
                        cpath, f"add `after: [{t.name}]` to task {child!r}")
        for child in graph.children[t.name]:
            if child not in targets:
                ctx.err("DAGC307", f"task {child!r} runs after branch {t.name!r} but no case selects it, so it never runs",
                        ("tasks", child, "after"), f"add a case for it under {t.name}.branch.cases, "
                        "or make it depend on another task", key=True)


def order(ctx: Checker, tasks: tuple[ir.Task, ...]) -> tuple[ir.Task, ...] | None:
    """Tasks in a deterministic topological order (declaration order among ready tasks); DAGC302 on a cycle."""
    names = {t.name for t in tasks}
    index = {t.name: i for i, t in enumerate(tasks)}
    graph = {t.name: [p for p in t.after if p in names] for t in tasks}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])  # [a, b, ..., a]: each runs before the next
        start = min(range(len(cycle) - 1), key=lambda i: index[cycle[i]])
        path = cycle[start:-1] + cycle[:start] + [cycle[start]]
        ctx.err("DAGC302", "cycle: " + " -> ".join(path) + " (each runs after the one before it)",
                ("tasks", path[1], "after"),
                "a task graph must be acyclic: remove one of these `after` edges", key=True)
        return None
    remaining = {n: len(set(ps)) for n, ps in graph.items()}
    kids: dict[str, list[str]] = {n: [] for n in names}
    for n, ps in graph.items():
        for p in set(ps):
            kids[p].append(n)
    ready = [(index[n], n) for n, c in remaining.items() if c == 0]
    heapq.heapify(ready)
    by_name = {t.name: t for t in tasks}
    out = []
    while ready:
        _, n = heapq.heappop(ready)
        out.append(by_name[n])
        for k in kids[n]:
            remaining[k] -= 1
            if remaining[k] == 0:
                heapq.heappush(ready, (index[k], k))
    return tuple(out)


@rule("graph", "DAGC308")
def reachability(ctx: Checker, graph: Graph) -> None:
    """Find tasks that can never run: they need two cases of one branch to both succeed.

    Under all_succeeded (and none_skipped), a task inherits every branch case its predecessors
    require; if it requires two different cases of the same branch it can never run. Other
    conditions tolerate skipped predecessors, so they start from no requirement.
    """
    if graph.order is None:
        return
    needs: dict[str, dict[str, set[str]]] = {}
    by_name = {t.name: t for t in graph.order}
    for t in graph.order:
        req: dict[str, set[str]] = {}
        inherits = t.when in (ir.Condition.ALL_SUCCEEDED, ir.Condition.NONE_SKIPPED)
        for p in t.after:
            if inherits:
                for branch, cases in needs.get(p, {}).items():
                    req.setdefault(branch, set()).update(cases)
            parent = by_name.get(p)
            if parent is not None and parent.is_branch:  # dagv1 ANDs the case test with any `when`
                case = [c for c, child in parent.cases.items() if child == t.name]
                req.setdefault(p, set()).update(case[:1])
        needs[t.name] = req
        clash = {b: cs for b, cs in req.items() if len(cs) > 1}
        if clash:
            b, cs = next(iter(clash.items()))
            ctx.err("DAGC308", f"task {t.name!r} can never run: it needs cases {' and '.join(sorted(map(repr, cs)))} "
                    f"of branch {b!r} to both succeed, but a branch selects one case",
                    ("tasks", t.name, "after"), "to join after a branch, add `when: none_failed_min_one_succeeded` "
                    "(or `when: all_done`)", key=True)
