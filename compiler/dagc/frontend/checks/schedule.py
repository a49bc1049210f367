"""Schedules and durations (DAGC106, DAGC506, DAGC507, DAGC509).

These are value parsers the build calls: each returns the IR value, or reports and returns None.
"""

from __future__ import annotations

from typing import Any

from dagc import ir
from dagc.frontend.checks.context import Checker
from dagc.frontend.load import Path
from dagc.values import MAX_INTERVAL_S, MAX_TIMEOUT_MS, MIN_INTERVAL_S, check_cron, check_timezone, duration_ms

CODES = {
    "DAGC106": "not a duration",
    "DAGC506": "schedule Snowflake would refuse",
    "DAGC507": "unknown time zone",
    "DAGC509": "timeout over Snowflake's maximum",
}


def schedule(ctx: Checker, value: Any) -> ir.Schedule | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            seconds = duration_ms(value) // 1000
        except ValueError as exc:
            ctx.err("DAGC506", str(exc), ("schedule",))
            return None
        if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
            ctx.err("DAGC506", f"interval {value!r} is outside what Snowflake accepts "
                    f"({MIN_INTERVAL_S} s to {MAX_INTERVAL_S // 60} minutes, 8 days)", ("schedule",),
                    "for longer periods use a cron schedule")
            return None
        return ir.Interval(seconds=seconds, text=value)
    expr, tz = str(value.get("cron", "")), str(value.get("timezone", "UTC"))
    problem = check_cron(expr)
    if problem:
        ctx.err("DAGC506", problem, ("schedule", "cron"), "e.g. \"0 2 * * *\" for 02:00 every day")
    tz_problem = check_timezone(tz)
    if tz_problem:
        ctx.err("DAGC507", tz_problem, ("schedule", "timezone"))
    return None if problem or tz_problem else ir.Cron(expr=expr, timezone=tz)


def timeout(ctx: Checker, value: Any, path: Path) -> int | None:
    if value is None:
        return None
    try:
        ms = duration_ms(value)
    except ValueError as exc:
        ctx.err("DAGC106", str(exc), path)
        return None
    if ms > MAX_TIMEOUT_MS:
        ctx.err("DAGC509", f"timeout {value!r} is longer than Snowflake's maximum of 7 days "
                f"(USER_TASK_TIMEOUT_MS {MAX_TIMEOUT_MS:,})", path)
    return ms
