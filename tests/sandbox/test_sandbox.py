"""Every Python task of the shipped pipelines and of the `dagc init` project, run the way
Snowflake runs it (see sandbox.py): the exact handler Snowpark registers, in `python -I -S` with
only the staged bundle, the declared packages and Snowflake's runtime on the import path, against
a stand-in that answers the SYSTEM$ functions as Snowflake documents them."""

from __future__ import annotations

import dataclasses

import json
import subprocess
import textwrap
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from dagc.frontend import load_pipeline
from tests.sandbox.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_python_task_runs_to_its_return_value(tmp_path: Path, sites: Path) -> None:
    training = one_node(load_pipeline(ROOT / "pipelines" / "training.yaml", var_sets={"rows": 3000}))
    sb = Sandbox(training, ROOT, tmp_path / "training", sites)
    for proc in sb.procs:  # what CREATE PROCEDURE gets
        assert "snowflake-snowpark-python" in proc.packages and "cloudpickle" in proc.packages
        assert not any(p.startswith("snowflake-core") for p in proc.packages)
        assert proc.imports == [sb.bundle.target(training.stage, "training")]
    assert list(sb.jobs) == ["train"] and "train" not in {p.task for p in sb.procs}  # a job, not a procedure
    done = sb.run_all()
    failed = {t: (o.error, o.traceback, o.stderr[-3000:]) for t, o in done.items() if not o.ok}
    assert failed == {}, failed
    py = [t.name for t in training.all_tasks() if t.kind.value != "sql"]
    assert sorted(done) == sorted(py)
    assert sb.sf.g.returns["TRAINING$QUALITY_GATE"] == "promote"  # the branch's value is the child's name
    for t in py:
        text = sb.sf.g.returns.get(f"TRAINING${t.upper()}")
        assert text is not None and len(text.encode()) <= 10 * 1024, t
        if t != "quality_gate":
            assert isinstance(json.loads(text), dict), t
    assert sb.sf.models.defaults == {"approval_model": "V1"}
    # the train task ran as a native ML Job: its CALL, on the pool, through the staged launcher
    [job] = sb.sf.g.ml_jobs
    assert job["task"] == "TRAINING$TRAIN" and job["pool"] == "TRAINING_POOL" and job["options"]["ASYNC"] is False
    trained = json.loads(sb.sf.g.returns["TRAINING$TRAIN"])
    assert trained["trainer"] == "in_process" and trained["nodes"] == 1  # one node: in-process XGBoost
    assert job["result"] == {"success": True, "value": sb.sf.g.returns["TRAINING$TRAIN"]}  # the job's saved result
    assert json.loads(sb.sf.g.returns["TRAINING$EVALUATE"])["model_table"] == trained["model_table"]
    # scheduled 02:00 UTC, seen by the session as 18:00 the day before in America/Los_Angeles:
    # the run prefix the steps derive from ctx.scheduled_at must still say 02:00 UTC
    dropped = json.loads(sb.sf.g.returns["TRAINING$CLEANUP"])["dropped_tables"]
    assert dropped and all("_20261121020000_" in t for t in dropped)

    inference = load_pipeline(ROOT / "pipelines" / "inference.yaml", var_sets={"new_rows": 300})
    sb2 = Sandbox(inference, ROOT, tmp_path / "inference", sites, account=sb)  # same account: tables, model
    done = sb2.run_all()
    assert {t: o.error for t, o in done.items() if not o.ok} == {}
    assert sb2.sf.g.returns["INFERENCE$DRIFT_CHECK"] in ("report", "alert_drift")
    assert json.loads(sb2.sf.g.returns["INFERENCE$PUBLISH"])["predictions_table"] == "LOAN_PREDICTIONS"


def one_node(pipeline):
    """The pipeline with every compute task on one node: the sandbox's pools have one node and no
    Ray cluster, so a multi-node job's distributed trainer cannot run here (tests/ml covers what it
    would be given); a two-node job is refused, as test_a_job_needs_the_nodes_it_asks_for shows."""
    return dataclasses.replace(pipeline, tasks=tuple(
        dataclasses.replace(t, compute=dataclasses.replace(t.compute, instances=1, min_instances=None))
        if t.compute is not None else t for t in pipeline.tasks))


