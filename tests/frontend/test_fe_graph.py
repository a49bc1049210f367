"""Graph shape: predecessors, cycles, branches, the finalizer, reachability, Snowflake's limits."""

from __future__ import annotations

from dagc.frontend import check_file
from fe_helpers import at, check, codes, only, write


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


BRANCH = """
name: x
tasks:
  gate_it:
    branch: {step: gate, cases: {pass: promote, fail: alert}}
  promote: {sql: s, after: [gate_it]}
  alert: {sql: s, after: [gate_it]}
"""


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


def test_branch_returns_missing_case_and_extra_case(tmp_path):
    diags = check(tmp_path, BRANCH.replace("fail: alert", "maybe: alert"))
    errors = [d for d in diags if d.severity.value == "error"]
    warnings = [d for d in diags if d.severity.value == "warning"]
    assert codes(errors) == ["DAGC312"] and "can return 'fail'" in errors[0].message
    assert "steps/core.py" in errors[0].hint
    assert codes(warnings) == ["DAGC312"] and "never returned" in warnings[0].message


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


def test_task_needs_exactly_one_kind(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {comment: nothing to do}\n"), "DAGC306")
    at(d, 3, 3)
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s, step: extract}\n"), "DAGC306")
    assert "(it has step, sql)" in d.message


def test_params_on_a_sql_task(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s, params: {x: 1}}\n"), "DAGC313")
    at(d, 3, 15)


def _tasks(n: int, extra: str = "") -> str:
    return "name: x\ntasks:\n" + "".join(f"  t{i}: {{sql: s}}\n" for i in range(n)) + extra


def _fanned(n: int) -> str:
    """n tasks: t0, then the rest fanned out below t1..t99 (a Snowflake-legal shape)."""
    body = "  t0: {sql: s}\n" + "".join(f"  t{i}: {{sql: s, after: [t0]}}\n" for i in range(1, min(n, 100)))
    body += "".join(f"  t{i}: {{sql: s, after: [t{1 + i % 99}]}}\n" for i in range(100, n))
    return "name: x\ntasks:\n" + body


def test_limit_1000_tasks_counts_the_root(tmp_path):
    assert check(tmp_path, _fanned(999)) == []
    d = only(check(tmp_path, _fanned(1000)), "DAGC309")
    assert d.message == "the graph has 1001 tasks (with its root); Snowflake allows at most 1000"
    at(d, 2, 1)
    d = only(check(tmp_path, _fanned(1001)), "DAGC309")
    assert "1002 tasks" in d.message and "split" in d.hint


def test_limit_100_children_of_the_root(tmp_path):
    assert check(tmp_path, _tasks(100)) == []
    d = only(check(tmp_path, _tasks(101)), "DAGC309")
    assert d.message.startswith("101 tasks have no `after`, so the root task has 101 children")


def test_limit_100_predecessors(tmp_path):
    ok = _tasks(100, "  join: {sql: s, after: [" + ", ".join(f"t{i}" for i in range(100)) + "]}\n")
    assert check(tmp_path, ok) == []
    bad = _fanned(102) + "  join: {sql: s, after: [" + ", ".join(f"t{i}" for i in range(1, 102)) + "]}\n"
    d = only(check(tmp_path, bad), "DAGC309")
    assert d.message == "task 'join' has 101 predecessors; Snowflake allows at most 100"
    at(d, 105, 18)  # after the 102 fanned tasks on lines 3..104


def test_limit_100_children(tmp_path):
    text = "name: x\ntasks:\n  root: {sql: s}\n" + "".join(f"  c{i}: {{sql: s, after: [root]}}\n" for i in range(101))
    d = only(check(tmp_path, text), "DAGC309")
    assert d.message == "task 'root' has 101 children; Snowflake allows at most 100"
    at(d, 3, 3)


def test_order_is_topological_and_stable(tmp_path):
    text = "name: x\ntasks:\n  c: {sql: s, after: [b]}\n  a: {sql: s}\n  b: {sql: s, after: [a]}\n  d: {sql: s}\n"
    p, _ = check_file(write(tmp_path, text))
    names = [t.name for t in p.tasks]
    assert names.index("a") < names.index("b") < names.index("c")


def test_non_string_task_names_and_var_keys(tmp_path):
    """Found by the fuzz run: `2:` or `false:` as keys used to crash sorting mixed key types."""
    d = only(check(tmp_path, "name: x\ntasks:\n  2: {sql: s, after: [zz]}\n  b: {sql: s}\n"), "DAGC501")
    at(d, 3, 3)
    assert "tasks: 2, b" in only(check(tmp_path, "name: x\ntasks:\n  2: {sql: s, after: [zz]}\n  b: {sql: s}\n"),
                                 "DAGC301").hint
    d = only(check(tmp_path, "name: x\nvars: {false: 1, a: 2}\ntasks:\n  t: {sql: \"{{ vars.nope }}\"}\n"), "DAGC210")
    assert "(defined: False, a)" in d.hint
