"""Checks family `conditions` (compiler/dagc/frontend/checks/conditions.py): DAGC601-609 for `if:`,
each at the exact character inside the YAML string."""

from __future__ import annotations

import pytest

from dagc.frontend import check_file
from fe_helpers import at, check, only, write

HEAD = """name: g
streams: {RAW.LABELS_STREAM: RAW.LABELS}
config: {publish: {enabled: true, rows: 3}, region: US, items: [1]}
tasks:
  load: {step: extract}
  gate:
    branch: {step: gate, cases: [pass, fail]}
    after: [load]
  pass: {sql: s, after: [gate]}
  fail: {sql: s, after: [gate]}
  other: {sql: s}
"""


def cond(tmp_path, condition: str, style: str = "double"):
    if style == "double":
        line = f'    if: "{condition}"\n'
    elif style == "single":
        line = "    if: '" + condition.replace("'", "''") + "'\n"
    else:
        line = "    if: |\n      " + condition + "\n"
    return check(tmp_path, HEAD + "  t:\n    sql: s\n    after: [pass]\n" + line)


COL = 10  # `    if: "` puts the condition's first character in column 10 of line 15


@pytest.mark.parametrize("condition,code,offset,needle,hint", [
    ("value(load).rows > ", "DAGC601", 19, "expected a value", None),
    ("value(load).rows = 1", "DAGC601", 17, "unexpected '='", "use == to compare"),
    ("value(load).rows > 0 && true", "DAGC601", 21, "unexpected '&&'", "use `and`"),
    ("1 < 2 < 3", "DAGC601", 6, "do not chain", None),
    ("load", "DAGC601", 0, "unknown name 'load'", "write value(load) or state(load)"),
    ("(value(load).rows > 0", "DAGC601", 21, "to close the parenthesis", None),
    ("valeu(load) == 1", "DAGC602", 0, "unknown function valeu()", "did you mean 'value'?"),
    ("value(lod).rows > 0", "DAGC603", 6, "there is no task 'lod'", "did you mean 'load'?"),
    ("state(other) == 'FAILED'", "DAGC604", 6, "'other' is not an ancestor of 't'", "ancestors of 't': pass, gate, load;"),
    ("state(load) > 1", "DAGC605", 0, "cannot compare a task state with a number", None),
    ("config.publish.rows", "DAGC605", 0, "a number where a condition", "compare it: config.publish.rows > 0"),
    ("config.items == 1", "DAGC605", 0, "config.items is a list", None),
    ("config.publish.enabeld", "DAGC606", 15, "config has no 'publish.enabeld'", "did you mean 'enabled'?"),
    ("state(load) == 'SUCEEDED'", "DAGC607", 15, "'SUCEEDED' is not a task state", "did you mean 'SUCCEEDED'?"),
    ("value(gate).case == 'pass'", "DAGC608", 12, "plain string a branch task returns", None),
    ("stream_has_data('RAW.LABEL_STREAM')", "DAGC609", 16, "not declared under `streams:`",
     "did you mean 'RAW.LABELS_STREAM'?"),
])
def test_condition_errors_point_inside_the_string(tmp_path, condition, code, offset, needle, hint):
    d = only(cond(tmp_path, condition), code)
    at(d, 15, COL + offset)
    assert needle in d.message and d.message.startswith("if: ")
    if hint:
        assert d.hint.startswith(hint)


def test_caret_spans_the_offending_characters(tmp_path):
    d = only(cond(tmp_path, "value(lod).rows > 0"), "DAGC603")
    assert (d.col, d.end_col) == (COL + 6, COL + 8)  # `lod`


def test_positions_through_single_quotes_and_block_scalars(tmp_path):
    # each ' is two characters in the file: the caret still lands on the typo
    condition = "value(load).name == 'x' or state(lod) == 'FAILED'"
    d = only(cond(tmp_path, condition, "single"), "DAGC603")
    at(d, 15, 10 + condition.replace("'", "''").index("lod"))
    d = only(cond(tmp_path, "state(load) == 'SUCCEEDED' and stream_has_data('NOPE')", "block"), "DAGC609")
    at(d, 16, 7 + len("state(load) == 'SUCCEEDED' and stream_has_data("))