def _init_project(tmp_path: Path, extra_steps: str = "", packages: list[str] | None = None,
                  extra_tasks: str = "") -> tuple[Path, object]:
    from dagc.scaffold import init_project

    root = tmp_path / "proj"
    init_project(root, "hello")
    if extra_steps:
        (root / "steps" / "extra.py").write_text(textwrap.dedent(extra_steps))
    f = root / "pipelines" / "hello.yaml"
    text = f.read_text()
    if "stage:" not in text:  # the init project runs locally; give it a stage to deploy to
        text = text.replace("warehouse:", 'stage: "@DB.SC.DAGC_STAGE"\nwarehouse:', 1)
    text = text.replace('"@DEV_DB.PUBLIC.DAGC_STAGE"', '"@DB.SC.DAGC_STAGE"')  # the scaffold's own stage
    if packages is not None:
        text = text.replace("warehouse:", f"packages: {json.dumps(packages)}\nwarehouse:", 1)
    if extra_tasks:
        text = text.replace("tasks:\n", "tasks:\n" + textwrap.indent(textwrap.dedent(extra_tasks), "  "), 1)
    f.write_text(text)
    return root, load_pipeline(f)


def test_the_init_project_runs_in_the_sandbox(tmp_path: Path, sites: Path) -> None:
    root, p = _init_project(tmp_path)
    sb = Sandbox(p, root, tmp_path / "work", sites)
    assert sb.procs[0].packages == ["snowflake-snowpark-python", "cloudpickle"]  # nothing declared: dagc's own needs
    done = sb.run_all()
    assert {t: o.error for t, o in done.items() if not o.ok} == {}
    assert json.loads(sb.sf.g.returns["HELLO$GREET"]) == {"greeting": "hello, dagc"}
    assert json.loads(sb.sf.g.returns["HELLO$COUNT"]) == {"letters": 9}


TASK_CONTEXT_STEP = """\
    from steps import step

    @step
    def uses_task_context(ctx):
        from snowflake.core.task.context import TaskContext
        return {"task": TaskContext(ctx.session).get_current_task_name()}
    """


def test_a_package_the_task_does_not_declare_is_not_importable(tmp_path: Path, sites: Path) -> None:
    """Item 1 as it happened: code that builds snowflake.core's TaskContext, in a task whose
    packages do not list snowflake-core (snowflake-ml-python >= 1.29 no longer brings it), fails
    at once; declared, it works."""
    from dagc.frontend import check_file

    root, p = _init_project(tmp_path, TASK_CONTEXT_STEP, packages=["snowflake-ml-python", "snowflake-core"],
                            extra_tasks="ctx_task: {step: uses_task_context}\n")
    sb = Sandbox(p, root, tmp_path / "without", sites, packages=["snowflake-ml-python"])  # the package removed
    out = sb.run("ctx_task")
    assert not out.ok and out.error == "ModuleNotFoundError: No module named 'snowflake.core'"
    # and `dagc validate` says so before any deploy (DAGC407)
    f = root / "pipelines" / "hello.yaml"
    f.write_text(f.read_text().replace(', "snowflake-core"', ""))
    _, diags = check_file(f)
    assert [(d.code, d.file, d.line) for d in diags if d.code == "DAGC407"] == [("DAGC407", "steps/extra.py", 5)]
    sb = Sandbox(p, root, tmp_path / "with", sites)
    out = sb.run("ctx_task")
    assert out.ok, out.traceback
    assert json.loads(out.value) == {"task": "DB.SC.HELLO$CTX_TASK"}  # fully qualified, as Snowflake says


