"""Semantic checks and the IR: from a schema-valid document to a `Pipeline`, or diagnostics.

Everything the schema cannot say is checked here, each with a stable code (docs/diagnostics.md).
Every problem is collected; nothing stops at the first.

Layout (one module per family of codes; each declares `CODES` and registers its rules):

    context.py   Checker (doc, data, err), TaskSource, Graph, and the `@rule(stage, *codes)` registry
    build.py     the IR build, the only place that makes `ir.Pipeline`/`ir.Task`; runs the rules
    names.py     DAGC501-502  Snowflake identifiers and object names
    tasks.py     DAGC304/306/313/503/504/520-522  one task's kind and compute (ML Job) settings
    steps.py     DAGC312, 403-406  steps, params and branch cases against the registry
    graph.py     DAGC301-304/307/308/310  edges, cycles (also the topological order), branches, finalizer
    limits.py    DAGC309  Snowflake's task/predecessor/child limits (counted after any expansion)
    config.py    DAGC505/508  graph config encoding and size
    schedule.py  DAGC106/506/507/509  value parsers for schedules and durations
    trigger.py   DAGC609-611  `trigger:` (a value parser, like schedule.py)
    conditions.py DAGC601-609  `if:` conditions, checked by dagc.expr, reported inside the string
    expand.py    DAGC701-706  `include:`, `templates:`/`extends:` and `matrix:`, expanded before the build

To add a check: write a function in the family's module (or a new module listed in FAMILIES),
decorate it with `@rule("pipeline" | "task" | "graph", "DAGCnnn", ...)`, document the code in
docs/diagnostics.md and test it in tests/frontend/checks/test_<family>.py.
"""

from __future__ import annotations

from typing import Any

from dagc import ir
from dagc.diagnostics import Diagnostic
from dagc.frontend.checks import (  # noqa: F401 (importing a family registers its rules)
    conditions, config, expand, graph, limits, names, schedule, steps, tasks, trigger,
)
from dagc.frontend.checks.build import build_pipeline
from dagc.frontend.checks.context import RULES, Checker, Rule
from dagc.frontend.load import Document, Path
from dagc.frontend.registry import Registry

FAMILIES = (expand, names, tasks, steps, graph, limits, config, schedule, trigger, conditions)
__all__ = ["FAMILIES", "RULES", "Rule", "build"]


def build(doc: Document, data: dict[str, Any], registry: Registry | None, environment: str | None,
          pruned: frozenset[Path] = frozenset()) -> tuple[ir.Pipeline | None, list[Diagnostic]]:
    """The IR of a schema-valid document and every diagnostic the rules report about it."""
    ctx = Checker(doc, data, registry, environment, pruned)
    pipeline = build_pipeline(ctx)
    return pipeline, ctx.diags
