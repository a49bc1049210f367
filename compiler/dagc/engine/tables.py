"""Tables for local runs: one DuckDB file under the state directory, shared by every task and run.

Why one file opened per operation: DuckDB lets one process at a time hold a file for writing, and
tasks run in several worker processes (and several engines may run at once). Each operation
opens the file, does its work and closes it, retrying while another process holds the lock, so
parallel tasks interleave instead of failing. Tables written by one task are visible to the next
task, in another process, and to a `dagc retry` days later.

Names follow Snowflake's unquoted identifiers: case-insensitive, stored upper-case, in database
DAGC, schema PUBLIC (the same file fakesnow serves to `sql:` tasks, see sqlemu.py).
"""

from __future__ import annotations

import atexit
import contextlib
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from dagc.diagnostics import DagcError

if TYPE_CHECKING:
    import pandas as pd

DATABASE = "DAGC"
SCHEMA = "PUBLIC"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
LOCK_WAIT_S = 300.0


def warehouse_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "warehouse"


def warehouse_file(state_dir: Path) -> Path:
    """fakesnow names a database file `<db_path>/<DATABASE>.db`; the Tables API opens the same file."""
    return warehouse_dir(state_dir) / f"{DATABASE}.db"


def table_name(name: str) -> str:
    """An unqualified Snowflake identifier, normalised as Snowflake does (upper-case)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise DagcError(f"table name {name!r} is not a plain identifier",
                        "use letters, digits and underscores; tables live in the pipeline's own schema")
    return name.upper()


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


class _Holder:
    """One process's open connection to the warehouse file, closed soon after it goes idle.

    Opening a DuckDB file costs tens of milliseconds (database start-up, checkpoint on close),
    so consecutive operations of a step reuse one connection; but DuckDB lets only one process
    hold the file, so the connection is closed IDLE_S after the last operation (and at the end
    of every step), letting parallel tasks in other workers take their turn.
    """

    IDLE_S = 0.05

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.con: Any = None
        self.last = 0.0
        self.depth = 0
        self.closer: threading.Thread | None = None

    def open(self) -> Any:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_WAIT_S
        delay = 0.002
        while True:
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    raise DagcError(f"cannot open the local warehouse {self.path}: {exc}") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        try:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
            con.execute(f"SET schema = '{SCHEMA}'")
        except duckdb.Error:
            con.close()
            raise
        return con

    def close(self) -> None:
        with self.lock:
            if self.con is not None and self.depth == 0:
                try:
                    self.con.close()
                finally:
                    self.con = None

    def _close_when_idle(self) -> None:
        while True:
            time.sleep(self.IDLE_S / 2)
            with self.lock:
                if self.con is None:
                    self.closer = None
                    return
                if self.depth == 0 and time.monotonic() - self.last >= self.IDLE_S:
                    self.close()
                    self.closer = None
                    return


_HOLDERS: dict[Path, _Holder] = {}
_HOLDERS_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    for h in list(_HOLDERS.values()):
        try:
            h.close()
        except Exception:
            pass


def _holder(state_dir: Path) -> _Holder:
    path = warehouse_file(state_dir).resolve()
    with _HOLDERS_LOCK:
        if path not in _HOLDERS:
            _HOLDERS[path] = _Holder(path)
        return _HOLDERS[path]


@contextlib.contextmanager
def connect(state_dir: Path, *, read_only: bool = False) -> Iterator[Any]:
    """A DuckDB connection to the warehouse file with PUBLIC as the current schema, waiting out locks."""
    h = _holder(state_dir)
    with h.lock:
        if h.con is None:
            h.con = h.open()
        h.depth += 1
        cur = h.con.cursor()  # a fresh cursor per operation: no half-read result left behind
        try:
            cur.execute(f"SET schema = '{SCHEMA}'")
            yield cur
        finally:
            cur.close()
            h.depth -= 1
            h.last = time.monotonic()
            if h.closer is None and h.con is not None:
                h.closer = threading.Thread(target=h._close_when_idle, daemon=True, name="dagc-duckdb-idle")
                h.closer.start()


def release(state_dir: Path) -> None:
    """Close this process's connection now (end of a step), so other processes get the file."""
    _holder(state_dir).close()


