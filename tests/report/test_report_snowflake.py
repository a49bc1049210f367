"""Reports of Snowflake runs, from the rows dagc.snowflake.operate reads (GraphRun / TaskOutcome).

No account is reachable here: the run source is operate's RunSource protocol answered with
recorded rows, the same seam operate's own tests use; everything after it is the real code.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

from dagc.diagnostics import DagcError
from dagc.report.build import build_report
from dagc.report.remote import run_view_from_report, short_name
from dagc.snowflake.operate import GraphRun, RunReport, TaskOutcome
from report_fixtures import PROMOTE_ERROR, TRAINING

T0 = datetime(2026, 11, 21, 2, 0, 0)
RUN_ID = "1763690400000"


class Recorded:
    """A RunSource answering with fixed rows."""

    def __init__(self, runs: list[GraphRun], tasks: dict[str, list[TaskOutcome]]) -> None:
        self.runs, self.tasks = runs, tasks

    def graph_runs(self) -> list[GraphRun]:
        return list(self.runs)

    def task_runs(self, key) -> list[TaskOutcome]:  # an operate.RunKey (group id, attempt)
        return list(self.tasks.get(key.group_id, []))

    def execute(self, *, retry_last: bool = False) -> None:  # pragma: no cover - a report never executes
        raise AssertionError("a report must not start a run")


def failed_on_snowflake() -> Recorded:
    run = GraphRun(RUN_ID, "FAILED", scheduled_time=T0, completed_time=T0 + timedelta(minutes=3),
                   first_error_task="ML.DEV.TRAINING$PROMOTE", first_error_message=PROMOTE_ERROR)
    older = GraphRun("1763604000000", "SUCCEEDED", scheduled_time=T0 - timedelta(days=1))
    rows = [TaskOutcome("load_source", "SUCCEEDED", return_value='{"rows": 20000}'),
            TaskOutcome("build_dataset", "SUCCEEDED"), TaskOutcome("train", "SUCCEEDED"),
            TaskOutcome("evaluate", "SUCCEEDED"), TaskOutcome("quality_gate", "SUCCEEDED", return_value="promote"),
            TaskOutcome("promote", "FAILED", "registry timeout", attempt=1),
            TaskOutcome("promote", "FAILED", PROMOTE_ERROR, attempt=2),
            TaskOutcome("alert_gate_failed", "SKIPPED"), TaskOutcome("summarize", "SKIPPED"),
            TaskOutcome("on_failure", "SKIPPED"), TaskOutcome("cleanup", "SUCCEEDED")]
    return Recorded([older, run], {RUN_ID: rows})


def _data(page: str) -> dict:
    return json.loads(re.search(r'id="dagc-data">(.*?)</script>', page, re.S).group(1))


def test_snowflake_run_report():
    page, summary = build_report(pipeline_path=str(TRAINING), snowflake_source=failed_on_snowflake())
    assert summary.startswith(f"run {RUN_ID} of training: FAILED")  # the newest run, not the older success
    run = _data(page)["run"]
    tasks = {t["name"]: t for t in run["tasks"]}
    assert run["source"] == "snowflake" and run["first_error_task"] == "promote"
    assert tasks["promote"]["state"] == "FAILED" and tasks["promote"]["error"] == PROMOTE_ERROR
    assert tasks["promote"]["attempts"] == 2 and [a["error"] for a in tasks["promote"]["history"]] == ["registry timeout", PROMOTE_ERROR]
    assert {tasks[n]["state"] for n in ("alert_gate_failed", "summarize", "on_failure")} == {"SKIPPED"}
    assert tasks["summarize"]["attempts"] == 0 and tasks["train"]["attempts"] == 1
    assert tasks["quality_gate"]["return_value"] == "promote"
    assert run["config"]["model_name"] == "approval_model"  # the graph config the pipeline deploys
    assert run["started_at"] is not None and run["ended_at"] - run["started_at"] == 180


def test_a_given_run_and_unknown_runs():
    source = failed_on_snowflake()
    page, _ = build_report(run_id="1763604000000", pipeline_path=str(TRAINING), snowflake_source=source)
    assert _data(page)["run"]["state"] == "SUCCEEDED"
    with pytest.raises(DagcError, match="no run 42"):
        build_report(run_id="42", pipeline_path=str(TRAINING), snowflake_source=source)
    with pytest.raises(DagcError, match="no current or recent runs"):
        build_report(pipeline_path=str(TRAINING), snowflake_source=Recorded([], {}))


def test_task_history_times_fill_the_timeline():
    rows = [TaskOutcome("a", "SUCCEEDED", query_start_time=T0, completed_time=T0 + timedelta(seconds=5)),
            TaskOutcome("b", "FAILED", "x", query_start_time=T0 + timedelta(seconds=1), completed_time=T0 + timedelta(seconds=2))]
    view = run_view_from_report(RunReport("p", GraphRun("1", "FAILED", scheduled_time=T0), rows))
    a, b = view.task("a"), view.task("b")
    assert a.duration == 5 and b.duration == 1 and a.started_at < b.started_at < a.ended_at


def test_short_names():
    assert short_name("ML.DEV.TRAINING$PROMOTE") == "promote"
    assert short_name('"Mixed$Case_Task"') == "Case_Task"
    assert short_name("load") == "load"


def test_unknown_connection_is_a_clean_error(tmp_path, monkeypatch, capsys):
    from dagc.cli.main import main

    for var in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_DEFAULT_CONNECTION_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        main(["report", "--pipeline", str(TRAINING), "--connection", "nope", "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "no Snowflake connection named 'nope'" in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
