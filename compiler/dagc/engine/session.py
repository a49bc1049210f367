"""A Snowpark local-testing session whose tables are the local warehouse's DuckDB tables.

Snowpark's local testing mode keeps tables in memory, per session. To make `session.table(...)`
see what earlier tasks wrote, and later tasks see what this one saved, the session's table
registry is replaced by one that:
  - hydrates lazily: the first time the step reads (or appends to) a table that the session does
    not hold, it is loaded from DuckDB;
  - records every table the step saves or drops;
  - at the end of a successful step, writes the saved tables back to DuckDB (and drops the
    dropped ones). A failed step persists nothing, like a rolled-back transaction.
    A table the step only appended to is written back as an INSERT of the new rows, never as
    a replacement of the whole table: rows other tasks appended since it was loaded are kept
    (a read-modify-write here lost concurrent appends).
Only tables of the current database and schema (DAGC.PUBLIC) are synced; Snowpark's own
temporary tables never are. Views and stages stay in memory.
"""

from __future__ import annotations

from typing import Any

from dagc.engine.tables import DATABASE, SCHEMA, DuckTables


def _split(qualified: str) -> tuple[str, str, str]:
    from snowflake.snowpark._internal.analyzer.analyzer_utils import unquote_if_quoted
    from snowflake.snowpark._internal.utils import parse_table_name

    parts = [unquote_if_quoted(p) for p in parse_table_name(qualified)]
    while len(parts) < 3:
        parts.insert(0, "")
    return parts[-3], parts[-2], parts[-1]


def _local_name(qualified: str) -> str | None:
    """The DuckDB table for a session table, or None if it is not one we sync."""
    db, schema, name = _split(qualified)
    if db.upper() != DATABASE or schema.upper() != SCHEMA:
        return None
    if name.upper().startswith("SNOWPARK_TEMP_"):
        return None
    return name


class SyncedSession:
    def __init__(self, tables: DuckTables) -> None:
        from snowflake.snowpark import Session
        from snowflake.snowpark.mock._connection import MockServerConnection

        self.tables = tables
        self.session = Session.builder.configs({
            "local_testing": True, "database": DATABASE, "schema": SCHEMA,
            "disable_local_testing_telemetry": True,
        }).create()
        conn = self.session._conn
        sync = self
        base = MockServerConnection.TabularEntityRegistry

        class HydratingRegistry(base):  # type: ignore[misc, valid-type]
            def _qualified(self, name: Any) -> str:
                from snowflake.snowpark.mock._util import get_fully_qualified_name

                return str(get_fully_qualified_name(name, self.conn._get_current_parameter("schema"),
                                                    self.conn._get_current_parameter("database")))

            def _hydrate(self, name: Any) -> None:
                if sync.loading:
                    return
                q = self._qualified(name)
                if q in self.table_registry or q in sync.dropped:
                    return
                local = _local_name(q)
                if local is None or not sync.tables.exists(local):
                    return
                sync.load(local, q)

            def is_existing_table(self, name: Any) -> bool:
                self._hydrate(name)
                return bool(super().is_existing_table(name))

            def read_table(self, name: Any) -> Any:
                self._hydrate(name)
                return super().read_table(name)

            def write_table(self, name: Any, table: Any, mode: Any, column_names: Any = None) -> Any:
                from snowflake.snowpark._internal.analyzer.snowflake_plan_node import SaveMode

                self._hydrate(name)
                q = self._qualified(name)
                existed = q in self.table_registry
                out = super().write_table(name, table, mode, column_names)
                if not sync.loading:
                    if mode != SaveMode.APPEND:
                        sync.replaced.add(q)
                    elif not existed:  # created by an append: written back as an append (creates it if absent)
                        sync.base_rows.setdefault(q, 0)
                    sync.saved.add(q)
                    sync.dropped.discard(q)
                return out

            def drop_table(self, name: Any, **kwargs: Any) -> None:
                q = self._qualified(name)
                super().drop_table(name, **kwargs)
                sync.saved.discard(q)
                sync.dropped.add(q)
                sync.replaced.add(q)

        self.saved: set[str] = set()
        self.dropped: set[str] = set()
        self.replaced: set[str] = set()  # overwritten, created or dropped: written back whole
        self.base_rows: dict[str, int] = {}  # rows a table had when loaded from DuckDB
        self.loading = False
        conn.entity_registry = HydratingRegistry(conn)

    def load(self, local: str, qualified: str) -> None:
        df = self.tables.read(local)
        self.loading = True
        try:
            self.session.create_dataframe(df).write.save_as_table(qualified, mode="overwrite")
        finally:
            self.loading = False
        self.base_rows[qualified] = len(df)

    def persist(self) -> None:
        """Write tables the step saved back to DuckDB; drop the ones it dropped."""
        import pandas as pd
        from snowflake.snowpark._internal.analyzer.analyzer_utils import unquote_if_quoted

        registry = self.session._conn.entity_registry.table_registry
        for q in sorted(self.saved):
            local = _local_name(q)
            if local is None or q not in registry:
                continue
            te = registry[q]
            df = pd.DataFrame({unquote_if_quoted(c): list(te[c]) for c in te.columns})
            if q in self.replaced or q not in self.base_rows:
                self.tables.write(local, df, mode="overwrite")
            else:  # appends only: insert what is new, keep what others appended meanwhile
                new = df.iloc[self.base_rows[q]:]
                if len(new):
                    self.tables.write(local, new.reset_index(drop=True), mode="append")
        for q in sorted(self.dropped):
            local = _local_name(q)
            if local is not None:
                self.tables.drop(local)

    def close(self) -> None:
        try:
            self.session.close()
        except Exception:
            pass
