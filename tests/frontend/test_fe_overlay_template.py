"""Environment overlays, --set/--var, and sandboxed templates."""

from __future__ import annotations

import pytest

from dagc.frontend import check_file
from fe_helpers import at, check, codes, only, write

BASE = """
name: x
warehouse: "{{ vars.wh }}"
vars: {wh: DEV_WH, rows: 10}
config: {gate: {threshold: 0.7}, model: m}
tasks:
  a: {step: extract, params: {rows: "{{ vars.rows }}"}}
environments:
  dev: {vars: {wh: DEV_WH}}
  prod: {vars: {wh: PROD_WH, rows: 1000}}
"""


def test_overlay_applies_and_keeps_native_types(tmp_path):
    p, diags = check_file(write(tmp_path, BASE), "prod")
    assert diags == []
    assert p.warehouse == "PROD_WH" and p.tasks[0].params["rows"] == 1000 and p.environment == "prod"


def test_unknown_environment_did_you_mean(tmp_path):
    d = only(check(tmp_path, BASE, "prd"), "DAGC201")
    at(d, 7, 1)
    assert d.message == "unknown environment 'prd'" and d.hint == "did you mean 'prod'?"


def test_unknown_environment_when_none_declared(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s}\n", "prod"), "DAGC201")
    assert "declares no `environments:`" in d.hint


def test_overlay_typo_is_an_error_at_the_overlay_line(tmp_path):
    text = BASE + "  stage:\n    warehous: X\n"
    d = only(check(tmp_path, text, "stage"), "DAGC102")  # the overlay's own keys are checked by the schema
    at(d, 11, 5)
    assert "'warehous'" in d.message and d.hint == "did you mean 'warehouse'?"
    d = only(check(tmp_path, BASE + "  stage:\n    config: {gate: {treshold: 1}}\n", "stage"), "DAGC202")
    at(d, 11, 21)
    assert d.message == "environment overlay sets 'treshold', which config.gate does not have"
    assert d.hint == "did you mean 'threshold'?"


def test_overlay_nested_typo(tmp_path):
    text = BASE + "  stage:\n    vars: {whh: X}\n"
    d = only(check(tmp_path, text, "stage"), "DAGC202")
    assert "vars does not have" in d.message and "'wh'" in d.hint


def test_errors_inside_an_overlay_point_at_the_overlay(tmp_path):
    text = BASE + "  stage:\n    warehouse: 'BAD WH;'\n"
    d = only(check(tmp_path, text, "stage"), "DAGC502")
    at(d, 11, 16)


def test_set_and_var_of_unknown_keys(tmp_path):
    path = write(tmp_path, BASE)
    p, diags = check_file(path, sets={"gate.threshold": 0.9}, var_sets={"rows": 5})
    assert diags == [] and p.config["gate"]["threshold"] == 0.9 and p.tasks[0].params["rows"] == 5
    diags = check_file(path, sets={"gate.treshold": 0.9})[1]
    d = only(diags, "DAGC203")
    assert d.message.startswith("--set gate.treshold") and d.hint == "did you mean 'gate.threshold'?"
    d = only(check_file(path, var_sets={"rowz": 1})[1], "DAGC203")
    assert d.message.startswith("--var rowz") and "'rows'" in d.hint


def test_parse_assignment():
    from dagc.diagnostics import UsageError
    from dagc.frontend.overlay import parse_assignment

    assert parse_assignment("a.b=5") == ("a.b", 5)
    assert parse_assignment("a=[1, 2]") == ("a", "[1, 2]")  # structures stay text
    with pytest.raises(UsageError):
        parse_assignment("novalue")


def test_undefined_template_variable(tmp_path):
    d = only(check(tmp_path, "name: x\nvars: {a: 1}\ntasks:\n  t: {sql: \"{{ vars.nope }}\"}\n"), "DAGC210")
    at(d, 4, 12)
    assert "'nope'" in d.message and "(defined: a)" in d.hint
    # no cascade: the failed template is not also reported as a missing/invalid sql
    assert codes(check(tmp_path, "name: x\ntasks:\n  t: {sql: \"{{ nope }}\"}\n")) == ["DAGC210"]


def test_env_var_without_default(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGC_TEST_UNSET", raising=False)
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {sql: \"{{ env_var('DAGC_TEST_UNSET') }}\"}\n"), "DAGC210")
    assert "DAGC_TEST_UNSET is not set" in d.message and "env_var('DAGC_TEST_UNSET', 'value')" in d.hint
    assert check(tmp_path, "name: x\ntasks:\n  t: {sql: \"{{ env_var('DAGC_TEST_UNSET', 'x') }}\"}\n") == []
    monkeypatch.setenv("DAGC_TEST_UNSET", "select 1")
    p, _ = check_file(write(tmp_path, "name: x\ntasks:\n  t: {sql: \"{{ env_var('DAGC_TEST_UNSET') }}\"}\n"))
    assert p.tasks[0].sql == "select 1"


@pytest.mark.parametrize("expr", [
    "''.__class__", "''.__class__.__mro__[1].__subclasses__()", "vars.__init__.__globals__",
    "env_var.__globals__", "lipsum.__globals__", "cycler.__init__.__globals__",
])
def test_templates_cannot_reach_python_internals(tmp_path, expr):
    d = only(check(tmp_path, f"name: x\nvars: {{a: 1}}\ntasks:\n  t: {{sql: \"{{{{ {expr} }}}}\"}}\n"), "DAGC210")
    assert "sandbox" in d.message or "undefined" in d.message or "no attribute" in d.message


def test_templates_cannot_mutate_or_exhaust(tmp_path):
    diags = check(tmp_path, """
    name: x
    vars: {l: [1]}
    tasks:
      t: {sql: "{{ vars.l.append(2) }}"}
      u: {sql: "{{ 'x' * 100000000000 }}"}
      v: {sql: "{{ 10 ** 100000 }}"}
    """)
    assert codes(diags) == ["DAGC210", "DAGC212", "DAGC212"]  # mutation: the sandbox; exhaustion: the budget
    assert "unsafe" in diags[0].message or "sandbox" in diags[0].message
    assert "more than 1,000,000 characters" in diags[1].message
    assert "power is too large" in diags[2].message


def test_template_syntax_error(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {sql: \"{{ vars.a \"}\n"), "DAGC210")
    assert d.message.startswith("template syntax error") and d.hint


def test_environment_and_vars_in_templates(tmp_path):
    p, diags = check_file(write(tmp_path, BASE + "  qa: {vars: {wh: \"{{ environment | upper }}_WH\"}}\n"), "qa")
    assert diags == [] and p.warehouse == "QA_WH"


def test_overlay_cannot_rename_the_pipeline_or_nest_environments(tmp_path):
    diags = check(tmp_path, BASE + "  stage:\n    name: other\n    environments: {}\n", "stage")
    assert codes(diags) == ["DAGC102", "DAGC102"]
    at(diags[0], 11, 5)
    assert diags[0].message == "key 'name' is not allowed in environments.stage"
    assert "environments" in diags[1].message


def test_invalid_environment_name(tmp_path):
    d = only(check(tmp_path, BASE + "  'pr od': {}\n"), "DAGC102")
    at(d, 10, 3)
