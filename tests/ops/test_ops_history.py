"""`dagc runs`: history with first error, attempts, durations and filters, local and Snowflake.

The Snowflake side reads through dagc.snowflake.operate's RunSource; here it is fed recorded rows
(graph runs as CURRENT/COMPLETE_TASK_GRAPHS report them, task outcomes as TASK_HISTORY does)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dagc.diagnostics import UsageError
from dagc.ops import history as h

UTC = timezone.utc
T = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


class Recorded:
    """A RunSource over recorded rows: three runs of training, one failed then retried."""

    def __init__(self):
        from dagc.snowflake import operate as op

        self.op = op
        self.keyed = hasattr(op, "RunKey")
        runs = [
            dict(run_id="101", state="SUCCEEDED", scheduled_time=T, completed_time=T + timedelta(minutes=12),
                 group_id="9001", attempt=1, query_start_time=T + timedelta(seconds=3)),
            dict(run_id="102", state="FAILED", scheduled_time=T + timedelta(days=1),
                 completed_time=T + timedelta(days=1, minutes=5), group_id="9002", attempt=1,
                 first_error_task="ML.PROD.TRAINING$TRAIN", first_error_message="MemoryError: out of memory",
                 query_start_time=T + timedelta(days=1, seconds=2)),
            dict(run_id="102", state="SUCCEEDED", scheduled_time=T + timedelta(days=1),
                 completed_time=T + timedelta(days=1, hours=1, minutes=9), group_id="9002", attempt=2,
                 query_start_time=T + timedelta(days=1, hours=1)),
            dict(run_id="103", state="SCHEDULED", scheduled_time=T + timedelta(days=2), group_id="9003", attempt=1),
        ]
        fields = set(op.GraphRun.__dataclass_fields__)
        self.runs = [op.GraphRun(**{k: v for k, v in r.items() if k in fields}) for r in runs]
        if not self.keyed:  # before run groups: one row per run id, the latest attempt
            self.runs = [r for r in self.runs if not (r.run_id == "102" and r.state == "FAILED")]
        tr = op.TaskOutcome
        self.tasks = {
            "9001": [tr("load_source", "SUCCEEDED", None, None, 1, T + timedelta(seconds=3), T + timedelta(minutes=1)),
                     tr("train", "SUCCEEDED", None, None, 1, T + timedelta(minutes=1), T + timedelta(minutes=11))],
            "9002/1": [tr("load_source", "SUCCEEDED", None, None, 1, None, None),
                       tr("train", "FAILED", "MemoryError: out of memory", None, 1, None, None)],
            "9002/2": [tr("load_source", "SUCCEEDED", None, None, 1, None, None),
                       tr("train", "SUCCEEDED", None, None, 2, None, None)],
        }

    def graph_runs(self):
        return list(self.runs)

    def task_runs(self, key):
        k = str(key)
        if k.endswith("/1") and k.split("/")[0] == "9001":
            k = "9001"
        if not self.keyed:
            k = {"101": "9001", "102": "9002/2"}.get(k, k)
        return list(self.tasks.get(k, []))

    def execute(self, *, retry_last=False):
        raise AssertionError("history never starts a run")


def test_snowflake_history_has_first_error_attempts_and_durations():
    rows = h.snowflake_rows(Recorded(), "training")
    by = {(r.state, r.attempt): r for r in rows}
    ok = by[("SUCCEEDED", 1)]
    assert ok.duration_s == pytest.approx(12 * 60 - 3) and ok.task_attempts == 2 and ok.target == "snowflake"
    retried = [r for r in rows if r.run.startswith("9002") or r.run == "102"]
    latest = max(retried, key=lambda r: r.attempt)
    assert latest.state == "SUCCEEDED" and latest.task_attempts == 3  # train ran twice
    if Recorded().keyed:
        failed = by[("FAILED", 1)]
        assert failed.run == "9002/1" and latest.run == "9002/2"
        assert failed.first_error_task == "train" and "out of memory" in failed.first_error
        assert failed.failed_tasks == 1
    assert rows[0].state == "SCHEDULED"  # newest first; a scheduled run has no tasks yet


def test_filters_by_state_and_date():
    rows = h.snowflake_rows(Recorded(), "training")
    assert {r.state for r in h.filtered(rows, states={"SUCCEEDED"})} == {"SUCCEEDED"}
    day2 = h.filtered(rows, since=T + timedelta(days=1), until=T + timedelta(days=2))
    assert day2 and all(r.run.startswith("9002") or r.run == "102" for r in day2)
    assert len(h.filtered(rows, limit=1)) == 1
    assert h.parse_states(["failed,cancelled", "running"]) == {"FAILED", "CANCELLED", "EXECUTING"}
    with pytest.raises(UsageError):
        h.parse_states(["DONE"])


def test_json_rows_keep_the_local_names():
    row = h.snowflake_rows(Recorded(), "training")[-1]
    doc = row.to_json()
    assert doc["run_id"] == row.run and doc["started_at"].startswith("2026-11-20T02:00:03")
    json.dumps(doc)


def test_local_runs_filters_and_json(project):
    from ops_helpers import dagc

    p = str(project / "pipelines" / "tiny.yaml")
    st = str(project / "st")
    assert dagc("run", p, "--state-dir", st, "-q").returncode == 0
    assert dagc("run", p, "--state-dir", st, "-q", "--fail-task", "check").returncode == 1
    doc = json.loads(dagc("runs", "--state-dir", st, "--json").stdout)
    assert [r["state"] for r in doc] == ["FAILED", "SUCCEEDED"]
    assert doc[0]["first_error_task"] == "check" and doc[0]["attempt"] == 1 and doc[0]["task_attempts"] >= 1
    failed = json.loads(dagc("runs", "tiny", "--state", "FAILED", "--state-dir", st, "--json").stdout)
    assert [r["state"] for r in failed] == ["FAILED"]
    assert json.loads(dagc("runs", "--since", "2999-01-01", "--state-dir", st, "--json").stdout) == []
    today = datetime.now(UTC).date().isoformat()
    assert len(json.loads(dagc("runs", "--until", today, "--since", today, "--state-dir", st, "--json").stdout)) == 2
    text = dagc("runs", "--state-dir", st).stdout
    assert "check" in text and "tiny" in text
    bad = dagc("runs", "--state", "DONE", "--state-dir", st)
    assert bad.returncode == 2 and "not a run state" in bad.stderr


def test_runs_on_snowflake_needs_the_pipeline_file(project):
    from ops_helpers import dagc

    r = dagc("runs", "-c", "prod", cwd=project)
    assert r.returncode == 2 and "need the pipeline file" in r.stderr
