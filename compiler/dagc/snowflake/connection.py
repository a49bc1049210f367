"""Connections the way Snowflake users already have them, resolved as the Snowflake CLI resolves them.

- where: `$SNOWFLAKE_HOME` (default `~/.snowflake`) when that directory exists, else the platform's
  config directory the connector falls back to (`~/.config/snowflake` on Linux, honouring
  `XDG_CONFIG_HOME`; `~/Library/Application Support/snowflake` on macOS);
- files: read with snowflake-connector-python's own `ConfigManager` (same permission checks):
  `connections.toml` (one table per connection) replaces `config.toml`'s `[connections]` when it
  exists; `SNOWFLAKE_CONNECTIONS` (a TOML string) replaces both;
- the name: `--connection NAME`, else `$SNOWFLAKE_DEFAULT_CONNECTION_NAME`, else
  `default_connection_name` from config.toml, else "default";
- precedence, highest first: command-line values > `SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>` > the
  file's connection > generic `SNOWFLAKE_<KEY>` (ACCOUNT, USER, ROLE, ...). A stray generic
  variable in CI therefore never retargets a configured connection. With no file at all,
  SNOWFLAKE_ACCOUNT alone is enough to define a connection;
- every key of a connection reaches the connector untouched (workload identity, OAuth, MFA token
  caching, proxies, OCSP, the user's login_timeout...): dagc only adds `application` and a
  login timeout when they are unset, and the pipeline's warehouse when the connection has none.

A missing or broken connection is a `DagcError` with a hint; a network failure is told apart from
a rejected credential. Secrets never appear in a message: every text leaving this module goes
through `redact`.
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
# The generic SNOWFLAKE_<KEY> variables read as the lowest-precedence layer. Only these: SNOWFLAKE_HOME,
# SNOWFLAKE_CONNECTIONS... are not connection keys. Keys in a connection's table are never filtered.
GENERIC_KEYS = {"account", "user", "password", "role", "warehouse", "database", "schema", "authenticator",
                "private_key_file", "private_key_path", "private_key_raw", "private_key_passphrase",
                "private_key_file_pwd", "token", "token_file_path", "host", "port", "protocol", "passcode", "region",
                "workload_identity_provider", "oauth_client_id", "oauth_client_secret"}
KNOWN_KEYS = GENERIC_KEYS  # older name
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


class SnowflakeUnreachable(DagcError):
    """The network failed before Snowflake could answer (DNS, proxy, timeout): not a credential problem."""


def snowflake_home(env: Mapping[str, str] | None = None) -> Path:
    """`$SNOWFLAKE_HOME`, or `~/.snowflake` (whether or not it exists)."""
    env = os.environ if env is None else env
    if env.get("SNOWFLAKE_HOME"):
        return Path(env["SNOWFLAKE_HOME"]).expanduser()
    return Path(env.get("HOME") or Path.home()) / ".snowflake"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the connector reads config.toml and connections.toml: the Snowflake home when it exists,
    else the platform's user config directory (what `snowflake.connector.sf_dirs` does)."""
    env = os.environ if env is None else env
    home = snowflake_home(env)
    if home.exists():
        return home
    user_home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return user_home / "Library" / "Application Support" / "snowflake"
    if sys.platform.startswith("win"):  # pragma: no cover - platformdirs knows the registry-based path
        from platformdirs import PlatformDirs

        return Path(PlatformDirs(appname="snowflake", appauthor=False).user_config_path)
    xdg = (env.get("XDG_CONFIG_HOME") or "").strip()
    return (Path(xdg) if xdg else user_home / ".config") / "snowflake"


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


@dataclass
class Files:
    """What the configuration files (or SNOWFLAKE_CONNECTIONS) define."""

    connections: dict[str, dict[str, Any]]
    default_name: str | None
    source: str  # for messages: the file (or variable) the connections came from


