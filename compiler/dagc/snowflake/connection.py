"""Connections the way Snowflake users already have them.

Resolution, as the Snowflake CLI and connector do it:
- files: `$SNOWFLAKE_HOME` (default `~/.snowflake`): `connections.toml` (one table per connection)
  and `config.toml` (`[connections.NAME]` tables, `default_connection_name`);
- the name: `--connection NAME`, else `$SNOWFLAKE_DEFAULT_CONNECTION_NAME`, else
  `default_connection_name` from config.toml, else "default";
- environment: `SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>` overrides that connection's key, and plain
  `SNOWFLAKE_<KEY>` (ACCOUNT, USER, PASSWORD, ROLE, WAREHOUSE, DATABASE, SCHEMA, AUTHENTICATOR,
  PRIVATE_KEY_FILE, TOKEN, ...) fills in or overrides; with no file at all, SNOWFLAKE_ACCOUNT alone
  is enough to define a connection.

A missing or broken connection is a `DagcError` with a hint. Secrets (password, token, private key
and its passphrase) never appear in a message: every text leaving this module goes through `redact`.
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from dagc.diagnostics import DagcError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

SECRET_KEYS = {"password", "token", "private_key", "private_key_passphrase", "private_key_file_pwd",
               "passcode", "oauth_client_secret", "client_secret", "master_token", "session_token"}
KNOWN_KEYS = {"account", "user", "password", "role", "warehouse", "database", "schema", "authenticator",
              "private_key_file", "private_key_path", "private_key_passphrase", "private_key_file_pwd", "token",
              "token_file_path", "host", "port", "protocol", "passcode", "region", "client_session_keep_alive"}
HINT = (
    "create one with `snow connection add` (Snowflake CLI), or write ~/.snowflake/connections.toml:\n"
    "    [default]\n    account = \"myorg-myaccount\"\n    user = \"me\"\n    authenticator = \"externalbrowser\"\n"
    "  or set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and SNOWFLAKE_PASSWORD (or SNOWFLAKE_AUTHENTICATOR)"
)


@dataclass
class Connection:
    name: str
    params: dict[str, Any]
    sources: list[str] = field(default_factory=list)  # where the settings came from, for messages

    @property
    def secrets(self) -> list[str]:
        return [str(v) for k, v in self.params.items() if k in SECRET_KEYS and v not in (None, "")]

    def describe(self) -> str:
        """Safe one-liner: account, user, role, warehouse, database.schema (never a secret)."""
        p = self.params
        bits = [f"account {p.get('account', '?')}"]
        for key in ("user", "role", "warehouse"):
            if p.get(key):
                bits.append(f"{key} {p[key]}")
        if p.get("database"):
            bits.append(f"{p['database']}.{p.get('schema') or 'PUBLIC'}")
        return f"connection {self.name!r} (" + ", ".join(bits) + ")"

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Remove secret values, and anything that looks like `password=...`/`token: ...`, from text."""
    out = str(text)
    for s in sorted(secrets or [], key=len, reverse=True):
        if len(s) >= 3:
            out = out.replace(s, "***")
    return re.sub(r"(?i)\b(password|passcode|token|private_key_passphrase|private_key_file_pwd|secret)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",;&]+",
                  r"\1\2***", out)


def snowflake_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("SNOWFLAKE_HOME"):
        return Path(env["SNOWFLAKE_HOME"]).expanduser()
    return Path(env.get("HOME") or Path.home()) / ".snowflake"


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DagcError(f"{path}: not valid TOML ({redact(str(exc))})",
                        "fix the file, or point SNOWFLAKE_HOME at another directory") from None
    except OSError as exc:
        raise DagcError(f"{path}: cannot read ({exc.strerror})") from None


