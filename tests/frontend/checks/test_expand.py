"""Checks family `expand` (compiler/dagc/frontend/checks/expand.py): matrix, templates, include
(DAGC701-706, DAGC309), with positions kept on the expanded tasks and across files."""

from __future__ import annotations

from dagc.frontend import check_file
from fe_helpers import at, check, only, write

MATRIX = """name: g
tasks:
  load: {step: extract}
  retrain:
    step: anything
    after: [load]
    matrix: {region: [US, EU], model: [xgb, lin]}
  compare: {sql: s, after: [retrain], if: "state(retrain_US_xgb) == 'SUCCEEDED'"}
"""


def test_matrix_expands_names_params_and_fan_in(tmp_path):
    p, diags = check_file(write(tmp_path, MATRIX))
    assert diags == []
    names = [t.name for t in p.tasks]
    assert names == ["load", "retrain_US_xgb", "retrain_US_lin", "retrain_EU_xgb", "retrain_EU_lin", "compare"]
    assert dict(p.task("retrain_EU_lin").params) == {"region": "EU", "model": "lin"}
    assert p.task("retrain_EU_lin").source == "retrain" and p.task("retrain_EU_lin").line == 4
    assert p.task("compare").after == ("retrain_US_xgb", "retrain_US_lin", "retrain_EU_xgb", "retrain_EU_lin")


def test_diagnostics_about_expansions_point_at_the_source(tmp_path):
    d = [x for x in check(tmp_path, MATRIX.replace("step: anything", "step: extract")) if x.code == "DAGC404"]
    assert len(d) == 4 and {(x.line, x.col) for x in d} == {(7, 23), (7, 27), (7, 40), (7, 45)}
    assert "'region'" in d[0].message or "'model'" in d[0].message


def test_matrix_value_must_make_a_name(tmp_path):
    d = only(check(tmp_path, MATRIX.replace("[US, EU]", "[us-east, EU]")), "DAGC701")
    at(d, 7, 23)
    assert "retrain_us-east" in d.message


def test_matrix_name_collision(tmp_path):
    d = only(check(tmp_path, MATRIX + "  retrain_EU_lin: {sql: s}\n"), "DAGC702")
    at(d, 7, 5)


def test_matrix_axis_also_in_params(tmp_path):
    d = only(check(tmp_path, MATRIX.replace("step: anything", "step: anything\n    params: {region: X}")), "DAGC706")
    at(d, 6, 14)


def test_matrix_counts_against_the_task_limit(tmp_path):
    values = ", ".join(f"v{i}" for i in range(1000))
    d = only(check(tmp_path, f"name: g\ntasks:\n  t:\n    sql: s\n    matrix: {{a: [{values}]}}\n"), "DAGC309")
    at(d, 5, 5)
    assert "1,000 tasks" in d.message


TEMPLATES = """name: g
templates:
  base: {step: train, params: {depth: 3}, timeout: 10m}
  fast: {extends: base, params: {rate: 0.5}}
tasks:
  t: {extends: fast, params: {depth: 4}}
  u: {extends: base, serverless: true}
"""


def test_templates_extend_and_merge_params(tmp_path):
    p, diags = check_file(write(tmp_path, TEMPLATES))
    assert diags == []
    assert dict(p.task("t").params) == {"depth": 4, "rate": 0.5} and p.task("t").timeout_ms == 600_000
    assert p.task("u").serverless and p.task("u").step == "train"


def test_a_setting_from_a_template_reports_at_the_template(tmp_path):
    d = only(check(tmp_path, TEMPLATES.replace("depth: 3}, timeout", "depth: 3, speed: 1}, timeout")), "DAGC404")
    at(d, 3, 42)


def test_unknown_template_and_cycles(tmp_path):
    d = only(check(tmp_path, TEMPLATES.replace("extends: fast", "extends: fsat")), "DAGC703")
    at(d, 6, 16)
    assert d.hint == "did you mean 'fast'?"
    d = only(check(tmp_path, TEMPLATES.replace("base: {step", "base: {extends: fast, step")), "DAGC704")
    assert "fast -> base -> fast" in d.message  # reported once, though two tasks use the cycle
    at(d, 3, 19)


def test_include_keeps_positions_in_the_included_file(tmp_path):
    shared = tmp_path / "pipelines" / "shared"
    shared.mkdir(parents=True)
    (shared / "t.yaml").write_text("templates:\n  trainer:\n    step: train\n    params: {depth: 3, sped: 1}\n")
    text = "name: g\ninclude: [shared/t.yaml]\ntasks:\n  t: {extends: trainer}\n"
    d = only(check(tmp_path, text), "DAGC404")
    assert d.file.endswith("shared/t.yaml") and (d.line, d.col) == (4, 24) and d.hint == "train takes: depth, rate"
    (shared / "t.yaml").write_text("templates:\n  trainer:\n    stpe: train\n")
    diags = check(tmp_path, text)  # a template the schema refuses is reported there, and only there
    d = only(diags, "DAGC102")
    assert d.file.endswith("shared/t.yaml") and (d.line, d.col) == (3, 5) and "'stpe'" in d.message
    assert [x.code for x in diags] == ["DAGC102"]


