"""Checks family `names` (compiler/dagc/frontend/checks/names.py): DAGC501, 502: Snowflake identifiers and object names."""

from __future__ import annotations

import pytest

from fe_helpers import at, check, codes, only


def test_non_string_task_names_and_var_keys(tmp_path):
    """Found by the fuzz run: `2:` or `false:` as keys used to crash sorting mixed key types."""
    d = only(check(tmp_path, "name: x\ntasks:\n  2: {sql: s, after: [zz]}\n  b: {sql: s}\n"), "DAGC501")
    at(d, 3, 3)
    assert "tasks: 2, b" in only(check(tmp_path, "name: x\ntasks:\n  2: {sql: s, after: [zz]}\n  b: {sql: s}\n"),
                                 "DAGC301").hint
    d = only(check(tmp_path, "name: x\nvars: {false: 1, a: 2}\ntasks:\n  t: {sql: \"{{ vars.nope }}\"}\n"), "DAGC210")
    assert "(defined: False, a)" in d.hint


@pytest.mark.parametrize("name", ["load-data", "a b", "x;drop_table", "1abc", "a$b", "ÿes", "a" * 256])
def test_invalid_task_names(tmp_path, name):
    import json

    d = only(check(tmp_path, f"name: x\ntasks:\n  {json.dumps(name)}: {{sql: s}}\n"), "DAGC501")
    at(d, 3, 3)
    assert "not a valid Snowflake identifier" in d.message


def test_invalid_pipeline_name(tmp_path):
    d = only(check(tmp_path, "name: a$b\ntasks:\n  t: {sql: s}\n"), "DAGC501")
    assert "`$`" in d.hint
    d = only(check(tmp_path, "name: \"x'; DROP TABLE t; --\"\ntasks:\n  t: {sql: s}\n"), "DAGC106")
    at(d, 1, 7)


@pytest.mark.parametrize("key,value", [
    ("warehouse", "WH; DROP DATABASE prod"), ("warehouse", "WH' OR '1'='1"), ("warehouse", "a.b.c.d"),
    ("error_integration", "X)--"), ("stage", "@S; DROP"), ("stage", "not_a_stage"),
])
def test_sql_injection_in_object_names(tmp_path, key, value):
    import json

    d = only(check(tmp_path, f"name: x\n{key}: {json.dumps(value)}\ntasks:\n  t: {{sql: s}}\n"), "DAGC502")
    at(d, 2, len(key) + 3)
    assert repr(value) in d.message


def test_quoted_identifiers_are_allowed(tmp_path):
    assert check(tmp_path, 'name: x\nwarehouse: \'ML."My WH"\'\nstage: "@ML.DEV.S/path"\ntasks:\n  t: {sql: s}\n') == []


def test_bad_packages_imports_session_parameters(tmp_path):
    text = """
    name: x
    packages: ["xgboost; rm -rf /"]
    imports: ["/etc/passwd"]
    session_parameters: {"QUERY TAG": x}
    tasks:
      t: {sql: s, warehouse: "W H"}
    """
    diags = check(tmp_path, text)
    assert codes(diags) == ["DAGC502"] * 4
    assert [d.line for d in diags] == [2, 3, 4, 6]



def test_integration_and_user_names_cannot_inject(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {sql: s, execute_as_user: \"U; DROP USER A\"}\n"), "DAGC502")
    assert "execute_as_user" in d.message
    d = only(check(tmp_path, "name: x\ndefaults: {success_integration: \"I' OR 1=1\"}\ntasks:\n  t: {sql: s}\n"), "DAGC502")
    at(d, 2, 33)
