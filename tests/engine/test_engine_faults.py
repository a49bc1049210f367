"""Bad steps and faults: each ends as a recorded task failure with a clear message, never a dead engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine_helpers import P, T, cli_env, dagc_cmd, make_project, run, states
from dagc.diagnostics import DagcError
from dagc.engine.state import StateStore


def one(project: Path, task, **kw):  # type: ignore[no-untyped-def]
    result = run(P("faults", [task, T("after", "ok", after=[task.name])], finalizer=T("fin", "ok", finalizer=True)),
                 project, **kw)
    return result, result.tasks[task.name]


def test_step_that_raises(project: Path) -> None:
    result, t = one(project, T("bad", "boom", params={"message": "no data for 2024-01-01"}))
    assert t.state == "FAILED" and t.error == "ValueError: no data for 2024-01-01"
    assert result.tasks["after"].state == "SKIPPED" and result.tasks["fin"].state == "SUCCEEDED"
    rec = StateStore(project / ".dagc").latest_attempts(result.run_id)["bad"]
    assert "raise ValueError(message)" in (rec.traceback or "")
    assert "no data for 2024-01-01" in Path(rec.log_path or "").read_text()


def test_step_that_hangs_is_stopped_at_its_timeout(project: Path) -> None:
    result, t = one(project, T("stuck", "hang", timeout_ms=700))
    assert t.state == "FAILED" and "timed out after 0.7 s" in (t.error or "")
    assert t.ended_at - t.started_at < 30
    assert result.tasks["fin"].state == "SUCCEEDED"  # the engine carried on with a fresh worker
    log = StateStore(project / ".dagc").latest_attempts(result.run_id)["stuck"].log_path
    assert "stopped: timed out" in Path(log or "").read_text()


def test_step_that_calls_os_exit(project: Path) -> None:
    result, t = one(project, T("quit", "exit_hard", params={"code": 7}))
    assert t.state == "FAILED" and "exited with code 7" in (t.error or "")
    assert result.tasks["after"].state == "SKIPPED" and result.tasks["fin"].state == "SUCCEEDED"


def test_step_that_crashes_the_interpreter(project: Path) -> None:
    result, t = one(project, T("crash", "segfault"))
    assert t.state == "FAILED" and "killed by SIGSEGV" in (t.error or "")
    assert result.tasks["fin"].state == "SUCCEEDED"


def test_return_value_not_json(project: Path) -> None:
    _, t = one(project, T("weird", "not_json"))
    assert t.state == "FAILED" and "not JSON" in (t.error or "")


def test_return_value_over_10kb(project: Path) -> None:
    _, t = one(project, T("huge", "too_big"))
    assert t.state == "FAILED" and "10,240" in (t.error or "") and "20,002 bytes" in (t.error or "")


def test_branch_returns_unknown_case(project: Path) -> None:
    p = P("branchy", [T("gate", "choose", params={"case": "maybe"}, cases={"pass": "yes", "fail": "no"}),
                      T("yes", "ok", after=["gate"]), T("no", "ok", after=["gate"])])
    result = run(p, project)
    err = result.tasks["gate"].error or ""
    assert result.tasks["gate"].state == "FAILED" and "'maybe'" in err and "fail, pass" in err
    assert states(result)["yes"] == states(result)["no"] == "SKIPPED"


def test_sql_task_with_syntax_error(project: Path) -> None:
    _, t = one(project, T("q", sql="SELEC 1 FROM"))
    assert t.state == "FAILED"
    assert (t.error or "").startswith("syntax error in `SELEC 1 FROM` at line 1, column 7")
    assert "Traceback" not in (t.error or "")


def test_sql_task_with_unsupported_construct_names_it(project: Path) -> None:
    _, t = one(project, T("q", sql="CALL SYSTEM$WAIT(1)"))
    assert t.state == "FAILED" and "SYSTEM$WAIT" in (t.error or "") and "not supported" in (t.error or "")


def test_fault_injection_does_not_call_the_step(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    result, t = one(project, T("x", "count", params={"marker": str(marker)}), fail_tasks=["x"])
    assert t.state == "FAILED" and "injected failure" in (t.error or "") and not marker.exists()


def _start_cli(project: Path, pipeline_yaml: str, *args: str) -> subprocess.Popen[str]:
    (project / "pipelines").mkdir(exist_ok=True)
    path = project / "pipelines" / "p.yaml"
    path.write_text(pipeline_yaml)
    return subprocess.Popen(dagc_cmd("run", str(path), "--quiet", *args), cwd=project, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


SLOW_YAML = """
name: slow
tasks:
  first:
    step: ok
  long:
    step: sleep
    after: [first]
    params: {seconds: 30}
  next:
    step: ok
    after: [long]
finally:
  fin:
    step: ok
