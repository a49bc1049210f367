"""Small value grammars shared by the checks: durations, schedules, Snowflake identifiers."""

from __future__ import annotations

import re

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")

# Unquoted Snowflake identifiers. `$` is legal in Snowflake but dagc reserves it for <DAG>$<TASK>.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]{0,254}|"[^"\x00-\x1f]{1,255}")'
QUALIFIED = re.compile(rf"^{_PART}(?:\.{_PART}){{0,2}}$")
STAGE = re.compile(rf"^@~?(?:{_PART}(?:\.{_PART}){{0,2}})?(?:/[A-Za-z0-9_./=-]*)?$")
PACKAGE = re.compile(r"^[A-Za-z0-9_.\-\[\]]+(?:\s*(?:==|>=|<=|>|<|!=|~=)\s*[A-Za-z0-9_.*+!-]+)*$")

MAX_TIMEOUT_MS = 86_400_000  # Snowflake's USER_TASK_TIMEOUT_MS ceiling (24 h)
MIN_INTERVAL_S = 60  # Snowflake task schedules: at least 1 minute (validate and the emitter agree)
MAX_INTERVAL_S = 11_520 * 60  # Snowflake caps interval schedules at 11,520 minutes (8 days)


def duration_ms(value: int | str) -> int:
    """`30m` -> 1_800_000; a bare integer is seconds. Raises ValueError with a readable text."""
    if isinstance(value, bool):
        raise ValueError("a duration cannot be true/false")
    if isinstance(value, int):
        return value * 1000
    m = _DURATION.match(str(value).strip())
    if not m:
        raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 30m, 2h or 1d")
    return int(m.group(1)) * UNITS_MS[m.group(2)]


def is_identifier(name: object) -> bool:
    return isinstance(name, str) and bool(IDENTIFIER.match(name))


def check_cron(expr: str) -> str | None:
    """None if Snowflake would accept the five-field cron expression, else why not."""
    fields = expr.split()
    if len(fields) != 5:
        return f"cron needs 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    from croniter import croniter  # 60 ms import: only for pipelines with a cron schedule

    try:
        croniter(expr)
    except (ValueError, KeyError, TypeError) as exc:
        return f"invalid cron expression: {exc}"
    return None


def check_timezone(tz: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {tz!r}; use an IANA name such as UTC or Europe/Berlin"
    return None
