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
    training = load_pipeline(ROOT / "pipelines" / "training.yaml", var_sets={"rows": 3000})
    # `train` is a native ML Job task (CALL SYSTEM$EXECUTE_ML_JOB, no procedure): here it runs as a
    # procedure so every step runs in the clean interpreter; its job entry is run to its return
    # value in tests/ml/test_ml_mljob.py (in-process, not yet in this sandbox).
    training = dataclasses.replace(training, tasks=tuple(dataclasses.replace(t, compute=None) for t in training.tasks))
    sb = Sandbox(training, ROOT, tmp_path / "training", sites)
    for proc in sb.procs:  # what CREATE PROCEDURE gets
        assert "snowflake-snowpark-python" in proc.packages and "cloudpickle" in proc.packages
        assert not any(p.startswith("snowflake-core") for p in proc.packages)
        assert proc.imports == [sb.bundle.target(training.stage, "training")]
    done = sb.run_all()
    failed = {t: (o.error, o.traceback) for t, o in done.items() if not o.ok}
    assert failed == {}, {t: e for t, (e, _) in failed.items()}
    py = [t.name for t in training.all_tasks() if t.kind.value != "sql"]
    assert sorted(done) == sorted(py)
    assert sb.sf.g.returns["TRAINING$QUALITY_GATE"] == "promote"  # the branch's value is the child's name
    for t in py:
        text = sb.sf.g.returns.get(f"TRAINING${t.upper()}")
        assert text is not None and len(text.encode()) <= 10 * 1024, t
        if t != "quality_gate":
            assert isinstance(json.loads(text), dict), t
    assert sb.sf.models.defaults == {"approval_model": "V1"}
    # train ran as a procedure here (compute stripped above): a native ML Job task submits nothing itself
    assert sb.sf.g.ml_jobs == []
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
