"""dagc.expr on its own: the parser's spans and refusals, the SQL it writes, the local evaluator's
SQL semantics (three-valued logic, conversions), and the one grammar feeding the schema."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dagc.expr import ExprError, Facts, Runtime, Scope, check_text, evaluate, parse, to_sql
from dagc.expr.evaluate import as_text, to_bool, to_number

FACTS = Facts(kinds={"score": "step", "gate": "branch", "load": "sql"}, config={"on": True, "n": 2, "r": "US"})
SCOPE = Scope(FACTS, "t", ("score", "gate", "load"), frozenset({"S"}))


def sql(text: str) -> str:
    tree, errors = check_text(text, SCOPE)
    assert errors == [], errors
    return to_sql(tree, FACTS, lambda n: f"G${n.upper()}")


def run(text: str, values=None, states=None, config=None, streams=frozenset()) -> bool | None:
    tree, errors = check_text(text, SCOPE)
    assert errors == [], errors
    return evaluate(tree, FACTS, Runtime(values or {}, states or {}, FACTS.config if config is None else config,
                                         lambda s: s in streams))


def test_precedence_not_and_or():
    assert sql("not state(score) == 'FAILED' and config.on or stream_has_data('S')") == (
        "((NOT SYSTEM$TASK_COMPLETION_STATE('G$SCORE') = 'FAILED' AND "
        "TRY_TO_BOOLEAN(SYSTEM$GET_TASK_GRAPH_CONFIG('on')::STRING)) OR SYSTEM$STREAM_HAS_DATA('S'))")


def test_paths_and_literals_are_quoted_for_sql():
    assert sql("value(score).a[2]['it''s'] == 'x\\'y'".replace("''", "\\'")) == (
        "PARSE_JSON(SYSTEM$GET_PREDECESSOR_RETURN_VALUE('G$SCORE'))['a'][2]['it''s']::STRING = 'x''y'")
    assert sql("value(load) == 'a\\\\b'") == "SYSTEM$GET_PREDECESSOR_RETURN_VALUE('G$LOAD')::STRING = 'a\\\\b'"


def test_null_tests_compile_to_is_null():
    assert sql("value(score).x != null") == "PARSE_JSON(SYSTEM$GET_PREDECESSOR_RETURN_VALUE('G$SCORE'))['x'] IS NOT NULL"
    assert run("value(score).x == null", {"score": {}}) is True


@pytest.mark.parametrize("text,offset", [("", 0), ("(", 1), ("value(", 6), ("value(score", 11), ("'abc", 0),
                                          ("a = 1", 2), ("x" * 5000, 4096), ("1 <> 2", 2), ("value(score)[-1]", 13)])
def test_syntax_errors_carry_the_offset(text, offset):
    with pytest.raises(ExprError) as exc:
        parse(text)
    assert exc.value.code == "DAGC601" and exc.value.start == offset


def test_deep_nesting_is_refused_not_a_recursion_error():
    with pytest.raises(ExprError, match="nested deeper"):
        parse("(" * 200 + "true" + ")" * 200)


def test_three_valued_logic_like_sql():
    missing = {"score": {}}
    assert run("value(score).rows > 0", missing) is None  # NULL: the task does not run
    assert run("value(score).rows > 0 or true", missing) is True
    assert run("value(score).rows > 0 and false", missing) is False
    assert run("not (value(score).rows > 0)", missing) is None


def test_conversions_follow_try_to_double_and_try_to_boolean():
    assert run("value(score).rows > 1", {"score": {"rows": "5"}}) is True  # a numeric string converts
    assert run("value(score).rows > 1", {"score": {"rows": "five"}}) is None
    assert run("value(score).ok", {"score": {"ok": "yes"}}) is True
    assert run("value(score).ok", {"score": {"ok": 7}}) is None
    assert run("value(score).rows == 2", {"score": {"rows": 2.0}}) is True
    assert (to_number(True), to_number("1e3"), as_text(False), to_bool("OFF")) == (None, 1000.0, "false", False)
    assert math.isinf(to_number("-inf"))


def test_states_strings_and_streams():
    assert run("state(score) == 'FAILED'", states={"score": "FAILED"}) is True
    assert run("value(gate) == 'promote'", {"gate": "promote"}) is True
    assert run("stream_has_data('S')", streams={"S"}) is True and run("stream_has_data('S')") is False
    assert run("config.r == 'EU'", config={"r": "EU"}) is True  # the run's config, after --set


def test_the_schema_description_comes_from_the_grammar():
    from dagc.expr.grammar import describe
    from dagc.frontend.schema import schema

    desc = schema()["$defs"]["task"]["properties"]["if"]["description"]
    assert desc.startswith(describe()), "regenerate: python -m dagc.expr.grammar, paste into pipeline.schema.json"


_leaves = st.sampled_from(["value(score).x > 1", "value(score).x == null", "state(score) == 'SUCCEEDED'",
                           "config.on", "stream_has_data('S')", "value(gate) == 'a'", "true", "false"])
_trees = st.recursive(_leaves, lambda t: st.one_of(t.map(lambda a: f"not ({a})"),
                                                   st.tuples(t, st.sampled_from(["and", "or"]), t).map(
                                                       lambda x: f"({x[0]}) {x[1]} ({x[2]})")), max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(_trees, st.sampled_from([{}, {"x": 0}, {"x": 3}, {"x": 2.5}]), st.sampled_from(["SUCCEEDED", "FAILED"]),
       st.booleans())
def test_evaluator_agrees_with_the_emitted_sql(text, value, state, has):
    """Run the emitted Snowflake SQL through an independent reading of Snowflake's semantics
    (sqlglot's Snowflake -> DuckDB translation, executed by DuckDB with the SYSTEM$ functions bound
    to this run's facts) and compare with dagc's local evaluator: one semantics on both targets."""
    import json

    import duckdb
    import sqlglot

    got = run(text, {"score": value, "gate": "a"}, {"score": state}, streams={"S"} if has else set())
    q = sql(text)
    con = duckdb.connect()
    bound = {
        "SYSTEM$GET_PREDECESSOR_RETURN_VALUE": ("VARCHAR", lambda n: {"G$SCORE": json.dumps(value), "G$GATE": "a"}[n]),
        "SYSTEM$TASK_COMPLETION_STATE": ("VARCHAR", lambda n: state),
        "SYSTEM$GET_TASK_GRAPH_CONFIG": ("VARCHAR", lambda k: "true"),
        "SYSTEM$STREAM_HAS_DATA": ("BOOLEAN", lambda s: has),
    }
    for name, (kind, fn) in bound.items():
        alias = name.replace("SYSTEM$", "SYS_")
        q = q.replace(name, alias)
        con.create_function(alias, fn, ["VARCHAR"], kind)
    out = con.execute("SELECT " + sqlglot.transpile(q, read="snowflake", write="duckdb")[0]).fetchone()[0]
    assert out == got, (text, q)


_alphabet = st.sampled_from(list("()[].'\"\\ =!<>&|-_09aznotrsvlu") + ["value", "state", "config", " and ", " or ",
                                                                        "not ", "null", "score", "gate", "stream_has_data"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_alphabet, max_size=20).map("".join) | st.text(max_size=30))
def test_any_text_gives_a_tree_or_a_positioned_error(text):
    """Hostile or random conditions never crash the checker: a tree, or errors inside the text."""
    tree, errors = check_text(text, SCOPE)
    for e in errors:
        assert e.code.startswith("DAGC6") and 0 <= e.start <= max(len(text), 4096) and e.end >= e.start
    if tree is not None and not errors:
        to_sql(tree, FACTS, lambda n: n)
        run(text)


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=25),
       st.sampled_from(["double", "single", "plain", "block"]))
def test_locate_never_points_outside_the_scalar(text, style):
    """Whatever the string and its YAML style, the position found for each character is on a line of
    the file and, when the scalar decodes as expected, at that very character."""
    import json

    from dagc.frontend.load import load, locate

    if style == "double":
        body = "if: " + json.dumps(text)
    elif style == "single":
        body = "if: '" + text.replace("'", "''") + "'"
    elif style == "plain":
        body = "if: x" + "".join(c for c in text if c.isalnum())
    else:
        body = "if: |\n  " + text.replace("\n", " ")
    doc, diags = load("p.yaml", body + "\n")
    if diags or not isinstance(doc.data, dict) or not isinstance(doc.data.get("if"), str):
        return
    value = doc.data["if"]
    lines = doc.text.splitlines()
    for i in range(len(value)):
        p = locate(doc, ("if",), i, value)
        assert 1 <= p.line <= len(lines) and p.col >= 1
        if value[i].isascii() and value[i].isalnum():  # written literally (escapes before it shift nothing)
            assert lines[p.line - 1][p.col - 1] == value[i], (body, i)
