"""Alerts reach people: an email notification integration sends SNOWFLAKE.NOTIFICATION.INTEGRATION(...)
to its DEFAULT_RECIPIENTS only, so the documented integration sets them and the shipped SQL alert
names its recipients with EMAIL_INTEGRATION_CONFIG (which the local engine understands too)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.snowflake.sfixtures import PIPELINES, ROOT


def test_the_documented_email_integration_has_default_recipients() -> None:
    text = (ROOT / "docs" / "snowflake.md").read_text()
    create = re.search(r"CREATE NOTIFICATION INTEGRATION[^;]*;", text, re.S)
    assert create is not None
    assert "TYPE = EMAIL" in create.group(0) and re.search(r"DEFAULT_RECIPIENTS = \('[^']+@[^']+'", create.group(0))


def test_shipped_sql_alerts_name_their_recipients() -> None:
    from dagc.frontend import load_pipeline

    found = 0
    for path in PIPELINES:
        for env in ("dev", "prod"):
            p = load_pipeline(path, env=env)
            for t in p.all_tasks():
                sql = t.sql or ""
                if "SEND_SNOWFLAKE_NOTIFICATION" not in sql.upper():
                    continue
                found += 1
                assert "NOTIFICATION.INTEGRATION(" not in sql.upper().replace(" ", ""), (path.name, t.name)
                m = re.search(r"EMAIL_INTEGRATION_CONFIG\(\s*'(\w+)',\s*'[^']+',\s*ARRAY_CONSTRUCT\('([^']+@[^']+)'\)", sql)
                assert m is not None, (path.name, t.name, sql)
    assert found >= 2  # training's on_failure, in both environments


def test_the_local_engine_sends_an_email_integration_config_alert(tmp_path: Path) -> None:
    from dagc.engine.api import run_pipeline
    from dagc.engine.notify import read_notifications
    from dagc.frontend import load_pipeline

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    f = tmp_path / "alerting.yaml"
    f.write_text(
        "name: alerting\n"
        "tasks:\n"
        "  bad:\n"
        "    sql: CALL SYSTEM$NO_SUCH_PROCEDURE()\n"
        "  on_failure:\n"
        "    after: [bad]\n"
        "    when: at_least_one_failed\n"
        "    sql: >-\n"
        "      CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(\n"
        "        SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('it failed'),\n"
        "        SNOWFLAKE.NOTIFICATION.EMAIL_INTEGRATION_CONFIG('ML_ALERTS', 'dagc: alerting failed',\n"
        "          ARRAY_CONSTRUCT('ml-team@example.com')))\n")
    p = load_pipeline(f)
    result = run_pipeline(p, project_root=tmp_path, state_dir=tmp_path / ".dagc")
    assert result.tasks["on_failure"].state == "SUCCEEDED", result.tasks["on_failure"].error
    notes = {n["task"]: n for n in read_notifications(tmp_path / ".dagc")}
    assert notes["on_failure"]["integration"] == "ML_ALERTS"
    assert notes["on_failure"]["subject"] == "dagc: alerting failed" and notes["on_failure"]["message"] == "it failed"
