"""Alerts reach people: an email notification integration sends SNOWFLAKE.NOTIFICATION.INTEGRATION(...)
to its DEFAULT_RECIPIENTS only, so the documented integration sets them and the shipped SQL alert
names its recipients with EMAIL_INTEGRATION_CONFIG (which the local engine understands too)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    assert notes["on_failure"]["recipients"] == ["ml-team@example.com"]


# -- ctx.notify(..., recipients=) ------------------------------------------------------------------------
class _Sent:
    """A Snowpark session as SnowflakeBackend.notify uses it: `sql(text).collect()`; keeps the text."""

    def __init__(self) -> None:
        self.sql_text: list[str] = []

    def sql(self, text: str) -> "_Sent":
        self.sql_text.append(text)
        return self

    def collect(self) -> list[Any]:
        return []


def _email_config_args(sql: str) -> list[Any]:
    """The arguments of EMAIL_INTEGRATION_CONFIG in `sql`, as Snowflake's SQL parser (sqlglot) reads them."""
    import sqlglot
    from sqlglot import exp

    head = "call system$send_snowflake_notification("
    assert sql.lower().startswith(head) and sql.endswith(")")
    tree = sqlglot.parse_one("SELECT " + sql[len(head):-1], read="snowflake")  # sqlglot parses no CALL
    fn = next(f for f in tree.find_all(exp.Anonymous) if str(f.name).upper() == "EMAIL_INTEGRATION_CONFIG")
    out: list[Any] = []
    for a in fn.expressions:
        out.append([e.this for e in a.expressions] if isinstance(a, exp.Array) else a.this)
    return out


def test_ctx_notify_on_snowflake_sends_subject_and_recipients_through_email_integration_config(tmp_path: Path) -> None:
    """INTEGRATION(...) would send to the integration's default recipients with its default subject;
    with recipients= dagc sends EMAIL_INTEGRATION_CONFIG(integration, subject, ARRAY_CONSTRUCT(to...)),
    every value a quoted, escaped literal, and the local engine reads that very CALL the same way."""
    from dagc.engine.notify import read_notifications
    from dagc.engine.sqlemu import SqlRunner
    from dagc.snowflake.backend import SnowflakeBackend

    session = _Sent()
    subject = "dagc: model 'o\\brien' failed"
    SnowflakeBackend(session, default_integration="ML_ALERTS").notify(
        subject, "AUC 0.61 < 0.70; it's below", recipients="ml-team@example.com, o'neil@example.com")
    (sql,) = session.sql_text
    assert "EMAIL_INTEGRATION_CONFIG(" in sql.upper() and "NOTIFICATION.INTEGRATION(" not in sql.upper()
    assert _email_config_args(sql) == ["ML_ALERTS", subject, ["ml-team@example.com", "o'neil@example.com"]]
    with SqlRunner(tmp_path, {"pipeline": "p", "task": "t"}) as runner:
        runner.run_script(sql)
    (note,) = read_notifications(tmp_path)
    assert note["subject"] == subject and note["message"] == "AUC 0.61 < 0.70; it's below"
    assert note["integration"] == "ML_ALERTS" and note["recipients"] == ["ml-team@example.com", "o'neil@example.com"]


def test_ctx_notify_on_snowflake_without_recipients_keeps_the_subject_in_the_body() -> None:
    from dagc.snowflake.backend import SnowflakeBackend

    session = _Sent()
    SnowflakeBackend(session, default_integration="ML_ALERTS").notify("gate failed", "auc low")
    (sql,) = session.sql_text
    assert "snowflake.notification.integration('ML_ALERTS')" in sql and "gate failed\n\nauc low" in sql
    long = _Sent()
    SnowflakeBackend(long).notify("x" * 300, "m", integration="I", recipients=["a@example.com"])
    assert _email_config_args(long.sql_text[0])[1] == "x" * 256  # Snowflake refuses a longer subject


def test_the_local_engine_records_ctx_notify_recipients(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from dagc.engine.backend import LocalBackend
    from dagc.engine.notify import read_notifications
    from dagc.runtime.context import StepContext

    backend = LocalBackend(tmp_path, pipeline="p", task="t", run_id="r1")
    ctx = StepContext("p", "t", "r1", datetime.now(timezone.utc), {}, {}, {}, backend)
    ctx.notify("gate failed", "auc low", integration="ML_ALERTS", recipients="a@example.com,b@example.com")
    ctx.notify("plain", "no recipients", integration="ML_ALERTS")
    first, second = read_notifications(tmp_path)
    assert first["recipients"] == ["a@example.com", "b@example.com"] and first["subject"] == "gate failed"
    assert "recipients" not in second


def test_shipped_python_alerts_name_their_recipients() -> None:
    """Every ctx.notify call in steps/ passes recipients=, and each pipeline that runs one has them in config."""
    import ast

    from dagc.frontend import load_pipeline

    calls = 0
    for path in sorted((ROOT / "steps").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "notify":
                calls += 1
                assert "recipients" in {k.arg for k in node.keywords}, (path.name, node.lineno)
    assert calls >= 2  # the training gate's and inference's drift alert
    for name in ("training", "inference"):
        for env in ("dev", "prod"):
            p = load_pipeline(ROOT / "pipelines" / f"{name}.yaml", env=env)
            assert "@" in str(dict(p.config).get("alert_recipients", "")), (name, env)
