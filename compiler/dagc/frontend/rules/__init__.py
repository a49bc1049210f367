"""Front-end rules that read the whole checked pipeline: one rule per module, run after the
semantic checks (`dagc.frontend.checks.build`) have produced the IR.

A rule is a function `check(ctx: RuleInput) -> list[Diagnostic]`. It runs only when the checks
produced a pipeline, so it can rely on resolved settings (defaults applied, templates rendered)
and still point at YAML positions through `ctx.doc`. Rules must stay cheap and import nothing
heavy: they run on the `dagc validate` path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dagc import ir
from dagc.diagnostics import Diagnostic


@dataclass(frozen=True)
class RuleInput:
    doc: Any  # dagc.frontend.load.Document: positions of every key and value
    data: dict[str, Any]  # the rendered pipeline data the checks read
    registry: Any  # dagc.frontend.registry.Registry or None (validated without steps)
    pipeline: ir.Pipeline  # the IR the checks built


Rule = Callable[[RuleInput], list[Diagnostic]]


def rules() -> list[Rule]:
    from dagc.frontend.rules import case_collisions, step_packages

    return [case_collisions.check, step_packages.check]


def run_all(doc: Any, data: dict[str, Any], registry: Any, pipeline: ir.Pipeline | None) -> list[Diagnostic]:
    """Every rule's diagnostics for one pipeline (none when the checks built no pipeline)."""
    if pipeline is None:
        return []
    ctx = RuleInput(doc, data, registry, pipeline)
    out: list[Diagnostic] = []
    for rule in rules():
        out += rule(ctx)
    return out
