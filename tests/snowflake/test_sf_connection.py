"""Connections from the Snowflake CLI's files and SNOWFLAKE_* variables, with the CLI's precedence;
clear errors (a network failure is not a credential problem), no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagc.diagnostics import DagcError
from dagc.snowflake import connection as c


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), "SNOWFLAKE_HOME": str(home / ".snowflake"), **extra}


def write(home: Path, name: str, text: str, folder: str = ".snowflake") -> None:
    (home / folder).mkdir(parents=True, exist_ok=True)
    (home / folder / name).write_text(text)
    (home / folder / name).chmod(0o600)  # the connector warns about files others can read


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
    assert other.params["user"] == "u1"  # a generic variable never overrides the file


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
        raise DatabaseError(msg=f"Failed to connect to DB: x:443. Incorrect username or password was specified. "
                                f"({params['password']})", errno=390100, sqlstate="28000")

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


def test_precedence_is_named_variables_then_file_then_generic_variables(tmp_path: Path) -> None:
    write(tmp_path, "connections.toml", '[prod]\naccount = "org-prod"\nrole = "DEPLOYER"\n')
    conn = c.resolve("prod", env_for(tmp_path, SNOWFLAKE_ROLE="ACCOUNTADMIN", SNOWFLAKE_ACCOUNT="other-acct",
                                     SNOWFLAKE_USER="ci-user", SNOWFLAKE_CONNECTIONS_PROD_ROLE="RELEASER"))
    assert conn.params["account"] == "org-prod"  # the file beats a stray generic variable
    assert conn.params["role"] == "RELEASER"  # SNOWFLAKE_CONNECTIONS_PROD_ROLE beats the file
    assert conn.params["user"] == "ci-user"  # a generic variable fills what the file leaves out
    cli = c.resolve("prod", env_for(tmp_path, SNOWFLAKE_CONNECTIONS_PROD_ROLE="RELEASER"), overrides={"role": "R2"})
    assert cli.params["role"] == "R2"  # the command line beats everything


def test_connections_toml_replaces_config_toml_connections(tmp_path: Path) -> None:
    write(tmp_path, "config.toml", 'default_connection_name = "old"\n[connections.old]\naccount = "a-old"\n')
    write(tmp_path, "connections.toml", '[new]\naccount = "a-new"\n')
    assert sorted(c.available(env_for(tmp_path))) == ["new"]
    with pytest.raises(DagcError, match="no Snowflake connection named 'old'.*new"):
        c.resolve(None, env_for(tmp_path))  # the default name still comes from config.toml
    assert c.resolve(None, env_for(tmp_path, SNOWFLAKE_DEFAULT_CONNECTION_NAME="new")).params["account"] == "a-new"


def test_snowflake_connections_variable_and_the_platform_fallback_directory(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "SNOWFLAKE_CONNECTIONS": '[ci]\naccount = "from-env"\nuser = "bot"\n'}
    assert c.resolve("ci", env).params["account"] == "from-env"
    # no ~/.snowflake: the connector falls back to the platform config directory
    write(tmp_path, "connections.toml", '[default]\naccount = "from-xdg"\n', folder="xdg/snowflake")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    import sys

    if sys.platform.startswith("linux"):
        assert c.config_dir(env) == tmp_path / "xdg" / "snowflake"
        assert c.resolve(None, env).params["account"] == "from-xdg"
    (tmp_path / ".snowflake").mkdir()  # once ~/.snowflake exists it is the only place read
    assert c.config_dir(env) == tmp_path / ".snowflake"


def test_every_key_of_a_connection_reaches_the_connector(tmp_path: Path, monkeypatch) -> None:
    import snowflake.connector

    write(tmp_path, "connections.toml",
          '[wif]\naccount = "org-acc"\nauthenticator = "WORKLOAD_IDENTITY"\nworkload_identity_provider = "AWS"\n'
          'login_timeout = 120\nclient_store_temporary_credential = true\nclient_request_mfa_token = true\n'
          'oauth_client_id = "cid"\nproxy_host = "proxy.local"\nocsp_fail_open = false\n'
          'private_key_path = "/keys/k.p8"\n')
    seen: dict = {}

    def capture(**params):
        seen.update(params)
        raise RuntimeError("stop here")

    monkeypatch.setattr(snowflake.connector, "connect", capture)
    with pytest.raises(DagcError):
        c.connect(c.resolve("wif", env_for(tmp_path)))
    assert seen["workload_identity_provider"] == "AWS" and seen["login_timeout"] == 120
    assert seen["client_store_temporary_credential"] is True and seen["client_request_mfa_token"] is True
    assert seen["oauth_client_id"] == "cid" and seen["proxy_host"] == "proxy.local" and seen["ocsp_fail_open"] is False
    assert seen["private_key_file"] == "/keys/k.p8" and seen["application"] == "dagc"


def test_a_network_failure_is_not_reported_as_a_credential_problem(monkeypatch) -> None:
    import snowflake.connector
    from snowflake.connector.errors import OperationalError

    def offline(**params):
        raise OperationalError(msg="Could not connect to Snowflake backend after 2 attempt(s).Aborting", errno=251011)

    monkeypatch.setattr(snowflake.connector, "connect", offline)
    with pytest.raises(c.SnowflakeUnreachable) as err:
        c.connect(c.Connection("prod", {"account": "org-acc", "password": "pw-123456"}))
    assert "could not reach Snowflake" in err.value.message and "authenticate" not in err.value.message
    assert "network" in (err.value.hint or "")


def test_the_pipeline_warehouse_serves_a_connection_without_one(tmp_path: Path) -> None:
    write(tmp_path, "connections.toml", '[a]\naccount = "x"\n[b]\naccount = "y"\nwarehouse = "CONN_WH"\n')
    assert c.resolve("a", env_for(tmp_path), warehouse="PIPE_WH").params["warehouse"] == "PIPE_WH"
    assert c.resolve("b", env_for(tmp_path), warehouse="PIPE_WH").params["warehouse"] == "CONN_WH"


def test_lower_case_and_quoted_stage_qualifiers() -> None:
    assert c.target_schema("@ml.prod.dagc_stage", None) == ("ml", "prod")
    assert c.target_schema('@"My.Db"."Sc".stage/sub', None) == ('"My.Db"', '"Sc"')
    from dagc.snowflake.names import canon, sql_ident

    assert (canon("ml"), canon('"Sc"'), sql_ident("ml"), sql_ident('"My.Db"')) == ("ML", "Sc", "ml", '"My.Db"')


def test_bad_connection_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DagcError, match="SNOWFLAKE_CONNECTIONS is not valid TOML"):
        c.resolve(None, {"HOME": str(tmp_path), "SNOWFLAKE_CONNECTIONS": "[ci\naccount = 1"})
    write(tmp_path, "connections.toml", '[default]\naccount = "a"\n')
    (tmp_path / ".snowflake" / "connections.toml").chmod(0o666)  # writable by others: the connector refuses it
    with pytest.raises(DagcError) as err:
        c.resolve(None, env_for(tmp_path))
    assert "writable by group or others" in err.value.message and "chmod 0600" in (err.value.hint or "")
