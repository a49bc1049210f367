"""A checked condition -> the Snowflake SQL of the task's WHEN clause.

Each side of a comparison is converted to the comparison's type (check.comparison_type) the way
the local evaluator converts it (evaluate.py): JSON and text values through their ::STRING text
with TRY_TO_DOUBLE / TRY_TO_BOOLEAN, so a value of the wrong shape is NULL (the task is skipped)
rather than a failed cast. Task names are the deployed ones, `<GRAPH>$<TASK>` as dagv1 spells them.
"""

from __future__ import annotations

from typing import Callable

from dagc.expr import grammar as g
from dagc.expr.ast import Call, Compare, Config, Literal, Logic, Node, Not
from dagc.expr.check import Facts, comparison_type, type_of


def sql_string(s: str) -> str:
    """A Snowflake string literal (backslash first, then quotes: as dagv1 escapes)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


def _literal(node: Literal) -> str:
    if node.kind == g.BOOL:
        return "TRUE" if node.value else "FALSE"
    if node.kind == g.NULL:
        return "NULL"
    if node.kind == g.NUMBER:
        return repr(node.value)
    return sql_string(str(node.value))


def to_sql(tree: Node, facts: Facts, full_name: Callable[[str], str]) -> str:
    """`full_name(task)` -> the deployed task name used inside SYSTEM$ functions."""

    def raw(node: Node) -> str:  # the node's value in its own type
        if isinstance(node, Literal):
            return _literal(node)
        if isinstance(node, Call):
            fn = g.FUNCTIONS[node.fn]
            arg = full_name(node.arg) if fn.arg == "task" else node.arg
            call = f"{fn.sql}({sql_string(arg)})"
            if fn.name == "value" and facts.kinds.get(node.arg) == "step":
                call = f"PARSE_JSON({call})" + "".join(
                    f"[{p.key}]" if isinstance(p.key, int) else f"[{sql_string(p.key)}]" for p in node.path)
            return call
        if isinstance(node, Config):
            return f"SYSTEM$GET_TASK_GRAPH_CONFIG({sql_string('.'.join(str(p.key) for p in node.path))})"
        if isinstance(node, Not):
            return f"NOT {boolean(node.operand)}"
        if isinstance(node, Logic):
            return f"({boolean(node.left)} {g.LOGIC[node.op]} {boolean(node.right)})"
        if isinstance(node, Compare):
            return compare(node)
        raise ValueError(f"cannot compile {node!r}")  # the checker refuses bare names first

    def convert(node: Node, want: str) -> str:
        have = type_of(node, facts)
        text = raw(node)
        if isinstance(node, Config):  # read at run time: converted from its text, whatever --set made it
            have = g.TEXT
        if have not in g.DYNAMIC or want in g.DYNAMIC:
            return text
        if want == g.NUMBER:
            return f"TRY_TO_DOUBLE({text}::STRING)"
        if want == g.BOOL:
            return f"TRY_TO_BOOLEAN({text}::STRING)"
        return f"{text}::STRING"  # string, state

    def boolean(node: Node) -> str:
        return convert(node, g.BOOL)

    def compare(node: Compare) -> str:
        lt, rt = type_of(node.left, facts), type_of(node.right, facts)
        if g.NULL in (lt, rt):
            other = node.right if lt == g.NULL else node.left
            return f"{raw(other)} IS {'NOT ' if node.op == '!=' else ''}NULL"
        t = comparison_type(lt, rt) or g.JSON
        return f"{convert(node.left, t)} {g.COMPARISONS[node.op]} {convert(node.right, t)}"

    return boolean(tree)
