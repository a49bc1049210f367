"""Reports of real local runs: the engine runs a small project, the report reads its SQLite state."""

from __future__ import annotations

import json
import re

import pytest

from dagc.cli.main import main
from dagc.report.build import build_report


def _data(page: str) -> dict:
    return json.loads(re.search(r'id="dagc-data">(.*?)</script>', page, re.S).group(1))


def test_local_run_report_carries_states_errors_logs_and_times(local_run):
    root, path, state, run_id = local_run
    page, summary = build_report(run_id=run_id[:12], state_dir=str(state))
    assert summary.startswith(f"run {run_id} of nightly: FAILED")
    data = _data(page)
    tasks = {t["name"]: t for t in data["run"]["tasks"]}
    assert tasks["load"]["state"] == "FAILED"
    assert "warehouse NIGHTLY_WH is read-only" in tasks["load"]["error"]
    assert "about to fail" in tasks["load"]["log_excerpt"]
    assert tasks["alert"]["state"] == "SKIPPED" and tasks["notify"]["state"] == "SKIPPED"
    assert tasks["cleanup"]["state"] == "SUCCEEDED"
    assert json.loads(tasks["extract"]["return_value"])["value"] == 1
    assert "load" in tasks["gate"]["return_value"], "a branch returns the name of the child it chose"
    a, b = tasks["transform_a"], tasks["transform_b"]
    assert a["started_at"] < b["ended_at"] and b["started_at"] < a["ended_at"], "the two transforms ran in parallel"
    assert data["run"]["config"] == {"threshold": 0.5}
    assert data["manifest"]["pipeline"] == "nightly" and data["warnings"] == []


def test_latest_run_via_the_cli(local_run, tmp_path, capsys):
    root, path, state, run_id = local_run
    out = tmp_path / "r.html"
    with pytest.raises(SystemExit) as exc:
        main(["report", "--state-dir", str(state), "-o", str(out)])
    assert exc.value.code == 0
    assert _data(out.read_text())["run"]["run_id"] == run_id
    assert run_id in capsys.readouterr().err


def test_changed_pipeline_file_is_flagged(local_run, tmp_path):
    root, path, state, run_id = local_run
    original = path.read_text()
    try:
        path.write_text(original.replace("value: 1", "value: 2"))
        page, _ = build_report(run_id=run_id, state_dir=str(state))
        assert any("changed since this run" in w for w in _data(page)["warnings"])
    finally:
        path.write_text(original)


def test_missing_pipeline_file_and_unknown_run(local_run, tmp_path, capsys):
    root, path, state, run_id = local_run
    moved = root / "moved.yaml"
    path.rename(moved)
    try:
        with pytest.raises(SystemExit) as exc:
            main(["report", run_id, "--state-dir", str(state), "-o", str(tmp_path / "x.html")])
        assert exc.value.code == 1
        err = capsys.readouterr().err
        assert "pipeline file of run" in err and "--pipeline" in err
        # naming the file where it is now works
        page, _ = build_report(run_id=run_id, pipeline_path=str(moved), state_dir=str(state))
        assert _data(page)["run"]["run_id"] == run_id
    finally:
        moved.rename(path)
    with pytest.raises(SystemExit) as exc:
        main(["report", "no-such-run", "--state-dir", str(state), "-o", str(tmp_path / "y.html")])
    assert exc.value.code == 1 and "no local run 'no-such-run'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", "--state-dir", str(tmp_path / "empty"), "-o", str(tmp_path / "z.html")])
    assert exc.value.code == 1 and "no local runs recorded" in capsys.readouterr().err
