"""trigger --wait follows the run it started (not the latest) to its final attempt, with timeout and
backoff; status and retry read recorded run rows; runs are keyed by GRAPH_RUN_GROUP_ID + ATTEMPT_NUMBER."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dagc.diagnostics import DagcError
from dagc.snowflake import operate as op
from dagc.snowflake.operate import GraphRun, HistoryRow, RunKey, TaskOutcome

T0 = datetime(2026, 11, 21, 2, 0, 0)


class Recorded:
    """Scripted Snowflake answers: poll i returns frames[min(i, last)]."""

    def __init__(self, frames: list[list[GraphRun]], tasks: dict[str, list[list[TaskOutcome]]] | None = None) -> None:
        self.frames = frames
        self.tasks = tasks or {}
        self.polls = 0
        self.task_polls: dict[str, int] = {}
        self.executed: list[bool] = []

    def graph_runs(self) -> list[GraphRun]:
        frame = self.frames[min(self.polls, len(self.frames) - 1)]
        self.polls += 1
        return list(frame)

    def task_runs(self, key: RunKey) -> list[TaskOutcome]:
        run_id = key.group_id if key.attempt == 1 else str(key)
        seq = self.tasks.get(run_id, [[]])
        i = self.task_polls.get(run_id, 0)
        self.task_polls[run_id] = i + 1
        return list(seq[min(i, len(seq) - 1)])

    def execute(self, *, retry_last: bool = False) -> None:
        self.executed.append(retry_last)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def run(rid: str, state: str, minutes: int = 0, **kw) -> GraphRun:
    return GraphRun(rid, state, scheduled_time=T0 + timedelta(minutes=minutes), **kw)


def attempt(group: str, n: int, state: str, minutes: int = 0, **kw) -> GraphRun:
    """Attempt n of run group `group`: Snowflake keeps the run id (and scheduled time) across attempts."""
    return GraphRun(group, state, scheduled_time=T0 + timedelta(minutes=minutes), group_id=group, attempt=n, **kw)


def test_trigger_wait_follows_the_run_it_started_not_the_latest() -> None:
    older = run("100", "EXECUTING", 0)  # a scheduled run already going
    nxt = run("900", "SCHEDULED", 60)
    ours = "500"
    later = run("600", "EXECUTING", 31)  # someone else triggers after us: the newest run, not ours
    frames = [
        [older, nxt],  # snapshot before EXECUTE TASK
        [older, nxt],  # ours not visible yet
        [older, nxt, run(ours, "EXECUTING", 30), later],
        [run("100", "SUCCEEDED", 0), nxt, run(ours, "EXECUTING", 30), later],
        [run("100", "SUCCEEDED", 0), nxt, run(ours, "FAILED", 30, first_error_task="TRAINING$TRAIN",
                                                   first_error_message="boom"), run("600", "SUCCEEDED", 31)],
    ]
    tasks = {ours: [
        [TaskOutcome("load_source", "SUCCEEDED")],
        [TaskOutcome("load_source", "SUCCEEDED"), TaskOutcome("train", "EXECUTING")],
        [TaskOutcome("load_source", "SUCCEEDED"), TaskOutcome("train", "FAILED", "boom"), TaskOutcome("cleanup", "SUCCEEDED")],
    ]}
    src = Recorded(frames, tasks)
    clock = FakeClock()
    seen: list[str] = []
    rep = op.trigger(src, pipeline="training", wait=True, timeout=600, on_task=lambda t: seen.append(f"{t.task}:{t.state}"),
                     clock=clock, sleep=clock.sleep)
    assert src.executed == [False]
    assert rep is not None and rep.run.key == RunKey(ours, 1) and rep.run.state == "FAILED"
    assert seen == ["load_source:SUCCEEDED", "train:FAILED", "cleanup:SUCCEEDED"]  # each once, as it lands
    assert rep.first_failure().task == "train"
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[-1] > clock.sleeps[0]  # backoff


def test_trigger_wait_times_out_with_a_clear_message() -> None:
    src = Recorded([[run("1", "SCHEDULED", 60)], [run("1", "SCHEDULED", 60), run("2", "EXECUTING", 0)]])
    clock = FakeClock()
    with pytest.raises(DagcError) as err:
        op.trigger(src, pipeline="training", wait=True, timeout=30, clock=clock, sleep=clock.sleep, max_delay=5)
    assert "timed out after 30 s" in err.value.message and "run 2/1 is still EXECUTING" in err.value.message
    assert err.value.exit_code == 3
    assert clock.now <= 30.0 + 1e-9  # never sleeps past the deadline


def test_retry_follows_the_next_attempt_of_the_same_run_group() -> None:
    failed = attempt("500", 1, "FAILED", 0, completed_time=T0 + timedelta(minutes=5))
    frames = [
        [failed],  # before RETRY LAST
        [failed],  # still the old failure: must not be mistaken for the result
        [failed, attempt("500", 2, "EXECUTING", 0)],
        # row order must not matter: the same run id, two attempts
        [attempt("500", 2, "SUCCEEDED", 0, completed_time=T0 + timedelta(minutes=20)), failed],
    ]
    src = Recorded(frames, {"500/2": [[TaskOutcome("train", "SUCCEEDED", attempt=2)]]})
    clock = FakeClock()
    lines: list[str] = []
    code = op.retry("pipelines/training.yaml", connection=None, env=None, wait=True, timeout=600, source=src,
                    pipeline_name="training", out=lines.append, clock=clock, sleep=clock.sleep)
    assert src.executed == [True]
    assert code == 0 and lines[-1] == "run 500/2  pipeline training (snowflake)\nstate SUCCEEDED"
    assert any("train" in l and "SUCCEEDED" in l and "attempt 2" in l for l in lines)


def test_retry_accepts_a_cancelled_run_older_than_an_hour_and_refuses_a_success_or_a_running_graph() -> None:
    old_cancel = attempt("700", 1, "CANCELLED", 0, completed_time=T0 - timedelta(days=3))
    src = Recorded([[old_cancel], [old_cancel, attempt("700", 2, "SUCCEEDED", completed_time=T0)]])
    clock = FakeClock()
    assert op.retry("p.yaml", connection=None, env=None, wait=True, timeout=60, source=src, pipeline_name="training",
                    out=lambda s: None, clock=clock, sleep=clock.sleep) == 0
    assert src.executed == [True]
    busy = Recorded([[old_cancel, attempt("701", 1, "EXECUTING", 10)]])
    with pytest.raises(DagcError, match="701/1 is executing"):
        op.retry("p.yaml", connection=None, env=None, source=busy, pipeline_name="training", out=lambda s: None)
    assert busy.executed == []


def test_trigger_wait_waits_for_the_automatic_retry_of_a_failed_attempt() -> None:
    before = [run("900", "SCHEDULED", 60)]
    frames = [before, before + [attempt("42", 1, "EXECUTING", 30)],
              before + [attempt("42", 1, "FAILED", 30, completed_time=T0 + timedelta(minutes=31))],
              before + [attempt("42", 1, "FAILED", 30, completed_time=T0 + timedelta(minutes=31))],
              before + [attempt("42", 1, "FAILED", 30), attempt("42", 2, "EXECUTING", 30)],
              before + [attempt("42", 1, "FAILED", 30), attempt("42", 2, "SUCCEEDED", 30)]]
    src = Recorded(frames)
    clock = FakeClock()
    rep = op.trigger(src, pipeline="training", wait=True, timeout=600, retries=1, clock=clock, sleep=clock.sleep)
    assert rep is not None and rep.run.key == RunKey("42", 2) and rep.run.state == "SUCCEEDED"
    # without retries the first failure is final
    src = Recorded(frames)
    rep = op.trigger(src, pipeline="training", wait=True, timeout=600, clock=clock, sleep=clock.sleep)
    assert rep is not None and rep.run.key == RunKey("42", 1) and rep.run.state == "FAILED"
    # with retries, but Snowflake never starts another attempt: give up after the grace period
    src = Recorded(frames[:4])
    rep = op.trigger(src, pipeline="training", wait=True, timeout=600, retries=1, retry_grace=30, clock=clock,
                     sleep=clock.sleep)
    assert rep is not None and rep.run.key == RunKey("42", 1) and rep.run.state == "FAILED"


def test_retry_refuses_when_the_last_run_did_not_fail() -> None:
    src = Recorded([[run("1", "FAILED", 0, completed_time=T0), run("2", "SUCCEEDED", 10, completed_time=T0 + timedelta(minutes=11))]])
    with pytest.raises(DagcError, match="did not fail"):
        op.retry("p.yaml", connection=None, env=None, source=src, pipeline_name="training", out=lambda s: None)
    assert src.executed == []


def test_status_of_a_scheduled_graph_exits_1_when_its_latest_run_failed() -> None:
    src = Recorded([[run("9", "SCHEDULED", 24 * 60), run("2", "FAILED", 0, completed_time=T0 + timedelta(minutes=3)),
                     run("1", "SUCCEEDED", -24 * 60)]])
    lines: list[str] = []
    assert op.status("p.yaml", None, connection=None, env=None, source=src, pipeline_name="training", out=lines.append) == 1
    ok = Recorded([[run("9", "SCHEDULED", 24 * 60), run("2", "SUCCEEDED", 0), run("1", "FAILED", -24 * 60)]])
    assert op.status("p.yaml", None, connection=None, env=None, source=ok, pipeline_name="training", out=lines.append) == 0


def test_status_shows_runs_task_states_and_the_first_failure() -> None:
    src = Recorded(
        [[run("1", "SUCCEEDED", 0), run("2", "FAILED", 10, first_error_task="TRAINING$EVALUATE",
                                           first_error_message="metric missing")]],
        {"2": [[TaskOutcome("load_source", "SUCCEEDED"), TaskOutcome("evaluate", "FAILED", "metric missing\ntrace"),
                TaskOutcome("promote", "SKIPPED")]], "1": [[TaskOutcome("load_source", "SUCCEEDED")]]},
    )
    lines: list[str] = []
    code = op.status("p.yaml", None, connection=None, env=None, source=src, pipeline_name="training", out=lines.append)
    text = "\n".join(lines)
    assert code == 1  # the newest run failed
    assert text.index("run 2/1  pipeline training") < text.index("run 1/1  pipeline training")
    assert "state FAILED" in text and "state SUCCEEDED" in text
    assert "first failed task: evaluate: metric missing" in text
    assert "resume with: dagc retry" in text
    assert any(l.split()[:2] == ["promote", "SKIPPED"] for l in text.splitlines())
    lines.clear()
    assert op.status("p.yaml", "1", connection=None, env=None, source=src, pipeline_name="training", out=lines.append) == 0
    with pytest.raises(DagcError, match="no run 7"):
        op.status("p.yaml", "7", connection=None, env=None, source=src, pipeline_name="training", out=lines.append)


def test_status_json_is_machine_readable() -> None:
    import json

    src = Recorded([[run("2", "FAILED", 10, first_error_task="TRAINING$TRAIN", first_error_message="x")]])
    lines: list[str] = []
    op.status("p.yaml", None, connection=None, env=None, fmt="json", source=src, pipeline_name="training", out=lines.append)
    data = json.loads(lines[0])
    assert data[0]["run"]["run_id"] == "2" and data[0]["run"]["key"] == "2/1" and data[0]["first_failure"]["task"] == "train"


def test_graph_run_from_dagv1_style_rows() -> None:
    class Row:
        run_id = 1732154400000
        state = "executing"
        scheduled_time = T0
        first_error_task_name = None
        first_error_message = None

    g = op.graph_run_from(Row())
    assert g.run_id == "1732154400000" and g.state == "EXECUTING"
    assert op.short_name("ML.PROD.TRAINING$LOAD_SOURCE") == "load_source"


def history(name, group, attempt_no, state, minute, **kw) -> HistoryRow:
    return HistoryRow(group_id=group, attempt=attempt_no, run_id="1763690400000", state=state, name=name,
                      scheduled_time=T0, query_start_time=T0 + timedelta(minutes=minute),
                      completed_time=None if state == "EXECUTING" else T0 + timedelta(minutes=minute + 1), **kw)


def test_assemble_keys_runs_by_group_and_attempt_and_carries_successes_into_the_retry() -> None:
    rows = [
        history("TRAINING", "77", 1, "SUCCEEDED", 0),
        history("TRAINING$LOAD", "77", 1, "SUCCEEDED", 1),
        history("TRAINING$TRAIN", "77", 1, "FAILED", 2, error="oom"),
        history("TRAINING$TRAIN", "77", 2, "SUCCEEDED", 30),  # RETRY LAST: same run id, attempt 2
        HistoryRow(group_id="88", attempt=1, run_id="1763776800000", state="SCHEDULED"),  # next scheduled
    ]
    runs, tasks = op.assemble(rows, "TRAINING")
    by_key = {r.key: r for r in runs}
    assert set(by_key) == {RunKey("77", 1), RunKey("77", 2), RunKey("88", 1)}
    assert by_key[RunKey("77", 1)].state == "FAILED" and by_key[RunKey("77", 1)].first_error_message == "oom"
    assert by_key[RunKey("77", 2)].state == "SUCCEEDED"
    assert by_key[RunKey("88", 1)].state == "SCHEDULED"
    assert {(t.task, t.state, t.attempt) for t in tasks[RunKey("77", 2)]} == {("load", "SUCCEEDED", 1),
                                                                             ("train", "SUCCEEDED", 2)}
    assert op.last_completed(runs).key == RunKey("77", 2)
    assert op.retryable(runs) is None  # the last attempt succeeded


class RowsSession:
    """A Snowpark session that answers the one runs query with fixed rows, and records it."""

    def __init__(self, rows) -> None:
        self.rows, self.queries = rows, []

    def sql(self, query, params=None):
        self.queries.append((query, params))
        rows = self.rows

        class Result:
            def collect(self):
                return rows

        return Result()


def test_the_run_source_filters_on_identifiers_as_snowflake_stores_them() -> None:
    class Named:
        def __init__(self, name, database=None):
            self.name, self.database = name, database

    schema = Named("prod", Named("ml"))  # from a lower-case stage: @ml.prod.dagc_stage
    session = RowsSession([(None, 5, 1, 5, "EXECUTING", T0, T0, None, None, None, None),
                           ("TRAINING$LOAD", 5, 1, 5, "SUCCEEDED", T0, T0, T0, None, "ok", None)])
    src = op.SnowflakeRunSource(schema, session, "training")
    runs = src.graph_runs()
    assert [(str(r.key), r.state) for r in runs] == [("5/1", "EXECUTING")]
    assert [t.task for t in src.task_runs(RunKey("5", 1))] == ["load"]
    assert len(session.queries) == 1  # one query for the runs and their tasks
    query, params = session.queries[0]
    assert params == ["TRAINING", "ML", "PROD", "ML", "PROD", "TRAINING", "TRAINING$"]
    assert "ml.information_schema.task_history" in query and "current_task_graphs" in query
    assert "complete_task_graphs" not in query


def test_status_offers_retry_only_for_the_last_completed_run() -> None:
    src = Recorded([[run("3", "SUCCEEDED", 20, completed_time=T0 + timedelta(minutes=21)),
                     run("2", "FAILED", 0, completed_time=T0 + timedelta(minutes=3))]])
    lines: list[str] = []
    assert op.status("p.yaml", None, connection=None, env=None, source=src, pipeline_name="training", out=lines.append) == 0
    assert "resume with: dagc retry" not in "\n".join(lines)  # run 2 failed, but 3 came after it
    src = Recorded([[run("2", "CANCELLED", 0, completed_time=T0 + timedelta(minutes=3))]])
    lines.clear()
    assert op.status("p.yaml", None, connection=None, env=None, source=src, pipeline_name="training", out=lines.append) == 1
    assert "resume with: dagc retry" in "\n".join(lines)


def test_retry_after_a_deploy_changed_the_graph_says_why_snowflake_refused() -> None:
    pytest.importorskip("snowflake.core")
    from snowflake.core.task import Task

    from tests.snowflake.standin import StrictSchema

    schema = StrictSchema()
    schema.tasks.create(Task("TRAINING", "select 1"))
    schema.finish_run("TRAINING", "FAILED")
    schema.tasks["TRAINING"].create_or_alter(Task("TRAINING", "select 2"))  # a deploy after the failure

    class Source(Recorded):
        def execute(self, *, retry_last: bool = False) -> None:
            schema.tasks["TRAINING"].execute(retry_last=retry_last)

    src = Source([[run("1", "FAILED", 0, completed_time=T0)]])
    with pytest.raises(DagcError) as err:
        op.retry("p.yaml", connection=None, env=None, source=src, pipeline_name="training", out=lambda s: None)
    assert "modified since its last run" in err.value.message and "dagc trigger" in (err.value.hint or "")


def test_run_keys_parse_and_a_bad_one_is_a_clear_error() -> None:
    assert RunKey.parse("1763690400000/2") == ("1763690400000", 2) and RunKey.parse("17") == ("17", None)
    assert str(RunKey("17", 3)) == "17/3" and RunKey("17", 3).next() == RunKey("17", 4)
    with pytest.raises(DagcError, match="expected GROUP or GROUP/ATTEMPT"):
        RunKey.parse("17/latest")
    src = Recorded([[attempt("17", 1, "FAILED"), attempt("17", 2, "SUCCEEDED")]])
    reps = op.status_reports(src, pipeline="training", run_id="17")
    assert [r.run.key for r in reps] == [RunKey("17", 2)]  # a bare group: its latest attempt
    assert op.status_reports(src, pipeline="training", run_id="17/1")[0].run.state == "FAILED"
