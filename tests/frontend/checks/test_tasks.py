"""Checks family `tasks` (compiler/dagc/frontend/checks/tasks.py): DAGC304, 306, 313, 503, 504: one task's kind and compute settings."""

from __future__ import annotations

from dagc.frontend import check_file
from fe_helpers import at, check, only, write


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

