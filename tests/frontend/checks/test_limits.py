"""Checks family `limits` (compiler/dagc/frontend/checks/limits.py): DAGC309: Snowflake's task, predecessor and children limits."""

from __future__ import annotations

from fe_helpers import at, check, only


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

