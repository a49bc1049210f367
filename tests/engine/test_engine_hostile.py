"""The engine trusts nothing a step does (issue 15): its text is shown as text, bounded, escaped;
every failure keeps its message; its processes end with its task and its engine; a full disk is
named as the cause; and concurrent engines lose no committed row."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine_helpers import P, T, cli_env, dagc_cmd, make_project, run, states

HOSTILE = r'''
import os, subprocess, sys, time
from dagc.runtime import step

@step
def markup(ctx):
    raise RuntimeError("bad [/] markup [red]x[/red] [link=http://e]y\x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07 end\r\nX")

@step
def huge_error(ctx):
    raise ValueError("E" * 5_000_000)

@step
def bad_str(ctx):
    class Odd(Exception):
        def __str__(self):
            raise TypeError("no str for you")
    raise Odd()

@step
def interrupt(ctx):
    raise KeyboardInterrupt()

@step
def die_after_message(ctx):
    print("fatal: the license server refused us", flush=True)
    os._exit(1)

@step
def spawn_and_return(ctx, marker=""):
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    open(marker, "w").write(str(p.pid))
    return {"child": p.pid}

@step
def spawn_and_hang(ctx, marker=""):
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    open(marker, "w").write(str(p.pid))
    time.sleep(300)

@step
def disk_full(ctx):
    with open("/dev/full", "w") as fh:  # ENOSPC on every write, no root or tmpfs needed
        fh.write("x" * 10000)

@step
def log_disk_full(ctx):
    fd = os.open("/dev/full", os.O_WRONLY)
    os.dup2(fd, 1)  # the task log itself is now on a "full disk"
    os.dup2(fd, 2)
    print("this cannot be written", flush=True)
'''


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj", {"hostile": HOSTILE})


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


# -------------------------------------------------------------------------------------- terminal

def test_markup_and_escapes_in_a_step_error_are_shown_as_text(hostile: Path) -> None:
    (hostile / "pipelines").mkdir()
    (hostile / "pipelines" / "m.yaml").write_text("name: m\ntasks:\n  t: {step: markup}\n")
    env = cli_env(TERM="xterm", COLUMNS="200")
    master, slave = pty.openpty()  # a real terminal: the live rich view renders the error
    proc = subprocess.Popen(dagc_cmd("run", "pipelines/m.yaml"), cwd=hostile, env=env, stdin=slave, stdout=slave,
                            stderr=slave)
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
    assert proc.returncode == 1, text[-2000:]
    assert "Traceback" not in text and "MarkupError" not in text
    assert "[/]" in text and "[red]x[/red]" in text  # shown, not interpreted
    for raw in ("\x1b]0;", "\x1b]52;", "\x1b[2J", "\x07"):
        assert raw not in text, repr(raw)
    assert "\\x1b]0;pwned" in text  # escaped visibly
    status = subprocess.run(dagc_cmd("status"), cwd=hostile, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert status.returncode == 1 and "Traceback" not in status.stderr, status.stderr
    assert "[/] markup [red]x[/red]" in status.stdout and "\x1b" not in status.stdout and "\r" not in status.stdout
    assert "\\x1b]52;c;" in status.stdout


def test_a_5_mb_error_is_bounded_in_status_and_kept_whole_in_the_log(hostile: Path) -> None:
    result = run(P("big", [T("t", "huge_error")]), hostile)
    assert states(result) == {"t": "FAILED"}
    err = result.tasks["t"].error
    assert len(err) < 3000 and err.startswith("ValueError: EEE") and "more characters in the task log" in err
    out = subprocess.run(dagc_cmd("status"), cwd=hostile, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert len(out.stdout) < 50_000, len(out.stdout)
    log = next((hostile / ".dagc" / "logs").rglob("t.1.log")).read_text()
    assert log.count("E" * 1000) >= 4000  # the whole message (5 MB) is in the log


@pytest.mark.parametrize("step, expected", [
    ("bad_str", "Odd"),
    ("interrupt", "KeyboardInterrupt raised by the step"),
    ("die_after_message", "fatal: the license server refused us"),
])
def test_every_failure_keeps_its_message(hostile: Path, step: str, expected: str) -> None:
    result = run(P("m", [T("t", step)]), hostile)
    assert states(result) == {"t": "FAILED"}
    assert expected in result.tasks["t"].error, result.tasks["t"].error


# -------------------------------------------------------------------------------------- processes

def test_a_steps_children_end_with_its_task(hostile: Path, tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    result = run(P("c", [T("t", "spawn_and_return", params={"marker": str(marker)}), T("u", "ok", after=["t"])]),
                 hostile, parallelism=1)
    assert states(result) == {"t": "SUCCEEDED", "u": "SUCCEEDED"}
    assert _wait_gone(int(marker.read_text())), "the step's child outlived its task"


def test_a_steps_children_end_after_kill_9_of_the_engine_on_the_next_start(hostile: Path, tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    (hostile / "pipelines").mkdir()
    (hostile / "pipelines" / "h.yaml").write_text(
        f"name: h\ntasks:\n  t: {{step: spawn_and_hang, params: {{marker: '{marker}'}}}}\n")
    engine = subprocess.Popen(dagc_cmd("run", "pipelines/h.yaml", "--quiet"), cwd=hostile, env=cli_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    child = int(marker.read_text())
    engine.send_signal(signal.SIGKILL)
    engine.wait(timeout=10)
    time.sleep(0.3)
    assert _alive(child)  # the worker died with its engine (PDEATHSIG); its child did not
    from dagc.engine.state import StateStore

    closed = StateStore(hostile / ".dagc").reconcile()  # what the next engine does on start
    assert len(closed) == 1
    assert _wait_gone(child), "the dead engine's leftover process was not ended"


# -------------------------------------------------------------------------------------- disks

def test_a_full_disk_is_recorded_as_the_cause(hostile: Path) -> None:
    result = run(P("d", [T("a", "disk_full"), T("b", "log_disk_full")]), hostile)
    assert states(result) == {"a": "FAILED", "b": "FAILED"}
    for name in ("a", "b"):
        err = result.tasks[name].error
        assert "No space left on device" in err and "disk full" in err, err
        assert "exited with code" not in err
    from dagc.engine.state import StateStore

    stored = StateStore(hostile / ".dagc", readonly=True).latest_attempts(result.run_id)
    assert "disk full" in stored["b"].error  # in run history, not only on screen


def test_state_errors_never_suggest_moving_or_deleting_the_state() -> None:
    import sqlite3

    from dagc.engine.state import _state_error

    for exc in (sqlite3.DatabaseError("file is not a database"), OSError(28, "No space left on device"),
                PermissionError(13, "Permission denied")):
        e = _state_error(Path("/x/.dagc"), exc)
        text = f"{e.message} {e.hint}".lower()
        for word in ("move", "delete", "remove", "rm ", "lost"):
            assert word not in text, (word, text)


# -------------------------------------------------------------------------------------- no lost rows

APPENDS = '''
import pandas as pd
from dagc.runtime import step

@step
def append(ctx, tag="", n=3):
    ctx.tables.write("EVENTS", pd.DataFrame({"TAG": [f"{tag}-{i}" for i in range(n)]}), mode="append")
    return {"n": n}
'''

ROUNDS = 3


def test_eight_concurrent_engines_lose_no_committed_row(tmp_path: Path) -> None:
    """8 engines on one fresh warehouse, each with ROUNDS rounds of a Tables append then a `sql:`
    INSERT (and a CREATE OR REPLACE of its own table): every committed row must be there."""
    project = make_project(tmp_path / "proj", {"appends": APPENDS})
    pipelines = []
    for k in range(8):
        tasks, prev = [], ()
        for r in range(ROUNDS):
            tasks.append(T(f"a{r}", "append", params={"tag": f"e{k}r{r}"}, after=prev))
            tasks.append(T(f"s{r}", sql=f"CREATE TABLE IF NOT EXISTS SQLT (K INT, R INT); INSERT INTO SQLT VALUES ({k}, {r});"
                                       f" CREATE OR REPLACE TABLE SCRATCH{k} AS SELECT {r} AS R", after=(f"a{r}",)))
            prev = (f"s{r}",)
        pipelines.append(P(f"mix{k}", tasks))
    results: list = [None] * 8
    errors: list = []

    def engine(k: int) -> None:
        try:
            results[k] = run(pipelines[k], project, parallelism=1)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=engine, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not errors, errors
    assert all(r is not None and r.state == "SUCCEEDED" for r in results), [r and states(r) for r in results]
    import duckdb

    con = duckdb.connect(str(project / ".dagc" / "warehouse" / "DAGC.db"), read_only=True)
    try:
        events = con.execute("SELECT count(*), count(DISTINCT TAG) FROM PUBLIC.EVENTS").fetchone()
        sql_rows = con.execute("SELECT count(*), count(DISTINCT (K, R)) FROM PUBLIC.SQLT").fetchone()
        scratch = [con.execute(f"SELECT R FROM PUBLIC.SCRATCH{k}").fetchall() for k in range(8)]
    finally:
        con.close()
    assert events == (8 * ROUNDS * 3, 8 * ROUNDS * 3)
    assert sql_rows == (8 * ROUNDS, 8 * ROUNDS)
    assert scratch == [[(ROUNDS - 1,)]] * 8
