"""The issue's acceptance run: a 7-day backfill of the training pipeline on the local engine,
interrupted with Ctrl-C and resumed, rebuilds 7 model versions, each cut off at its logical date."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROWS = 2000  # as tests/ml/conftest.py shrinks the pipeline: small data, same code path


def _dates(state: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(state / "state.db", timeout=5)) as c:
        return dict(c.execute("SELECT substr(logical_date, 1, 10), state FROM backfill_dates"))


def _running_task(state: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(state / "state.db", timeout=5)) as c:
        return {t for (t,) in c.execute(
            "SELECT task FROM task_runs WHERE state='EXECUTING' AND run_id=(SELECT max(run_id) FROM runs)")}


def test_seven_day_training_backfill_resumes_after_ctrl_c_and_rebuilds_history(tmp_path):
    pytest.importorskip("xgboost")
    from ops_helpers import dagc, popen

    state = tmp_path / "state"
    args = ["backfill", str(REPO / "pipelines" / "training.yaml"), "--from", "2025-06-01", "--to", "2025-06-07",
            "--var", f"rows={ROWS}", "--var", "retries=0", "--set", "gate.min_improvement=-1",
            "--set", "gate.threshold=0.5", "--state-dir", str(state), "-j", "2"]
    proc = popen(*args, cwd=tmp_path)
    deadline = time.time() + 240
    while time.time() < deadline:  # Ctrl-C while the second date is training
        if (state / "state.db").exists():
            try:
                if _dates(state).get("2025-06-02") == "RUNNING" and "train" in _running_task(state):
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, (out[-2000:], err[-2000:])
    first = _dates(state)
    assert first["2025-06-01"] == "SUCCEEDED" and first["2025-06-02"] == "INTERRUPTED", first

    r = dagc(*args, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-2000:])
    assert "[1/7] 2025-06-01 02:00 skipped: succeeded before" in r.stdout
    assert set(_dates(state).values()) == {"SUCCEEDED"}

    from dagc.engine.registry import LocalModelRegistry

    versions = LocalModelRegistry(state).versions("approval_model")
    assert len(versions) == 7
    cutoffs = [datetime.fromisoformat(v.lineage["logical_date"]) for v in versions]
    assert cutoffs == [datetime(2025, 6, d, 2, 0) for d in range(1, 8)]  # the schedule's 02:00, day by day
    for v, cut in zip(versions, cutoffs):
        data_end = datetime.fromisoformat(v.lineage["data_end"])
        assert cut - timedelta(days=7) < data_end < cut, (v.version, data_end, cut)  # as of its date, not later
    ends = [v.lineage["data_end"] for v in versions]
    assert ends == sorted(ends) and len(set(ends)) > 1  # later dates see more history
    assert versions[-1].is_default
