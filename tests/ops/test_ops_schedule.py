"""`dagc schedule`: Snowflake's scheduling rules on the local engine, driven by an injected clock."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dagc.ops.localsched import LocalScheduler, engine_runner

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)


def _pipeline(project: Path, name: str = "tiny.yaml", **sets):
    from dagc.engine.project import load_pipeline

    return load_pipeline(project / "pipelines" / name, None, sets=sets or None)


def _sched(project, pipelines, **kw):
    return LocalScheduler(pipelines, now=T0, runner=engine_runner(project, project / "st", parallelism=1), **kw)


def test_an_interval_pipeline_runs_three_times_in_order(project):
    s = _sched(project, [_pipeline(project)])
    assert s.next_wakeup() == T0 + MIN  # interval: the first run one interval after the start, no run at once
    s.tick(T0 + 30 * timedelta(seconds=1))
    assert not s.busy()
    for k in (1, 2, 3):
        s.tick(T0 + k * MIN)
        s.wait_idle(T0 + k * MIN)
    started = [e for e in s.events if e.kind == "started"]
    finished = [e for e in s.events if e.kind == "finished"]
    assert [e.fire_time for e in started] == [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]
    assert [e.state for e in finished] == ["SUCCEEDED"] * 3
    assert [e.kind for e in s.events] == ["started", "finished"] * 3
    from dagc.engine.state import StateStore

    runs = StateStore(project / "st", readonly=True).list_runs("tiny")
    assert sorted(r.run_id for r in runs) == sorted(e.run_id for e in finished)
    stamped = [StateStore(project / "st", readonly=True).latest_attempts(e.run_id)["first"].return_value for e in finished]
    assert [t in s for t, s in zip(("08:01:00", "08:02:00", "08:03:00"), stamped)] == [True] * 3  # logical date = fire time


def test_no_catch_up_of_fire_times_missed_while_stopped_or_busy(project):
    s = _sched(project, [_pipeline(project)])
    s.tick(T0 + 10 * MIN + timedelta(seconds=5))  # nine earlier fire times passed unseen
    s.wait_idle(T0 + 11 * MIN)
    kinds = [e.kind for e in s.events]
    assert kinds == ["missed", "started", "finished"]
    assert "9 earlier fire time(s)" in s.events[0].detail
    assert s.events[1].fire_time == T0 + MIN  # the due one starts, late, once
    assert s.next_wakeup() == T0 + 11 * MIN


def test_overlap_none_skips_a_fire_time_while_the_previous_run_runs(project):
    marker = project / "go"
    extra = f'\n  slow: {{step: wait_for, params: {{marker: "{marker}", seconds: 60}}}}\n'
    text = (project / "pipelines" / "tiny.yaml").read_text().replace("finally:", extra.strip("\n") + "\nfinally:")
    (project / "pipelines" / "slow.yaml").write_text(text.replace("name: tiny", "name: slow"))
    s = _sched(project, [_pipeline(project, "slow.yaml")])
    s.tick(T0 + MIN)
    s.tick(T0 + 2 * MIN)  # still running: skipped, not queued
    marker.write_text("")
    s.wait_idle(T0 + 2 * MIN)
    s.tick(T0 + 3 * MIN)
    s.wait_idle(T0 + 3 * MIN)
    assert [(e.kind, e.fire_time) for e in s.events if e.kind != "finished"] == [
        ("started", T0 + MIN), ("skipped", T0 + 2 * MIN), ("started", T0 + 3 * MIN)]
    assert "overlap: none" in [e for e in s.events if e.kind == "skipped"][0].detail


def test_suspended_after_n_consecutive_failures(project, tmp_path):
    bad = tmp_path / "fail.txt"
    bad.write_text("\n".join((T0 + k * MIN).date().isoformat() for k in range(1, 5)))
    p = _pipeline(project, fail_file=str(bad))  # suspend_after_failures: 2 in the pipeline
    s = _sched(project, [p])
    for k in (1, 2, 3, 4):
        s.tick(T0 + k * MIN)
        s.wait_idle(T0 + k * MIN)
    assert [e.state for e in s.events if e.kind == "finished"] == ["FAILED", "FAILED"]
    assert [e.kind for e in s.events][-1] == "suspended"
    assert "2 consecutive failed runs" in s.events[-1].detail
    assert s.finished() and s.next_wakeup() is None


def test_a_success_resets_the_failure_count(project, tmp_path):
    from dagc.ops.localsched import SchedEvent  # noqa: F401 - the event type the CLI prints

    outcomes = iter(["FAILED", "SUCCEEDED", "FAILED", "SUCCEEDED"])

    class R:
        def __init__(self, state):
            self.state, self.run_id, self.first_failed_task, self.first_error = state, "r", None, None

    s = LocalScheduler([_pipeline(project)], now=T0, runner=lambda p, d: R(next(outcomes)))
    for k in (1, 2, 3, 4):
        s.tick(T0 + k * MIN)
        s.wait_idle(T0 + k * MIN)
    assert not any(e.kind == "suspended" for e in s.events)
    assert [e.state for e in s.events if e.kind == "finished"] == ["FAILED", "SUCCEEDED", "FAILED", "SUCCEEDED"]


def test_cron_pipelines_fire_at_cron_times_in_their_time_zone(project):
    (project / "pipelines" / "cron.yaml").write_text(
        (project / "pipelines" / "tiny.yaml").read_text().replace("name: tiny", "name: cron")
        .replace("schedule: 1m", 'schedule: {cron: "30 9 * * *", timezone: Europe/Berlin}'))
    s = LocalScheduler([_pipeline(project, "cron.yaml")], now=T0, runner=lambda p, d: None)
    assert s.next_wakeup() == datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)  # 09:30 CET


def test_cli_runs_an_interval_pipeline_three_times_then_stops(project):
    from ops_helpers import dagc

    # 1 minute interval, 60 scheduler seconds per real second: a run every real second
    r = dagc("schedule", str(project / "pipelines" / "tiny.yaml"), "--max-runs", "3", "--time-scale", "60",
             "--state-dir", str(project / "st"), cwd=project, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Snowflake is the scheduler" in r.stdout
    assert r.stdout.count(": started the ") == 3 and r.stdout.count(" SUCCEEDED") == 3
    assert "stopped after 3 run(s)" in r.stdout


def test_cli_stops_gracefully_on_sigterm(project):
    from ops_helpers import popen

    proc = popen("schedule", str(project / "pipelines"), "--time-scale", "60", "--state-dir", str(project / "st"),
                 cwd=project)
    deadline = time.time() + 60
    from dagc.engine.state import StateStore

    while time.time() < deadline:
        store = StateStore(project / "st", readonly=True)
        if any(r.state == "SUCCEEDED" for r in store.list_runs("tiny")):
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "SIGTERM: stopping" in out and "stopped after" in out
    runs = StateStore(project / "st", readonly=True).list_runs("tiny")
    assert runs and all(r.state == "SUCCEEDED" for r in runs)  # the run in flight finished; none left executing


def test_cli_refuses_pipelines_without_a_schedule(project):
    from ops_helpers import dagc

    text = (project / "pipelines" / "tiny.yaml").read_text().replace("schedule: 1m\n", "")
    (project / "pipelines" / "tiny.yaml").write_text(text)
    r = dagc("schedule", str(project / "pipelines" / "tiny.yaml"), cwd=project)
    assert r.returncode == 2 and "has a `schedule:`" in r.stderr and "Traceback" not in r.stderr