def available(env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Every connection defined in the files, by name (values as written)."""
    home = snowflake_home(env)
    conns: dict[str, dict[str, Any]] = {}
    cfg = _read_toml(home / "config.toml")
    for name, table in (cfg.get("connections") or {}).items():
        if isinstance(table, dict):
            conns[name] = dict(table)
    for name, table in _read_toml(home / "connections.toml").items():
        if isinstance(table, dict):
            conns[name] = dict(table)  # connections.toml wins, as in the Snowflake CLI
    return conns


def resolve(name: str | None = None, env: Mapping[str, str] | None = None) -> Connection:
    """The connection to use, or a DagcError that says how to get one."""
    env = dict(os.environ if env is None else env)
    home = snowflake_home(env)
    conns = available(env)
    cfg = _read_toml(home / "config.toml")
    explicit = name is not None
    chosen = name or env.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME") or cfg.get("default_connection_name") or "default"
    params: dict[str, Any] = {}
    sources: list[str] = []
    if chosen in conns:
        params.update(conns[chosen])
        sources.append(str(home / "connections.toml") if (home / "connections.toml").is_file() else str(home / "config.toml"))
    elif explicit or conns:
        if explicit or env.get("SNOWFLAKE_ACCOUNT") is None:
            known = ", ".join(sorted(conns)) or "none"
            raise DagcError(f"no Snowflake connection named {chosen!r} (defined in {home}: {known})", HINT)
    prefix = f"SNOWFLAKE_CONNECTIONS_{chosen.upper()}_"
    for key, value in env.items():
        if key.startswith(prefix):
            params[key[len(prefix):].lower()] = value
            sources.append(key)
    for key, value in env.items():
        if key.startswith("SNOWFLAKE_") and not key.startswith("SNOWFLAKE_CONNECTIONS_"):
            k = key[len("SNOWFLAKE_"):].lower()
            if k in KNOWN_KEYS:
                params[k] = value
                sources.append(key)
    if not params.get("account"):
        if not params:
            raise DagcError("no Snowflake connection configured", HINT)
        raise DagcError(f"Snowflake connection {chosen!r} has no account", HINT)
    if "private_key_path" in params and "private_key_file" not in params:
        params["private_key_file"] = params.pop("private_key_path")
    return Connection(chosen, params, sources)


def is_configured(name: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    try:
        resolve(name, env)
    except DagcError:
        return False
    return True


def target_schema(stage: str | None, conn: Connection | None, *, database: str | None = None,
                  schema: str | None = None) -> tuple[str, str]:
    """Where the graph lives: explicit, else the stage's qualifier (@DB.SCHEMA.STAGE), else the connection's."""
    if database and schema:
        return database, schema
    if stage:
        parts = stage.lstrip("@").split("/")[0].split(".")
        if len(parts) == 3:
            return parts[0], parts[1]
    if conn is not None and conn.params.get("database") and conn.params.get("schema"):
        return conn.params["database"], conn.params["schema"]
    raise DagcError(
        "cannot tell which database and schema to deploy to",
        "qualify the pipeline's stage (@DB.SCHEMA.STAGE), or set database and schema in the connection",
    )


def connect(conn: Connection) -> Any:
    """A Snowpark session for `conn`; authentication and network failures become DagcError."""
    try:
        import snowflake.connector
        from snowflake.connector.errors import Error as ConnectorError
        from snowflake.snowpark import Session
    except ImportError as exc:  # pragma: no cover - dependencies are declared
        raise DagcError(f"the Snowflake connector is not installed ({exc})", "pip install snowflake-snowpark-python") from None
    params = {k: v for k, v in conn.params.items() if k in KNOWN_KEYS or k.startswith("private_key")}
    params.setdefault("login_timeout", 30)
    params.setdefault("application", "dagc")
    try:
        raw = snowflake.connector.connect(**params)
    except ConnectorError as exc:
        msg = conn.redact(getattr(exc, "raw_msg", None) or str(exc))
        errno = getattr(exc, "errno", None)
        auth = errno in (390100, 390144, 390318, 250001) or "auth" in msg.lower() or "password" in msg.lower()
        raise DagcError(
            f"could not {'authenticate with' if auth else 'connect to'} Snowflake using {conn.describe()}: {msg}",
            "check the user and credentials in the connection (`snow connection test -c NAME` tells the same story)"
            if auth else "check the account identifier and your network",
        ) from None
    except Exception as exc:  # noqa: BLE001 - e.g. an unreadable private key file
        raise DagcError(f"could not connect to Snowflake using {conn.describe()}: {conn.redact(str(exc))}") from None
    return Session.builder.configs({"connection": raw}).create()


def open_schema(conn: Connection, stage: str | None, *, database: str | None = None,
                schema: str | None = None) -> tuple[Any, Any]:
    """(session, SchemaResource) for the pipeline's database and schema."""
    session = connect(conn)
    from snowflake.core import Root

    db, sc = target_schema(stage, conn, database=database, schema=schema)
    return session, Root(session).databases[db].schemas[sc]


@contextmanager
def snowflake_errors(conn: Connection | None = None) -> Iterator[None]:
    """snowflake.core / connector / Snowpark errors -> one clean DagcError line, secrets removed."""
    try:
        yield
    except DagcError:
        raise
    except Exception as exc:  # noqa: BLE001
        if not type(exc).__module__.startswith("snowflake"):
            raise
        text = str(exc).strip().replace("\n", " ")
        text = conn.redact(text) if conn is not None else redact(text)
        hint = ("check the role's privileges (docs/snowflake.md, section 1)"
                if "403" in text or "privilege" in text.lower() or "not authorized" in text.lower() else None)
        raise DagcError(f"Snowflake refused the request: {type(exc).__name__}: {text}", hint) from None
