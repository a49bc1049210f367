"""Snowflake SQL text run on the local DuckDB warehouse, for set-based step work.

Steps that compute where the data lives (`ctx.tables.create_table_as`, `ctx.tables.query`,
`ctx.tables.read_batches`) write ONE statement in Snowflake's dialect: Snowflake runs it as
written, and locally sqlglot (already a dependency, through fakesnow) transpiles it to DuckDB.

sqlglot keeps Snowflake's `ASOF JOIN r MATCH_CONDITION (l.t >= r.t) ON l.k = r.k` as is, which
DuckDB cannot parse, so `to_duckdb` rewrites it to DuckDB's `ASOF LEFT JOIN r ON l.k = r.k AND
l.t >= r.t`: Snowflake's ASOF JOIN keeps every left row (NULLs where nothing matches), which is
DuckDB's LEFT variant. Everything else is sqlglot's own translation.

This path goes straight to DuckDB (not through fakesnow, which `sql:` tasks and `Tables.sql` use)
because it is meant for large statements: no result set is copied, and the statement runs under
a memory limit with spilling to disk (see tables.DuckTables.create_table_as).
"""

from __future__ import annotations

from functools import lru_cache

from dagc.diagnostics import DagcError


@lru_cache(maxsize=256)
def to_duckdb(sql: str) -> str:
    """DuckDB text for one Snowflake-dialect statement (ASOF JOIN ... MATCH_CONDITION included)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.ParseError as exc:
        raise DagcError(f"cannot parse the Snowflake SQL: {exc}", "check the statement's syntax") from None

    def asof(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Join) and node.args.get("match_condition") is not None:
            node = node.copy()
            cond = node.args["match_condition"]
            on = node.args.get("on")
            node.set("match_condition", None)
            node.set("side", "LEFT")
            node.set("on", exp.and_(on, cond) if on is not None else cond)
        return node

    return tree.transform(asof).sql(dialect="duckdb")
