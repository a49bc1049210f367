"""Snowflake's rules for whether a task runs, as pure functions over predecessor outcomes.

Kept apart from the scheduler so the rules read like the documentation
(/work/shared/reference/task-graph-semantics.md) and can be checked on their own. The fidelity
tests do NOT reuse this module: they carry an independent evaluator of the same rules.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from dagc.ir import Condition, Pipeline, Task

# Task states, spelled as Snowflake's TASK_HISTORY / SYSTEM$TASK_COMPLETION_STATE spell them.
PENDING = "PENDING"  # local only: not yet decided
RUNNING = "EXECUTING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
SKIPPED = "SKIPPED"
CANCELLED = "CANCELLED"
NOT_EXECUTED = "NOT_EXECUTED"  # not part of this run (--only / --from) and no earlier value to reuse

TERMINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED, NOT_EXECUTED})


def condition_holds(condition: Condition, states: Iterable[str]) -> bool:
    """SYSTEM$PREDECESSORS_STATE('<condition>') over the predecessors' terminal states.

    CANCELLED counts as failed and NOT_EXECUTED as skipped: neither produced a result.
    """
    s = [FAILED if x == CANCELLED else SKIPPED if x == NOT_EXECUTED else x for x in states]
    if not s:  # hangs off the root task, which succeeded
        s = [SUCCEEDED]
    failed = sum(x == FAILED for x in s)
    succeeded = sum(x == SUCCEEDED for x in s)
    skipped = sum(x == SKIPPED for x in s)
    n = len(s)
    if condition is Condition.ALL_SUCCEEDED:
        return succeeded == n
    if condition is Condition.ALL_DONE:
        return True
    if condition is Condition.ALL_FAILED:
        return failed == n
    if condition is Condition.ALL_SKIPPED:
        return skipped == n
    if condition is Condition.AT_LEAST_ONE_FAILED:
        return failed > 0
    if condition is Condition.AT_LEAST_ONE_SUCCEEDED:
        return succeeded > 0
    if condition is Condition.NONE_FAILED:
        return failed == 0
    if condition is Condition.NONE_FAILED_MIN_ONE_SUCCEEDED:
        return failed == 0 and succeeded > 0
    if condition is Condition.NONE_SKIPPED:
        return skipped == 0
    raise ValueError(f"unknown condition {condition!r}")


def should_run(
    task: str,
    condition: Condition,
    predecessors: Iterable[str],
    states: Mapping[str, str],
    branch_choice: Mapping[str, str | None],
) -> bool:
    """Whether `task` runs once all its predecessors are terminal.

    `branch_choice` maps every branch task to the child it selected (None if it did not succeed).
    dagv1 gives each child of a branch the extra condition
    `SYSTEM$GET_PREDECESSOR_RETURN_VALUE('<branch>') = '<child>'`, ANDed with the task's own.
    """
    preds = list(predecessors)
    for p in preds:
        if p in branch_choice and branch_choice[p] != task:
            return False
    return condition_holds(condition, [states[p] for p in preds])


def condition_value(p: Pipeline, t: Task, values: Mapping[str, Any], states: Mapping[str, str],
                    config: Mapping[str, Any], stream_has_data: Callable[[str], bool]) -> bool:
    """The task's additional condition (`if:`): ANDed with the predecessor rule, like WHEN's SQL.

    Evaluated with SQL's three-valued logic by dagc.expr; NULL (a missing value, a value that does
    not convert) does not run the task, as a WHEN that is not TRUE does not. States are what
    SYSTEM$TASK_COMPLETION_STATE reports (a NOT_EXECUTED task is reported as such).
    """
    if t.condition is None:
        return True
    from dagc.expr import Facts, Runtime, evaluate, parse
    from dagc.ir import thaw

    facts = Facts(kinds={x.name: x.kind.value for x in p.all_tasks()}, config=thaw(p.config))
    return evaluate(parse(t.condition), facts, Runtime(values, states, config, stream_has_data)) is True


def run_state(states: Mapping[str, str], cancelled: bool = False) -> str:
    """A graph run's final state: CANCELLED if stopped, FAILED if any task failed, else SUCCEEDED."""
    if cancelled:
        return CANCELLED
    return FAILED if any(s in (FAILED, CANCELLED) for s in states.values()) else SUCCEEDED
