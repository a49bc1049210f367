"""Steps and their signatures; Snowflake names, settings, schedules and config."""

from __future__ import annotations

import pytest

from dagc.frontend import check_file
from fe_helpers import STEPS, at, check, codes, only, write


def test_unknown_step_did_you_mean(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {step: extrct}\n"), "DAGC403")
    at(d, 3, 13)
    assert d.message == "unknown step 'extrct'" and d.hint == "did you mean 'extract'?"


def test_unknown_step_lists_registered_steps(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {step: zzzzzz}\n"), "DAGC403")
    assert d.hint == "registered steps: anything, extract, gate, renamed, train"


def test_step_registered_under_another_name(tmp_path):
    assert check(tmp_path, "name: x\ntasks:\n  a: {step: renamed}\n") == []
    assert codes(check(tmp_path, "name: x\ntasks:\n  a: {step: _impl}\n")) == ["DAGC403"]


def test_no_steps_folder(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {step: extract}\n", steps=""), "DAGC403")
    assert "define one with @step" in d.hint


def test_unknown_param_did_you_mean(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a:\n    step: extract\n    params: {rowz: 1}\n"), "DAGC404")
    at(d, 5, 14)
    assert "step 'extract' has no parameter 'rowz' (steps/core.py:" in d.message and d.hint == "did you mean 'rows'?"


def test_kwargs_step_takes_any_param(tmp_path):
    assert check(tmp_path, "name: x\ntasks:\n  a: {step: anything, params: {whatever: [1, 2]}}\n") == []


def test_missing_required_param(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {step: train}\n"), "DAGC405")
    at(d, 3, 3)
    assert d.message == "step 'train' requires parameter 'depth'" and "params: {depth: ...}" in d.hint
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {step: train, params: {rate: 0.2}}\n"), "DAGC405")
    at(d, 3, 20)


def test_param_type_mismatch(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {step: extract, params: {rows: ten}}\n"), "DAGC406")
    at(d, 3, 37)
    assert "annotated int" in d.message and "'ten'" in d.message
    assert codes(check(tmp_path, "name: x\ntasks:\n  a: {step: extract, params: {rows: true}}\n")) == ["DAGC406"]
    assert check(tmp_path, "name: x\ntasks:\n  a: {step: train, params: {depth: 3, rate: 1}}\n") == []  # int is a float


def test_step_module_syntax_error(tmp_path):
    diags = check(tmp_path, "name: x\ntasks:\n  a: {step: extract}\n", steps=STEPS + "\ndef broken(:\n")
    d = only(diags, "DAGC401")
    assert d.file == "steps/core.py" and d.line == STEPS.count("\n") + 2 and "does not parse" in d.message


def test_step_defined_twice(tmp_path):
    diags = check(tmp_path, "name: x\ntasks:\n  a: {step: extract}\n",
                  steps=STEPS + "\n@step\ndef extract(ctx):\n    return {}\n")
    d = only(diags, "DAGC402")
    assert "defined twice" in d.message and d.file == "steps/core.py"


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


def test_warehouse_and_serverless(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {sql: s, warehouse: WH, serverless: true}\n"), "DAGC503")
    at(d, 3, 30)
    assert "remove one" in d.hint
    p, diags = check_file(write(tmp_path, "name: x\ntasks:\n  t: {sql: s, serverless: {size: MEDIUM}}\n"))
    assert diags == [] and p.tasks[0].serverless and p.tasks[0].serverless_size == "MEDIUM"


def test_defaults_apply_unless_the_task_sets_its_own(tmp_path):
    text = "name: x\ndefaults: {warehouse: D_WH, timeout: 10m}\ntasks:\n  a: {sql: s}\n  b: {sql: s, serverless: true}\n"
    p, diags = check_file(write(tmp_path, text))
    assert diags == []
    assert (p.tasks[0].warehouse, p.tasks[0].timeout_ms) == ("D_WH", 600_000)
    assert (p.tasks[1].warehouse, p.tasks[1].serverless) == (None, True)


def test_compute_needs_a_step_task(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {sql: s, compute: {pool: P}}\n"), "DAGC504")
    at(d, 3, 15)


def test_unencodable_config_key(tmp_path):
    d = only(check(tmp_path, "name: x\nconfig: {gate: {bad-key: 1}}\ntasks:\n  t: {sql: s}\n"), "DAGC505")
    at(d, 2, 17)
    assert "'bad-key'" in d.message


def test_config_with_non_string_key(tmp_path):
    only(check(tmp_path, "name: x\nconfig: {1: one}\ntasks:\n  t: {sql: s}\n"), "DAGC505")


@pytest.mark.parametrize("schedule,code,needle", [
    ("{cron: '61 * * * *'}", "DAGC506", "invalid cron"),
    ("{cron: '0 2 * *'}", "DAGC506", "5 fields"),
    ("{cron: '0 2 * * *', timezone: Mars/Olympus}", "DAGC507", "unknown time zone"),
    ("5s", "DAGC506", "outside what Snowflake accepts"),
    ("9d", "DAGC506", "outside what Snowflake accepts"),
])
def test_bad_schedules(tmp_path, schedule, code, needle):
    d = only(check(tmp_path, f"name: x\nschedule: {schedule}\ntasks:\n  t: {{sql: s}}\n"), code)
    assert d.line == 2 and needle in d.message


def test_good_schedules(tmp_path):
    for schedule in ("1m", "30m", "8d", "{cron: '*/5 * * * *', timezone: Europe/Berlin}"):
        assert check(tmp_path, f"name: x\nschedule: {schedule}\ntasks:\n  t: {{sql: s}}\n") == [], schedule


def test_config_over_the_size_bound(tmp_path):
    value = "x" * (1024 * 1024)  # 1 MiB, then aliased 10 times: a 10 MB config from a 1 MB file
    text = f"name: x\nvars: {{v: &big '{value}'}}\nconfig:\n" + "".join(f"  k{i}: *big\n" for i in range(10)) + \
        "tasks:\n  t: {sql: s}\n"
    d = only(check(tmp_path, text), "DAGC508")
    at(d, 3, 1)
    assert "10.0 MiB" in d.message and "tables or stages" in d.hint


def test_timeout_over_24h(tmp_path):
    d = only(check(tmp_path, "name: x\ntimeout: 25h\ntasks:\n  t: {sql: s}\n"), "DAGC509")
    at(d, 2, 10)
