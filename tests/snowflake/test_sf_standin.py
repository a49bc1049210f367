"""The strict stand-in refuses what Snowflake refuses (so the deploy tests passing against it means something)."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("snowflake.core")
from snowflake.core.task import Task  # noqa: E402

from tests.snowflake.standin import SnowflakeRefused, StrictSchema  # noqa: E402


def graph(state: str = "started") -> StrictSchema:
    s = StrictSchema()
    s.tasks.create(Task("G", "select 1", warehouse="WH"))
    s.tasks.create(Task("G$A", "select 1", predecessors=["G"]))
    s.tasks.create(Task("G$B", "select 1", predecessors=["G$A"]))
    s.tasks["G$A"].resume()
    s.tasks["G$B"].resume()
    if state == "started":
        s.tasks["G"].resume()
    return s


def test_a_graph_task_is_changed_only_while_the_root_is_suspended() -> None:
    s = graph()
    for action in (lambda: s.tasks["G$A"].create_or_alter(Task("G$A", "select 2", predecessors=["G"])),
                   lambda: s.tasks["G$B"].drop(),
                   lambda: s.tasks["G$B"].suspend(),
                   lambda: s.tasks["G$A"].resume(),
                   lambda: s.tasks.create(Task("G$C", "select 1", predecessors=["G$B"])),
                   lambda: s.tasks.create(Task("G$F", "select 1", finalize="G"))):
        with pytest.raises(SnowflakeRefused, match="since that root task is not suspended"):
            action()
    s.tasks["G"].suspend()
    with pytest.raises(SnowflakeRefused, match="must be suspended first"):  # the task itself too
        s.tasks["G$A"].create_or_alter(Task("G$A", "select 2", predecessors=["G"]))
    s.tasks["G$A"].suspend()
    s.tasks["G$A"].create_or_alter(Task("G$A", "select 2", predecessors=["G"]))
    s.tasks["G$A"].resume()
    s.tasks["G"].resume()
    assert s.store["G$A"].definition == "select 2"


def test_one_finalizer_and_predecessors_in_the_same_schema_that_exist() -> None:
    s = graph("suspended")
    s.tasks.create(Task("G$F", "select 1", finalize="G"))
    with pytest.raises(SnowflakeRefused, match="already has a finalizer task G\\$F"):
        s.tasks.create(Task("G$F2", "select 1", finalize="G"))
    with pytest.raises(SnowflakeRefused, match="same schema"):
        s.tasks.create(Task("G$X", "select 1", predecessors=["OTHER.SC.G"]))
    with pytest.raises(SnowflakeRefused, match="does not exist"):
        s.tasks.create(Task("G$Y", "select 1", predecessors=["G$NOPE"]))


def test_names_are_case_insensitive_unless_quoted() -> None:
    s = graph("suspended")
    assert s.tasks["g$a"].fetch().name == "G$A"
    s.tasks.create(Task('"g$a"', "select 1", predecessors=["G"]))
    assert sorted(s.store) == ["G", "G$A", "G$B", "g$a"]


def test_limits_on_predecessors() -> None:
    s = StrictSchema()
    s.tasks.create(Task("G", "select 1"))
    for i in range(101):
        s.tasks.create(Task(f"G$P{i}", "select 1", predecessors=["G"] if i < 100 else ["G$P0"]))
    with pytest.raises(SnowflakeRefused, match="101 predecessors; the limit is 100"):
        s.tasks.create(Task("G$FANIN", "select 1", predecessors=[f"G$P{i}" for i in range(101)]))
    with pytest.raises(SnowflakeRefused, match="more than 100 child tasks"):
        s.tasks.create(Task("G$ONE_MORE", "select 1", predecessors=["G"]))


def test_dropping_a_predecessor_leaves_its_children_stand_alone() -> None:
    s = graph("suspended")
    s.tasks["G$A"].drop()
    assert s.store["G$B"].predecessors is None and s.root_of("G$B") == "G$B"


def test_retry_last_needs_a_failed_or_cancelled_last_run_within_14_days_and_an_unmodified_graph() -> None:
    s = graph()
    with pytest.raises(SnowflakeRefused, match="no failed or cancelled run"):
        s.tasks["G"].execute(retry_last=True)
    s.finish_run("G", "SUCCEEDED")
    with pytest.raises(SnowflakeRefused, match="no failed or cancelled run"):
        s.tasks["G"].execute(retry_last=True)
    s.finish_run("G", "CANCELLED", ago=timedelta(minutes=1))
    s.tasks["G"].execute(retry_last=True)  # cancelled is retryable too, and older than 60 minutes is fine
    s.runs["G"] = []
    s.finish_run("G", "FAILED", ago=timedelta(days=15))
    with pytest.raises(SnowflakeRefused, match="older than 14 days"):
        s.tasks["G"].execute(retry_last=True)
    s.runs["G"] = []
    s.finish_run("G", "FAILED", ago=timedelta(days=3))
    s.tasks["G"].execute(retry_last=True)
    s.tasks["G"].suspend()
    s.tasks["G$B"].suspend()
    s.tasks["G$B"].create_or_alter(Task("G$B", "select 3", predecessors=["G$A"]))
    with pytest.raises(SnowflakeRefused, match="modified since its last run"):
        s.tasks["G"].execute(retry_last=True)


def test_a_graph_has_at_most_max_tasks(monkeypatch) -> None:
    from tests.snowflake import standin

    monkeypatch.setattr(standin, "MAX_TASKS", 4)  # 1000 in Snowflake; the rule, not the number, is tested
    s = graph("suspended")
    s.tasks.create(Task("G$C", "select 1", predecessors=["G$B"]))
    with pytest.raises(SnowflakeRefused, match="would have 5 tasks; the limit is 4"):
        s.tasks.create(Task("G$D", "select 1", predecessors=["G$C"]))


def test_the_shipped_deploy_sequences_are_accepted_and_a_naive_one_is_not() -> None:
    """dagc's deploy passes (test_sf_deploy); what the old deploy did (alter a running child) does not."""
    s = graph()
    s.tasks["G"].suspend()
    with pytest.raises(SnowflakeRefused, match="must be suspended first"):
        s.tasks["G$B"].create_or_alter(Task("G$B", "select 9", predecessors=["G$A"]))