"""


def _wait_for(pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _running(project: Path, task: str) -> bool:
    store = StateStore(project / ".dagc", readonly=True)
    if store.conn is None:
        return False
    run = store.latest_run()
    return bool(run and store.latest_attempts(run.run_id).get(task, None)
                and store.latest_attempts(run.run_id)[task].state == "EXECUTING")


def test_ctrl_c_cancels_tasks_runs_finalizer_records_cancelled(project: Path) -> None:
    proc = _start_cli(project, SLOW_YAML)
    _wait_for(lambda: _running(project, "long"))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    store = StateStore(project / ".dagc")
    run_rec = store.latest_run()
    assert run_rec is not None and run_rec.state == "CANCELLED"
    tasks = store.latest_attempts(run_rec.run_id)
    assert tasks["first"].state == "SUCCEEDED"
    assert tasks["long"].state == "CANCELLED" and tasks["next"].state == "CANCELLED"
    assert tasks["fin"].state == "SUCCEEDED"
    # the step was really stopped: its worker process is gone
    pid = tasks["long"].worker_pid
    assert pid is not None
    _wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2])


def test_sigkill_mid_run_then_retry(project: Path, tmp_path: Path) -> None:
    proc = _start_cli(project, SLOW_YAML)
    _wait_for(lambda: _running(project, "long"))
    proc.kill()
    proc.wait()
    worker = StateStore(project / ".dagc", readonly=True)
    rec = worker.latest_run()
    assert rec is not None
    first_ok = worker.latest_attempts(rec.run_id)["first"]
    assert first_ok.state == "SUCCEEDED"  # what finished before the kill is on disk
    long_pid = worker.latest_attempts(rec.run_id)["long"].worker_pid
    # the worker died with its engine (no orphan step left running)
    _wait_for(lambda: not Path(f"/proc/{long_pid}").exists()
              or "Z" in Path(f"/proc/{long_pid}/stat").read_text().split()[2], timeout=10)
    # make the long step quick, keeping the pipeline definition (params) unchanged, then retry
    (project / "steps" / "common.py").write_text(
        (project / "steps" / "common.py").read_text().replace("time.sleep(seconds)", "time.sleep(0)"))
    done = subprocess.run(dagc_cmd("retry", rec.run_id, "--json"), cwd=project, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["run_id"] == rec.run_id and doc["state"] == "SUCCEEDED"
    by_task = {t["task"]: t for t in doc["tasks"]}
    assert by_task["first"]["attempt"] == 1  # kept, not re-run
    assert by_task["long"]["attempt"] == 2 and by_task["next"]["state"] == "SUCCEEDED"


def test_two_runs_started_at_the_same_moment(project: Path) -> None:
    yaml_text = "name: twin\ntasks:\n" + "".join(
        f"  t{i}:\n    step: ok\n" + (f"    after: [t{i - 1}]\n" if i else "") for i in range(8))
    (project / "pipelines").mkdir(exist_ok=True)
    path = project / "pipelines" / "twin.yaml"
    path.write_text(yaml_text)
    procs = [subprocess.Popen(dagc_cmd("run", str(path), "--json"), cwd=project, env=cli_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        docs.append(json.loads(out))
    assert len({d["run_id"] for d in docs}) == 3
    store = StateStore(project / ".dagc")
    for d in docs:
        tasks = store.latest_attempts(d["run_id"])
        assert sorted(tasks) == [f"t{i}" for i in range(8)]
        assert all(a.state == "SUCCEEDED" for a in tasks.values())
    assert store.conn is not None
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _mount_tmpfs(where: Path, opts: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_read_only_state_dir_gives_clear_message(project: Path, tmp_path: Path) -> None:
    state = tmp_path / "ro-state"
    mounted = _mount_tmpfs(state, "ro,size=1m")
    if not mounted:
        state.mkdir(exist_ok=True)
        os.chmod(state, 0o555)
        if os.access(state, os.W_OK):
            pytest.skip("cannot make a read-only directory here (root without mount)")
    try:
        with pytest.raises(DagcError) as err:
            StateStore(state)
        assert "not writable" in err.value.message and str(state) in err.value.message
        # and through the CLI: one line, exit 1, no traceback
        (project / "pipelines").mkdir(exist_ok=True)
        (project / "pipelines" / "p.yaml").write_text("name: ro\ntasks:\n  a:\n    step: ok\n")
        done = subprocess.run(dagc_cmd("run", "pipelines/p.yaml", "--state-dir", str(state)), cwd=project,
                              env=cli_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and "not writable" in done.stderr and "Traceback" not in done.stderr
    finally:
        if mounted:
            _umount(state)
        else:
            os.chmod(state, 0o755)


def test_full_disk_gives_clear_message(project: Path, tmp_path: Path) -> None:
    state = tmp_path / "full-state"
    if not _mount_tmpfs(state, "size=64k"):
        pytest.skip("needs root to mount a tiny tmpfs for a full disk")
    try:
        fd = os.open(state / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 1024)
        except OSError:
            pass
        finally:
            os.close(fd)
        (project / "pipelines").mkdir(exist_ok=True)
        (project / "pipelines" / "p.yaml").write_text("name: full\ntasks:\n  a:\n    step: ok\n")
        done = subprocess.run(dagc_cmd("run", "pipelines/p.yaml", "--state-dir", str(state)), cwd=project,
                              env=cli_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert "is full" in done.stderr and "Traceback" not in done.stderr
    finally:
        _umount(state)
