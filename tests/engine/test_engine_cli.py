"""The commands' wiring: dagc run | runs | status | logs | retry, their exit codes and outputs."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
from pathlib import Path

from engine_helpers import cli_env, dagc_cmd

YAML = """
name: demo
config: {greeting: hi}
tasks:
  hello:
    step: ok
    params: {value: 42}
  gate:
    after: [hello]
    branch:
      step: choose
      cases: {pass: left_task, fail: right_task}
  left_task:
    step: ok
    after: [gate]
  right_task:
    step: ok
    after: [gate]
  broken:
    step: boom
    after: [hello]
    params: {message: "the source table is empty"}
finally:
  done:
    step: ok
"""


def dagc(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(dagc_cmd(*args), cwd=project, env=cli_env(**env), capture_output=True, text=True,
                          timeout=120)


def setup(project: Path, text: str = YAML) -> str:
    (project / "pipelines").mkdir(exist_ok=True)
    (project / "pipelines" / "demo.yaml").write_text(text)
    return "pipelines/demo.yaml"


def test_run_runs_status_logs(project: Path) -> None:
    path = setup(project)
    res = dagc(project, "run", path)
    assert res.returncode == 1, res.stderr
    # plain lines (not a terminal), then the summary table
    assert "hello" in res.stdout and "SUCCEEDED" in res.stdout and "broken" in res.stdout
    assert "first failure: broken: ValueError: the source table is empty" in res.stdout
    assert "case 'pass' -> left_task" in res.stdout

    runs = dagc(project, "runs", "--json")
    doc = json.loads(runs.stdout)
    assert runs.returncode == 0 and doc[0]["state"] == "FAILED" and doc[0]["first_failed_task"] == "broken"
    run_id = doc[0]["run_id"]
    table = dagc(project, "runs", path)
    assert run_id in table.stdout and "broken" in table.stdout

    status = dagc(project, "status")
    assert status.returncode == 1
    assert run_id in status.stdout and "broken FAILED (attempt 1): ValueError: the source table is empty" in status.stdout
    assert "right_task" in status.stdout and "SKIPPED" in status.stdout
    sjson = json.loads(dagc(project, "status", run_id[:12], "--json").stdout)
    tasks = {t["task"]: t for t in sjson["tasks"]}
    assert tasks["broken"]["traceback"] and tasks["hello"]["return_value"].startswith('{"inputs"')

    logs = dagc(project, "logs", run_id, "hello")
    assert logs.returncode == 0 and "running hello" in logs.stdout
    blogs = dagc(project, "logs", run_id, "broken")
    assert "ValueError: the source table is empty" in blogs.stdout
    missing = dagc(project, "logs", run_id, "nope")
    assert missing.returncode == 1 and "has no task 'nope'" in missing.stderr and "Traceback" not in missing.stderr


def test_run_succeeds_with_exit_zero_and_set(project: Path) -> None:
    path = setup(project, YAML.replace("  broken:\n    step: boom\n    after: [hello]\n"
                                       "    params: {message: \"the source table is empty\"}\n", ""))
    res = dagc(project, "run", path, "--json", "--set", "greeting=hello")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["state"] == "SUCCEEDED" and {t["task"]: t["state"] for t in doc["tasks"]}["right_task"] == "SKIPPED"


def test_bad_invocations_are_clear(project: Path) -> None:
    path = setup(project)
    res = dagc(project, "run", "pipelines/missing.yaml")
    assert res.returncode == 2 and "no such file" in res.stderr
    res = dagc(project, "run", path, "--only", "zz")
    assert res.returncode == 2 and "no task 'zz'" in res.stderr
    res = dagc(project, "status", "20990101T000000Z-zzzzzz")
    assert res.returncode == 1 and "no run" in res.stderr
    res = dagc(project, "status", "--connection", "prod")
    assert res.returncode == 2 and "needs the pipeline file" in (res.stderr + res.stdout)
    for r in (res,):
        assert "Traceback" not in r.stderr


def test_live_view_on_a_terminal(project: Path) -> None:
    path = setup(project)
    master, slave = pty.openpty()
    proc = subprocess.Popen(dagc_cmd("run", path), cwd=project, env=cli_env(TERM="xterm", COLUMNS="120"),
                            stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    text = out.decode(errors="replace")
    assert proc.returncode == 1
    assert "\x1b[" in text  # a rich, redrawn view rather than plain lines
    assert "left_task" in text and "elapsed" in text and "first failure: broken" in text
