"""The remote commands end to end through the real CLI entry point (no account: offline paths and
the errors a user meets without a working connection)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.snowflake.sfixtures import ROOT

pytest.importorskip("dagc.frontend")
from dagc.cli.main import main  # noqa: E402

TRAINING = str(ROOT / "pipelines" / "training.yaml")


@pytest.fixture(autouse=True)
def no_connection(tmp_path: Path, monkeypatch) -> Path:
    """An empty HOME / SNOWFLAKE_HOME and no SNOWFLAKE_* variables: nothing configured."""
    import os

    for k in list(os.environ):
        if k.startswith("SNOWFLAKE_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path / ".snowflake"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)  # the connector's fallback directory, under HOME
    return tmp_path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_deploy_dry_run_works_offline_and_prints_what_would_be_created(capsys) -> None:
    code, out, err = run(["deploy", "--dry-run", TRAINING, "--env", "prod"], capsys)
    assert code == 0, err
    assert "+ create training (root)" in out and "+ create cleanup (finalizer)" in out
    assert "SYSTEM$GET_PREDECESSOR_RETURN_VALUE('TRAINING$QUALITY_GATE') = 'promote'" in out
    assert "^ upload @ML.PROD.DAGC_STAGE/dagc/training/dagc_bundle_" in out
    assert "nothing was changed" in out


def test_deploy_dry_run_json(capsys) -> None:
    code, out, _ = run(["deploy", "--dry-run", TRAINING, "--env", "dev", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["summary"]["create"] == 11
    assert {c["task"] for c in data["changes"]} >= {"training", "train", "cleanup"}


def test_plan_against_manifest_exit_codes(tmp_path: Path, capsys) -> None:
    pytest.importorskip("dagc.emit.manifest")
    from dagc.emit.manifest import build_manifest
    from dagc.frontend import load_pipeline

    m = tmp_path / "prod.json"
    m.write_text(json.dumps(build_manifest(load_pipeline(TRAINING, env="prod"))))
    code, out, _ = run(["plan", TRAINING, "--env", "prod", "--against", str(m)], capsys)
    assert code == 0 and "no changes" in out
    code, out, _ = run(["plan", TRAINING, "--env", "dev", "--against", str(m)], capsys)
    assert code == 2  # drift: dev and prod differ
    assert "warehouse: PROD_WH -> DEV_WH" in out
    prod, dev = (build_manifest(load_pipeline(TRAINING, env=e)) for e in ("prod", "dev"))
    for k in sorted(set(prod["graph"]["config"]) | set(dev["graph"]["config"])):
        old, new = prod["graph"]["config"].get(k), dev["graph"]["config"].get(k)
        if old != new:  # one line per changed config key, old -> new
            assert f"config.{k}: {old} -> {new}" in out
    changed_params = [(t["name"], k, t["params"].get(k), u["params"].get(k))
                      for t, u in zip(prod["tasks"], dev["tasks"]) for k in t["params"] if t["params"].get(k) != u["params"].get(k)]
    assert changed_params  # the environments differ in some step parameter
    for _, k, old, new in changed_params:  # what changed inside a Python task
        assert f"python params.{k}: {old} -> {new}" in out
    code, _, err = run(["plan", TRAINING, "--env", "prod", "--against", str(tmp_path / "missing.json")], capsys)
    assert code == 1 and "no such file" in err


def test_plan_without_connection_is_a_clear_error(capsys) -> None:
    code, out, err = run(["plan", TRAINING, "--env", "prod"], capsys)
    assert code == 1
    assert "no Snowflake connection configured" in err and "connections.toml" in err
    assert "Traceback" not in err + out


def test_plan_usage_errors_do_not_look_like_changes_pending(capsys) -> None:
    code, _, err = run(["plan", "nope.yaml", "--against", "x.json"], capsys)
    assert code == 64 and "no such file" in err  # 2 would read as "changes pending"
    code, _, err = run(["plan", TRAINING, "--no-such-flag"], capsys)
    assert code == 64 and "no-such-flag" in err
    code, _, err = run(["deploy", TRAINING, "--no-such-flag"], capsys)
    assert code == 2  # every other command: the usual usage-error code


@pytest.mark.parametrize("cmd", [["trigger"], ["suspend"], ["resume"], ["drop", "--yes"], ["deploy"]])
def test_remote_commands_need_a_connection(cmd: list[str], capsys) -> None:
    code, out, err = run([*cmd, TRAINING, "--env", "prod"], capsys)
    assert code == 1 and "no Snowflake connection configured" in err and "Traceback" not in err


def test_unknown_connection_name_lists_the_defined_ones(no_connection: Path, capsys) -> None:
    (no_connection / ".snowflake").mkdir()
    (no_connection / ".snowflake" / "connections.toml").write_text('[dev]\naccount = "a"\npassword = "pw-secret-1"\n')
    code, out, err = run(["trigger", TRAINING, "--connection", "prod"], capsys)
    assert code == 1 and "no Snowflake connection named 'prod'" in err and "dev" in err
    assert "pw-secret-1" not in out + err


def test_bad_timeout_is_a_usage_error(capsys) -> None:
    code, _, err = run(["trigger", TRAINING, "--wait", "--timeout", "soon"], capsys)
    assert code == 2 and "--timeout" in err


class StageSession:
    """What the deploy command asks of the Snowpark session: LIST @stage and PUT (the bundle with
    put_stream; an ML Job payload through snowflake.ml.jobs' own upload: DESCRIBE STAGE, PUT of file
    patterns, put_stream of its system scripts)."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.puts = 0
        session = self

        class Conn:
            class _cursor:  # noqa: N801 - the attribute snowflake.ml reads
                description: list = []

            def run_query(self, query, params=None, **kw):  # type: ignore[no-untyped-def]
                assert query.lower().startswith(("describe stage", "create stage")), query
                return {"data": []}

        self._conn = Conn()
        self.run_rows: list[tuple] = []  # answers to the runs query (CURRENT_TASK_GRAPHS + TASK_HISTORY)
        self.queries: list[str] = []

    def sql(self, query: str, params=None):  # type: ignore[no-untyped-def]
        files, rows = self.files, self.run_rows
        self.queries.append(query)

        class Result:
            def collect(self_inner):  # type: ignore[no-untyped-def]
                if "task_history" in query:
                    return list(rows)
                assert query.startswith("LIST ")
                return [[f] for f in files]

        return Result()

    @property
    def file(self):  # type: ignore[no-untyped-def]
        session = self

        class File:
            def put_stream(self_inner, stream, stage_location, auto_compress=True, overwrite=False):  # type: ignore[no-untyped-def]
                session.puts += 1
                session.files.append(stage_location.lstrip("@").lower())

            def put(self_inner, local, target, overwrite=False, auto_compress=True):  # type: ignore[no-untyped-def]
                import glob

                session.puts += 1
                for f in glob.glob(local):
                    session.files.append(f"{target.lstrip('@')}/{Path(f).name}".lower())

        return File()


