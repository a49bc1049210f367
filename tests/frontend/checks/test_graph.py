"""Checks family `graph` (compiler/dagc/frontend/checks/graph.py): DAGC301-304, 307, 308, 310: edges, cycles, branch cases, the finalizer, reachability."""

from __future__ import annotations

from dagc.frontend import check_file
from fe_helpers import BRANCH, at, check, only, write



def test_unknown_predecessor_did_you_mean(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  load: {sql: s}\n  b: {sql: s, after: [lod]}\n"), "DAGC301")
    at(d, 4, 23)
    assert d.message == "task 'b' runs after 'lod', which is not a task" and d.hint == "did you mean 'load'?"


def test_unknown_predecessor_lists_tasks_when_nothing_is_close(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  load: {sql: s}\n  b: {sql: s, after: [qqqq]}\n"), "DAGC301")
    assert d.hint == "tasks: b, load"


def test_cycle_shows_the_whole_path(tmp_path):
    text = "name: x\ntasks:\n  a: {sql: s, after: [c]}\n  b: {sql: s, after: [a]}\n  c: {sql: s, after: [b]}\n  d: {sql: s}\n"
    d = only(check(tmp_path, text), "DAGC302")
    assert d.message == "cycle: a -> b -> c -> a (each runs after the one before it)"
    assert d.line == 4 and "acyclic" in d.hint


def test_self_cycle(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s, after: [a]}\n"), "DAGC302")
    assert "a -> a" in d.message


def test_valid_branch(tmp_path):
    p, diags = check_file(write(tmp_path, BRANCH))
    assert diags == [] and p.task("gate_it").cases == {"pass": "promote", "fail": "alert"}


def test_branch_case_to_unknown_task(tmp_path):
    d = only(check(tmp_path, BRANCH.replace("fail: alert", "fail: alrt")), "DAGC303")
    at(d, 4, 55)
    assert "'alrt', which is not a task" in d.message and d.hint == "did you mean 'alert'?"


def test_branch_case_to_a_task_that_is_not_its_child(tmp_path):
    text = BRANCH.replace("alert: {sql: s, after: [gate_it]}", "alert: {sql: s}")
    d = only(check(tmp_path, text), "DAGC303")
    assert "not a direct child of 'gate_it'" in d.message and d.hint == "add `after: [gate_it]` to task 'alert'"


def test_child_of_a_branch_that_no_case_selects(tmp_path):
    d = only(check(tmp_path, BRANCH + "  orphan: {sql: s, after: [gate_it]}\n"), "DAGC307")
    at(d, 7, 20)
    assert "'orphan'" in d.message and "never runs" in d.message


def test_join_after_a_branch_needs_a_tolerant_when(tmp_path):
    text = BRANCH + "  report: {sql: s, after: [promote, alert]}\n"
    d = only(check(tmp_path, text), "DAGC308")
    at(d, 7, 20)
    assert "can never run" in d.message and "none_failed_min_one_succeeded" in d.hint
    ok = BRANCH + "  report: {sql: s, after: [promote, alert], when: none_failed_min_one_succeeded}\n"
    assert check(tmp_path, ok) == []


def test_unreachable_propagates_down_a_chain(tmp_path):
    text = BRANCH + "  join: {sql: s, after: [promote, alert], when: all_done}\n  z1: {sql: s, after: [promote]}\n" \
        "  z2: {sql: s, after: [z1, alert]}\n"
    d = only(check(tmp_path, text), "DAGC308")
    assert "'z2'" in d.message


def test_nothing_can_follow_the_finalizer(tmp_path):
    text = "name: x\ntasks:\n  a: {sql: s}\n  b: {sql: s, after: [done]}\nfinally:\n  done: {sql: s}\n"
    d = only(check(tmp_path, text), "DAGC304")
    at(d, 4, 23)
    assert "after the finalizer" in d.message


def test_finalizer_cannot_be_a_branch_or_a_case(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s}\nfinally:\n  f:\n    branch: {step: gate, cases: {pass: a}}\n"),
             "DAGC304")
    assert "cannot be a branch" in d.message
    text = BRANCH.replace("fail: alert", "fail: done") + "finally:\n  done: {sql: s}\n"
    diags = check(tmp_path, text)
    assert "selects the finalizer" in only(diags, "DAGC304").message


def test_same_name_in_tasks_and_finally(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s}\nfinally:\n  a: {sql: s}\n"), "DAGC310")
    at(d, 5, 3)


def test_order_is_topological_and_stable(tmp_path):
    text = "name: x\ntasks:\n  c: {sql: s, after: [b]}\n  a: {sql: s}\n  b: {sql: s, after: [a]}\n  d: {sql: s}\n"
    p, _ = check_file(write(tmp_path, text))
    names = [t.name for t in p.tasks]
    assert names.index("a") < names.index("b") < names.index("c")