def read_files(env: Mapping[str, str] | None = None) -> Files:
    """config.toml + connections.toml with the connector's own ConfigManager (connections.toml's tables
    replace config.toml's [connections]; the same permission checks), then SNOWFLAKE_CONNECTIONS."""
    env = os.environ if env is None else env
    where = config_dir(env)
    cfg_path, conn_path = where / "config.toml", where / "connections.toml"
    for path in (cfg_path, conn_path):
        _read_toml(path)  # a clear "not valid TOML" message before the connector's generic one
    doc: dict[str, Any] = {}
    if cfg_path.is_file() or conn_path.is_file():
        from snowflake.connector.config_manager import ConfigManager, ConfigSlice, ConfigSliceOptions
        from snowflake.connector.errors import ConfigSourceError

        manager = ConfigManager(name="dagc", file_path=cfg_path, _slices=[
            ConfigSlice(conn_path, ConfigSliceOptions(check_permissions=True), "connections")])
        try:
            manager.read_config()
        except ConfigSourceError as exc:
            raise DagcError(f"cannot use the Snowflake configuration in {where}: {redact(str(exc))}",
                            "fix the file's permissions (chmod 0600), or point SNOWFLAKE_HOME elsewhere") from None
        cache = manager.conf_file_cache
        doc = dict(cache.unwrap() if hasattr(cache, "unwrap") else cache or {})
    conns = doc.get("connections") if isinstance(doc.get("connections"), dict) else {}
    source = str(conn_path if conn_path.is_file() else cfg_path)
    if env.get("SNOWFLAKE_CONNECTIONS"):
        try:
            conns = tomllib.loads(env["SNOWFLAKE_CONNECTIONS"])
        except tomllib.TOMLDecodeError as exc:
            raise DagcError(f"SNOWFLAKE_CONNECTIONS is not valid TOML ({redact(str(exc))})",
                            "it holds the text of a connections.toml") from None
        source = "SNOWFLAKE_CONNECTIONS"
    default = doc.get("default_connection_name")
    return Files({str(k): dict(v) for k, v in (conns or {}).items() if isinstance(v, dict)},
                 str(default) if default else None, source)


