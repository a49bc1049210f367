"""An optional schedule written once: `schedule: null` (or no schedule) in the base, a schedule in one
environment's overlay ("manual in dev, daily in prod")."""

from __future__ import annotations

import pytest

from dagc import ir
from dagc.frontend import check_file
from fe_helpers import at, only, write

ONE_FILE = """
name: nightly
warehouse: WH
stage: "@DB.SC.STAGE"
{base}
tasks:
  a: {{sql: select 1}}
environments:
  dev: {{}}
  prod:
    schedule: {{cron: "0 2 * * *", timezone: Europe/Berlin}}
"""


@pytest.mark.parametrize("base", ["schedule: null", "schedule:", ""])
def test_manual_in_dev_daily_in_prod(tmp_path, base):
    path = write(tmp_path, ONE_FILE.format(base=base))
    dev, diags = check_file(path, "dev")
    assert diags == [] and dev.schedule is None
    prod, diags = check_file(path, "prod")
    assert diags == [] and prod.schedule == ir.Cron("0 2 * * *", "Europe/Berlin")
    base_only, diags = check_file(path, None)
    assert diags == [] and base_only.schedule is None


def test_a_bad_schedule_in_an_overlay_points_at_the_overlay(tmp_path):
    text = ONE_FILE.format(base="").replace('{cron: "0 2 * * *", timezone: Europe/Berlin}', "5x")
    d = only(check_file(write(tmp_path, text), "prod")[1], "DAGC106")
    at(d, 10, 15)  # the overlay line (the file starts with a blank line)


def test_an_overlay_still_cannot_add_other_keys(tmp_path):
    text = ONE_FILE.format(base="").replace("  dev: {}", "  dev: {retries: 2}")
    d = only(check_file(write(tmp_path, text), "dev")[1], "DAGC202")
    assert "retries" in d.message


def test_an_overlay_can_make_a_scheduled_pipeline_manual(tmp_path):
    text = ONE_FILE.format(base="schedule: 1d").replace("  dev: {}", "  dev: {schedule: null}")
    dev, diags = check_file(write(tmp_path, text), "dev")
    assert diags == [] and dev.schedule is None
