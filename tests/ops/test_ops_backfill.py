"""`dagc backfill`: logical dates, the ledger, resume, Ctrl-C, and the Snowflake target."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from dagc.diagnostics import UsageError
from dagc.ops.dates import logical_dates

UTC = timezone.utc


def test_dates_by_every_and_by_schedule():
    from dagc.ir import Cron, Interval

    d = logical_dates("2026-11-01", "2026-11-30", every="1d", schedule=None)
    assert len(d) == 30 and d[0] == datetime(2026, 11, 1, tzinfo=UTC) and d[-1] == datetime(2026, 11, 30, tzinfo=UTC)
    d = logical_dates("2026-11-01", "2026-11-03", every=None, schedule=Cron("0 2 * * *", "UTC"))
    assert d == [datetime(2026, 11, day, 2, tzinfo=UTC) for day in (1, 2, 3)]
    d = logical_dates("2026-11-01", "2026-11-01", every=None, schedule=Cron("0 2 * * *", "Europe/Berlin"))
    assert d == [datetime(2026, 11, 1, 1, tzinfo=UTC)]  # 02:00 in Berlin (CET) is 01:00 UTC
    d = logical_dates("2026-11-01T00:00:00Z", "2026-11-01T02:00:00Z", every=None, schedule=Interval(3600, "1h"))
    assert d == [datetime(2026, 11, 1, h, tzinfo=UTC) for h in (0, 1, 2)]


@pytest.mark.parametrize("args, message", [
    (("2026-11-30", "2026-11-01", "1d"), "is before --from"),
    (("yesterday", "2026-11-01", "1d"), "is not a date"),
    (("2026-11-01", "2026-11-02", "1 fortnight"), "is not a period"),
    (("2026-11-01", "2026-11-02", None), "has no schedule"),
    (("2000-01-01", "2030-01-01", "1m"), "more than 10,000 runs"),
])
def test_bad_date_ranges_are_usage_errors(args, message):
    with pytest.raises(UsageError) as err:
        logical_dates(args[0], args[1], every=args[2], schedule=None)
    assert message in err.value.message


def _ledger(state: Path) -> dict[str, tuple[str, int]]:
    import contextlib

    with contextlib.closing(sqlite3.connect(state / "state.db", timeout=5)) as c:
        return {d[:10]: (s, n) for d, s, n in c.execute("SELECT logical_date, state, tries FROM backfill_dates")}


def _poll(state: Path) -> dict[str, tuple[str, int]]:
    """The ledger while a backfill starts: empty until its table exists."""
    try:
        return _ledger(state) if (state / "state.db").exists() else {}
    except sqlite3.OperationalError:
        return {}


def test_local_backfill_gives_each_run_its_date_and_resumes_failed_dates(project):
    from ops_helpers import dagc

    state = project / "st"
    fail_file = project / "fail.txt"
    fail_file.write_text("2026-11-02\n2026-11-04\n")
    args = ["backfill", str(project / "pipelines" / "tiny.yaml"), "--from", "2026-11-01", "--to", "2026-11-05",
            "--every", "1d", "--state-dir", str(state), "--set", f"fail_file={fail_file}"]
    r = dagc(*args)
    assert r.returncode == 1, r.stderr
    assert "5 date(s): 2 failed, 3 succeeded" in r.stdout
    assert "planned failure for 2026-11-02" in r.stdout
    assert _ledger(state) == {"2026-11-01": ("SUCCEEDED", 1), "2026-11-02": ("FAILED", 1), "2026-11-03": ("SUCCEEDED", 1),
                              "2026-11-04": ("FAILED", 1), "2026-11-05": ("SUCCEEDED", 1)}
    fail_file.write_text("")  # "fixed": the same command again runs only the failed dates
    r = dagc(*args, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [d[:10] for d in doc["skipped"]] == ["2026-11-01", "2026-11-03", "2026-11-05"]
    assert _ledger(state)["2026-11-02"] == ("SUCCEEDED", 2) and _ledger(state)["2026-11-01"] == ("SUCCEEDED", 1)
    # every run saw its own logical date; the --set value is in its config
    from dagc.engine.state import StateStore

    store = StateStore(state, readonly=True)
    seen = {}
    for run in store.list_runs("tiny", limit=50):
        if run.state != "SUCCEEDED":
            continue
        first = json.loads(store.latest_attempts(run.run_id)["first"].return_value)
        seen[first["logical_date"][:10]] = first
        assert first["config"]["fail_file"] == str(fail_file)
        assert not first["scheduled_at"].startswith(first["logical_date"][:10])  # scheduled_at stays the real time
    assert sorted(seen) == [f"2026-11-0{i}" for i in range(1, 6)]
    assert seen["2026-11-03"]["logical_date"] == "2026-11-03T00:00:00+00:00"


def test_ctrl_c_stops_cleanly_and_the_next_invocation_resumes(project):
    from ops_helpers import dagc, popen

    marker = project / "go"
    (project / "pipelines" / "slow.yaml").write_text(f"""
