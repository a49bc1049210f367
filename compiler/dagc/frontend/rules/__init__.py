"""Standalone semantic rules: each a function `(doc, data) -> list[Diagnostic]`.

A rule sees the document (for positions) and the data after overlays, templates and schema
pruning; it reports what Snowflake (or compile) would refuse and the schema cannot express.
Rules are independent of each other and of frontend/checks.py; `frontend._check` runs all of
RULES at one call site, so adding a rule is adding a file and a line here.
"""

from __future__ import annotations

from typing import Any, Callable

from dagc.diagnostics import Diagnostic
from dagc.frontend.load import Document
from dagc.frontend.rules.keys import text_keys
from dagc.frontend.rules.names import name_case_collisions, qualified_name_length
from dagc.frontend.rules.numbers import number_ranges

Rule = Callable[[Document, dict[str, Any]], list[Diagnostic]]

RULES: list[Rule] = [name_case_collisions, qualified_name_length, number_ranges, text_keys]


def run_rules(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for rule in RULES:
        out += rule(doc, data)
    return out