def test_commands_against_a_recording_schema(monkeypatch, capsys) -> None:
    pytest.importorskip("snowflake.core")
    from dagc.cli import remote
    from dagc.snowflake.connection import Connection
    from dagc.snowflake.recording import RecordingSchema

    schema, session = RecordingSchema(), StageSession()
    monkeypatch.setattr(remote, "_open", lambda p, c: (Connection("t", {"account": "a"}), session, schema))
    monkeypatch.setattr("dagc.snowflake.connection.is_configured", lambda name=None, env=None: True)
    code, out, err = run(["plan", TRAINING, "--env", "prod"], capsys)
    assert code == 2 and "11 to create" in out and "^ upload" in out
    code, out, err = run(["deploy", TRAINING, "--env", "prod"], capsys)
    assert code == 0, err
    assert "deployed (11 created, 0 altered, 0 dropped)" in out
    assert sum(f.endswith(".zip") and "dagc_bundle_" in f for f in session.files) == 1
    # the train task's native ML Job payload: entry, spec and steps under its content-addressed directory
    job = [f for f in session.files if "/jobs/dagc_training_train_" in f]
    assert any(f.endswith("/app/dagc_job_entry.py") for f in job) and any(f.endswith("/app/dagc_job_spec.json") for f in job)
    puts = session.puts
    code, out, _ = run(["deploy", TRAINING, "--env", "prod"], capsys)
    assert code == 0 and "up to date" in out and session.puts == puts  # bundle and payload are staged already
    code, out, _ = run(["plan", TRAINING, "--env", "prod"], capsys)
    assert code == 0 and "no changes" in out
    code, out, _ = run(["suspend", TRAINING, "--env", "prod"], capsys)
    assert code == 0 and schema.store["TRAINING"].state == "suspended"
    code, out, _ = run(["plan", TRAINING, "--env", "prod"], capsys)
    assert code == 2 and "state: suspended -> started" in out  # a scheduled graph is declared running
    code, out, _ = run(["resume", TRAINING, "--env", "prod"], capsys)
    assert code == 0 and schema.store["TRAINING"].state == "started"
    code, out, _ = run(["trigger", TRAINING, "--env", "prod"], capsys)
    assert code == 0 and ("execute", "TRAINING") in schema.calls
    code, out, _ = run(["drop", TRAINING, "--env", "prod", "--yes"], capsys)
    assert code == 0 and schema.store == {} and "dropped 11 task(s)" in out
    code, out, err = run(["trigger", TRAINING, "--env", "prod"], capsys)
    assert code == 1 and "not deployed" in err


