"""Real-account test of what users deploy, through the `dagc` commands they type.

Runs only with a Snowflake connection and a stage; otherwise every test here is skipped (and
pytest counts it as skipped). The variables (also in README.md and docs/snowflake.md):

  DAGC_IT_CONNECTION     connection name in connections.toml / config.toml (default: the default one)
  DAGC_IT_STAGE          a stage the role may write, e.g. @DAGC_IT.PUBLIC.DAGC_STAGE (required)
  DAGC_IT_WAREHOUSE      warehouse for the graph (default: the connection's)
  DAGC_IT_COMPUTE_POOL   a compute pool: adds a `compute:` task (an ML Job) to the graph
  DAGC_IT_SECRET         with the pool: a GENERIC_STRING SECRET object (DB.SCHEMA.NAME) the ML Job reads
  DAGC_IT_SECRET_INTEGRATION  an external access integration whose ALLOWED_AUTHENTICATION_SECRETS lists it

The graph: a Python step, a branch with two cases, a `when:` join, a SQL task and a finalizer,
named dagc_it_<random>, dropped at the end whatever happens. The flow: deploy, trigger --wait,
status, an injected failure (a step that fails until a table exists), retry after fixing the
cause, redeploy with one change (exactly one task altered), drop.
"""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CONNECTION = os.environ.get("DAGC_IT_CONNECTION")


def _require_account() -> None:
    from dagc.snowflake.connection import is_configured

    if not os.environ.get("DAGC_IT_STAGE") or not is_configured(CONNECTION):
        pytest.skip("no Snowflake account: set DAGC_IT_STAGE and a connection (DAGC_IT_CONNECTION or the default)")


STEPS = '''
from dagc import StepContext, step


@step
def extract(ctx: StepContext, rows: int = 3) -> dict:
    ctx.log.info("extracting %d rows", rows)
    return {"rows": rows, "run": ctx.run_id, "at": ctx.scheduled_at.isoformat()}


@step
def route(ctx: StepContext) -> str:
    return "big" if ctx.inputs["extract"]["rows"] > 100 else "small"


@step
def small(ctx: StepContext) -> dict:
    return {"path": "small"}


@step
def big(ctx: StepContext) -> dict:
    return {"path": "big"}


@step
def join(ctx: StepContext) -> dict:
    gate = ctx.config["gate_table"]
    if not ctx.tables.exists(gate):  # the injected failure: fixed by creating the table, then retry
        raise RuntimeError(f"gate table {gate} does not exist yet")
    return {"small": ctx.inputs.get("small"), "big": ctx.inputs.get("big")}


@step
def heavy(ctx: StepContext) -> dict:
    import os

    out = {"nodes": int(os.environ.get("SNOWFLAKE_JOBS_COUNT", "1"))}
    if "it_token" in ctx.config:  # the secret is mounted in the job's container (fails the task if not)
        out["token_chars"] = len(ctx.secret("DAGC_IT_TOKEN"))
    return out


@step
def finish(ctx: StepContext) -> dict:
    return {"finished": True}
'''


def _secret_config() -> str:
    obj, eai = os.environ.get("DAGC_IT_SECRET"), os.environ.get("DAGC_IT_SECRET_INTEGRATION")
    if not (obj and eai and os.environ.get("DAGC_IT_COMPUTE_POOL")):
        return ""
    return f", it_token: \"{{{{ secret('DAGC_IT_TOKEN', integration='{eai}', object='{obj}') }}}}\""


def _pipeline(name: str, *, sql: str = "select 1", gate: str) -> str:
    pool = os.environ.get("DAGC_IT_COMPUTE_POOL")
    wh = os.environ.get("DAGC_IT_WAREHOUSE")
    text = f"""\
        name: {name}
        stage: "{os.environ['DAGC_IT_STAGE']}"
        {f'warehouse: {wh}' if wh else ''}
        packages: [snowflake-snowpark-python, pandas{', snowflake-ml-python' if pool else ''}]
        config: {{gate_table: {gate}{_secret_config()}}}
        tasks:
          extract: {{step: extract}}
          route:
            after: [extract]
            branch: {{step: route, cases: {{small: small, big: big}}}}
          small: {{step: small, after: [route]}}
          big: {{step: big, after: [route]}}
          join: {{step: join, after: [small, big], when: none_failed_min_one_succeeded}}
          count: {{sql: "{sql}", after: [join]}}
        """
    text = textwrap.dedent(text)
    if pool:
        text += f"  heavy: {{step: heavy, after: [extract], compute: {{pool: {pool}, instances: 1}}}}\n"
    return text + "finally:\n  done: {step: finish}\n"


def dagc(*args: str) -> tuple[int, str]:
    import subprocess
    import sys

    extra: list[str] = []
    if args[0] in ("status", "retry"):
        extra.append("--target=snowflake")
    if CONNECTION and args[0] != "validate":
        extra += ["-c", CONNECTION]
    argv = [sys.executable, "-m", "dagc", *args, *extra]
    env = {**os.environ, "DAGC_IT_TOKEN": os.environ.get("DAGC_IT_TOKEN", "local-runs-only")}  # never deployed
    out = subprocess.run(argv, capture_output=True, text=True, timeout=3600, env=env)
    return out.returncode, out.stdout + out.stderr


