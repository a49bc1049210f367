"""The `Backend` a step sees inside a Snowflake task: the task's Snowpark session, tables in the
task's database and schema, Snowflake's model registry, and notifications through a notification
integration. The local engine implements the same protocol (dagc.runtime.context), so step code
is identical on both targets.

Shipped inside the staged bundle; Snowpark / snowflake-ml are imported inside methods.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Mapping

from dagc.runtime.context import MAX_SUBJECT, ModelVersionInfo, recipient_list


def _quote_literal(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")


def table_identifier(name: str) -> str:
    """A table name for SQL text, quoted: `loan_apps` -> `"LOAN_APPS"`, `db.sc.t` -> `"DB"."SC"."T"`.

    Tables are named the way steps name them, unquoted (so Snowflake resolves them upper case);
    quoting the upper-cased parts names the same table and keeps whatever the name came from (a
    catalog table's rows, a config value) from becoming SQL. Anything that is not a plain
    identifier is refused rather than guessed at."""
    parts = str(name).split(".")
    if not 1 <= len(parts) <= 3 or not all(_PLAIN.match(p) for p in parts):
        raise ValueError(f"{name!r} is not a table name dagc can use: letters, digits, _ and $ "
                         "(starting with a letter or _), optionally qualified as DB.SCHEMA.TABLE")
    return ".".join(f'"{p.upper()}"' for p in parts)


class SnowflakeTables:
    def __init__(self, session: Any) -> None:
        self.s = session

    def read(self, name: str) -> Any:
        return self.s.table(name).to_pandas()

    def write(self, name: str, df: Any, *, mode: str = "overwrite") -> int:
        if mode not in ("overwrite", "append"):
            raise ValueError(f"mode must be 'overwrite' or 'append', not {mode!r}")
        table_identifier(name)  # write_pandas puts the name into SQL unquoted: refuse anything else
        self.s.write_pandas(df, name.upper(), auto_create_table=True, overwrite=(mode == "overwrite"),
                            quote_identifiers=False)
        return int(len(df))

    def exists(self, name: str) -> bool:
        rows = self.s.sql(f"show tables like {_quote_literal(name.upper())}").collect()
        return any(str(r["name"]).upper() == name.upper() for r in rows)

    def drop(self, name: str) -> None:
        self.s.sql(f"drop table if exists {table_identifier(name)}").collect()

    def list(self, prefix: str = "") -> list[str]:
        rows = self.s.sql(f"show tables like {_quote_literal(prefix.upper() + '%')}").collect()
        return sorted(str(r["name"]) for r in rows)

    def sql(self, query: str) -> Any:
        df = self.s.sql(query)
        try:
            return df.to_pandas()
        except Exception:  # noqa: BLE001 - statements without a result set
            df.collect()
            return None

    # Set-based work (the same three methods as dagc.engine.tables.DuckTables): the statement runs
    # on the task's warehouse; only the row count or a small result comes back.

    def create_table_as(self, name: str, select_sql: str) -> int:
        """CREATE OR REPLACE TABLE name AS <select_sql>; returns the new table's row count."""
        self.s.sql(f"create or replace table {table_identifier(name)} as {select_sql}").collect()
        return int(self.s.sql(f"select count(*) from {table_identifier(name)}").collect()[0][0])

    def query(self, select_sql: str) -> Any:
        """The small result of one SELECT as a pandas frame."""
        return self.s.sql(select_sql).to_pandas()

    def read_batches(self, select_sql: str, batch_rows: int = 500_000) -> Any:
        """The rows of one SELECT as pandas frames, batch by batch (Snowpark's to_pandas_batches)."""
        del batch_rows  # Snowflake sizes the result batches itself
        yield from self.s.sql(select_sql).to_pandas_batches()


class SnowflakeModels:
    """dagc's ModelRegistry over snowflake.ml.registry.Registry (metrics as version metrics,
    lineage as a JSON comment)."""

    def __init__(self, session: Any) -> None:
        from snowflake.ml.registry import Registry

        self.reg = Registry(session=session)

    def log_model(self, name: str, model: Any, *, metrics: Mapping[str, float], lineage: Mapping[str, Any],
                  sample_input: Any = None) -> str:
        version = "V" + datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S_%f")
        mv = self.reg.log_model(model, model_name=name, version_name=version, sample_input_data=sample_input,
                                metrics=dict(metrics), comment=json.dumps(dict(lineage), default=str))
        return str(mv.version_name)

    def set_default(self, name: str, version: str) -> None:
        self.reg.get_model(name).default = version

    def get_default(self, name: str) -> str | None:
        try:
            return str(self.reg.get_model(name).default.version_name)
        except Exception:  # noqa: BLE001 - no such model yet
            return None

    def load(self, name: str, version: str | None = None) -> Any:
        m = self.reg.get_model(name)
        return (m.version(version) if version else m.default).load()

    def versions(self, name: str) -> list[ModelVersionInfo]:
        try:
            m = self.reg.get_model(name)
        except ValueError:  # "Unable to find model ...": no version yet, as the local registry says
            return []
        default = self.get_default(name)
        table = m.show_versions()
        out = []
        for _, row in table.iterrows():
            v = m.version(row["name"])
            try:
                lineage = json.loads(row.get("comment") or "{}")
            except ValueError:
                lineage = {}
            out.append(ModelVersionInfo(str(row["name"]), str(row["name"]), row["created_on"], v.show_metrics(),
                                        lineage, str(row["name"]) == default))
        return sorted(out, key=lambda i: i.created_at)

    def delete_version(self, name: str, version: str) -> None:
        if self.get_default(name) == version:
            raise ValueError(f"{name} version {version} is the default version; set another default first")
        self.reg.get_model(name).delete_version(version)

    def models(self) -> list[str]:
        return sorted(m.name for m in self.reg.models())


class SnowflakeBackend:
    def __init__(self, session: Any = None, *, default_integration: str | None = None,
                 session_factory: Any = None) -> None:
        self._session = session
        self._factory = session_factory  # an ML Job creates its session only if the step asks for it
        self._tables: SnowflakeTables | None = None
        self._models: SnowflakeModels | None = None
        self.default_integration = default_integration

    def session(self) -> Any:
        if self._session is None and self._factory is not None:
            self._session = self._factory()
        return self._session

    def tables(self) -> SnowflakeTables:
        if self._tables is None:
            self._tables = SnowflakeTables(self.session())
        return self._tables

    def models(self) -> SnowflakeModels:
        if self._models is None:
            self._models = SnowflakeModels(self.session())
        return self._models

    def notify(self, subject: str, message: str, *, integration: str | None = None,
               recipients: "str | list[str] | tuple[str, ...] | None" = None) -> None:
        """SYSTEM$SEND_SNOWFLAKE_NOTIFICATION. With `recipients`, through EMAIL_INTEGRATION_CONFIG,
        which carries the subject and the To: line; without, through INTEGRATION(...), which sends
        to the integration's DEFAULT_RECIPIENTS with its default subject, so the subject then heads
        the message body instead of being lost."""
        self.session().sql(notification_sql(subject, message, integration or self.default_integration,
                                             recipients)).collect()


def notification_sql(subject: str, message: str, integration: str | None,
                     recipients: "str | list[str] | tuple[str, ...] | None" = None) -> str:
    """The CALL that sends one notification; every value is a quoted, escaped string literal."""
    if not integration:
        raise ValueError("no notification integration: pass integration= or set config.notification_integration")
    to = recipient_list(recipients)
    if not to:
        return ("call system$send_snowflake_notification("
                f"snowflake.notification.text_plain({_quote_literal(subject + chr(10) + chr(10) + message)}), "
                f"snowflake.notification.integration({_quote_literal(integration)}))")
    addresses = ", ".join(_quote_literal(a) for a in to)
    return ("call system$send_snowflake_notification("
            f"snowflake.notification.text_plain({_quote_literal(message)}), "
            f"snowflake.notification.email_integration_config({_quote_literal(integration)}, "
            f"{_quote_literal(subject[:MAX_SUBJECT])}, array_construct({addresses})))")