def test_the_runtime_before_the_fix_fails_in_the_sandbox(tmp_path: Path, sites: Path) -> None:
    """The pre-fix runtime (TaskContextFacts over snowflake.core) inside the bundle, with the
    shipped pipelines' packages: the sandbox reproduces `No module named 'snowflake.core'`."""
    old = subprocess.run(["git", "show", "6cdadc8:compiler/dagc/runtime/snowflake.py"], cwd=ROOT,
                         capture_output=True, text=True)
    if old.returncode != 0:
        pytest.skip("needs the repository history (git) for the pre-fix runtime")
    root, p = _init_project(tmp_path, packages=["snowflake-ml-python"])  # what the shipped pipelines rely on
    sb = Sandbox(p, root, tmp_path / "old", sites)
    buf = BytesIO()
    with zipfile.ZipFile(BytesIO(sb.bundle.data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            data = old.stdout.encode() if info.filename == "dagc/runtime/snowflake.py" else src.read(info)
            dst.writestr(info, data)
    sb.bundle.data = buf.getvalue()
    sb.stage_bundle(replace=True)
    out = sb.run("greet")
    assert not out.ok and out.error == "ModuleNotFoundError: No module named 'snowflake.core'"


STANDIN_STEPS = """\
    from steps import step

    @step
    def lower_case_name(ctx):
        return {"v": ctx.session.call("system$get_predecessor_return_value", "hello$greet")}

    @step
    def too_big(ctx):
        ctx.session.call("system$set_return_value", "x" * (10 * 1024 + 1))

    @step
    def reads_secret(ctx):
        return {"n": len(ctx.secret("API_TOKEN"))}

    @step
    def secret_in_config(ctx):
        return {"token": ctx.config["token"]}
    """


def test_the_stand_in_answers_as_snowflake_documents(tmp_path: Path, sites: Path) -> None:
    root, p = _init_project(tmp_path, STANDIN_STEPS, extra_tasks=(
        "lower: {step: lower_case_name, after: [greet]}\nbig: {step: too_big}\nsecret: {step: reads_secret}\n"))
    sb = Sandbox(p, root, tmp_path / "work", sites)
    assert sb.run("greet").ok
    out = sb.run("lower")  # predecessor names are case-sensitive: dagc's are upper case
    assert not out.ok and "Task hello$greet is not a predecessor of HELLO$LOWER" in out.error
    out = sb.run("big")
    assert not out.ok and "exceeds the 10 KB limit" in out.error
    out = sb.run("secret")  # the pipeline grants no secret to its procedures
    assert not out.ok and "SecretUnavailable" in out.error and "API_TOKEN" in out.error


def test_a_secret_reaches_the_step_from_the_secret_object_not_from_the_graph(tmp_path: Path, sites: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "local-value")  # what a local run would use
    root, p = _init_project(tmp_path, STANDIN_STEPS, extra_tasks=(
        "secret: {step: reads_secret}\nfromconfig: {step: secret_in_config}\n"))
    f = root / "pipelines" / "hello.yaml"
    f.write_text(f.read_text().replace("config:\n", "config:\n  token: \"{{ secret('API_TOKEN', "
                                       "integration='API_EAI', object='DB.SC.API_TOKEN') }}\"\n", 1))
    p = load_pipeline(f)
    sb = Sandbox(p, root, tmp_path / "work", sites)
    assert "local-value" not in json.dumps(sb.sf.g.config)  # the graph config holds a reference
    assert sb.procedure("secret").secrets == {"API_TOKEN": "DB.SC.API_TOKEN"}
    sb.sf.g.secret_objects = {"DB.SC.API_TOKEN": "value-in-snowflake"}
    out = sb.run("fromconfig")
    assert out.ok, out.traceback
    assert json.loads(out.value) == {"token": "value-in-snowflake"}
    out = sb.run("secret")
    assert out.ok and json.loads(out.value) == {"n": len("value-in-snowflake")}


def test_the_sandbox_interpreter_sees_nothing_of_the_dev_venv(tmp_path: Path, sites: Path) -> None:
    root, p = _init_project(tmp_path, "from steps import step\n@step\ndef probe(ctx):\n"
                            "    import sys\n    found = []\n"
                            "    for m in ('pytest', 'duckdb', 'yaml', 'jinja2', 'pandas', 'snowflake.snowpark'):\n"
                            "        try:\n            __import__(m)\n            found.append(m)\n"
                            "        except ImportError:\n            pass\n"
                            "    return {'found': found, 'flags': [sys.flags.isolated, sys.flags.no_site]}\n",
                            extra_tasks="probe: {step: probe}\n")
    out = Sandbox(p, root, tmp_path / "work", sites).run("probe")
    assert out.ok, out.traceback
    assert json.loads(out.value) == {"found": ["yaml", "snowflake.snowpark"], "flags": [1, 1]}  # pyyaml: a Snowpark dependency


# ---- native ML Job tasks: deployed payload, the job on the pool, what it may import, its secrets -------

def test_the_deploy_stages_the_job_payload_with_the_librarys_own_upload(tmp_path: Path, sites: Path) -> None:
    from dagc.snowflake.mljob import ENTRY_SCRIPT, SPEC_FILE, payloads_staged, upload_payloads

    training = one_node(load_pipeline(ROOT / "pipelines" / "training.yaml"))
    sb = Sandbox(training, ROOT, tmp_path / "w", sites)
    job = sb.dag.get_task("train").definition
    files = sb.stages.listing(job.stage_path)
    base = job.stage_path.split("/", 1)[1]
    for rel in (f"app/{ENTRY_SCRIPT}", f"app/{SPEC_FILE}", "app/steps/training.py", "app/dagc/snowflake/mljob.py",
                "system/startup.sh", "system/mljob_launcher.py", "system/requirements.txt"):
        assert any(f.endswith(f"{base}/{rel}") for f in files), rel
    assert not any("/app/" in f and "__pycache__" in f for f in files)  # (system/ is the library's scripts folder as is)
    said = [q.split(" ", 2)[0].lower() + " " + q.split(" ", 2)[1].lower() for q in sb.deploy_session.statements]
    # the bundle's LIST, the payload's LIST (nothing there yet), then the library's DESCRIBE STAGE
    assert said == ["list " + sb.bundle.target(training.stage, "training").rsplit("/", 1)[0].lower() + "/",
                    "list " + job.stage_path.lower() + "/app/", "describe stage"]
    # content-addressed: a second deploy of the same code uploads nothing
    before = len(sb.deploy_session.statements)
    assert payloads_staged(sb.deploy_session, sb.dag) and not sb.stage_bundle()
    assert upload_payloads(sb.deploy_session, sb.dag, sb.bundle) == []
    assert len(sb.deploy_session.statements) == before + 3  # LISTs only: no PUT, no DESCRIBE


def test_a_procedure_imports_the_bundle_from_the_stage(tmp_path: Path, sites: Path) -> None:
    """IMPORTS name a staged file: Snowflake copies it from the stage; one that is not there fails."""
    root, p = _init_project(tmp_path)
    sb = Sandbox(p, root, tmp_path / "work", sites)
    [target] = sb.procedure("greet").imports
    staged = sb.stages.file(target)
    assert staged is not None and staged.read_bytes() == sb.bundle.data  # put there by dagc's upload_bundle
    staged.unlink()  # e.g. a stage emptied by hand after the deploy
    out = sb.run("greet")
    assert not out.ok and f"Stage file {target} does not exist" in out.error


def test_a_job_needs_the_nodes_it_asks_for(tmp_path: Path, sites: Path) -> None:
    training = load_pipeline(ROOT / "pipelines" / "training.yaml")  # train: instances 2
    sb = Sandbox(training, ROOT, tmp_path / "w", sites)
    out = sb.run("train")
    assert not out.ok and "has 1 node(s); the job needs MIN_INSTANCES=2" in out.error
    assert sb.sf.g.ml_jobs[0]["options"]["TARGET_INSTANCES"] == 2


IMAGE_STEPS = """\
    from dagc import step

    @step
    def uses_duckdb(ctx):
        import duckdb
        return {"one": duckdb.sql("select 1").fetchall()[0][0]}

    @step
    def job_secret(ctx):
        return {"n": len(ctx.secret("API_TOKEN")), "nodes": __import__("os").environ["SNOWFLAKE_JOBS_COUNT"]}
    """


def test_a_job_imports_only_the_runtime_image_and_its_pip_requirements(tmp_path: Path, sites: Path) -> None:
    """duckdb is in the dev venv but not in the ML runtime image: the job fails to import it until
    compute.pip_requirements names it (the library stages it as app/requirements.txt, and the
    payload's startup script installs it)."""
    root, p = _init_project(tmp_path, IMAGE_STEPS, extra_tasks="db: {step: uses_duckdb, compute: {pool: POOL}}\n")
    out = Sandbox(p, root, tmp_path / "without", sites).run("db")
    assert not out.ok and "No module named 'duckdb'" in (out.error or ""), (out.error, out.stderr[-2000:])
    f = root / "pipelines" / "hello.yaml"
    f.write_text(f.read_text().replace("compute: {pool: POOL}", "compute: {pool: POOL, pip_requirements: [duckdb]}"))
    sb = Sandbox(load_pipeline(f), root, tmp_path / "with", sites)
    out = sb.run("db")
    assert out.ok, (out.error, out.traceback, out.stderr[-2000:])
    assert json.loads(out.value) == {"one": 1}
    assert "duckdb" in sb.sf.g.ml_jobs[0]["packages"]


def test_a_secret_reaches_the_job_through_its_container_secret_mount(tmp_path: Path, sites: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "local-value")  # what a local run would use
    root, p = _init_project(tmp_path, IMAGE_STEPS, extra_tasks="js: {step: job_secret, compute: {pool: POOL}}\n")
    f = root / "pipelines" / "hello.yaml"
    f.write_text(f.read_text().replace("config:\n", "config:\n  token: \"{{ secret('API_TOKEN', "
                                       "integration='API_EAI', object='DB.SC.API_TOKEN') }}\"\n", 1))
    sb = Sandbox(load_pipeline(f), root, tmp_path / "w", sites)
    job = sb.dag.get_task("js").definition
    spec, opts = job.options()
    [main] = spec["SPEC_OVERRIDES"]["spec"]["containers"]
    assert main == {"name": "main", "secrets": [{"snowflakeSecret": {"objectName": "DB.SC.API_TOKEN"},
                                                 "secretKeyRef": "secret_string", "envVarName": "API_TOKEN"}]}
    assert opts["EXTERNAL_ACCESS_INTEGRATIONS"] == ["API_EAI"]
    assert "local-value" not in sb.jobs["js"]  # the task's text holds the object's name, never a value
    out = sb.run("js")  # the SECRET object does not exist yet
    assert not out.ok and "Secret 'DB.SC.API_TOKEN' does not exist or not authorized" in out.error
    sb.sf.g.secret_objects = {"DB.SC.API_TOKEN": "value-in-snowflake"}
    out = sb.run("js")
    assert out.ok, (out.error, out.traceback, out.stderr[-2000:])
    assert json.loads(out.value) == {"n": len("value-in-snowflake"), "nodes": "1"}