@pytest.fixture()
def project(tmp_path: Path):
    _require_account()
    name = f"dagc_it_{uuid.uuid4().hex[:8]}"
    gate = f"{name}_gate".upper()
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "steps" / "it.py").write_text(STEPS)
    (tmp_path / "pipelines").mkdir()
    f = tmp_path / "pipelines" / f"{name}.yaml"
    f.write_text(_pipeline(name, gate=gate))
    yield f, name, gate
    dagc("drop", str(f), "--yes")


def _session():
    from dagc.snowflake.connection import open_schema, resolve

    return open_schema(resolve(CONNECTION), os.environ["DAGC_IT_STAGE"])


def test_deploy_run_fail_retry_redeploy_drop(project) -> None:
    f, name, gate = project
    code, out = dagc("validate", str(f))
    assert code == 0, out
    code, out = dagc("deploy", str(f))
    assert code == 0, out
    code, out = dagc("plan", str(f))
    assert code == 0 and "no changes" in out, out  # a second look finds nothing to do

    # first run: `join` fails because the gate table does not exist (the injected failure)
    code, out = dagc("trigger", str(f), "--wait", "--timeout", "30m")
    assert code != 0 and "join" in out and "does not exist yet" in out, out
    code, out = dagc("status", str(f), "--json")
    assert code != 0, out
    tasks = {t["task"]: t["state"] for t in json.loads(out)["tasks"]}
    assert tasks["extract"] == "SUCCEEDED" and tasks["route"] == "SUCCEEDED"
    assert tasks["small"] == "SUCCEEDED" and tasks["big"] == "SKIPPED"  # the branch chose `small`
    assert tasks["join"] == "FAILED" and tasks["done"] == "SUCCEEDED"  # the finalizer runs anyway

    session, _ = _session()
    try:
        session.sql(f'create table "{gate}" (x int)').collect()
        code, out = dagc("retry", str(f), "--wait")
        assert code == 0, out
        code, out = dagc("status", str(f), "--json")
        assert code == 0, out
        tasks = {t["task"]: t["state"] for t in json.loads(out)["tasks"]}
        assert tasks["join"] == "SUCCEEDED" and tasks["count"] == "SUCCEEDED"
        if os.environ.get("DAGC_IT_COMPUTE_POOL"):
            assert tasks["heavy"] == "SUCCEEDED"

        # one change: only the SQL task is altered
        f.write_text(_pipeline(name, sql="select 2", gate=gate))
        code, out = dagc("plan", str(f), "--format", "json")
        plan = json.loads(out[out.index("{"):])
        assert [(c["action"], c["task"]) for c in plan["changes"]] == [("alter", "count")], out
        code, out = dagc("deploy", str(f))
        assert code == 0, out
        code, out = dagc("trigger", str(f), "--wait", "--timeout", "30m")
        assert code == 0, out
    finally:
        session.sql(f'drop table if exists "{gate}"').collect()
        session.close()
    code, out = dagc("drop", str(f), "--yes")
    assert code == 0, out
    code, out = dagc("trigger", str(f))
    assert code != 0 and "not deployed" in out


def test_the_integration_graph_validates_and_compiles_offline(tmp_path: Path, monkeypatch) -> None:
    """Runs without an account, so the graph above cannot rot unnoticed."""
    from dagc.emit.snowflake import build_dag, low_level_tasks
    from dagc.frontend import check_file

    monkeypatch.setenv("DAGC_IT_STAGE", "@DAGC_IT.PUBLIC.DAGC_STAGE")
    monkeypatch.setenv("DAGC_IT_COMPUTE_POOL", "IT_POOL")
    monkeypatch.setenv("DAGC_IT_SECRET", "DAGC_IT.PUBLIC.IT_TOKEN")
    monkeypatch.setenv("DAGC_IT_SECRET_INTEGRATION", "IT_EAI")
    monkeypatch.setenv("DAGC_IT_TOKEN", "local-value")
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "steps" / "it.py").write_text(STEPS)
    (tmp_path / "pipelines").mkdir()
    f = tmp_path / "pipelines" / "dagc_it_x.yaml"
    f.write_text(_pipeline("dagc_it_x", gate="DAGC_IT_X_GATE"))
    p, diags = check_file(f)
    assert p is not None, [d.message for d in diags]
    names = sorted(t.name for t in low_level_tasks(build_dag(p)))
    assert names == ["dagc_it_x", "dagc_it_x$big", "dagc_it_x$count", "dagc_it_x$done", "dagc_it_x$extract",
                     "dagc_it_x$heavy", "dagc_it_x$join", "dagc_it_x$route", "dagc_it_x$small"]
    heavy = next(t for t in low_level_tasks(build_dag(p)) if t.name.endswith("$heavy")).definition
    assert "DAGC_IT.PUBLIC.IT_TOKEN" in heavy and "local-value" not in heavy  # the secret is mounted, by name