class DuckTables:
    """The Tables protocol (dagc.runtime.context.Tables) over the local DuckDB warehouse."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def read(self, name: str) -> "pd.DataFrame":
        n = table_name(name)
        with connect(self.state_dir) as con:
            if not _exists(con, n):
                raise DagcError(f"table {n} does not exist in the local warehouse",
                                f"tables: {', '.join(_list(con, '')) or '(none)'}")
            return con.execute(f'SELECT * FROM "{SCHEMA}"."{n}"').df()

    def write(self, name: str, df: "pd.DataFrame", *, mode: str = "overwrite") -> int:
        n = table_name(name)
        if mode not in ("overwrite", "append"):
            raise DagcError(f"unknown write mode {mode!r}", "use 'overwrite' or 'append'")
        with connect(self.state_dir) as con:
            con.register("_dagc_df", df)
            try:
                if mode == "append" and _exists(con, n):
                    con.execute(f'INSERT INTO "{SCHEMA}"."{n}" BY NAME SELECT * FROM _dagc_df')
                else:
                    con.execute(f'CREATE OR REPLACE TABLE "{SCHEMA}"."{n}" AS SELECT * FROM _dagc_df')
            finally:
                con.unregister("_dagc_df")
        return int(len(df))

    def exists(self, name: str) -> bool:
        n = table_name(name)
        with connect(self.state_dir) as con:
            return _exists(con, n)

    def drop(self, name: str) -> None:
        n = table_name(name)
        with connect(self.state_dir) as con:
            con.execute(f'DROP TABLE IF EXISTS "{SCHEMA}"."{n}"')

    def list(self, prefix: str = "") -> list[str]:
        with connect(self.state_dir) as con:
            return _list(con, prefix)

    def sql(self, query: str) -> "pd.DataFrame | None":
        """Snowflake SQL against the local warehouse (through fakesnow); a result set or None."""
        from dagc.engine.sqlemu import SqlRunner

        with SqlRunner(self.state_dir) as runner:
            return runner.query(query)

    # ---- set-based work: one Snowflake-dialect statement, run where the data lives -------------
    # SnowflakeTables (dagc.snowflake.backend) has the same three methods; docs/ml-pipelines.md.

    def create_table_as(self, name: str, select_sql: str) -> int:
        """CREATE OR REPLACE TABLE name AS <select_sql> (Snowflake SQL); returns the row count.

        The rows never pass through Python: DuckDB reads the sources and writes the new table,
        under a memory limit, spilling to disk (dagc.engine.snowsql says how the text is run).
        """
        from dagc.engine.snowsql import to_duckdb

        n = table_name(name)
        body = to_duckdb(select_sql)
        with connect(self.state_dir) as con, _set_based(con, self.state_dir):
            try:
                con.execute(f'CREATE OR REPLACE TABLE "{SCHEMA}"."{n}" AS {body}')
            except Exception as exc:  # noqa: BLE001 - duckdb.Error and its kin: report, no traceback
                raise DagcError(f"creating table {n} failed: {exc}",
                                "the statement is Snowflake SQL, run on DuckDB locally") from None
            row = con.execute(f'SELECT count(*) FROM "{SCHEMA}"."{n}"').fetchone()
        return int(row[0]) if row else 0

    def query(self, select_sql: str) -> "pd.DataFrame":
        """The small result of one Snowflake-dialect SELECT (summaries, counts, cut points)."""
        from dagc.engine.snowsql import to_duckdb

        body = to_duckdb(select_sql)
        with connect(self.state_dir) as con, _set_based(con, self.state_dir, keep_order=True):
            try:
                return con.execute(body).df()
            except Exception as exc:  # noqa: BLE001
                raise DagcError(f"query failed: {exc}", "the statement is Snowflake SQL, run on DuckDB locally") from None

    def read_batches(self, select_sql: str, batch_rows: int = 500_000) -> "Iterator[pd.DataFrame]":
        """The rows of one Snowflake-dialect SELECT as frames of at most `batch_rows` rows.

        Memory stays at about one batch whatever the table size. The warehouse file is held while
        the caller iterates, so consume the batches promptly (e.g. into an XGBoost DMatrix).
        """
        from dagc.engine.snowsql import to_duckdb

        body = to_duckdb(select_sql)
        with connect(self.state_dir) as con, _set_based(con, self.state_dir, keep_order=True):
            try:
                rel = con.sql(body)  # a relation streams; a DB-API result would copy every row first
                fetch = getattr(rel, "to_arrow_reader", None) or rel.record_batch  # duckdb 2 / 1
                reader = fetch(int(batch_rows))
            except Exception as exc:  # noqa: BLE001
                raise DagcError(f"query failed: {exc}", "the statement is Snowflake SQL, run on DuckDB locally") from None
            for batch in reader:
                yield batch.to_pandas()


def _exists(con: Any, n: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE upper(table_schema)=? AND upper(table_name)=?",
        [SCHEMA, n]).fetchone()
    return bool(row and row[0])


def _list(con: Any, prefix: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE upper(table_schema)=? AND table_type='BASE TABLE'"
        " ORDER BY 1", [SCHEMA]).fetchall()
    p = prefix.upper()
    return [r[0].upper() for r in rows if r[0].upper().startswith(p)]


SET_BASED_MEMORY = "2GB"  # DuckDB spills to <state>/warehouse/tmp beyond this (set-based statements)


@contextlib.contextmanager
def _set_based(con: Any, state_dir: Path, *, keep_order: bool = False) -> Iterator[None]:
    """Run a large statement under a memory limit with spilling; restore the defaults afterwards
    (the connection is shared with the plain operations). `keep_order` keeps the table's row order
    in a scan (reads); writes may reorder, an ORDER BY in the statement still orders."""
    tmp = warehouse_dir(state_dir) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{SET_BASED_MEMORY}'")
    current = con.execute("SELECT current_setting('temp_directory')").fetchone()
    if not current or str(current[0]).rstrip("/") != tmp.as_posix().rstrip("/"):
        try:  # DuckDB refuses to move a temporary directory it has already spilled to
            con.execute(f"SET temp_directory = '{tmp.as_posix()}'")
        except Exception:  # noqa: BLE001 - keep spilling where it already does
            pass
    con.execute(f"SET preserve_insertion_order = {'true' if keep_order else 'false'}")
    try:
        yield
    finally:
        for setting in ("memory_limit", "preserve_insertion_order"):
            con.execute(f"RESET {setting}")
