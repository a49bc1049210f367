"""The task runtime: Snowflake's task functions -> StepContext by YAML names, JSON return values with the 10 kB
limit, branch case -> child name, compute-pool steps as ML Jobs, and the staged bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dagc.runtime.snowflake import SessionFacts, StepFailure, build_context, finish, resolve_step, run_task
from dagc.snowflake import mljob
from dagc.snowflake.packaging import build_bundle

SCHED = datetime(2026, 11, 21, 2, 0, tzinfo=timezone.utc)


class SystemFunctions:
    """Snowflake's task system functions as a Snowpark session sees them, for one running task.

    Answers `session.call("system$...")` and the SELECT / SHOW statements the runtime sends the way
    Snowflake would inside ML.PROD.TRAINING$PROMOTE: predecessor names compared case-sensitively,
    the scheduled time as TIMESTAMP_NTZ wall-clock time in the session's TIMEZONE."""

    def __init__(self, returns: dict[str, str | None], config: dict[str, Any], tz: str = "UTC",
                 sql_converts: bool = True) -> None:
        self.returns = returns
        self.config = config
        self.tz = tz
        self.sql_converts = sql_converts  # False: answer as TaskContext's to_timestamp does (NTZ)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.set_value: str | None = None

    def call(self, name: str, *args: Any) -> Any:
        self.calls.append((name.lower(), args))
        name = name.lower()
        if name == "system$get_predecessor_return_value":
            return self.returns.get(args[0])  # exact, case-sensitive
        if name == "system$set_return_value":
            self.set_value = args[0]
            return None
        if name == "system$get_task_graph_config":
            return json.dumps(self.config)
        if name == "system$current_user_task_name":
            return "ML.PROD.TRAINING$PROMOTE"
        raise AssertionError(name)

    def sql(self, query: str) -> Any:
        from zoneinfo import ZoneInfo

        self.calls.append(("sql", (query,)))
        if query.lower().startswith("show parameters like 'timezone' in session"):
            rows: list[Any] = [{"key": "TIMEZONE", "value": self.tz, "level": "SESSION"}]
        else:
            assert "system$task_runtime_info('CURRENT_TASK_GRAPH_RUN_GROUP_ID')" in query, query
            local = SCHED.astimezone(ZoneInfo(self.tz)).replace(tzinfo=None)  # NTZ, session time zone
            if self.sql_converts:
                assert "convert_timezone('UTC', to_timestamp_tz(system$task_runtime_info(" in query, query
                rows = [["rg-42", local.replace(tzinfo=ZoneInfo(self.tz)).astimezone(timezone.utc)]]
            else:
                rows = [["rg-42", local]]

        class R:
            def collect(self_inner) -> list[Any]:
                return rows

        return R()


SPEC = {
    "pipeline": "training", "environment": "prod", "task": "promote", "kind": "step", "step": "promote_model",
    "module": None, "params": {"force": False}, "cases": {}, "after": ["quality_gate", "evaluate"],
    "branch_after": ["quality_gate"], "compute": None, "stage": None,
}


def test_context_gets_yaml_names_decoded_values_config_run_id_and_schedule() -> None:
    session = SystemFunctions(
        {"TRAINING$EVALUATE": json.dumps({"auc": 0.91}), "TRAINING$QUALITY_GATE": "promote"},
        {"gate.threshold": 0.8, "model_name": "m"},
    )
    got: dict[str, Any] = {}

    def promote_model(ctx, force=True):
        got.update(inputs=ctx.inputs, config=ctx.config, run_id=ctx.run_id, at=ctx.scheduled_at, force=force,
                   params=ctx.params, task=ctx.task)
        return {"promoted": True}

    text = run_task(session, SPEC, backend=object(), step_fn=promote_model)
    assert got["inputs"] == {"evaluate": {"auc": 0.91}, "quality_gate": "promote"}  # by YAML name, decoded
    assert got["config"] == {"gate": {"threshold": 0.8}, "model_name": "m"}
    assert got["run_id"] == "rg-42" and got["at"] == SCHED and got["force"] is False
    assert text == '{"promoted":true}' and session.set_value == text
    asked = [a[0] for n, a in session.calls if n == "system$get_predecessor_return_value"]
    assert asked == ["TRAINING$QUALITY_GATE", "TRAINING$EVALUATE"]  # never hand-written upper case in steps


