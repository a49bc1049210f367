"""Types and names of a condition: what the front end refuses before anything runs.

`check(tree, scope)` returns every problem (ExprError with the span to underline), not only the
first. `type_of(node, facts)` is the one typing rule, shared with the SQL emitter and the local
evaluator, so all three agree on how each side of a comparison is converted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any, Mapping

from dagc.expr import grammar as g
from dagc.expr.ast import Call, Compare, Config, Literal, Logic, Name, Node, Not
from dagc.expr.parser import ExprError


@dataclass(frozen=True)
class Facts:
    """What typing needs to know about the pipeline: task kinds and the config as written."""

    kinds: Mapping[str, str]  # task -> "step" | "sql" | "branch"
    config: Mapping[str, Any]  # nested graph config
    matrices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # matrix task -> its expansions


@dataclass(frozen=True)
class Scope:
    """What checking needs on top: which task the condition is on, and who runs before it."""

    facts: Facts
    task: str
    ancestors: tuple[str, ...]
    streams: frozenset[str] = field(default_factory=frozenset)


MISSING = object()  # config_value's answer for a path the config does not have


def config_value(config: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = config
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return MISSING
        node = node[key]
    return node


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return g.BOOL
    if isinstance(value, (int, float)):
        return g.NUMBER
    if isinstance(value, str):
        return g.STRING
    return g.JSON


def type_of(node: Node, facts: Facts) -> str:
    if isinstance(node, Literal):
        return node.kind
    if isinstance(node, Call):
        fn = g.FUNCTIONS.get(node.fn)
        if fn is None:
            return g.JSON
        if fn.name == "value" and facts.kinds.get(node.arg) != "step":
            return g.TEXT
        return fn.result
    if isinstance(node, Config):
        return _value_type(config_value(facts.config, tuple(str(p.key) for p in node.path)))
    if isinstance(node, (Not, Logic, Compare)):
        return g.BOOL
    return g.JSON


def comparison_type(left: str, right: str) -> str | None:
    """The type both sides of a comparison are converted to, or None if they do not fit."""
    if left == right:
        return left
    if left in g.DYNAMIC and right in g.DYNAMIC:
        return g.JSON
    if left in g.DYNAMIC:
        return g.STRING if right == g.STATE else right
    if right in g.DYNAMIC:
        return g.STRING if left == g.STATE else left
    if {left, right} == {g.STATE, g.STRING}:
        return g.STATE
    return None


def _did_you_mean(word: str, options: Any) -> str | None:
    m = get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {m[0]!r}?" if m else None


def check(tree: Node, scope: Scope, text: str = "") -> list[ExprError]:
    errors: list[ExprError] = []
    facts = scope.facts

    def task_arg(node: Call) -> None:
        if node.arg not in facts.kinds and node.arg in facts.matrices:
            errors.append(_matrix_error(node, facts.matrices[node.arg], scope))
        elif node.arg not in facts.kinds:
            hint = _did_you_mean(node.arg, facts.kinds) or f"tasks: {', '.join(sorted(facts.kinds))}"
            errors.append(ExprError("DAGC603", f"{node.fn}({node.arg}): there is no task {node.arg!r}",
                                    node.arg_start, node.arg_end, hint))
        elif node.arg not in scope.ancestors:
            names = ", ".join(scope.ancestors) if scope.ancestors else "none: it hangs off the root"
            errors.append(ExprError("DAGC604", f"{node.fn}({node.arg}): {node.arg!r} is not an ancestor of "
                                    f"{scope.task!r}, so it may not have finished when {scope.task!r} is decided",
                                    node.arg_start, node.arg_end,
                                    f"ancestors of {scope.task!r}: {names}; add it to `after:` (directly or not)"))
        elif node.path and facts.kinds[node.arg] != "step":
            errors.append(ExprError("DAGC608", f"value({node.arg}) is the plain string a {facts.kinds[node.arg]} "
                                    "task returns; it has no keys", node.path[0].start, node.path[-1].end,
                                    f"compare it as a whole: value({node.arg}) == '...'"))

    def visit(node: Node, want_bool: bool) -> None:
        if isinstance(node, Name):
            hint = _did_you_mean(node.name, g.NAMES)
            if node.name in facts.kinds:
                hint = f"write value({node.name}) or state({node.name})"
            elif node.name in facts.matrices:
                one = facts.matrices[node.name][0]
                hint = f"{node.name} is a matrix task: write value({one}) or state({one}) (one of its expansions)"
            errors.append(ExprError("DAGC601", f"unknown name {node.name!r}", node.start, node.end,
                                    hint or "names are value(TASK), state(TASK), stream_has_data('S'), config.KEY, "
                                    "and, or, not, true, false, null"))
            return
        if isinstance(node, Call):
            fn = g.FUNCTIONS.get(node.fn)
            if fn is None:
                errors.append(ExprError("DAGC602", f"unknown function {node.fn}()", node.start,
                                        node.start + len(node.fn),
                                        _did_you_mean(node.fn, g.FUNCTIONS) or
                                        "functions: " + ", ".join(f"{f}()" for f in g.FUNCTIONS)))
                return
            if fn.arg == "task":
                if node.arg_end - node.arg_start != len(node.arg):  # written as a string
                    errors.append(ExprError("DAGC601", f"{fn.name}() takes a task name, not a string",
                                            node.arg_start, node.arg_end, f"write {fn.name}({node.arg})"))
                task_arg(node)
            else:
                if node.arg_end - node.arg_start == len(node.arg):  # a bare name
                    errors.append(ExprError("DAGC601", f"{fn.name}() takes a quoted name", node.arg_start,
                                            node.arg_end, f"write {fn.name}('{node.arg}')"))
                elif node.arg not in scope.streams:
                    errors.append(ExprError("DAGC609", f"stream {node.arg!r} is not declared under `streams:`",
                                            node.arg_start, node.arg_end,
                                            _did_you_mean(node.arg, scope.streams) or
                                            f"add `streams: {{{node.arg}: <the table it watches>}}` (the local "
                                            "engine reads that table's changes)"))
            if node.path and not fn.takes_path:
                errors.append(ExprError("DAGC601", f"{fn.name}() has no keys to go into", node.path[0].start,
                                        node.path[-1].end))
        elif isinstance(node, Config):
            keys = tuple(str(p.key) for p in node.path)
            value = config_value(facts.config, keys)
            if value is MISSING:
                known: Any = facts.config
                depth = 0
                for k in keys:
                    if isinstance(known, Mapping) and k in known:
                        known, depth = known[k], depth + 1
                    else:
                        break
                part = node.path[depth]
                options = list(known) if isinstance(known, Mapping) else []
                where = "config" + "".join(f".{k}" for k in keys[:depth])
                errors.append(ExprError("DAGC606", f"config has no {'.'.join(keys)!r}", part.start, node.end,
                                        _did_you_mean(str(part.key), options) or
                                        (f"{where} has: {', '.join(map(str, options))}" if options else
                                         f"{where} is not a mapping" if depth else "the pipeline's config is empty")))
            elif isinstance(value, Mapping) or isinstance(value, list) or value is None:
                errors.append(ExprError("DAGC605", f"config.{'.'.join(keys)} is "
                                        f"{'a mapping' if isinstance(value, Mapping) else 'a list' if isinstance(value, list) else 'null'}"
                                        "; a condition compares numbers, strings and booleans", node.start, node.end,
                                        "name a key inside it" if isinstance(value, Mapping) else None))
        elif isinstance(node, Not):
            visit(node.operand, True)
        elif isinstance(node, Logic):
            visit(node.left, True)
            visit(node.right, True)
        elif isinstance(node, Compare):
            visit(node.left, False)
            visit(node.right, False)
            compare(node)
        if want_bool:
            t = type_of(node, facts)
            if t not in (g.BOOL, g.JSON, g.TEXT) and not _already_reported(node):
                what = {g.NUMBER: "a number", g.STRING: "a string", g.STATE: "a task state", g.NULL: "null"}.get(t, t)
                hint = (f"compare it: {_src(node)} == 'SUCCEEDED'" if t == g.STATE else
                        f"compare it: {_src(node)} > 0" if t == g.NUMBER else None)
                errors.append(ExprError("DAGC605", f"{what} where a condition (true/false) is needed",
                                        node.start, node.end, hint))

    def _already_reported(node: Node) -> bool:
        return isinstance(node, (Name,)) or (isinstance(node, Call) and node.fn not in g.FUNCTIONS)

    def _src(node: Node) -> str:
        return text[node.start:node.end]

    def compare(node: Compare) -> None:
        lt, rt = type_of(node.left, facts), type_of(node.right, facts)
        if g.NULL in (lt, rt):
            if node.op not in ("==", "!="):
                errors.append(ExprError("DAGC605", f"null cannot be ordered with {node.op}", node.op_start,
                                        node.op_start + len(node.op), "use == null or != null"))
            return
        t = comparison_type(lt, rt)
        if t is None:
            errors.append(ExprError("DAGC605", f"cannot compare {_name(lt)} with {_name(rt)}", node.start, node.end,
                                    _compare_hint(lt, rt)))
            return
        if node.op in g.ORDERING and t not in g.ORDERED_TYPES:
            errors.append(ExprError("DAGC605", f"{_name(t)}s cannot be ordered with {node.op}", node.op_start,
                                    node.op_start + len(node.op), "use == or !=" if t != g.JSON else
                                    "compare with a number or a string literal"))
        if t == g.STATE:
            for side in (node.left, node.right):
                if isinstance(side, Literal) and side.kind == g.STRING and side.value not in g.STATES:
                    errors.append(ExprError("DAGC607", f"{side.value!r} is not a task state", side.start, side.end,
                                            _did_you_mean(str(side.value).upper(), g.STATES) or
                                            "states: " + ", ".join(g.STATES)))

    visit(tree, True)
    return errors


def _matrix_error(node: Call, expansions: tuple[str, ...], scope: Scope) -> ExprError:
    """`state(retrain)` where retrain is a matrix task: a condition reads one task's state or value,
    and which expansion (or what combination) is meant is the author's choice, so say what to write."""
    shown = ", ".join(expansions[:5]) + (f", ... ({len(expansions)} in all)" if len(expansions) > 5 else "")
    one = next((e for e in expansions if e in scope.ancestors), expansions[0])
    example = f"{node.fn}({one})" + (" == 'SUCCEEDED'" if node.fn == "state" else "")
    return ExprError("DAGC603", f"{node.fn}({node.arg}): {node.arg!r} is a matrix task; it expands to {shown}",
                     node.arg_start, node.arg_end,
                     f"name one expansion ({example}); to test several, join one test per expansion with and/or")


def _name(t: str) -> str:
    return {g.NUMBER: "a number", g.STRING: "a string", g.STATE: "a task state", g.BOOL: "a boolean",
            g.JSON: "a JSON value", g.TEXT: "a text value"}.get(t, t)


def _compare_hint(lt: str, rt: str) -> str | None:
    if g.STATE in (lt, rt):
        return "compare state(...) with a state name: == 'SUCCEEDED'"
    if g.BOOL in (lt, rt):
        return "a boolean is used as it is: `config.flag and ...`, or compared with true/false"
    return None


def check_text(text: str, scope: Scope) -> tuple[Node | None, list[ExprError]]:
    """Parse and check; the tree is None when there is a syntax error."""
    from dagc.expr.parser import parse

    try:
        tree = parse(text)
    except ExprError as exc:
        return None, [exc]
    return tree, check(tree, scope, text)
