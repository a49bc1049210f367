"""Run and task-attempt records in SQLite, the local counterpart of Snowflake's task history.

Why SQLite in WAL mode with one commit per state transition: a `kill -9` of the engine then loses
nothing already finished (every committed transition is in the WAL file, and synchronous=NORMAL
is durable against a process crash), several engines can write at once (readers never block the
writer, writers queue on the busy timeout), and `dagc retry` can resume from exactly what was
recorded. Times are UTC epoch seconds; rendering is the CLI's business.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from dagc.diagnostics import DagcError
from dagc.engine import rules

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    source TEXT NOT NULL,
    environment TEXT,
    sets_json TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    graph_attempt INTEGER NOT NULL DEFAULT 1,
    scheduled_at REAL NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    config_json TEXT NOT NULL,
    manifest_hash TEXT NOT NULL,
    options_json TEXT NOT NULL DEFAULT '{}',
    engine_pid INTEGER,
    engine_token TEXT,
    host TEXT,
    first_failed_task TEXT,
    first_error TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, started_at);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE TABLE IF NOT EXISTS task_runs (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    task TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    graph_attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    started_at REAL,
    ended_at REAL,
    duration_ms REAL,
    return_value TEXT,
    branch_case TEXT,
    error TEXT,
    traceback TEXT,
    log_path TEXT,
    worker_pid INTEGER,
    reused_from TEXT,
    PRIMARY KEY (run_id, task, attempt)
);
"""


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any error): concurrent engines queue instead of deadlocking."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@dataclass
class RunRecord:
    run_id: str
    pipeline: str
    source: str
    environment: str | None
    sets: dict[str, str]
    state: str
    graph_attempt: int
    scheduled_at: float
    started_at: float
    ended_at: float | None
    config: dict[str, Any]  # the encoded (flat) graph config, as Snowflake stores it
    manifest_hash: str
    options: dict[str, Any]
    engine_pid: int | None
    engine_token: str | None
    host: str | None
    first_failed_task: str | None
    first_error: str | None

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


@dataclass
class AttemptRecord:
    run_id: str
    task: str
    attempt: int
    graph_attempt: int
    state: str
    started_at: float | None
    ended_at: float | None
    duration_ms: float | None
    return_value: str | None
    branch_case: str | None
    error: str | None
    traceback: str | None
    log_path: str | None
    worker_pid: int | None
    reused_from: str | None