name: slow
tasks:
  work: {{step: wait_for, params: {{marker: "{marker}", seconds: 60}}}}
finally:
  done: {{step: stamp}}
""")
    state = project / "st"
    args = ["backfill", str(project / "pipelines" / "slow.yaml"), "--from", "2026-11-01", "--to", "2026-11-04",
            "--every", "1d", "--state-dir", str(state)]
    marker.write_text("")  # the first date runs straight through
    proc = popen(*args)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for date 1 to succeed, then hold date 2 in flight
        led = _poll(state)
        if led.get("2026-11-01", ("",))[0] == "SUCCEEDED":
            marker.unlink()
            break
        time.sleep(0.05)
    while time.time() < deadline:
        led = _poll(state)
        if led.get("2026-11-02", ("",))[0] == "RUNNING" and not marker.exists():
            break
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "interrupted: run the same command again to resume" in out
    led = _ledger(state)
    assert led["2026-11-01"][0] == "SUCCEEDED" and led["2026-11-02"][0] == "INTERRUPTED"
    assert led["2026-11-03"][0] == "PENDING" and led["2026-11-04"][0] == "PENDING"
    from dagc.engine.state import StateStore

    runs = StateStore(state, readonly=True).list_runs("slow")
    assert [r.state for r in runs] == ["CANCELLED", "SUCCEEDED"]  # history kept; the finalizer ran
    marker.write_text("")
    r = dagc(*args)
    assert r.returncode == 0, r.stderr
    assert "skipped: succeeded before" in r.stdout
    assert {k: v[0] for k, v in _ledger(state).items()} == {f"2026-11-0{i}": "SUCCEEDED" for i in range(1, 5)}
    assert _ledger(state)["2026-11-02"][1] == 2


def test_overlap_none_runs_one_at_a_time_whatever_max_concurrent(tmp_path):
    from ops_helpers import dagc, make_project

    for overlap, expect in (("none", "1 at a time (overlap: none"), ("all", "2 at a time")):
        proj = make_project(tmp_path / overlap, overlap=overlap)
        r = dagc("backfill", str(proj / "pipelines" / "tiny.yaml"), "--from", "2026-11-01", "--to", "2026-11-02",
                 "--every", "1d", "--max-concurrent", "2", "--state-dir", str(proj / "st"))
        assert r.returncode == 0, r.stderr
        assert expect in r.stdout
        assert "2 date(s): 2 succeeded" in r.stdout


# -- Snowflake: EXECUTE TASK ... USING CONFIG with the logical date, each run followed ----------------
class Snowflake:
    """A stand-in for the deployed graph: EXECUTE TASK creates a run that completes after `polls` reads."""

    def __init__(self, fail_dates=()):
        self.runs: list[SimpleNamespace] = []
        self.sent: list[str] = []
        self.fail_dates = set(fail_dates)
        self.concurrent = 0
        self.max_concurrent = 0

    def sql(self, stmt):
        from dagc.configcodec import LOGICAL_DATE

        self.sent.append(stmt)
        body = json.loads(stmt.split("USING CONFIG = ", 1)[1].strip("$"))
        date = body[LOGICAL_DATE][:10]
        run = SimpleNamespace(run_id=str(5000 + len(self.runs)), state="EXECUTING", polls=2, date=date,
                              scheduled_time=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=len(self.runs)),
                              completed_time=None, first_error_task=None, first_error_message=None)
        self.runs.append(run)

    def graph_runs(self):
        for r in self.runs:
            if r.state == "EXECUTING":
                r.polls -= 1
                if r.polls <= 0:
                    r.state = "FAILED" if r.date in self.fail_dates else "SUCCEEDED"
                    r.completed_time = r.scheduled_time + timedelta(seconds=30)
                    if r.state == "FAILED":
                        r.first_error_task, r.first_error_message = "ML.PROD.TRAINING$TRAIN", "out of memory"
        from dagc.snowflake.operate import GraphRun

        return [GraphRun(r.run_id, r.state, r.scheduled_time, r.completed_time, r.first_error_task,
                         r.first_error_message) for r in self.runs]

    def task_runs(self, run_id):
        return []

    def execute(self, *, retry_last=False):
        raise AssertionError("a backfill run must carry its config: EXECUTE TASK ... USING CONFIG")


def test_snowflake_backfill_sends_one_using_config_per_date_and_resumes(tmp_path):
    from dagc.frontend import load_pipeline
    from dagc.ops import ledger as L
    from dagc.ops.backfill import SnowflakeTarget, run_backfill
    from dagc.snowflake.runconfig import check_overrides

    REPO = Path(__file__).resolve().parents[2]
    p = load_pipeline(REPO / "pipelines" / "training.yaml", "prod")
    sf = Snowflake(fail_dates={"2026-11-02"})
    ov = check_overrides(p, ["gate.threshold=0.75"])
    now = [0.0]  # a clock that moves only when dagc sleeps: no waiting, and grace periods still expire

    def sleep(s):
        now[0] += s

    target = SnowflakeTarget(p, sf, sf.sql, "ML.PROD.training", ov, clock=lambda: now[0], sleep=sleep, timeout=3600)
    dates = logical_dates("2026-11-01", "2026-11-03", every=None, schedule=p.schedule)
    bid, ident = L.backfill_id(p.name, "prod", "snowflake", ov)
    ledger = L.Ledger(tmp_path / "st", bid, p.name, ident)
    res = run_backfill(target, dates, ledger, max_concurrent=4)
    assert res.concurrency == 1  # training has overlap: none
    assert [r.state for r in res.rows] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert res.rows[1].error == "train: out of memory" and res.rows[1].run_id in ("5001", "5001/1")
    assert sf.sent[0] == ('EXECUTE TASK ML.PROD.training USING CONFIG = '
                          '$${"__dagc_logical_date__":"2026-11-01T02:00:00+00:00","gate.threshold":0.75}$$')
    sf.fail_dates.clear()
    res = run_backfill(target, dates, ledger, max_concurrent=1)
    assert len(sf.sent) == 4 and "2026-11-02T02:00" in sf.sent[-1]  # only the failed date again
    assert [r.state for r in res.rows] == ["SUCCEEDED"] * 3 and len(res.skipped) == 2


@pytest.mark.parametrize("extra, message", [
    (["--local", "--connection", "prod"], "either --local or --connection"),
    (["--set", "sise=3"], "has no such key"),
    (["--set", "size=big"], "is a number"),
    (["--to", "2026-10-01"], "is before --from"),
])
def test_backfill_usage_errors_are_clean(project, extra, message):
    from ops_helpers import dagc

    args = ["backfill", str(project / "pipelines" / "tiny.yaml"), "--from", "2026-11-01", "--to", "2026-11-02",
            "--state-dir", str(project / "st"), *extra]
    r = dagc(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (project / "st" / "state.db").exists()  # nothing ran, nothing recorded


def test_state_stores_opened_by_concurrent_runs_in_one_process_do_not_race(tmp_path):
    """Concurrent backfill runs (and the local scheduler) open the state from threads of one process."""
    import threading

    from dagc.engine.state import StateStore

    errors = []
    barrier = threading.Barrier(8)

    def open_one():
        barrier.wait()
        try:
            for _ in range(20):
                StateStore(tmp_path / "st").close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_opening_the_state_waits_out_a_locked_database_but_not_other_errors():
    import sqlite3

    import pytest

    from dagc.engine.state import _retry_locked

    calls = []

    def locked_twice():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")

    _retry_locked(locked_twice)
    assert len(calls) == 3

    def damaged():
        calls.append(1)
        raise sqlite3.OperationalError("file is not a database")

    calls.clear()
    with pytest.raises(sqlite3.OperationalError, match="not a database"):
        _retry_locked(damaged)
    assert len(calls) == 1
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _retry_locked(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("database is locked")), seconds=0.05)
