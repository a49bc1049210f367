"""Semantic checks and the IR: from a schema-valid document to a `Pipeline`, or diagnostics.

Everything the schema cannot say is checked here, each with a stable code (docs/diagnostics.md).
Every problem is collected; nothing stops at the first.

Layout (one module per family of codes; each declares `CODES` and registers its rules):

    context.py   Checker (doc, data, err), TaskSource, Graph, and the `@rule(stage, *codes)` registry
    build.py     the IR build, the only place that makes `ir.Pipeline`/`ir.Task`; runs the rules
    names.py     DAGC501-502, 511-512  Snowflake identifiers and object names, case folding, length
    tasks.py     DAGC304/306/313/503/504/510/523-525  one task's kind and compute (ML Job) settings
    steps.py     DAGC312, 403-406  steps, params and branch cases against the registry
    graph.py     DAGC301-304/307/308/310  edges, cycles (also the topological order), branches, finalizer
    limits.py    DAGC309  Snowflake's task/predecessor/child limits (counted after any expansion)
    config.py    DAGC505/508  graph config encoding and size
    numbers.py   DAGC513-514  non-finite numbers, integers beyond NUMBER(38,0) (on the document as written)
    keys.py      DAGC515  mapping keys that must be text (params, session parameters, cases)
    packages.py  DAGC407  a step imports what its task's procedure will not have (on the built IR)
    schedule.py  DAGC106/506/507/509  value parsers for schedules and durations
    trigger.py   DAGC609-611  `trigger:` (a value parser, like schedule.py)
    conditions.py DAGC601-609  `if:` conditions, checked by dagc.expr, reported inside the string
    expand.py    DAGC701-706  `include:`, `templates:`/`extends:` and `matrix:`, expanded before the build

To add a check: write a function in the family's module (or a new module listed in FAMILIES),
decorate it with `@rule("document" | "pipeline" | "task" | "graph" | "ir", "DAGCnnn", ...)` (stages: context.py), document the code in
docs/diagnostics.md and test it in tests/frontend/checks/test_<family>.py.
"""

from __future__ import annotations

from typing import Any

from dagc import ir
from dagc.diagnostics import Diagnostic
from dagc.frontend.checks import (  # noqa: F401 (importing a family registers its rules)
    conditions, config, expand, graph, keys, limits, names, numbers, packages, schedule, steps, tasks, trigger,
)
from dagc.frontend.checks.build import build_pipeline
from dagc.frontend.checks.context import RULES, Checker, Rule, rules
from dagc.frontend.load import Document, Path
from dagc.frontend.registry import Registry

FAMILIES = (expand, names, tasks, steps, graph, limits, config, schedule, trigger, conditions, numbers, keys, packages)
__all__ = ["FAMILIES", "RULES", "Rule", "build"]


def build(doc: Document, data: dict[str, Any], registry: Registry | None, environment: str | None,
          pruned: frozenset[Path] = frozenset(), templating: dict[str, Any] | None = None,
          ) -> tuple[ir.Pipeline | None, list[Diagnostic]]:
    """The IR of a schema-valid document and every diagnostic the rules report about it.

    `templating` is how the pipeline was rendered (secrets, missing_secrets, refs), so the
    templates in its `include:`d files render the same way."""
    ctx = Checker(doc, data, registry, environment, pruned, templating=dict(templating or {}))
    pipeline = build_pipeline(ctx)
    if pipeline is not None:
        for r in rules("ir"):
            r.fn(ctx, pipeline)
    return pipeline, ctx.diags
