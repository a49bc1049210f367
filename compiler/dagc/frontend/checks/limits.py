"""Snowflake's size limits on a graph (DAGC309): tasks per graph, predecessors and children per task.

Limits are counted on the graph as compiled (the root task counts), so anything that adds tasks
before this point (expansion) is counted too.
"""

from __future__ import annotations

from dagc.frontend.checks.context import Checker, Graph, rule

CODES = {"DAGC309": "graph over Snowflake's task, predecessor or child limits"}

from dagc.limits import LIMITS  # noqa: E402

MAX_TASKS: int = LIMITS["tasks_per_graph"].high  # type: ignore[assignment]  # tasks per graph, root included
MAX_EDGES: int = LIMITS["predecessors"].high  # type: ignore[assignment]  # predecessors (and children) per task
MAX_CONFIG_BYTES = 1024 * 1024  # dagc's bound on the encoded graph config (it lives on the root task)


@rule("graph", "DAGC309")
def graph_limits(ctx: Checker, graph: Graph) -> None:
    total = len(graph.tasks) + (graph.finalizer is not None) + 1
    if total > MAX_TASKS:
        ctx.err("DAGC309", f"the graph has {total} tasks (with its root); Snowflake allows at most {MAX_TASKS}",
                ("tasks",), "split the pipeline into several graphs", key=True)
    for t in graph.tasks:
        if len(t.after) > MAX_EDGES:
            ctx.err("DAGC309", f"task {t.name!r} has {len(t.after)} predecessors; Snowflake allows at most {MAX_EDGES}",
                    ("tasks", t.name, "after"), "insert an intermediate task to fan in", key=True)
    for n, kids in graph.children.items():
        if len(kids) > MAX_EDGES:
            ctx.err("DAGC309", f"task {n!r} has {len(kids)} children; Snowflake allows at most {MAX_EDGES}",
                    ("tasks", n), "insert intermediate tasks to fan out", key=True)
    roots = [t.name for t in graph.tasks if not t.after]
    if len(roots) > MAX_EDGES:  # tasks without `after` are children of the graph's root task
        ctx.err("DAGC309", f"{len(roots)} tasks have no `after`, so the root task has {len(roots)} children; "
                f"Snowflake allows at most {MAX_EDGES}", ("tasks",),
                "group them under intermediate tasks (each can start up to 100 others)", key=True)
