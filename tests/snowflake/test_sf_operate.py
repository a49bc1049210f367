"""trigger --wait follows the run it started (not the latest), with timeout and backoff; status and
retry read recorded run rows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dagc.diagnostics import DagcError
from dagc.snowflake import operate as op
from dagc.snowflake.operate import GraphRun, TaskOutcome

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

    def task_runs(self, run_id: str) -> list[TaskOutcome]:
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
    assert rep is not None and rep.run.run_id == ours and rep.run.state == "FAILED"
    assert seen == ["load_source:SUCCEEDED", "train:FAILED", "cleanup:SUCCEEDED"]  # each once, as it lands
    assert rep.first_failure().task == "train"
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[-1] > clock.sleeps[0]  # backoff


def test_trigger_wait_times_out_with_a_clear_message() -> None:
    src = Recorded([[run("1", "SCHEDULED", 60)], [run("1", "SCHEDULED", 60), run("2", "EXECUTING", 0)]])
    clock = FakeClock()
    with pytest.raises(DagcError) as err:
        op.trigger(src, pipeline="training", wait=True, timeout=30, clock=clock, sleep=clock.sleep, max_delay=5)
    assert "timed out after 30 s" in err.value.message and "run 2 is still EXECUTING" in err.value.message
    assert err.value.exit_code == 3
    assert clock.now <= 30.0 + 1e-9  # never sleeps past the deadline


def test_retry_follows_the_same_run_until_it_completes_again() -> None:
    failed = run("500", "FAILED", 0, completed_time=T0 + timedelta(minutes=5))
    frames = [
        [failed],  # before RETRY LAST
        [failed],  # still the old failure: must not be mistaken for the result
        [run("500", "EXECUTING", 0)],
        [run("500", "SUCCEEDED", 0, completed_time=T0 + timedelta(minutes=20))],
    ]
    src = Recorded(frames, {"500": [[TaskOutcome("train", "SUCCEEDED", attempt=2)]]})
    clock = FakeClock()
    lines: list[str] = []
    code = op.retry("pipelines/training.yaml", connection=None, env=None, wait=True, timeout=600, source=src,
                    pipeline_name="training", out=lines.append, clock=clock, sleep=clock.sleep)
    assert src.executed == [True]
    assert code == 0 and lines[-1] == "run 500  pipeline training (snowflake)\nstate SUCCEEDED"
    assert any("train" in l and "SUCCEEDED" in l and "attempt 2" in l for l in lines)


def test_retry_refuses_when_the_last_run_did_not_fail() -> None:
    src = Recorded([[run("1", "FAILED", 0, completed_time=T0), run("2", "SUCCEEDED", 10, completed_time=T0 + timedelta(minutes=11))]])
    with pytest.raises(DagcError, match="did not fail"):
        op.retry("p.yaml", connection=None, env=None, source=src, pipeline_name="training", out=lambda s: None)
    assert src.executed == []


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
    assert text.index("run 2  pipeline training") < text.index("run 1  pipeline training")
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
    assert data[0]["run"]["run_id"] == "2" and data[0]["first_failure"]["task"] == "train"


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
