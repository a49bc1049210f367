"""Checks family `steps` (compiler/dagc/frontend/checks/steps.py): DAGC312, 401-406: steps, their signatures and a branch's cases."""

from __future__ import annotations

from fe_helpers import BRANCH, STEPS, at, check, codes, only



def test_branch_returns_missing_case_and_extra_case(tmp_path):
    diags = check(tmp_path, BRANCH.replace("fail: alert", "maybe: alert"))
    errors = [d for d in diags if d.severity.value == "error"]
    warnings = [d for d in diags if d.severity.value == "warning"]
    assert codes(errors) == ["DAGC312"] and "can return 'fail'" in errors[0].message
    assert "steps/core.py" in errors[0].hint
    assert codes(warnings) == ["DAGC312"] and "never returned" in warnings[0].message


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



def test_editor_schema_knows_list_form_cases(tmp_path):
    """`dagc schema --with-steps`: a list of cases completes (and checks) against the step's returns."""
    import jsonschema

    from dagc.frontend.registry import load_registry
    from dagc.frontend.schema import schema
    from dagc.frontend.stepschema import with_steps
    from fe_helpers import project

    s = with_steps(schema(), load_registry(project(tmp_path)))
    doc = {"name": "x", "tasks": {"g": {"branch": {"step": "gate", "cases": ["pass", "nope"]}}}}
    errors = list(jsonschema.Draft202012Validator(s).iter_errors(doc))
    assert errors and any("nope" in e.message for e in errors)
    doc["tasks"]["g"]["branch"]["cases"] = ["pass", "fail"]
    assert list(jsonschema.Draft202012Validator(s).iter_errors(doc)) == []
