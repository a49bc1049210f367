"""Fire times of a pipeline's schedule, as Snowflake computes them.

Cron: five fields in the schedule's time zone (croniter, which the front end already uses for
syntax beyond the common grammar); DST gaps and repeats follow croniter. Interval: every N
seconds from an anchor (Snowflake anchors an interval at the moment the root task is resumed;
the local scheduler anchors it at its own start).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterator


def fire_times(schedule: Any, after: datetime, *, anchor: datetime | None = None) -> Iterator[datetime]:
    """Fire times strictly after `after` (aware datetimes, UTC), in order, without end."""
    from dagc.ir import Cron, Interval

    if isinstance(schedule, Interval):
        step = timedelta(seconds=schedule.seconds)
        base = anchor or after
        if after < base:
            t = base
        else:
            n = int((after - base) / step) + 1
            t = base + n * step
        while True:
            yield t
            t += step
    if isinstance(schedule, Cron):
        from zoneinfo import ZoneInfo

        from croniter import croniter

        tz = ZoneInfo(schedule.timezone or "UTC")
        it = croniter(schedule.expr, after.astimezone(tz))
        while True:
            yield it.get_next(datetime).astimezone(timezone.utc)
    raise TypeError(f"not a schedule: {schedule!r}")


def next_fire(schedule: Any, after: datetime, *, anchor: datetime | None = None) -> datetime:
    return next(iter(fire_times(schedule, after, anchor=anchor)))


def describe(schedule: Any) -> str:
    from dagc.ir import Cron, Interval

    if isinstance(schedule, Interval):
        return f"every {schedule.text}"
    if isinstance(schedule, Cron):
        return f"cron {schedule.expr} {schedule.timezone}"
    return "no schedule"
