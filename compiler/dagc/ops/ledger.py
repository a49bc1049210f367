"""The backfill ledger: one row per (backfill, logical date), in the engine's SQLite state.

Why a ledger and not only the run history: the run history says what ran; the ledger says what a
backfill *meant* to run, so re-running the same command knows which dates already succeeded
(skipped), which failed or were interrupted (run again), and which never started. A backfill is
identified by what decides its runs: pipeline, environment, target and the --set overrides; the
date range may grow or shrink between invocations and succeeded dates are still reused.
Same database file and transaction discipline as the run history (dagc.engine.state).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from dagc.engine.state import StateStore, process_alive, process_token

PENDING, RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "INTERRUPTED"

SCHEMA = """
CREATE TABLE IF NOT EXISTS backfill_dates (
    backfill TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    logical_date TEXT NOT NULL,
    state TEXT NOT NULL,
    run_id TEXT,
    tries INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    ended_at REAL,
    error TEXT,
    engine_pid INTEGER,
    engine_token TEXT,
    PRIMARY KEY (backfill, logical_date)
);
CREATE TABLE IF NOT EXISTS backfills (
    backfill TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    identity_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


@dataclass
class DateRow:
    logical_date: str  # ISO 8601, UTC
    state: str
    run_id: str | None = None
    tries: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.started_at is None or self.ended_at is None else self.ended_at - self.started_at


def backfill_id(pipeline: str, environment: str | None, target: str, overrides: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    identity = {"pipeline": pipeline, "environment": environment, "target": target,
                "set": {k: overrides[k] for k in sorted(overrides)}}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{pipeline}-{digest}", identity


class Ledger:
    def __init__(self, state_dir: Path, backfill: str, pipeline: str, identity: Mapping[str, Any]) -> None:
        self.store = StateStore(state_dir)
        self.backfill = backfill
        self.pipeline = pipeline
        with self.store.tx() as c:
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute("INSERT OR IGNORE INTO backfills VALUES (?,?,?,?)",
                      (backfill, pipeline, json.dumps(dict(identity), sort_keys=True, default=str), time.time()))

    @property
    def conn(self) -> Any:
        return self.store.conn

    def plan(self, dates: list[datetime]) -> dict[str, DateRow]:
        """Rows for these dates (new ones PENDING); a RUNNING row whose engine died becomes INTERRUPTED."""
        keys = [d.isoformat() for d in dates]
        with self.store.tx() as c:
            for k in keys:
                c.execute("INSERT OR IGNORE INTO backfill_dates (backfill, pipeline, logical_date, state)"
                          " VALUES (?,?,?,?)", (self.backfill, self.pipeline, k, PENDING))
            for k, pid, token in c.execute(
                    "SELECT logical_date, engine_pid, engine_token FROM backfill_dates WHERE backfill=? AND state=?",
                    (self.backfill, RUNNING)).fetchall():
                if not process_alive(pid, token):
                    c.execute("UPDATE backfill_dates SET state=?, error=? WHERE backfill=? AND logical_date=?",
                              (INTERRUPTED, "the backfill stopped while this run was in flight", self.backfill, k))
        rows = self.rows()
        return {k: rows[k] for k in keys}

    def rows(self) -> dict[str, DateRow]:
        out = {}
        for r in self.conn.execute(
                "SELECT logical_date, state, run_id, tries, started_at, ended_at, error FROM backfill_dates"
                " WHERE backfill=? ORDER BY logical_date", (self.backfill,)).fetchall():
            out[r[0]] = DateRow(*r)
        return out

    def start(self, logical_date: str) -> None:
        with self.store.tx() as c:
            c.execute("UPDATE backfill_dates SET state=?, tries=tries+1, started_at=?, ended_at=NULL, error=NULL,"
                      " run_id=NULL, engine_pid=?, engine_token=? WHERE backfill=? AND logical_date=?",
                      (RUNNING, time.time(), os.getpid(), process_token(os.getpid()), self.backfill, logical_date))

    def set_run(self, logical_date: str, run_id: str) -> None:
        with self.store.tx() as c:
            c.execute("UPDATE backfill_dates SET run_id=? WHERE backfill=? AND logical_date=?",
                      (run_id, self.backfill, logical_date))

    def finish(self, logical_date: str, state: str, run_id: str | None, error: str | None = None) -> None:
        with self.store.tx() as c:
            c.execute("UPDATE backfill_dates SET state=?, run_id=COALESCE(?, run_id), ended_at=?, error=?"
                      " WHERE backfill=? AND logical_date=?",
                      (state, run_id, time.time(), error, self.backfill, logical_date))

    def close(self) -> None:
        self.store.close()
