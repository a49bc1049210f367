"""The normalised task-state model: what Snowflake echoes back compares equal to what dagc sent."""

from __future__ import annotations

import copy

import pytest

from dagc.snowflake.state import canon, diff, from_tasks, render_plan, Plan, split_comment
from tests.snowflake.sfixtures import training_ir

emit = pytest.importorskip("dagc.emit.snowflake")


def test_canonical_identifiers() -> None:
    assert canon("training$train") == "TRAINING$TRAIN"
    assert canon('ML.PROD."training$train"') == "training$train"
    assert canon("ML.PROD.TRAINING$TRAIN") == "TRAINING$TRAIN"
    assert canon('"My Task"') == "My Task"


def test_deployed_echo_with_snowflake_spellings_and_defaults_is_no_change() -> None:
    low = emit.low_level_tasks(emit.build_dag(training_ir()))
    echoed = []
    for t in low:
        e = copy.copy(t)
        e.name = f"ML.PROD.{t.name.upper()}"
        e.predecessors = [f'ML.PROD."{p.upper()}"' for p in (t.predecessors or [])]
        if e.condition:
            e.condition = e.condition.replace(" and ", "  AND ")
        if e.finalize:
            e.finalize, e.task_relations = None, '{"Predecessors":[],"FinalizedRootTask":"ML.PROD.TRAINING"}'
        if not isinstance(e.definition, str):
            e.definition = "WITH task_handler_sp AS PROCEDURE ... CALL task_handler_sp()"
        e.user_task_managed_initial_warehouse_size = "MEDIUM"  # Snowflake reports its default
        # Snowflake reports only what was set: a Python task's LOG_LEVEL, nothing for a SQL task
        python = not isinstance(t.definition, str) or t.definition.startswith("CALL SYSTEM$EXECUTE_ML_JOB")
        e.session_parameters = {"LOG_LEVEL": "INFO"} if python else {}  # a native ML Job task is a Python step too
        e.state = "started"
        echoed.append(e)
    echoed[0].overlap_policy = None
    echoed[0].allow_overlapping_execution = False  # the legacy spelling of NO_OVERLAP
    want = from_tasks(low, "training", deployed=False)
    have = from_tasks(list(reversed(echoed)), "training", deployed=True)  # any order
    assert diff(want, have) == []
    assert list(have.tasks)[0] == "TRAINING" and list(have.tasks)[-1] == "TRAINING$CLEANUP"


def test_python_fingerprint_rides_in_the_comment() -> None:
    assert split_comment("Create the table. [dagc:0123456789abcdef]") == ("Create the table.", "0123456789abcdef")
    assert split_comment("[dagc:0123456789abcdef]") == (None, "0123456789abcdef")
    assert split_comment("plain") == ("plain", None)


def test_a_suspended_child_is_a_change_to_resume() -> None:
    low = emit.low_level_tasks(emit.build_dag(training_ir()))
    echoed = [copy.copy(t) for t in low]
    for e in echoed:
        e.state = "started"
    echoed[3].state = "suspended"
    changes = diff(from_tasks(low, "training", deployed=False), from_tasks(echoed, "training", deployed=True))
    assert len(changes) == 1 and changes[0].only_state and changes[0].fields[0].new == "started"
    text = render_plan(Plan("training", changes))
    assert "state: suspended -> started" in text and "0 to create, 1 to alter, 0 to drop" in text
