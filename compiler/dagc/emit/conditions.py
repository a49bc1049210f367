"""What a task's WHEN says and which object parameters it carries, for every back end.

The manifest records these texts, the Snowflake emitter puts them on the dagv1 objects, and
`dagc plan` compares them, so all three come from here. Branch clauses are not included: dagv1
prepends them itself when predecessors are added (see snowflake.state.branch_condition).
"""

from __future__ import annotations

from typing import Any

from dagc import ir
from dagc.expr import Facts, parse, to_sql
from dagc.expr.sql import sql_string

TRIGGER_INTERVAL = "USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS"


def facts(p: ir.Pipeline) -> Facts:
    return Facts(kinds={t.name: t.kind.value for t in p.all_tasks()}, config=ir.thaw(p.config))


def deployed_name(p: ir.Pipeline, task: str) -> str:
    """The name SYSTEM$ functions take: `<GRAPH>$<TASK>` as dagv1 spells it (unquoted -> upper case)."""
    from dagc.snowflake.state import canon

    return canon(p.snowflake_name(task)) or p.snowflake_name(task)


def if_sql(p: ir.Pipeline, t: ir.Task) -> str | None:
    if t.condition is None:
        return None
    return to_sql(parse(t.condition), facts(p), lambda name: deployed_name(p, name))


def when_sql(p: ir.Pipeline, t: ir.Task) -> str | None:
    """The task's own WHEN: its predecessor condition AND its `if:` (None when it has neither)."""
    from dagc.snowflake.state import predecessor_condition

    parts = [x for x in (predecessor_condition(t.when), if_sql(p, t)) if x]
    if len(parts) == 2 and not parts[1].startswith("("):
        parts[1] = f"({parts[1]})"
    return " AND ".join(parts) or None


def root_when(p: ir.Pipeline) -> str | None:
    """A triggered graph's root condition."""
    return f"SYSTEM$STREAM_HAS_DATA({sql_string(p.trigger.stream)})" if p.trigger else None


def levels(log_level: str | None, trace_level: str | None) -> dict[str, Any]:
    return {k: v for k, v in (("LOG_LEVEL", log_level), ("TRACE_LEVEL", trace_level)) if v}


def root_parameters(p: ir.Pipeline) -> dict[str, Any]:
    """Object parameters dagc sets on the root besides the user's session_parameters."""
    out = levels(p.log_level, p.trace_level)
    if p.trigger is not None and p.trigger.min_interval_s is not None:
        out[TRIGGER_INTERVAL] = p.trigger.min_interval_s
    return out
