"""The deploy model, re-exported in one place for callers that predate the split.

The pieces live by concern: `names` (identifiers, WHEN clauses), `fingerprint` (Python task specs),
`graphstate` (the normalised per-task state and its two sources), `plan` (diff and rendering).
"""

from __future__ import annotations

from dagc.snowflake.fingerprint import (PYTHON_MARKER, fingerprinter, marked_comment, spec_text, split_comment,
                                        task_fingerprint, task_spec)
from dagc.snowflake.graphstate import (DEFAULTS, ROOT_KEYS, TASK_KEYS, GraphState, TaskState, from_manifest,
                                       from_tasks, schedule_text)
from dagc.snowflake.names import branch_condition, canon, predecessor_condition
from dagc.snowflake.plan import Change, FieldChange, Plan, diff, render_plan

__all__ = ["PYTHON_MARKER", "fingerprinter", "marked_comment", "spec_text", "split_comment", "task_fingerprint",
           "task_spec", "DEFAULTS", "ROOT_KEYS", "TASK_KEYS", "GraphState", "TaskState", "from_manifest", "from_tasks",
           "schedule_text", "branch_condition", "canon", "predecessor_condition", "Change", "FieldChange", "Plan",
           "diff", "render_plan"]