def test_every_problem_of_one_condition_is_reported(tmp_path):
    diags = cond(tmp_path, "value(lod).rows > 0 and config.nope")
    assert {d.code for d in diags} == {"DAGC603", "DAGC606"}


def test_issue_example_conditions_validate_and_compile(tmp_path):
    text = HEAD + """  t:
    sql: s
    after: [pass]
    if: "value(load).rows > 0 and config.publish.enabled"
  u:
    sql: s
    after: [t]
    if: "state(pass) == 'SUCCEEDED' or stream_has_data('RAW.LABELS_STREAM') or value(gate) == 'pass'"
"""
    p, diags = check_file(write(tmp_path, text))
    assert diags == []
    from dagc.emit.conditions import when_sql

    assert when_sql(p, p.task("t")) == (
        "(TRY_TO_DOUBLE(PARSE_JSON(SYSTEM$GET_PREDECESSOR_RETURN_VALUE('G$LOAD'))['rows']::STRING) > 0 AND "
        "TRY_TO_BOOLEAN(SYSTEM$GET_TASK_GRAPH_CONFIG('publish.enabled')::STRING))")
    assert when_sql(p, p.task("u")) == (
        "((SYSTEM$TASK_COMPLETION_STATE('G$PASS') = 'SUCCEEDED' OR SYSTEM$STREAM_HAS_DATA('RAW.LABELS_STREAM')) OR "
        "SYSTEM$GET_PREDECESSOR_RETURN_VALUE('G$GATE')::STRING = 'pass')")


def test_if_is_anded_with_the_predecessor_condition(tmp_path):
    text = HEAD + "  t: {sql: s, after: [load], when: all_done, if: \"state(load) == 'FAILED'\"}\n"
    p, diags = check_file(write(tmp_path, text))
    from dagc.emit.conditions import when_sql

    assert when_sql(p, p.task("t")) == ("SYSTEM$PREDECESSORS_STATE('ALL_DONE') AND "
                                        "(SYSTEM$TASK_COMPLETION_STATE('G$LOAD') = 'FAILED')")


def test_positions_through_double_quote_escapes_and_folded_plain_scalars(tmp_path):
    text = HEAD + '  t:\n    sql: s\n    after: [pass]\n    if: "value(load).name == \\"x\\" or state(lod) == \'FAILED\'"\n'
    d = only(check(tmp_path, text), "DAGC603")
    at(d, 15, 10 + len('value(load).name == \\"x\\" or state('))
    text = HEAD + "  t:\n    sql: s\n    after: [pass]\n    if: state(load) == 'SUCCEEDED'\n      and state(lod) == 'FAILED'\n"
    d = only(check(tmp_path, text), "DAGC603")
    at(d, 16, 17)


MATRIX = """name: g
tasks:
  load: {step: extract}
  retrain:
    step: anything
    after: [load]
    matrix: {region: [US, EU, APAC]}
  compare:
    sql: s
    after: [retrain]
    if: "state(retrain) == 'SUCCEEDED' or value(retrain).auc > 0.8"
"""


def test_a_matrix_base_name_says_which_names_to_write(tmp_path):
    diags = check(tmp_path, MATRIX)
    assert [d.code for d in diags] == ["DAGC603", "DAGC603"]
    state, value = sorted(diags, key=lambda d: d.col)
    assert (state.line, state.col, state.end_col) == (11, 16, 22)  # `retrain` inside state(...)
    assert state.message == "if: state(retrain): 'retrain' is a matrix task; it expands to retrain_US, retrain_EU, retrain_APAC"
    assert state.hint == ("name one expansion (state(retrain_US) == 'SUCCEEDED'); "
                          "to test several, join one test per expansion with and/or")
    assert (value.line, value.col) == (11, 49) and value.hint.startswith("name one expansion (value(retrain_US));")
    fixed = MATRIX.replace("state(retrain)", "state(retrain_EU)").replace("value(retrain)", "value(retrain_APAC)")
    assert check(tmp_path, fixed) == []


def test_a_bare_matrix_base_name_suggests_an_expansion(tmp_path):
    d = only(check(tmp_path, MATRIX.replace('"state(retrain) ==', '"retrain ==')), "DAGC601")
    assert (d.line, d.col) == (11, 10)
    assert d.hint == "retrain is a matrix task: write value(retrain_US) or state(retrain_US) (one of its expansions)"
