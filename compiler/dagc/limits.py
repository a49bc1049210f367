"""Snowflake's limits on a task graph and its parameters: the one table every check reads.

Validation (frontend/checks), the Snowflake emitter and the runtime all take their bounds from
here, so `dagc validate` never accepts what a deploy would refuse, and a limit that Snowflake moves
is changed in one line. tests/frontend/checks/test_limits.py holds each value against Snowflake's
documentation and docs/pipeline-reference.md ("Limits") against this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    key: str
    low: int | None  # inclusive; None: no lower bound
    high: int | None  # inclusive; None: no upper bound
    unit: str
    snowflake: str  # what Snowflake calls the thing being bounded
    default: int | None = None  # Snowflake's value when the pipeline says nothing

    def holds(self, value: int) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


DAY_S = 86_400

LIMITS: dict[str, Limit] = {lim.key: lim for lim in (
    Limit("schedule_interval", 10, 8 * DAY_S, "s", "SCHEDULE = '<n> SECONDS' (interval schedules)"),
    Limit("task_timeout", 1, 7 * DAY_S * 1000, "ms", "USER_TASK_TIMEOUT_MS", default=3_600_000),
    Limit("trigger_interval", 10, 604_800, "s", "USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS", default=30),
    Limit("target_completion_interval", 60, 7 * DAY_S, "s", "TARGET_COMPLETION_INTERVAL (serverless tasks)"),
    Limit("tasks_per_graph", 1, 1000, "tasks", "tasks in one graph, the root included"),
    Limit("predecessors", 0, 100, "tasks", "predecessors of one task"),
    Limit("children", 0, 100, "tasks", "children of one task"),
    Limit("return_value", 0, 10 * 1024, "bytes", "SYSTEM$SET_RETURN_VALUE"),
    Limit("retries", 0, 30, "attempts", "TASK_AUTO_RETRY_ATTEMPTS", default=0),
    Limit("suspend_after_failures", 0, None, "runs", "SUSPEND_TASK_AFTER_NUM_FAILURES", default=10),
)}

# Level names Snowflake accepts for the LOG_LEVEL / TRACE_LEVEL object parameters.
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF")
TRACE_LEVELS = ("ALWAYS", "ON_EVENT", "PROPAGATE", "OFF")
SERVERLESS_SIZES = ("XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE", "XXXLARGE", "X4LARGE", "X5LARGE",
                    "X6LARGE")


def describe(key: str) -> str:
    """`10 s .. 691200 s` style text for messages."""
    lim = LIMITS[key]
    low = f"{lim.low:,}" if lim.low is not None else ""
    high = f"{lim.high:,}" if lim.high is not None else ""
    return f"{low}..{high} {lim.unit}".strip()