def test_plans_never_show_the_pipelines_secrets(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("DAGC_TEST_TOKEN", "tok-SECRET-12345")
    f = tmp_path / "notify.yaml"
    f.write_text(
        "name: notify\n"
        "warehouse: WH\n"
        "stage: '@DB.SC.STAGE'\n"
        "config:\n"
        "  webhook_token: \"{{ secret('DAGC_TEST_TOKEN') }}\"\n"
        "tasks:\n"
        "  ping:\n"
        "    sql: \"select 1\"\n"
    )
    for fmt in ("text", "json"):
        code, out, err = run(["deploy", "--dry-run", str(f), "--format", fmt], capsys)
        assert code == 0, err
        assert "tok-SECRET-12345" not in out + err
        assert fmt == "text" or "REDACTED" in out  # the JSON plan shows the root's config
    # a secret in a SQL task's text is refused: task text is visible to MONITOR
    f.write_text(f.read_text().replace("select 1", "select '{{ secret('DAGC_TEST_TOKEN') }}'"))
    code, out, err = run(["deploy", "--dry-run", str(f)], capsys)
    assert code == 1 and "its SQL holds a secret value" in err and "tok-SECRET-12345" not in out + err


def test_dry_run_with_a_named_connection_that_does_not_exist_is_an_error(capsys) -> None:
    code, out, err = run(["deploy", "--dry-run", TRAINING, "--connection", "prod"], capsys)
    assert code == 1 and "no Snowflake connection named 'prod'" in err


def test_set_values_are_yaml_scalars_on_every_command_and_var_works_everywhere(tmp_path: Path, capsys) -> None:
    code, out, err = run(["deploy", "--dry-run", TRAINING, "--env", "prod", "--format", "json",
                          "--set", "gate.threshold=0.85", "--var", "retention_days=9"], capsys)
    assert code == 0, err
    root = next(c for c in json.loads(out)["changes"] if c["role"] == "root")
    config = {f["key"]: f["new"] for f in root["fields"]}["config"]
    assert config["gate.threshold"] == 0.85  # a number, as `dagc run --set` gives it, not '0.85'
    code, out, err = run(["compile", TRAINING, "--env", "prod", "--set", "gate.threshold=0.85"], capsys)
    assert code == 0, err
    assert json.loads(out)["graph"]["config"]["gate.threshold"] == 0.85
    m = tmp_path / "m.json"
    m.write_text(out)
    code, out, err = run(["plan", TRAINING, "--env", "prod", "--against", str(m), "--set", "gate.threshold=0.85"], capsys)
    assert code == 0, out + err  # same value, same type: no change


def test_commands_share_the_output_and_timeout_options() -> None:
    from dagc.cli.main import cli

    for argv in (["status", "p.yaml", "--format", "json"], ["status", "p.yaml", "--json"],
                 ["retry", "p.yaml", "--timeout", "2h"], ["trigger", "p.yaml", "--wait", "--timeout", "1h30m"],
                 ["deploy", "p.yaml", "--format", "json", "--var", "a=1"], ["plan", "p.yaml", "--json"],
                 ["runs", "--format", "json"], ["run", "p.yaml", "--json"], ["models", "--format", "json"]):
        cmd = cli.get_command(click_ctx(), argv[0])
        ctx = cmd.make_context(argv[0], list(argv[1:]))
        params = ctx.params
        if "--format" in argv or "--json" in argv:
            assert params["fmt"] == "json", argv
        if "timeout" in params and "--timeout" in argv:
            assert params["timeout"] == {"2h": 7200.0, "1h30m": 5400.0}[argv[argv.index("--timeout") + 1]]


def click_ctx():  # type: ignore[no-untyped-def]
    import click

    from dagc.cli.main import cli

    return click.Context(cli)


def test_deploy_dry_run_works_offline_even_with_a_connection_configured(no_connection: Path, monkeypatch, capsys) -> None:
    import snowflake.connector
    from snowflake.connector.errors import OperationalError

    (no_connection / ".snowflake").mkdir()
    (no_connection / ".snowflake" / "connections.toml").write_text('[default]\naccount = "org-acc"\nuser = "me"\n')
    (no_connection / ".snowflake" / "connections.toml").chmod(0o600)

    def offline(**params):  # what the connector raises with no network
        raise OperationalError(msg="Could not connect to Snowflake backend after 2 attempt(s).", errno=251011)

    monkeypatch.setattr(snowflake.connector, "connect", offline)
    code, out, err = run(["deploy", "--dry-run", TRAINING, "--env", "prod"], capsys)
    assert code == 0, err
    assert "+ create training (root)" in out and "Snowflake could not be reached" in out
    code, out, err = run(["deploy", TRAINING, "--env", "prod"], capsys)  # a real deploy needs the network
    assert code == 1 and "could not reach Snowflake" in err and "authenticate" not in err


def test_deploy_warns_when_a_failed_run_could_still_be_retried(monkeypatch, capsys) -> None:
    pytest.importorskip("snowflake.core")
    from datetime import datetime, timedelta, timezone

    from dagc.cli import remote
    from dagc.snowflake.connection import Connection
    from tests.snowflake.standin import StrictSchema

    schema, session = StrictSchema(), StageSession()
    monkeypatch.setattr(remote, "_open", lambda p, c: (Connection("t", {"account": "a"}), session, schema))
    t = datetime.now(timezone.utc) - timedelta(hours=3)
    session.run_rows = [("TRAINING", 9, 1, 9, "SUCCEEDED", t, t, t, None, None, None),
                        ("TRAINING$TRAIN", 9, 1, 9, "FAILED", t, t, t, "oom", None, None)]
    code, out, err = run(["deploy", TRAINING, "--env", "prod"], capsys)
    assert code == 0 and "warning" not in err  # a first deploy: the failed run is not of this graph
    t = datetime.now(timezone.utc)  # the deployed graph runs and fails (after its last change)
    session.run_rows = [("TRAINING", 9, 1, 9, "SUCCEEDED", t, t, t, None, None, None),
                        ("TRAINING$TRAIN", 9, 1, 9, "FAILED", t, t, t, "oom", None, None)]
    code, out, err = run(["deploy", TRAINING, "--env", "prod", "--set", "gate.threshold=0.9"], capsys)
    assert code == 0 and "warning: run 9/1 of training failed and can still be retried" in err
    assert "can no longer retry it" in err
    code, out, err = run(["deploy", TRAINING, "--env", "prod", "--set", "gate.threshold=0.95"], capsys)
    assert code == 0 and "warning" not in err  # the graph already changed since: nothing left to lose


PACKAGES_PIPELINE = """\
name: pk
warehouse: WH
stage: "@DB.SC.STAGE"
packages: ["xgboost==2.1.0"]
tasks:
  prep: {step: prep}
  fit: {step: prep, after: [prep], compute: {pool: POOL, instances: 1}}
"""


def _packages_project(tmp_path: Path) -> Path:
    (tmp_path / "proj" / "steps").mkdir(parents=True)
    (tmp_path / "proj" / "steps" / "__init__.py").write_text("from dagc import StepContext, step\n")
    (tmp_path / "proj" / "steps" / "prep.py").write_text("from dagc import step\n@step\ndef prep(ctx):\n    return {}\n")
    f = tmp_path / "proj" / "pk.yaml"
    f.write_text(PACKAGES_PIPELINE)
    return f


def test_verbose_plans_show_the_effective_packages_of_python_tasks(tmp_path: Path, monkeypatch, capsys) -> None:
    """What dagc adds for its runtime (Snowpark; snowflake-ml-python for compute: tasks) is part of
    every task procedure, so `plan -v` / `deploy --dry-run -v` say so; without -v they do not."""
    pytest.importorskip("snowflake.core")
    from dagc.cli import remote
    from dagc.snowflake.connection import Connection
    from dagc.snowflake.recording import RecordingSchema

    f = str(_packages_project(tmp_path))
    want = ("packages of the Python tasks: xgboost==2.1.0, snowflake-snowpark-python, snowflake-ml-python"
            "  (dagc adds snowflake-snowpark-python, snowflake-ml-python for its runtime)")
    code, out, err = run(["deploy", "--dry-run", "-v", f], capsys)  # offline: nothing configured
    assert code == 0, err
    assert want in out
    code, out, _ = run(["deploy", "--dry-run", f], capsys)
    assert code == 0 and "packages of the Python tasks" not in out
    code, out, _ = run(["deploy", "--dry-run", f, "--format", "json"], capsys)
    data = json.loads(out)
    assert data["packages"] == ["xgboost==2.1.0", "snowflake-snowpark-python", "snowflake-ml-python"]
    assert data["declared_packages"] == ["xgboost==2.1.0"]

    schema, session = RecordingSchema(), StageSession()
    monkeypatch.setattr(remote, "_open", lambda p, c: (Connection("t", {"account": "a"}), session, schema))
    monkeypatch.setattr("dagc.snowflake.connection.is_configured", lambda name=None, env=None: True)
    code, out, err = run(["plan", "-v", f], capsys)
    assert code == 2 and want in out, err
    code, out, err = run(["plan", "-v", TRAINING, "--env", "prod"], capsys)  # declares all it needs
    assert code == 2 and "packages of the Python tasks: snowflake-snowpark-python, snowflake-ml-python, xgboost" in out
    assert "dagc adds" not in out
    sql_only = tmp_path / "proj" / "sq.yaml"
    sql_only.write_text("name: sq\nwarehouse: WH\ntasks:\n  a: {sql: select 1}\n")
    code, out, _ = run(["plan", "-v", str(sql_only)], capsys)
    assert code == 2 and "packages of the Python tasks" not in out
