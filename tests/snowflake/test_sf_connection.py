"""Connections from the Snowflake CLI's files and SNOWFLAKE_* variables; clear errors, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagc.diagnostics import DagcError
from dagc.snowflake import connection as c


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), "SNOWFLAKE_HOME": str(home / ".snowflake"), **extra}


def write(home: Path, name: str, text: str) -> None:
    (home / ".snowflake").mkdir(parents=True, exist_ok=True)
    (home / ".snowflake" / name).write_text(text)


def test_no_connection_is_a_clear_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(DagcError) as err:
        c.resolve(None, env_for(tmp_path))
    assert "no Snowflake connection configured" in err.value.message
    assert "connections.toml" in (err.value.hint or "") and "SNOWFLAKE_ACCOUNT" in (err.value.hint or "")
    assert not c.is_configured(None, env_for(tmp_path))


def test_connections_toml_default_and_named(tmp_path: Path) -> None:
    write(tmp_path, "connections.toml", '[default]\naccount = "org-acc"\nuser = "me"\npassword = "hunter2-secret"\n'
                                        '[prod]\naccount = "org-prod"\nuser = "svc"\nrole = "DEPLOYER"\n')
    assert c.resolve(None, env_for(tmp_path)).params["account"] == "org-acc"
    prod = c.resolve("prod", env_for(tmp_path))
    assert prod.params["role"] == "DEPLOYER" and "account org-prod" in prod.describe()
    with pytest.raises(DagcError, match="no Snowflake connection named 'stage'.*default, prod"):
        c.resolve("stage", env_for(tmp_path))


def test_config_toml_default_connection_name_and_env_overrides(tmp_path: Path) -> None:
    write(tmp_path, "config.toml", 'default_connection_name = "ci"\n[connections.ci]\naccount = "a1"\nuser = "u1"\n')
    conn = c.resolve(None, env_for(tmp_path, SNOWFLAKE_CONNECTIONS_CI_ROLE="R1", SNOWFLAKE_WAREHOUSE="WH9"))
    assert conn.name == "ci" and conn.params == {"account": "a1", "user": "u1", "role": "R1", "warehouse": "WH9"}
    other = c.resolve(None, env_for(tmp_path, SNOWFLAKE_DEFAULT_CONNECTION_NAME="ci", SNOWFLAKE_USER="u2"))
    assert other.params["user"] == "u2"


def test_environment_only_connection(tmp_path: Path) -> None:
    conn = c.resolve(None, env_for(tmp_path, SNOWFLAKE_ACCOUNT="x-y", SNOWFLAKE_USER="me", SNOWFLAKE_PASSWORD="pw-123456"))
    assert conn.params["account"] == "x-y"
    assert "pw-123456" not in conn.describe()


def test_broken_toml_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "connections.toml", "[default\naccount = 1\n")
    with pytest.raises(DagcError, match="not valid TOML"):
        c.resolve(None, env_for(tmp_path))


def test_secrets_are_redacted_from_messages() -> None:
    conn = c.Connection("x", {"account": "a", "password": "s3cr3t-value", "token": "tok-abcdef"})
    text = "login failed for password s3cr3t-value with token tok-abcdef; url ?password=other123&x=1"
    out = conn.redact(text)
    assert "s3cr3t-value" not in out and "tok-abcdef" not in out and "other123" not in out
    assert "***" in out


def test_authentication_failure_is_a_dagc_error_without_the_password(tmp_path: Path, monkeypatch) -> None:
    """The real connector raises; dagc turns it into one clean line with no secret in it."""
    import snowflake.connector
    from snowflake.connector.errors import DatabaseError

    def refuse(**params):
        raise DatabaseError(msg=f"Incorrect username or password was specified. ({params['password']})", errno=250001)

    monkeypatch.setattr(snowflake.connector, "connect", refuse)
    conn = c.Connection("prod", {"account": "org-acc", "user": "me", "password": "correct-horse-battery"})
    with pytest.raises(DagcError) as err:
        c.connect(conn)
    assert "could not authenticate" in err.value.message and "'prod'" in err.value.message
    assert "correct-horse-battery" not in err.value.message + (err.value.hint or "")


def test_target_schema_from_stage_or_connection() -> None:
    assert c.target_schema("@ML.PROD.DAGC_STAGE", None) == ("ML", "PROD")
    conn = c.Connection("x", {"account": "a", "database": "D", "schema": "S"})
    assert c.target_schema("@MYSTAGE", conn) == ("D", "S")
    with pytest.raises(DagcError, match="which database and schema"):
        c.target_schema("@MYSTAGE", c.Connection("x", {"account": "a"}))


def test_snowflake_api_errors_become_one_clean_line() -> None:
    pytest.importorskip("snowflake.core")
    from snowflake.core.exceptions import ForbiddenError

    conn = c.Connection("prod", {"account": "a", "password": "pw-very-secret"})
    with pytest.raises(DagcError) as err:
        with c.snowflake_errors(conn):
            raise ForbiddenError(None, 403, "Insufficient privileges to operate on schema 'PROD' (pw-very-secret)")  # type: ignore[arg-type]
    assert err.value.message.startswith("Snowflake refused the request: ForbiddenError")
    assert "pw-very-secret" not in err.value.message and "privileges" in (err.value.hint or "")
    with pytest.raises(KeyError):  # a bug in dagc is not dressed up as a Snowflake error
        with c.snowflake_errors(conn):
            raise KeyError("x")
