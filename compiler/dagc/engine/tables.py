"""Tables for local runs: one DuckDB file under the state directory, shared by every task and run.

Each operation goes through warehouse.connect(): the file is opened under the warehouse's
exclusive lock and let go soon after, so parallel tasks (in several worker processes, and
several engines) interleave instead of failing, and no commit is lost (see warehouse.py).
Tables written by one task are visible to the next task, in another process, and to a
`dagc retry` days later.

Names follow Snowflake's unquoted identifiers: case-insensitive, stored upper-case, in database
DAGC, schema PUBLIC (the same file fakesnow serves to `sql:` tasks, see sqlemu.py).
"""

from __future__ import annotations

import contextlib

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from dagc.diagnostics import DagcError
from dagc.engine.warehouse import DATABASE, SCHEMA, connect, release, warehouse_dir, warehouse_file

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATABASE", "SCHEMA", "DuckTables", "connect", "release", "table_name", "warehouse_dir", "warehouse_file"]

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def table_name(name: str) -> str:
    """An unqualified Snowflake identifier, normalised as Snowflake does (upper-case)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise DagcError(f"table name {name!r} is not a plain identifier",
                        "use letters, digits and underscores; tables live in the pipeline's own schema")
    return name.upper()


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
