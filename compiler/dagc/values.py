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

from dagc.limits import LIMITS  # noqa: E402 (the one table of Snowflake's limits)

MAX_TIMEOUT_MS: int = LIMITS["task_timeout"].high  # type: ignore[assignment]  # USER_TASK_TIMEOUT_MS (7 days)
MIN_INTERVAL_S: int = LIMITS["schedule_interval"].low  # type: ignore[assignment]  # 10 seconds
MAX_INTERVAL_S: int = LIMITS["schedule_interval"].high  # type: ignore[assignment]  # 11,520 minutes (8 days)


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


_CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day-of-month", 1, 31, ()),
                ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
                ("day-of-week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")))
_CRON_ITEM = re.compile(r"^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?$")


def _simple_cron(fields: list[str]) -> str | None | bool:
    """Check the common cron grammar (*, n, a-b, names, lists, /step) without croniter.

    Returns None (valid), a reason (invalid), or False (syntax it does not model, such as L or #:
    croniter decides).
    """
    for text, (label, lo, hi, names) in zip(fields, _CRON_FIELDS):
        for item in text.split(","):
            m = _CRON_ITEM.match(item)
            if not m:
                return False
            if m.group(2) is not None and int(m.group(2)) == 0:
                return f"invalid cron expression: step 0 in the {label} field"
            if m.group(1) == "*":
                continue
            for part in m.group(1).split("-"):
                if part.isdigit():
                    value = int(part)
                elif part.upper() in names:
                    value = names.index(part.upper()) + (1 if label == "month" else 0)
                else:
                    return False
                if not lo <= value <= hi:
                    return f"invalid cron expression: {part} is out of range for the {label} field ({lo}-{hi})"
    return None


def check_cron(expr: str) -> str | None:
    """None if Snowflake would accept the five-field cron expression, else why not."""
    fields = expr.split()
    if len(fields) != 5:
        return f"cron needs 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    simple = _simple_cron(fields)
    if simple is not False:
        return simple
    from croniter import croniter  # 60 ms import: only for cron syntax beyond the common grammar

    try:
        croniter(expr)
    except (ValueError, KeyError, TypeError) as exc:
        return f"invalid cron expression: {exc}"
    return None


def check_timezone(tz: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    shown = tz if len(tz) <= 60 else tz[:59] + "…"
    if len(tz) > 255:  # no IANA name is this long; the file system would refuse the lookup (ENAMETOOLONG)
        return f"unknown time zone {shown!r}; use an IANA name such as UTC or Europe/Berlin"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {shown!r}; use an IANA name such as UTC or Europe/Berlin"
    return None