def test_skipped_predecessor_reads_as_none() -> None:
    facts = SessionFacts(SystemFunctions({}, {}), "training")
    assert facts.predecessor_value("evaluate") is None


@pytest.mark.parametrize("converts", [True, False])
@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_scheduled_at_is_utc_whatever_the_session_time_zone(tz: str, converts: bool) -> None:
    """Snowflake gives the original scheduled time in the session's TIMEZONE (America/Los_Angeles
    unless the account says otherwise); the step is promised UTC. Converted in SQL, or, when a
    naive (NTZ) value comes back, read in the session's TIMEZONE."""
    facts = SessionFacts(SystemFunctions({}, {}, tz=tz, sql_converts=converts), "training")
    at = facts.scheduled_at()
    assert at == SCHED and at.utcoffset() is not None and at.utcoffset().total_seconds() == 0
    assert facts.run_id() == "rg-42"


def test_the_runtime_needs_no_snowflake_core() -> None:
    """Item 1: a task procedure has only its declared packages; the runtime must not import
    snowflake.core (TaskContext) to read its context."""
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name.startswith('snowflake.core'): raise ModuleNotFoundError(\"No module named 'snowflake.core'\")\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "import dagc.runtime.snowflake, dagc.snowflake.backend, dagc.snowflake.mljob\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_runtime_and_ml_job_modules_do_not_import_each_other() -> None:
    import ast

    root = Path(__file__).resolve().parents[2] / "compiler" / "dagc"

    def imports(rel: str) -> set[str]:
        tree = ast.parse((root / rel).read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert "dagc.runtime.snowflake" not in imports("snowflake/mljob.py")
    assert "dagc.snowflake.mljob" in imports("runtime/snowflake.py")


def test_branch_returns_the_child_task_name_for_the_case() -> None:
    spec = dict(SPEC, task="quality_gate", kind="branch", cases={"pass": "promote", "fail": "alert_gate_failed"})
    assert finish(spec, "fail") == "alert_gate_failed"
    with pytest.raises(StepFailure, match=r"returned 'maybe'; it must return one of its cases: 'pass', 'fail'"):
        finish(spec, "maybe")


def test_non_json_and_oversized_return_values_fail_with_what_to_do() -> None:
    with pytest.raises(StepFailure, match="not JSON.*tolist"):
        finish(SPEC, {"when": datetime.now()})
    with pytest.raises(StepFailure, match=r"returned 11,2\d\d bytes.*at most 10,240.*table or stage"):
        finish(SPEC, {"blob": "x" * (11 * 1024)})


def test_resolve_step_finds_the_decorated_function(tmp_path: Path, monkeypatch) -> None:
    pkg = tmp_path / "mysteps"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from dagc.runtime import step\n@step(name='renamed')\ndef f(ctx):\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_step("renamed", package="mysteps").__name__ == "f"
    assert resolve_step("renamed", module="mysteps.a").__name__ == "f"
    with pytest.raises(StepFailure, match="not defined"):
        resolve_step("nope", package="mysteps")


# -- packaging -----------------------------------------------------------------------------------------
def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "__init__.py").write_text("from dagc.runtime import StepContext, step\n")
    (root / "steps" / "train.py").write_text(
        "from steps import step\n"
        "@step\n"
        "def fit(ctx, depth=3):\n"
        "    return {'depth': depth, 'rows': ctx.inputs['load']['rows'], 'run': ctx.run_id,\n"
        "            'threshold': ctx.config['gate']['threshold']}\n"
    )
    return root


def test_bundle_is_deterministic_and_lists_what_it_ships(tmp_path: Path) -> None:
    root = _project(tmp_path)
    a, b = build_bundle(root), build_bundle(root)
    assert a.sha256 == b.sha256 and a.data == b.data
    names = [n for n, _ in a.files]
    assert "steps/train.py" in names and "dagc/runtime/snowflake.py" in names and "dagc/runtime/context.py" in names
    assert not any(n.startswith("dagc/cli") or n.startswith("dagc/emit") for n in names)
    d = a.describe("@ML.PROD.DAGC_STAGE", "training")
    assert d["target"] == f"@ML.PROD.DAGC_STAGE/dagc/training/dagc_bundle_{a.sha256[:16]}.zip"
    (root / "steps" / "train.py").write_text((root / "steps" / "train.py").read_text() + "# changed\n")
    assert build_bundle(root).sha256 != a.sha256


# -- compute-pool steps ----------------------------------------------------------------------------------
JOB_SPEC = dict(SPEC, task="train", step="fit", after=["load"], branch_after=[], params={"depth": 5},
                compute={"pool": "TRAINING_POOL", "instances": 2}, stage="@ML.PROD.DAGC_STAGE")


def test_ml_job_is_configured_for_the_pool_instances_and_stage() -> None:
    from dagc.runtime.context import StepContext

    ctx = StepContext("training", "train", "rg-1", SCHED, {"gate": {"threshold": 0.8}}, {"depth": 5},
                      {"load": {"rows": 10}}, backend=None)
    payload = mljob.job_payload(JOB_SPEC, ctx)
    opts = mljob.job_options(JOB_SPEC, payload, "/tmp/x")
    assert opts["compute_pool"] == "TRAINING_POOL"
    assert opts["target_instances"] == 2 and opts["min_instances"] == 2
    assert opts["stage_name"] == "@ML.PROD.DAGC_STAGE/dagc/training/jobs"
    assert opts["entrypoint"] == "dagc_job_entry.py" and json.loads(opts["args"][0])["inputs"] == {"load": {"rows": 10}}
    # the keyword arguments are ones snowflake.ml.jobs.submit_directory takes
    import inspect

    from snowflake.ml.jobs import submit_directory

    params = inspect.signature(submit_directory).parameters
    documented = inspect.getdoc(submit_directory) or ""
    for k in opts:
        assert k in params or f"{k} (" in documented, k


def test_ml_job_payload_runs_from_the_bundle_alone(tmp_path: Path) -> None:
    """Stand in for the compute pool with a fresh interpreter that sees only the unpacked payload
    directory: the bundle must be enough to import the step and the runtime, and `__return__` (what
    ML Jobs hand back as the result) must be the step's JSON."""
    from dagc.runtime.context import StepContext

    root = _project(tmp_path)
    bundle = build_bundle(root)
    imports = tmp_path / "imports"
    imports.mkdir()
    (imports / bundle.name).write_bytes(bundle.data)
    submitted: dict[str, Any] = {}

    class LocalJob:
        def __init__(self, result: str) -> None:
            self.id = "JOB_1"
            self._result = result

        def wait(self, timeout: float = -1) -> str:
            return "DONE"

        def result(self) -> str:
            return self._result

    def submit(*, session, dir_path, entrypoint, args, **opts):
        submitted.update(opts, dir=sorted(p.name for p in Path(dir_path).iterdir()))
        code = ("import json, runpy, sys; sys.argv = ['x', sys.argv[1]]; "
                f"g = runpy.run_path({entrypoint!r}); print(json.dumps(g['__return__']))")
        out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {code}", args[0]],
                             cwd=dir_path, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return LocalJob(json.loads(out.stdout.strip().splitlines()[-1]))

    ctx = StepContext("training", "train", "rg-7", SCHED, {"gate": {"threshold": 0.8}}, {"depth": 5},
                      {"load": {"rows": 10}}, backend=None)
    value = mljob.run_as_ml_job(None, JOB_SPEC, ctx, submit=submit, source_dir=imports)
    assert value == {"depth": 5, "rows": 10, "run": "rg-7", "threshold": 0.8}
    assert submitted["compute_pool"] == "TRAINING_POOL" and "dagc_job_entry.py" in submitted["dir"]
    assert {"steps", "dagc"} <= set(submitted["dir"])


def test_ml_job_failure_says_which_job_and_shows_logs() -> None:
    from dagc.runtime.context import StepContext

    class Failed:
        id = "JOB_9"

        def wait(self, timeout: float = -1) -> str:
            return "FAILED"

        def get_logs(self, limit: int = -1, as_list: bool = False) -> list[str]:
            return ["Traceback...", "ValueError: bad"]

    ctx = StepContext("training", "train", "r", SCHED, {}, {}, {}, backend=None)
    with pytest.raises(StepFailure, match="JOB_9.*ended FAILED"):
        mljob.run_as_ml_job(None, JOB_SPEC, ctx, submit=lambda **kw: Failed(), source_dir=_bundle_dir())


def _bundle_dir() -> Path:
    import tempfile

    d = Path(tempfile.mkdtemp())
    with zipfile.ZipFile(d / "dagc_bundle_x.zip", "w") as zf:
        zf.writestr("steps/__init__.py", "")
    return d


def test_build_context_without_session_for_the_local_style_backend() -> None:
    class Facts:
        def graph_config(self):
            return {"a.b": 1}

        def predecessor_value(self, task):
            return None

        def run_id(self):
            return "r1"

        def scheduled_at(self):
            return SCHED

        def set_return_value(self, text):
            raise AssertionError

    ctx = build_context(dict(SPEC, after=["x"], branch_after=[]), Facts(), backend=None)
    assert ctx.inputs == {"x": None} and ctx.config == {"a": {"b": 1}} and ctx.pipeline == "training"


# -- what a Python task procedure gets ------------------------------------------------------------------
def test_effective_packages_add_what_the_runtime_needs_and_keep_what_the_pipeline_wrote() -> None:
    from dagc.snowflake.packaging import effective_packages, requirement_name

    assert effective_packages(["pandas"]) == ["pandas", "snowflake-snowpark-python"]
    assert effective_packages(["Snowflake_Snowpark_Python==1.40.0"]) == ["Snowflake_Snowpark_Python==1.40.0"]
    assert effective_packages(["xgboost"], compute=True) == ["xgboost", "snowflake-snowpark-python", "snowflake-ml-python"]
    assert requirement_name("scikit_learn >= 1.5; python_version > '3.9'") == "scikit-learn"
    assert "snowflake-core" not in effective_packages([], compute=True)  # the runtime does not use TaskContext


def test_manifest_and_emitted_procedures_state_the_same_effective_packages() -> None:
    from dagc.emit.manifest import build_manifest, load_manifest
    from dagc.emit.snowflake import build_dag, low_level_tasks

    from tests.snowflake.sfixtures import training_ir

    p = training_ir(packages=("xgboost",))
    m = build_manifest(p)
    assert m["graph"]["declared_packages"] == ["xgboost"]
    assert m["graph"]["packages"] == ["xgboost", "snowflake-snowpark-python", "snowflake-ml-python"]  # train has compute:
    assert build_manifest(load_manifest(m)) == m
    python = [t for t in low_level_tasks(build_dag(p)) if not isinstance(t.definition, str) and "$" in t.name]
    assert python and all(t.definition._packages == m["graph"]["packages"] for t in python)


def test_python_tasks_get_a_log_level_the_pipeline_can_override() -> None:
    import dataclasses

    from dagc import ir
    from dagc.emit.manifest import build_manifest
    from dagc.emit.snowflake import build_dag, low_level_tasks

    from tests.snowflake.sfixtures import training_ir

    p = training_ir()
    debug = dataclasses.replace(p.task("evaluate"), session_parameters=ir.freeze({"log_level": "DEBUG"}))
    p = dataclasses.replace(p, tasks=tuple(debug if t.name == "evaluate" else t for t in p.tasks))
    low = {t.name.split("$")[-1]: t for t in low_level_tasks(build_dag(p))}
    assert low["train"].session_parameters == {"LOG_LEVEL": "INFO"}
    assert low["evaluate"].session_parameters == {"LOG_LEVEL": "DEBUG"}  # the task's own wins
    assert low["on_failure"].session_parameters is None  # SQL tasks log nothing through Python
    manifest = {t["name"]: t["log_level"] for t in build_manifest(p)["tasks"]}
    assert manifest["train"] == "INFO" and manifest["evaluate"] == "DEBUG" and manifest["on_failure"] is None
    traced = dataclasses.replace(p.task("promote"), log_level="WARN", trace_level="ALWAYS")  # the `log_level:` key
    p = dataclasses.replace(p, tasks=tuple(traced if t.name == "promote" else t for t in p.tasks))
    low = {t.name.split("$")[-1]: t for t in low_level_tasks(build_dag(p))}
    assert low["promote"].session_parameters == {"LOG_LEVEL": "WARN", "TRACE_LEVEL": "ALWAYS"}
    quiet = dataclasses.replace(p, session_parameters=ir.freeze({"LOG_LEVEL": "WARN"}))
    low = {t.name.split("$")[-1]: t for t in low_level_tasks(build_dag(quiet))}
    assert low["train"].session_parameters == {"LOG_LEVEL": "WARN"}  # the pipeline's default


# -- the Snowflake backend -------------------------------------------------------------------------------
class RecordingSession:
    def __init__(self) -> None:
        self.sql_text: list[str] = []

    def sql(self, query: str) -> Any:
        self.sql_text.append(query)

        class R:
            def collect(self_inner) -> list[Any]:
                return []

        return R()


def test_drop_quotes_table_names_and_refuses_anything_else() -> None:
    from dagc.snowflake.backend import SnowflakeTables

    s = RecordingSession()
    tables = SnowflakeTables(s)
    tables.drop("run_20261121_features")
    tables.drop("ml.prod.old_scores")
    assert s.sql_text == ['drop table if exists "RUN_20261121_FEATURES"',
                          'drop table if exists "ML"."PROD"."OLD_SCORES"']
    for bad in ("x; drop database prod", 'a"b', "t --", "", "a.b.c.d", "1abc"):
        with pytest.raises(ValueError, match="not a table name"):
            tables.drop(bad)
    with pytest.raises(ValueError, match="not a table name"):
        tables.write("x y", None)
    assert len(s.sql_text) == 2  # nothing else reached SQL


def test_model_versions_of_a_model_not_logged_yet_is_empty_as_locally() -> None:
    """snowflake.ml's Registry.get_model raises ValueError("Unable to find model ...") for a new
    name; the first promote of a pipeline asks for the versions of exactly such a model."""
    from dagc.snowflake.backend import SnowflakeModels

    class Registry:  # the one call that matters, answered the way snowflake.ml answers it
        def get_model(self, name: str) -> Any:
            raise ValueError(f"Unable to find model {name}")

    models = SnowflakeModels.__new__(SnowflakeModels)
    models.reg = Registry()
    assert models.versions("approval_model") == []


# -- secrets the Snowflake way ---------------------------------------------------------------------------
SECRET_PIPELINE = """\
name: notify
warehouse: WH
stage: "@ML.PROD.DAGC_STAGE"
config:
  webhook:
    url: https://hooks.example.com/x
    token: "{{ secret('DAGC_IT_TOKEN', integration='HOOKS_EAI', object='ML.PROD.HOOK_TOKEN') }}"
tasks:
  post:
    step: post
    params: {auth: "Bearer {{ secret('DAGC_IT_TOKEN', integration='HOOKS_EAI', object='ML.PROD.HOOK_TOKEN') }}"}
  count: {sql: "select 1", after: [post]}
"""


def _secret_project(tmp_path: Path, pipeline: str = SECRET_PIPELINE) -> Path:
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("from dagc import StepContext, step\n")
    (tmp_path / "steps" / "post.py").write_text("from steps import step\n@step\ndef post(ctx, auth=''):\n    return {}\n")
    (tmp_path / "pipelines").mkdir()
    f = tmp_path / "pipelines" / "notify.yaml"
    f.write_text(pipeline)
    return f


def test_a_secret_never_lands_in_graph_config_or_task_definition(tmp_path: Path, monkeypatch) -> None:
    import cloudpickle

    from dagc.emit.snowflake import build_dag, low_level_tasks
    from dagc.frontend import load_pipeline
    from dagc.runtime.secrets import reference

    monkeypatch.setenv("DAGC_IT_TOKEN", "tok-very-secret-1")
    p = load_pipeline(_secret_project(tmp_path))
    dag = build_dag(p)
    assert dag.config["webhook.token"] == reference("DAGC_IT_TOKEN")
    assert "tok-very-secret-1" not in json.dumps(dag.config)
    low = {t.name.split("$")[-1]: t for t in low_level_tasks(dag)}
    d = low["post"].definition
    assert type(d).__name__ == "SecretProcedureCall"
    assert d.secrets == {"DAGC_IT_TOKEN": "ML.PROD.HOOK_TOKEN"} and d.integrations == ["HOOKS_EAI"]
    spec = d.handler.dagc_spec
    assert spec["params"] == {"auth": "Bearer " + reference("DAGC_IT_TOKEN")}
    assert b"tok-very-secret-1" not in cloudpickle.dumps(d.handler)  # the pickled procedure code
    assert isinstance(low["count"].definition, str)


def test_the_secret_procedure_is_registered_with_snowparks_secrets_and_integrations(tmp_path: Path, monkeypatch) -> None:
    """snowflake.core registers task procedures without SECRETS; dagc's definition registers its
    own with Snowpark's `secrets=` / `external_access_integrations=`, which Snowpark turns into the
    SECRETS=(...) and EXTERNAL_ACCESS_INTEGRATIONS=(...) clauses."""
    import inspect

    from snowflake.snowpark.stored_procedure import StoredProcedureRegistration

    from dagc.emit.snowflake import build_dag, low_level_tasks
    from dagc.frontend import load_pipeline

    monkeypatch.setenv("DAGC_IT_TOKEN", "tok-very-secret-1")
    d = next(t.definition for t in low_level_tasks(build_dag(load_pipeline(_secret_project(tmp_path))))
             if t.name.endswith("$post"))
    calls: list[dict[str, Any]] = []

    class Sproc:
        def register(self, func: Any, **kw: Any) -> str:
            calls.append(kw)
            return "registered"

    class Session:
        sproc = Sproc()

    d._session = Session()
    assert d.func == "registered" and d.func == "registered" and len(calls) == 1  # once, on first use
    kw = calls[0]
    assert kw["secrets"] == {"DAGC_IT_TOKEN": "ML.PROD.HOOK_TOKEN"} and kw["external_access_integrations"] == ["HOOKS_EAI"]
    assert kw["anonymous"] is True and kw["is_permanent"] is True and kw["stage_location"] == "@ML.PROD.DAGC_STAGE"
    accepted = inspect.signature(StoredProcedureRegistration.register).parameters
    assert set(kw) - {"anonymous"} <= set(accepted)  # `anonymous` travels in **kwargs, as snowflake.core sends it
    from snowflake.snowpark._internal.udf_utils import create_python_udf_or_sp  # renders the clauses

    assert {"secrets", "external_access_integrations"} <= set(inspect.signature(create_python_udf_or_sp).parameters)


def test_secrets_without_a_secret_object_are_refused_for_snowflake(tmp_path: Path, monkeypatch) -> None:
    from dagc.diagnostics import DagcError
    from dagc.emit.snowflake import build_dag
    from dagc.frontend import load_pipeline

    literal = SECRET_PIPELINE.replace("""token: "{{ secret('DAGC_IT_TOKEN', integration='HOOKS_EAI', object='ML.PROD.HOOK_TOKEN') }}\"""",
                                      "password: hunter2-literal")
    monkeypatch.setenv("DAGC_IT_TOKEN", "tok-very-secret-1")
    p = load_pipeline(_secret_project(tmp_path, literal))
    with pytest.raises(DagcError, match="config: a secret value would be stored in clear") as e:
        build_dag(p)
    assert "secret('NAME'" in (e.value.hint or "") and "hunter2" not in str(e.value)


def test_the_runtime_resolves_secret_references_and_ml_jobs_get_references_only(monkeypatch) -> None:
    from dagc.runtime.secrets import reference

    session = SystemFunctions({"TRAINING$EVALUATE": "{}", "TRAINING$QUALITY_GATE": "promote"},
                              {"hook.token": reference("HOOK"), "name": "x"})
    seen: dict[str, Any] = {}

    def step_fn(ctx, force=True):
        seen.update(token=ctx.config["hook"]["token"], direct=ctx.secret("HOOK"))
        return {}

    run_task(session, SPEC, backend=object(), step_fn=step_fn, secret=lambda n: {"HOOK": "v4lue"}[n])
    assert seen == {"token": "v4lue", "direct": "v4lue"}
    ctx = build_context(SPEC, SessionFacts(session, "training"), None, secret=lambda n: "v4lue")
    payload = mljob.job_payload(JOB_SPEC, ctx)
    assert payload["config"]["hook"]["token"] == reference("HOOK") and "v4lue" not in json.dumps(payload)
    monkeypatch.setenv("HOOK", "from-env")
    from dagc.runtime.context import StepContext

    assert StepContext("p", "t", "r", SCHED, {}, {}, {}, backend=None).secret("HOOK") == "from-env"  # locally
