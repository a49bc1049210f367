"""A checked condition evaluated on this machine, with the SQL's semantics (sql.py).

Three-valued, like SQL: a value that is missing or does not convert is None (NULL), comparisons
with None are None, `and`/`or`/`not` follow SQL's truth tables, and the task runs only when the
result is True. JSON and text values are converted through their text exactly as Snowflake's
::STRING, TRY_TO_DOUBLE and TRY_TO_BOOLEAN do for the values dagc's steps return.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from dagc.expr import grammar as g
from dagc.expr.ast import Call, Compare, Config, Literal, Logic, Node, Not
from dagc.expr.check import MISSING, Facts, comparison_type, config_value, type_of

_NUMBER = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
_SPECIAL = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
            "+infinity": math.inf, "-infinity": -math.inf}


@dataclass(frozen=True)
class Runtime:
    """What a condition can read while a run is being decided."""

    values: Mapping[str, Any]  # task -> decoded return value (step: JSON; sql/branch: str); absent: none
    states: Mapping[str, str]  # task -> terminal state
    config: Mapping[str, Any]  # nested config of this run (after --set)
    stream_has_data: Callable[[str], bool]


def as_text(value: Any) -> str | None:
    """What `<variant>::STRING` gives for a value dagc's JSON can hold."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value)) if abs(value) < 1e15 else repr(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def to_number(value: Any) -> float | None:
    """TRY_TO_DOUBLE(<text>)."""
    text = as_text(value)
    if text is None:
        return None
    if _NUMBER.match(text):
        return float(text)
    return _SPECIAL.get(text.strip().lower())


def to_bool(value: Any) -> bool | None:
    """TRY_TO_BOOLEAN(<text>)."""
    text = as_text(value)
    if text is None:
        return None
    low = text.strip().lower()
    return True if low in g.TRUE_TEXT else False if low in g.FALSE_TEXT else None


def _convert(value: Any, have: str, want: str) -> Any:
    if have not in g.DYNAMIC or want in g.DYNAMIC:
        return value
    if want == g.NUMBER:
        return to_number(value)
    if want == g.BOOL:
        return to_bool(value)
    return as_text(value)


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    try:
        return {"==": a == b, "!=": a != b}[op] if op in ("==", "!=") else {
            "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:  # JSON values of different shapes: SQL has no order for them either
        return None


def evaluate(tree: Node, facts: Facts, rt: Runtime) -> bool | None:
    def raw(node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Call):
            if node.fn == "state":
                return rt.states.get(node.arg)
            if node.fn == "stream_has_data":
                return rt.stream_has_data(node.arg)
            value = rt.values.get(node.arg)
            for part in node.path:
                if isinstance(part.key, int):
                    value = value[part.key] if isinstance(value, list) and part.key < len(value) else None
                else:
                    value = value.get(part.key) if isinstance(value, dict) else None
            return value
        if isinstance(node, Config):
            v = config_value(rt.config, tuple(str(p.key) for p in node.path))
            return None if v is MISSING else v  # a key --set removed reads as NULL, as in SQL
        if isinstance(node, Not):
            v = boolean(node.operand)
            return None if v is None else not v
        if isinstance(node, Logic):
            a, b = boolean(node.left), boolean(node.right)
            if node.op == "and":
                return False if a is False or b is False else None if a is None or b is None else True
            return True if a is True or b is True else None if a is None or b is None else False
        if isinstance(node, Compare):
            return compare(node)
        raise ValueError(f"cannot evaluate {node!r}")

    def convert(node: Node, want: str) -> Any:
        have = g.TEXT if isinstance(node, Config) else type_of(node, facts)
        value = raw(node)
        if isinstance(node, Config):
            value = as_text(value)
        return _convert(value, have, want)

    def boolean(node: Node) -> bool | None:
        v = convert(node, g.BOOL)
        return v if v is None or isinstance(v, bool) else to_bool(v)

    def compare(node: Compare) -> bool | None:
        lt, rt_ = type_of(node.left, facts), type_of(node.right, facts)
        if g.NULL in (lt, rt_):
            other = node.right if lt == g.NULL else node.left
            is_null = raw(other) is None
            return is_null if node.op == "==" else not is_null
        t = comparison_type(lt, rt_) or g.JSON
        a, b = convert(node.left, t), convert(node.right, t)
        if t == g.NUMBER:
            a = float(a) if a is not None else None
            b = float(b) if b is not None else None
        return _compare(node.op, a, b)

    return boolean(tree)
