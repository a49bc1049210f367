"""Checks family `tasks` (compiler/dagc/frontend/checks/tasks.py): DAGC304, 306, 313, 503, 504, 520-522: one task's kind and
compute (native ML Job) settings."""

from __future__ import annotations

from dagc.frontend import check_file
from fe_helpers import at, check, codes, only, write


def test_task_needs_exactly_one_kind(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {comment: nothing to do}\n"), "DAGC306")
    at(d, 3, 3)
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s, step: extract}\n"), "DAGC306")
    assert "(it has step, sql)" in d.message


def test_params_on_a_sql_task(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s, params: {x: 1}}\n"), "DAGC313")
    at(d, 3, 15)


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


# ---- compute: a native ML Job on a compute pool ----


def test_compute_settings_reach_the_ir(tmp_path):
    text = ("name: x\ntasks:\n  t:\n    step: extract\n    timeout: 1h\n    compute:\n      pool: P\n      instances: 4\n"
            "      min_instances: 2\n      stage: '@DB.SC.JOBS/ml'\n      external_access_integrations: [PYPI]\n"
            "      pip_requirements: [lightgbm]\n      env: {MODE: fast, N: 3}\n      runtime: '1.7.1'\n"
            "      timeout: 50m\n")
    p, diags = check_file(write(tmp_path, text))
    assert diags == []
    c = p.tasks[0].compute
    assert (c.pool, c.instances, c.min_instances, c.stage) == ("P", 4, 2, "@DB.SC.JOBS/ml")
    assert c.external_access_integrations == ("PYPI",) and c.pip_requirements == ("lightgbm",)
    assert dict(c.env) == {"MODE": "fast", "N": "3"} and c.runtime == "1.7.1" and c.timeout_ms == 3_000_000
    assert c.to_json()["env"] == {"MODE": "fast", "N": "3"}
    assert type(c).from_json(c.to_json()) == c


def test_min_instances_above_instances(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {step: extract, compute: {pool: P, instances: 2, min_instances: 3}}\n"),
             "DAGC523")
    assert "min_instances 3 is more than instances 2" in d.message
    at(d, 3, 70)


def test_compute_stage_must_be_a_stage(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {step: extract, compute: {pool: P, stage: '@a b'}}\n"), "DAGC524")
    assert "is not a stage" in d.message and "@DATABASE.SCHEMA.STAGE" in d.hint


def test_job_timeout_must_be_shorter_than_the_tasks(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {step: extract, timeout: 30m, compute: {pool: P, timeout: 30m}}\n"),
             "DAGC525")
    assert "not shorter than the task's timeout (1800 s)" in d.message
    # without a task or graph timeout, Snowflake's default of 1 hour is the limit
    assert codes(check(tmp_path, "name: x\ntasks:\n  t: {step: extract, compute: {pool: P, timeout: 2h}}\n")) == ["DAGC525"]
    assert check(tmp_path, "name: x\ntimeout: 3h\ntasks:\n  t: {step: extract, compute: {pool: P, timeout: 2h}}\n") == []

def test_serverless_sizing_and_target_completion(tmp_path):
    text = "name: x\ntasks:\n  t: {sql: s, serverless: {size: SMALL, min_size: LARGE, max_size: SMALL}}\n"
    d = only(check(tmp_path, text), "DAGC510")
    at(d, 3, 51)
    assert "min_size LARGE is larger than max_size SMALL" in d.message
    d = only(check(tmp_path, "name: x\ntasks:\n  t: {sql: s, serverless: {target_completion: 30s}}\n"), "DAGC510")
    assert "outside 60 s..604,800 s" in d.message
    p, diags = check_file(write(tmp_path, "name: x\ntasks:\n  t: {sql: s, serverless: {min_size: SMALL, max_size: "
                                          "LARGE, target_completion: 30m}, success_integration: OK_INT, "
                                          "execute_as_user: SVC, log_level: INFO}\n"))
    t = p.task("t")
    assert diags == [] and (t.serverless_min_size, t.serverless_max_size, t.target_completion_s) == ("SMALL", "LARGE", 1800)
    assert (t.success_integration, t.execute_as_user, t.log_level) == ("OK_INT", "SVC", "INFO")


def test_graph_log_level_is_every_tasks_default(tmp_path):
    p, _ = check_file(write(tmp_path, "name: x\nlog_level: WARN\ntrace_level: ON_EVENT\ndefaults: {log_level: INFO}\n"
                                      "tasks:\n  a: {sql: s}\n  b: {sql: s, log_level: DEBUG}\n"))
    assert (p.log_level, p.task("a").log_level, p.task("b").log_level, p.task("a").trace_level) == (
        "WARN", "INFO", "DEBUG", "ON_EVENT")


def test_a_template_cannot_give_the_finalizer_edges_or_conditions(tmp_path):
    text = ("name: x\ntemplates:\n  guarded: {sql: s, if: \"state(a) == 'FAILED'\", after: [a]}\n"
            "tasks:\n  a: {sql: s}\nfinally:\n  f: {extends: guarded}\n")
    diags = [d for d in check(tmp_path, text) if d.code == "DAGC304"]
    assert sorted(d.message.split("`")[1] for d in diags) == ["after:", "if:"]
    assert {d.line for d in diags} == {3}  # reported where the template sets them
