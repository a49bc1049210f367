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


# -- a run's effective config on Snowflake (TASK_HISTORY / CURRENT_TASK_GRAPHS CONFIG column) ---------
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
TRAINING = str(REPO / "pipelines" / "training.yaml")


def _deployed_config():
    from dagc.frontend import load_pipeline
    from dagc.snowflake.runconfig import _flat

    return _flat(load_pipeline(TRAINING, env="prod"))


class RowsSession:
    """Answers the one runs query with recorded rows (12 columns, CONFIG last), and counts queries."""

    def __init__(self, rows):
        self.rows, self.queries = rows, []

    def sql(self, query, params=None):
        self.queries.append(query)
        rows = self.rows

        class Result:
            def collect(self):
                return rows

        return Result()


def _recorded_with_config():
    base = _deployed_config()
    over = json.dumps({**base, "gate.threshold": 0.99, "__dagc_logical_date__": "2026-11-03T00:00:00+00:00"})
    plain = json.dumps(base)
    t1, t2 = T + timedelta(days=1), T + timedelta(days=1, minutes=4)
    return [  # run 7001: scheduled, the graph's config; run 7002: EXECUTE TASK ... USING CONFIG (a backfill date)
        ("TRAINING", 7001, 1, 1, "SUCCEEDED", T, T, T + timedelta(seconds=5), None, None, None, plain),
        ("TRAINING$TRAIN", 7001, 1, 1, "SUCCEEDED", T, T, T + timedelta(minutes=3), None, "{}", None, plain),
        ("TRAINING", 7002, 1, 2, "SUCCEEDED", t1, t1, t1 + timedelta(seconds=5), None, None, None, over),
        ("TRAINING$TRAIN", 7002, 1, 2, "FAILED", t1, t1, t2, "oom", None, None, over),
        (None, 7003, 1, 3, "EXECUTING", t2, t2, None, None, None, None, plain),  # CURRENT_TASK_GRAPHS' row
    ]


def _source(rows):
    from dagc.snowflake.runs import SnowflakeRunSource

    class Named:
        def __init__(self, name, database=None):
            self.name, self.database = name, database

    session = RowsSession(rows)
    return SnowflakeRunSource(Named("PROD", Named("ML")), session, "training", base_config=_deployed_config()), session


def test_the_runs_query_reads_config_from_both_views_in_its_one_query():
    from dagc.snowflake.runs import RUNS_SQL

    first, second = RUNS_SQL.split("union all")
    assert "config" in first and "current_task_graphs" in first
    assert "config" in second and "task_history" in second
    cols = [part.split(" from ")[0].split(",") for part in (first, second)]
    assert len(cols[0]) == len(cols[1]) == 12 and cols[0][-1].strip() == cols[1][-1].strip() == "config"
    src, session = _source(_recorded_with_config())
    runs = {r.key.group_id: r for r in src.graph_runs()}
    src.task_runs(runs["7002"].key)
    assert len(session.queries) == 1  # the call count is unchanged: config came with the runs
    assert runs["7001"].config == _deployed_config() and runs["7001"].set_keys == ()
    assert runs["7002"].config["gate.threshold"] == 0.99 and runs["7002"].set_keys == ("gate.threshold",)
    assert runs["7003"].config is not None  # an executing run: CURRENT_TASK_GRAPHS' CONFIG


def test_remote_status_shows_the_effective_config_with_what_the_run_set():
    from dagc.snowflake import operate as op

    src, _ = _source(_recorded_with_config())
    lines: list[str] = []
    assert op.status("p.yaml", "7002", connection=None, env=None, source=src, pipeline_name="training",
                     out=lines.append) == 1
    text = "\n".join(lines)
    assert "config  " in text and "gate.threshold=0.99 (--set)" in text
    assert "gate.metric='test_roc_auc'" in text and "gate.metric='test_roc_auc' (--set)" not in text
    assert "logical date  2026-11-03T00:00:00+00:00" in text and "__dagc_logical_date__" not in text
    lines.clear()
    op.status("p.yaml", "7001", connection=None, env=None, source=src, pipeline_name="training", out=lines.append)
    assert "config  " in lines[0] and "(--set)" not in lines[0]
    lines.clear()
    op.status("p.yaml", "7002", connection=None, env=None, source=src, pipeline_name="training", fmt="json",
              out=lines.append)
    run = json.loads(lines[0])[0]["run"]
    assert run["config"]["gate.threshold"] == 0.99 and run["set_keys"] == ["gate.threshold"]


def test_remote_runs_json_and_table_show_what_each_run_set(capsys):
    src, _ = _source(_recorded_with_config())
    rows = {r.run: r for r in h.snowflake_rows(src, "training")}
    backfilled, scheduled = rows["7002/1"].to_json(), rows["7001/1"].to_json()
    assert backfilled["set_keys"] == ["gate.threshold"] and backfilled["config"]["gate.threshold"] == 0.99
    assert backfilled["logical_date"] == "2026-11-03T00:00:00+00:00"
    assert scheduled["set_keys"] == [] and scheduled["logical_date"] is None and scheduled["config"]
    h.render_table(list(rows.values()))
    out = capsys.readouterr().out
    assert "gate.threshold=0.99" in out and "logical date 2026-11-03" in out


def test_a_missing_or_garbled_config_column_is_no_config_not_a_crash():
    from dagc.snowflake.runs import parse_config, set_keys

    assert parse_config(None) is None and parse_config("") is None and parse_config("not json") is None
    assert parse_config("[1, 2]") is None and parse_config('{"a": 1}') == {"a": 1}
    assert set_keys({"a": 1, "b": True}, {"a": 1, "b": 1}) == ("b",)  # true is not 1
    assert set_keys({"a": 1}, None) == ()  # no deployed config to compare with: nothing marked
    old = [row[:11] for row in _recorded_with_config()]  # rows recorded before the column was read
    src, _ = _source(old)
    assert all(r.config is None for r in src.graph_runs())
    assert all(r.config is None for r in h.snowflake_rows(src, "training"))


def test_local_runs_json_has_the_config_and_what_was_set(project):
    from ops_helpers import dagc

    p, st = str(project / "pipelines" / "tiny.yaml"), str(project / "st")
    assert dagc("run", p, "--state-dir", st, "-q", "--set", "size=9").returncode == 0
    doc = json.loads(dagc("runs", "--state-dir", st, "--json").stdout)[0]
    assert doc["set_keys"] == ["size"] and doc["config"]["size"] == 9 and doc["config"]["label"] == "hello"


def test_the_cli_marks_set_values_against_the_pipelines_deployed_config(monkeypatch, capsys):
    """`dagc runs|status PIPELINE -c NAME`: the run source compares with the config dagc deploys."""
    from dagc.cli.main import main
    from dagc.frontend import load_pipeline
    from dagc.snowflake import operate as op

    src, session = _source(_recorded_with_config())
    monkeypatch.setattr(op, "_session_for", lambda path, c, env: (load_pipeline(path, env=env), session, src.schema, None))
    for argv in (["runs", TRAINING, "-c", "prod", "--env", "prod", "--json"],
                 ["status", TRAINING, "7002", "-c", "prod", "--env", "prod"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        if argv[0] == "runs":
            assert {r["run"]: r["set_keys"] for r in json.loads(out)}["7002/1"] == ["gate.threshold"]
        else:
            assert "gate.threshold=0.99 (--set)" in out and "gate.metric='test_roc_auc'," in out
