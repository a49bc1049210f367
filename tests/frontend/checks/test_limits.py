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



# Snowflake's documented values (docs.snowflake.com: CREATE TASK, Task graphs, SYSTEM$SET_RETURN_VALUE,
# USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS, TASK_AUTO_RETRY_ATTEMPTS), written out independently of the code.
DOCUMENTED = {
    "schedule_interval": (10, 11_520 * 60),  # 10 seconds .. 11,520 minutes (8 days)
    "task_timeout": (1, 604_800_000),  # USER_TASK_TIMEOUT_MS: up to 7 days
    "trigger_interval": (10, 604_800),  # default 30
    "tasks_per_graph": (1, 1000),
    "predecessors": (0, 100),
    "children": (0, 100),
    "return_value": (0, 10 * 1024),  # 10 kB
    "retries": (0, 30),
}


def test_limits_table_matches_snowflakes_documented_values():
    from dagc.limits import LIMITS

    for key, (low, high) in DOCUMENTED.items():
        assert (LIMITS[key].low, LIMITS[key].high) == (low, high), key
    assert LIMITS["trigger_interval"].default == 30 and LIMITS["task_timeout"].default == 3_600_000


def test_every_bound_in_the_code_comes_from_the_table():
    from dagc.frontend.checks import limits
    from dagc.frontend.schema import schema
    from dagc.limits import LIMITS
    from dagc.runtime.returns import MAX_RETURN_BYTES
    from dagc.values import MAX_INTERVAL_S, MAX_TIMEOUT_MS, MIN_INTERVAL_S

    assert (MIN_INTERVAL_S, MAX_INTERVAL_S) == (LIMITS["schedule_interval"].low, LIMITS["schedule_interval"].high)
    assert MAX_TIMEOUT_MS == LIMITS["task_timeout"].high and MAX_RETURN_BYTES == LIMITS["return_value"].high
    assert limits.MAX_TASKS == LIMITS["tasks_per_graph"].high and limits.MAX_EDGES == LIMITS["predecessors"].high
    retries = schema()["properties"]["retries"]
    assert (retries["minimum"], retries["maximum"]) == (LIMITS["retries"].low, LIMITS["retries"].high)


def test_the_reference_limits_table_is_the_codes():
    import re
    from pathlib import Path

    from dagc.limits import LIMITS

    text = (Path(__file__).resolve().parents[3] / "docs" / "pipeline-reference.md").read_text()
    rows = re.findall(r"^\| [^|]+ \| `(\w+)` \| *([\d,]*) *\| *([\d,]*) *\| (\w+) \|", text, re.M)
    assert {r[0] for r in rows} == set(LIMITS)
    for key, low, high, unit in rows:
        num = (lambda s: int(s.replace(",", "")) if s else None)
        assert (num(low), num(high), unit) == (LIMITS[key].low, LIMITS[key].high, LIMITS[key].unit), key