def available(env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Every connection defined in the files (or SNOWFLAKE_CONNECTIONS), by name, values as written."""
    return read_files(env).connections


def _lower(params: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in params.items()}


def resolve(name: str | None = None, env: Mapping[str, str] | None = None, *,
            overrides: Mapping[str, Any] | None = None, warehouse: str | None = None) -> Connection:
    """The connection to use, or a DagcError that says how to get one.

    `overrides` are command-line values (highest precedence); `warehouse` is the pipeline's, used
    only when nothing else names one (listing tasks and reading history need a warehouse)."""
    env = dict(os.environ if env is None else env)
    files = read_files(env)
    conns = files.connections
    explicit = name is not None
    chosen = name or env.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME") or files.default_name or "default"
    prefix = f"SNOWFLAKE_CONNECTIONS_{chosen.upper()}_"
    named_env = {k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix)}
    if chosen not in conns and (explicit or conns) and not named_env:
        if explicit or env.get("SNOWFLAKE_ACCOUNT") is None:
            known = ", ".join(sorted(conns)) or "none"
            raise DagcError(f"no Snowflake connection named {chosen!r} (defined in {files.source}: {known})", HINT)
    params: dict[str, Any] = {}
    sources: list[str] = []
    for key, value in env.items():  # lowest: generic SNOWFLAKE_<KEY>
        if key.startswith("SNOWFLAKE_") and not key.startswith("SNOWFLAKE_CONNECTIONS"):
            k = key[len("SNOWFLAKE_"):].lower()
            if k in GENERIC_KEYS:
                params[k] = value
                sources.append(key)
    if chosen in conns:
        params.update(_lower(conns[chosen]))
        sources.append(files.source)
    params.update(named_env)
    sources.extend(prefix + k.upper() for k in named_env)
    if overrides:
        params.update({k: v for k, v in _lower(overrides).items() if v is not None})
        sources.append("command line")
    if not params.get("account"):
        if not params:
            raise DagcError("no Snowflake connection configured", HINT)
        raise DagcError(f"Snowflake connection {chosen!r} has no account", HINT)
    if "private_key_path" in params and "private_key_file" not in params:
        params["private_key_file"] = params.pop("private_key_path")
    if warehouse and not params.get("warehouse"):
        params["warehouse"] = warehouse
        sources.append("the pipeline's warehouse")
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
        from dagc.snowflake.names import split_qualified

        parts = split_qualified(stage.lstrip("@").split("/")[0])
        if len(parts) == 3:
            return parts[0], parts[1]
    if conn is not None and conn.params.get("database") and conn.params.get("schema"):
        return conn.params["database"], conn.params["schema"]
    raise DagcError(
        "cannot tell which database and schema to deploy to",
        "qualify the pipeline's stage (@DB.SCHEMA.STAGE), or set database and schema in the connection",
    )


def connect(conn: Connection) -> Any:
    """A Snowpark session for `conn`. A rejected credential, a refused connection and a network
    failure are three different messages (the connector marks credential rejections with SQLSTATE
    28000; it retries the network itself before giving up)."""
    try:
        import snowflake.connector
        from snowflake.connector.errors import Error as ConnectorError
        from snowflake.snowpark import Session
    except ImportError as exc:  # pragma: no cover - dependencies are declared
        raise DagcError(f"the Snowflake connector is not installed ({exc})", "pip install snowflake-snowpark-python") from None
    params = dict(conn.params)
    params.setdefault("login_timeout", 30)
    params.setdefault("application", "dagc")
    try:
        raw = snowflake.connector.connect(**params)
    except ConnectorError as exc:
        raise _connect_error(conn, exc) from None
    except OSError as exc:  # sockets, DNS, proxies below the connector's own handling
        raise SnowflakeUnreachable(f"could not reach Snowflake using {conn.describe()}: {conn.redact(str(exc))}",
                                   "check the account identifier, your network and any proxy settings") from None
    except Exception as exc:  # noqa: BLE001 - e.g. an unreadable private key file
        raise DagcError(f"could not connect to Snowflake using {conn.describe()}: {conn.redact(str(exc))}") from None
    return Session.builder.configs({"connection": raw}).create()


NETWORK_ERRNOS = {250003, 251011, 251012}  # ER_FAILED_TO_REQUEST, ER_CONNECTION_TIMEOUT, ER_RETRYABLE_CODE


def _connect_error(conn: Connection, exc: Exception) -> DagcError:
    from snowflake.connector.errors import OperationalError
    from snowflake.connector.sqlstate import SQLSTATE_AUTHORIZATION_FAILURE

    try:
        from snowflake.connector.network import CREDENTIAL_REJECTION_GS_CODES
    except ImportError:  # pragma: no cover - older connectors
        CREDENTIAL_REJECTION_GS_CODES = frozenset({"390100", "390144"})
    msg = conn.redact(getattr(exc, "raw_msg", None) or str(exc))
    errno = getattr(exc, "errno", None)
    if getattr(exc, "sqlstate", None) == SQLSTATE_AUTHORIZATION_FAILURE or str(errno) in CREDENTIAL_REJECTION_GS_CODES:
        return DagcError(f"could not authenticate with Snowflake using {conn.describe()}: {msg}",
                         "check the user and credentials in the connection (`snow connection test -c NAME` tells the same story)")
    if errno in NETWORK_ERRNOS or (isinstance(exc, OperationalError) and errno is None):
        return SnowflakeUnreachable(f"could not reach Snowflake using {conn.describe()}: {msg}",
                                    "check the account identifier, your network and any proxy settings")
    return DagcError(f"Snowflake refused the connection {conn.describe()}: {msg}",
                     "check the account, role, warehouse and database named in the connection")


def open_schema(conn: Connection, stage: str | None, *, database: str | None = None,
                schema: str | None = None) -> tuple[Any, Any]:
    """(session, SchemaResource) for the pipeline's database and schema."""
    session = connect(conn)
    from snowflake.core import Root

    db, sc = target_schema(stage, conn, database=database, schema=schema)
    return session, Root(session).databases[db].schemas[sc]


def is_snowflake_error(exc: BaseException) -> bool:
    """Raised by snowflake.core / the connector / Snowpark (or a subclass of one of theirs)."""
    return any(c.__module__.startswith("snowflake.") for c in type(exc).__mro__)


@contextmanager
def snowflake_errors(conn: Connection | None = None) -> Iterator[None]:
    """snowflake.core / connector / Snowpark errors -> one clean DagcError line, secrets removed."""
    try:
        yield
    except DagcError:
        raise
    except Exception as exc:  # noqa: BLE001
        if not is_snowflake_error(exc):
            raise
        text = str(exc).strip().replace("\n", " ")
        text = conn.redact(text) if conn is not None else redact(text)
        hint = ("check the role's privileges (docs/snowflake.md, section 1)"
                if "403" in text or "privilege" in text.lower() or "not authorized" in text.lower() else None)
        raise DagcError(f"Snowflake refused the request: {type(exc).__name__}: {text}", hint) from None
