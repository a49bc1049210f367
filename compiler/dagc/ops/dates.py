"""The logical dates of a backfill: every date from --from to --to, by --every or by the schedule.

A date-only --to means "that whole day": `--from 2026-11-01 --to 2026-11-30 --every 1d` is 30
runs, and with the training pipeline's `cron: 0 2 * * *` it is the 30 fire times at 02:00. Dates
are timezone-aware UTC datetimes (the schedule's own time zone decides cron fire times).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from dagc.diagnostics import UsageError

MAX_DATES = 10_000
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EVERY = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, option: str) -> tuple[datetime, bool]:
    """(an aware UTC datetime, whether it was a bare date). Naive times are UTC."""
    raw = str(text).strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date", "write 2026-11-01 or 2026-11-01T02:00:00Z") from None
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value, bool(_DATE_ONLY.match(raw))


def parse_every(text: str) -> timedelta:
    m = _EVERY.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise UsageError(f"--every {text!r} is not a period", "write e.g. 1d, 12h, 30m or 1w")
    return timedelta(seconds=int(m.group(1)) * _UNIT_S[m.group(2)])


def logical_dates(start_text: str, end_text: str, *, every: str | None, schedule: Any) -> list[datetime]:
    """Every logical date of the backfill, oldest first."""
    start, _ = parse_when(start_text, "--from")
    end, end_is_date = parse_when(end_text, "--to")
    if end < start:
        raise UsageError(f"--to {end_text} is before --from {start_text}")
    stop = end + timedelta(days=1) if end_is_date else end + timedelta(microseconds=1)  # exclusive
    if every is not None:
        step = parse_every(every)
        out, t = [], start
        while t < stop:
            out.append(t)
            t += step
            _cap(out)
        return out
    if schedule is None:
        raise UsageError("this pipeline has no schedule: say how often with --every (e.g. --every 1d)")
    from dagc.ops.cron import fire_times

    out = []
    for t in fire_times(schedule, start - timedelta(seconds=1), anchor=start):
        if t >= stop:
            break
        out.append(t)
        _cap(out)
    return out


def _cap(out: list[datetime]) -> None:
    if len(out) > MAX_DATES:
        raise UsageError(f"the backfill would start more than {MAX_DATES:,} runs",
                         "narrow --from/--to or use a longer --every")


def label(t: datetime) -> str:
    """A date as the table shows it: the day when at midnight UTC, else minute precision."""
    if t.hour == t.minute == t.second == 0:
        return t.strftime("%Y-%m-%d")
    return t.strftime("%Y-%m-%d %H:%M")
