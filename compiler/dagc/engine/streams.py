"""Snowflake streams, emulated on the local warehouse: has the watched table changed since the
last run consumed the stream?

A stream is declared in the pipeline (`streams: {STREAM: TABLE}`); locally its offset is a
fingerprint of the table's rows (row count + an order-independent hash), kept in the run state
database. `SYSTEM$STREAM_HAS_DATA` is true when the table's fingerprint differs from the consumed
one (a stream never consumed has data when its table has rows). A run that succeeds consumes the
trigger stream at the fingerprint seen when it started, as a graph that reads its stream does;
streams only tested in `if:` are not consumed. A table that does not exist has no data.
"""

from __future__ import annotations

from typing import Any

from dagc.engine import tables
from dagc.engine.state import StateStore

_DDL = ("CREATE TABLE IF NOT EXISTS stream_offsets (pipeline TEXT NOT NULL, stream TEXT NOT NULL, "
        "fingerprint TEXT NOT NULL, consumed_at REAL NOT NULL, PRIMARY KEY (pipeline, stream))")


def table_of(streams: Any, stream: str) -> str:
    """The local table a stream watches: the last part of its declared table name."""
    return str(streams[stream]).split(".")[-1].strip('"')


def fingerprint(state_dir: Any, table: str) -> str | None:
    """None when the table does not exist; "0:" when it is empty."""
    name = tables.table_name(table)
    with tables.connect(state_dir, read_only=False) as con:
        if not tables._exists(con, name):
            return None
        rows, digest = con.execute(f'SELECT COUNT(*), COALESCE(SUM(HASH(t)), 0) FROM "{name}" AS t').fetchone()
    return f"{rows}:{digest if rows else ''}"


class Streams:
    def __init__(self, store: StateStore, pipeline: Any) -> None:
        self.store = store
        self.p = pipeline
        with store.tx() as conn:
            conn.execute(_DDL)

    def consumed(self, stream: str) -> str | None:
        with self.store.tx() as conn:
            row = conn.execute("SELECT fingerprint FROM stream_offsets WHERE pipeline = ? AND stream = ?",
                               (self.p.name, stream)).fetchone()
        return row[0] if row else None

    def current(self, stream: str) -> str | None:
        return fingerprint(self.store.state_dir, table_of(self.p.streams, stream))

    def has_data(self, stream: str) -> bool:
        now = self.current(stream)
        if now is None:
            return False
        before = self.consumed(stream)
        return now != before if before is not None else not now.startswith("0:")

    def consume(self, stream: str, fp: str | None) -> None:
        import time

        if fp is None:
            return
        with self.store.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO stream_offsets VALUES (?, ?, ?, ?)",
                         (self.p.name, stream, fp, time.time()))