def process_token(pid: int) -> str | None:
    """Something that identifies a process beyond its pid (its start time), to survive pid reuse."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()  # starttime, field 22 of stat
    except (OSError, IndexError):
        return None


def process_alive(pid: int | None, token: str | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    current = process_token(pid)
    return token is None or current is None or current == token


def _state_error(exc: BaseException, path: Path) -> DagcError:
    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno == 28 or "full" in text:
        return DagcError(
            f"the state directory {path} is full: cannot record the run",
            "free some space there, or point DAGC_STATE_DIR / --state-dir at another directory",
        )
    if isinstance(exc, PermissionError) or "readonly" in text or "read-only" in text or "permission" in text \
            or (isinstance(exc, OSError) and exc.errno == 30) or "unable to open" in text:
        return DagcError(
            f"the state directory {path} is not writable: cannot record the run ({exc})",
            "make it writable, or point DAGC_STATE_DIR / --state-dir at a writable directory",
        )
    return DagcError(f"cannot use the state database in {path}: {exc}",
                     "check free space and permissions there; if the file is damaged, keep it (it holds the run "
                     "history) and point --state-dir / DAGC_STATE_DIR at a new directory meanwhile")


# Threads of one process (concurrent backfill runs, the local scheduler) open and close stores one
# at a time: a WAL database's first open (the journal-mode switch) and last close (its checkpoint)
# take locks that SQLite's busy handler does not always wait for, and under load a thread then
# got "database is locked" at once. Across processes, `_retry_locked` waits those out.
_OPENING = threading.RLock()


def _retry_locked(fn: Any, *, seconds: float = 60.0) -> None:
    """Run `fn`, again after a short wait while SQLite says the database is locked or busy."""
    deadline, delay = time.monotonic() + seconds, 0.01
    while True:
        try:
            fn()
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


class StateStore:
    """All reads and writes of run history. One instance per process (SQLite connections are not shared)."""

    def __init__(self, state_dir: Path, *, readonly: bool = False) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / "state.db"
        try:
            if readonly:
                if not self.path.exists():
                    self.conn = None
                    return
            else:
                self.state_dir.mkdir(parents=True, exist_ok=True)
                probe = self.state_dir / f".probe-{os.getpid()}-{threading.get_ident()}"  # per thread: runs may share a process
                probe.write_bytes(b"x" * 4096)  # fails early on a read-only or full disk
                probe.unlink()
            with _OPENING:
                self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                self.conn.execute("PRAGMA busy_timeout = 60000")
                if readonly and not self.conn.execute(
                        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='task_runs'").fetchone():
                    self.conn.close()  # created a moment ago by another engine: nothing recorded yet
                    self.conn = None
                    return
                if not readonly:
                    _retry_locked(self._set_up)
        except DagcError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise _state_error(exc, self.state_dir) from None

    def _set_up(self) -> None:
        assert self.conn is not None
        if str(self.conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            self.conn.execute("PRAGMA journal_mode = WAL")  # once per database file: it needs an exclusive lock
        self.conn.execute("PRAGMA synchronous = NORMAL")
        with immediate(self.conn):
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)

    def close(self) -> None:
        if self.conn is not None:
            with _OPENING:  # the last close of a WAL database checkpoints it: not while a thread opens it
                self.conn.close()
            self.conn = None

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction; BEGIN IMMEDIATE so concurrent engines queue instead of deadlocking."""
        assert self.conn is not None
        try:
            with immediate(self.conn) as conn:
                yield conn
        except (sqlite3.Error, OSError) as exc:
            with contextlib.suppress(sqlite3.Error):
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
            raise _state_error(exc, self.state_dir) from None

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        """One statement, committed on its own (autocommit: atomic, and one round trip fewer than a tx)."""
        assert self.conn is not None
        try:
            self.conn.execute(sql, params)
        except (sqlite3.Error, OSError) as exc:
            raise _state_error(exc, self.state_dir) from None

    # ---- writes -------------------------------------------------------------------------------

    def create_run(self, *, run_id: str, pipeline: str, source: str, environment: str | None,
                   sets: dict[str, str], scheduled_at: float, config: dict[str, Any],
                   manifest_hash: str, options: dict[str, Any]) -> None:
        now = time.time()
        with self.tx() as c:
            c.execute(
                "INSERT INTO runs (run_id, pipeline, source, environment, sets_json, state, graph_attempt,"
                " scheduled_at, started_at, config_json, manifest_hash, options_json, engine_pid, engine_token, host)"
                " VALUES (?,?,?,?,?,?,1,?,?,?,?,?,?,?,?)",
                (run_id, pipeline, source, environment, json.dumps(sets, sort_keys=True), rules.RUNNING,
                 scheduled_at, now, json.dumps(config, sort_keys=True), manifest_hash,
                 json.dumps(options, sort_keys=True), os.getpid(), process_token(os.getpid()), socket.gethostname()),
            )

    def claim_run(self, run_id: str, graph_attempt: int) -> None:
        """Mark an existing run as executing again, by this engine (retry)."""
        with self.tx() as c:
            c.execute(
                "UPDATE runs SET state=?, graph_attempt=?, ended_at=NULL, engine_pid=?, engine_token=?, host=?,"
                " first_failed_task=NULL, first_error=NULL WHERE run_id=?",
                (rules.RUNNING, graph_attempt, os.getpid(), process_token(os.getpid()), socket.gethostname(), run_id),
            )

    def set_graph_attempt(self, run_id: str, graph_attempt: int) -> None:
        with self.tx() as c:
            c.execute("UPDATE runs SET graph_attempt=? WHERE run_id=?", (graph_attempt, run_id))

    def finish_run(self, run_id: str, state: str, first_failed_task: str | None, first_error: str | None) -> None:
        with self.tx() as c:
            c.execute(
                "UPDATE runs SET state=?, ended_at=?, first_failed_task=?, first_error=? WHERE run_id=?",
                (state, time.time(), first_failed_task, first_error, run_id),
            )

    def start_attempt(self, run_id: str, task: str, attempt: int, graph_attempt: int, log_path: str,
                      worker_pid: int | None, started_at: float) -> None:
        self._write(
            "INSERT OR REPLACE INTO task_runs (run_id, task, attempt, graph_attempt, state, started_at, log_path,"
            " worker_pid) VALUES (?,?,?,?,?,?,?,?)",
            (run_id, task, attempt, graph_attempt, rules.RUNNING, started_at, log_path, worker_pid),
        )

    def finish_attempt(self, run_id: str, task: str, attempt: int, *, state: str, ended_at: float,
                       started_at: float | None, return_value: str | None = None, branch_case: str | None = None,
                       error: str | None = None, traceback: str | None = None) -> None:
        duration = None if started_at is None else (ended_at - started_at) * 1000.0
        self._write(
            "UPDATE task_runs SET state=?, ended_at=?, duration_ms=?, return_value=?, branch_case=?, error=?,"
            " traceback=? WHERE run_id=? AND task=? AND attempt=?",
            (state, ended_at, duration, return_value, branch_case, error, traceback, run_id, task, attempt),
        )

    def record_outcome(self, run_id: str, task: str, attempt: int, graph_attempt: int, state: str, *,
                       error: str | None = None, return_value: str | None = None,
                       branch_case: str | None = None, reused_from: str | None = None) -> None:
        """A task that reached a terminal state without running (SKIPPED, CANCELLED, reused, not executed)."""
        self._write(
            "INSERT OR REPLACE INTO task_runs (run_id, task, attempt, graph_attempt, state, ended_at, error,"
            " return_value, branch_case, reused_from) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run_id, task, attempt, graph_attempt, state, time.time(), error, return_value, branch_case,
             reused_from),
        )

    def reconcile(self) -> list[str]:
        """Runs whose engine died (kill -9, power loss) are closed as FAILED so they can be retried.

        Returns the run ids that were closed. Runs of engines on other hosts are left alone.
        """
        if self.conn is None:
            return []
        host = socket.gethostname()
        rows = self.conn.execute(
            "SELECT run_id, engine_pid, engine_token FROM runs WHERE state=? AND host=?", (rules.RUNNING, host)
        ).fetchall()
        closed = []
        for run_id, pid, token in rows:
            if process_alive(pid, token):
                continue
            groups = [r[0] for r in self.conn.execute(
                "SELECT worker_pid FROM task_runs WHERE run_id=? AND state=? AND worker_pid IS NOT NULL",
                (run_id, rules.RUNNING))]
            if groups:  # the dead engine's steps may have left processes running: end them first
                from dagc.engine.workers import kill_leftovers

                kill_leftovers(groups, f"{pid}:{token}")
            with self.tx() as c:
                now = time.time()
                c.execute(
                    "UPDATE task_runs SET state=?, ended_at=?, error=? WHERE run_id=? AND state=?",
                    (rules.FAILED, now, "the engine stopped while this task was running (killed?)", run_id,
                     rules.RUNNING),
                )
                c.execute(
                    "UPDATE runs SET state=?, ended_at=?, first_error=? WHERE run_id=? AND state=?",
                    (rules.FAILED, now, f"the engine (pid {pid}) stopped before the run finished; "
                     "`dagc retry` resumes it", run_id, rules.RUNNING),
                )
            closed.append(run_id)
        return closed

    # ---- reads --------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord | None:
        if self.conn is None:
            return None
        row = self.conn.execute(f"SELECT {_RUN_COLS} FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            # accept a unique prefix, like git does with commits
            rows = self.conn.execute(f"SELECT {_RUN_COLS} FROM runs WHERE run_id LIKE ? || '%'", (run_id,)).fetchall()
            if len(rows) != 1:
                return None
            row = rows[0]
        return _run(row)

    def latest_run(self, pipeline: str | None = None) -> RunRecord | None:
        runs = self.list_runs(pipeline, limit=1)
        return runs[0] if runs else None

    def list_runs(self, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        if self.conn is None:
            return []
        if pipeline:
            rows = self.conn.execute(
                f"SELECT {_RUN_COLS} FROM runs WHERE pipeline=? ORDER BY started_at DESC, run_id DESC LIMIT ?",
                (pipeline, limit)).fetchall()
        else:
            rows = self.conn.execute(
                f"SELECT {_RUN_COLS} FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?", (limit,)).fetchall()
        return [_run(r) for r in rows]

    def attempts(self, run_id: str) -> list[AttemptRecord]:
        """Every attempt of every task of a run, in the order they happened."""
        if self.conn is None:
            return []
        rows = self.conn.execute(
            f"SELECT {_ATT_COLS} FROM task_runs WHERE run_id=? ORDER BY COALESCE(started_at, ended_at), attempt",
            (run_id,)).fetchall()
        return [AttemptRecord(*r) for r in rows]

    def latest_attempts(self, run_id: str) -> dict[str, AttemptRecord]:
        """The newest attempt of each task: the run's current picture."""
        out: dict[str, AttemptRecord] = {}
        for a in self.attempts(run_id):
            if a.task not in out or a.attempt >= out[a.task].attempt:
                out[a.task] = a
        return out

    def last_success(self, pipeline: str, task: str) -> AttemptRecord | None:
        """The most recent successful attempt of a task in any run (for --only / --from)."""
        if self.conn is None:
            return None
        row = self.conn.execute(
            f"SELECT {', '.join('t.' + c.strip() for c in _ATT_COLS.split(','))} FROM task_runs t JOIN runs r ON r.run_id=t.run_id"
            " WHERE r.pipeline=? AND t.task=? AND t.state=? ORDER BY t.ended_at DESC LIMIT 1",
            (pipeline, task, rules.SUCCEEDED)).fetchone()
        return AttemptRecord(*row) if row else None


_RUN_COLS = ("run_id, pipeline, source, environment, sets_json, state, graph_attempt, scheduled_at, started_at,"
             " ended_at, config_json, manifest_hash, options_json, engine_pid, engine_token, host,"
             " first_failed_task, first_error")
_ATT_COLS = ("run_id, task, attempt, graph_attempt, state, started_at, ended_at, duration_ms, return_value,"
             " branch_case, error, traceback, log_path, worker_pid, reused_from")


def _run(row: tuple[Any, ...]) -> RunRecord:
    r = list(row)
    r[4] = json.loads(r[4] or "{}")
    r[10] = json.loads(r[10] or "{}")
    r[12] = json.loads(r[12] or "{}")
    return RunRecord(*r)