def test_include_must_hold_only_templates(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "bad.yaml").write_text("tasks: {a: {sql: s}}\n")
    d = only(check(tmp_path, "name: g\ninclude: [bad.yaml]\ntasks:\n  t: {sql: s}\n"), "DAGC705")
    assert "only `templates:`" in d.message
    diags = [x for x in check(tmp_path, "name: g\ninclude: [missing.yaml]\ntasks:\n  t: {sql: s}\n") if x.code == "DAGC705"]
    assert len(diags) == 1 and "cannot read" in diags[0].message and (diags[0].line, diags[0].col) == (2, 11)


def test_cases_as_a_list_of_child_names(tmp_path):
    text = ("name: g\ntasks:\n  gate_it: {branch: {step: gate, cases: [pass, fail]}}\n"
            "  pass: {sql: s, after: [gate_it]}\n  fail: {sql: s, after: [gate_it]}\n")
    p, diags = check_file(write(tmp_path, text))
    assert diags == [] and dict(p.task("gate_it").cases) == {"pass": "pass", "fail": "fail"}


def _shared(tmp_path, text: str) -> None:
    shared = tmp_path / "pipelines" / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    (shared / "t.yaml").write_text(text)


INCLUDING = "name: g\nvars: {depth: 4, rows: 7}\ninclude: [shared/t.yaml]\ntasks:\n  t: {extends: trainer}\n"


def test_templates_in_an_included_file_render_with_the_pipelines_vars(tmp_path):
    _shared(tmp_path, "templates:\n  trainer:\n    step: train\n"
            "    params: {depth: '{{ vars.depth }}', rate: '{{ vars.rows / 10 }}'}\n"
            "    comment: 'in {{ environment }} with {{ vars.depth * 2 }}'\n")
    text = INCLUDING + "environments: {prod: {}}\n"
    p, diags = check_file(write(tmp_path, text), "prod")
    assert diags == []
    assert dict(p.task("t").params) == {"depth": 4, "rate": 0.7}  # a sole {{ }} keeps its type
    assert p.task("t").comment == "in prod with 8"


def test_a_template_error_in_an_included_file_is_reported_at_its_line(tmp_path):
    _shared(tmp_path, "templates:\n  trainer:\n    step: train\n    params:\n      depth: '{{ vars.dpeth }}'\n")
    diags = check(tmp_path, INCLUDING)
    d = only(diags, "DAGC210")
    assert d.file.endswith("shared/t.yaml") and (d.line, d.col) == (5, 14)
    assert "dpeth" in d.message and "(defined: depth, rows)" in d.hint
    assert [x.code for x in diags] == ["DAGC210"]  # the task extending it is not reported again
    _shared(tmp_path, "templates:\n  trainer:\n    step: train\n    params: {depth: 1}\n"
            "    comment: \"{{ ''.__class__.__mro__ }}\"\n")
    d = only(check(tmp_path, INCLUDING), "DAGC210")
    assert d.file.endswith("shared/t.yaml") and (d.line, d.col) == (5, 14) and "sandbox" in d.message
    _shared(tmp_path, "templates:\n  trainer:\n    step: train\n    params: {depth: 1}\n"
            "    comment: |\n      first\n      {{ vars.depth ) }}\n")
    d = only(check(tmp_path, INCLUDING), "DAGC210")  # a syntax error on the block's second line
    assert d.file.endswith("shared/t.yaml") and d.line == 6 and "syntax" in d.message


def test_secrets_in_an_included_file_follow_the_pipelines_rules(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGC_T_TOKEN", raising=False)
    _shared(tmp_path, "templates:\n  trainer:\n    step: train\n    params: {depth: 1}\n"
            "    comment: \"{{ secret('DAGC_T_TOKEN') }}\"\n")
    path = write(tmp_path, INCLUDING)
    p, diags = check_file(path, missing_secrets="warn")  # validation: a warning where it is used
    d = only(diags, "DAGC211")
    assert p is not None and d.file.endswith("shared/t.yaml") and (d.line, d.col) == (5, 14)
    d = only(check_file(path)[1], "DAGC210")  # compile: an error, there
    assert d.file.endswith("shared/t.yaml") and (d.line, d.col) == (5, 14) and "DAGC_T_TOKEN" in d.message
    monkeypatch.setenv("DAGC_T_TOKEN", "s3cr3t-value")
    p, diags = check_file(path)
    assert diags == [] and p.task("t").comment == "s3cr3t-value" and "s3cr3t-value" in p.secrets


def test_an_if_from_an_included_file_has_an_exact_caret(tmp_path):
    _shared(tmp_path, "templates:\n  trainer:\n    step: train\n    params: {depth: 1}\n"
            "    after: [load]\n    if: \"state(load) == 'SUCCEEDED' and value(laod).rows > 0\"\n")
    text = "name: g\ninclude: [shared/t.yaml]\ntasks:\n  load: {step: extract}\n  t: {extends: trainer}\n"
    d = only(check(tmp_path, text), "DAGC603")
    assert d.file.endswith("shared/t.yaml") and (d.line, d.col, d.end_col) == (6, 47, 50)  # `laod`
    assert d.hint == "did you mean 'load'?"
    _shared(tmp_path, "templates:\n  trainer:\n    step: train\n    params: {depth: 1}\n    after: [load]\n"
            "    if: >-\n      state(load) == 'SUCCEEDED'\n      and value(load).rows >\n")
    d = only(check(tmp_path, text), "DAGC601")  # a folded block: the caret is on its last line
    assert d.file.endswith("shared/t.yaml") and d.line == 8
