"""Checks family `schedule` (compiler/dagc/frontend/checks/schedule.py): DAGC106, 506, 507, 509: schedules and durations."""

from __future__ import annotations

import pytest

from fe_helpers import at, check, only


@pytest.mark.parametrize("schedule,code,needle", [
    ("{cron: '61 * * * *'}", "DAGC506", "invalid cron"),
    ("{cron: '0 2 * *'}", "DAGC506", "5 fields"),
    ("{cron: '0 2 * * *', timezone: Mars/Olympus}", "DAGC507", "unknown time zone"),
    ("5s", "DAGC506", "outside what Snowflake accepts"),
    ("9s", "DAGC506", "10 s to 11520 minutes"),
    ("9d", "DAGC506", "outside what Snowflake accepts"),
])
def test_bad_schedules(tmp_path, schedule, code, needle):
    d = only(check(tmp_path, f"name: x\nschedule: {schedule}\ntasks:\n  t: {{sql: s}}\n"), code)
    assert d.line == 2 and needle in d.message


def test_good_schedules(tmp_path):
    for schedule in ("10s", "1m", "30m", "8d", "{cron: '*/5 * * * *', timezone: Europe/Berlin}"):
        assert check(tmp_path, f"name: x\nschedule: {schedule}\ntasks:\n  t: {{sql: s}}\n") == [], schedule


def test_timeout_over_7_days(tmp_path):
    assert check(tmp_path, "name: x\ntimeout: 7d\ntasks:\n  t: {sql: s}\n") == []  # Snowflake moved it from 24 h
    d = only(check(tmp_path, "name: x\ntimeout: 8d\ntasks:\n  t: {sql: s}\n"), "DAGC509")
    assert "7 days" in d.message
    at(d, 2, 10)

