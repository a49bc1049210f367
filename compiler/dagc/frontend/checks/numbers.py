"""Numbers Snowflake can hold: finite, and integers within NUMBER(38,0).

YAML reads `.nan` and `.inf` (and `1.0e+400`) as floats that JSON cannot carry: the manifest
would contain `NaN`, which is not JSON, and Snowflake's VARIANT refuses it. Integers are
NUMBER(38,0) in Snowflake (params, config, return values alike); a larger one validates in
Python but fails at deploy or in the task.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from dagc.diagnostics import Diagnostic
from dagc.frontend.checks.context import Checker, rule
from dagc.frontend.load import Document, Path

CODES = {
    "DAGC513": "a number that is not finite",
    "DAGC514": "an integer outside NUMBER(38,0)",
}

MAX_NUMBER = 10**38 - 1  # NUMBER(38,0)


def _leaves(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    stack = [(path, value)]
    while stack:
        p, v = stack.pop()
        if isinstance(v, dict):
            stack.extend((p + (k,), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((p + (i,), x) for i, x in enumerate(v))
        else:
            yield p, v


def number_ranges(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    """DAGC513 non-finite numbers (outside config: the config encoder reports those, DAGC505) and
    DAGC514 integers outside NUMBER(38,0), anywhere."""
    out = []
    for path, value in _leaves(data, ()):
        if isinstance(value, float) and not math.isfinite(value) and path[:1] != ("config",):
            p = doc.pos(path)
            where = ".".join(map(str, path))
            out.append(Diagnostic("DAGC513", f"{where} is {value!r}, which is not a finite number", doc.path,
                                  p.line, p.col, hint="Snowflake and JSON hold finite numbers only; use null, a "
                                  "number, or the text '.nan' in quotes"))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            p = doc.pos(path)
            where = ".".join(map(str, path))
            out.append(Diagnostic("DAGC514", f"{where} is an integer of {len(str(abs(value)))} digits; Snowflake "
                                  "integers are NUMBER(38,0), at most 38 digits", doc.path, p.line, p.col,
                                  hint="use a smaller number, a float, or text in quotes"))
    return sorted(out, key=Diagnostic.sort_key)


@rule("document", "DAGC513", "DAGC514")
def numbers_rule(ctx: Checker) -> None:
    ctx.diags += number_ranges(ctx.doc, ctx.data)
