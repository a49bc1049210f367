"""A user's first hour with the installed tool: init, validate, run, the project's own tests, schema.

Everything runs with the fresh venv's `dagc` and `python`, in a folder outside this repository,
with PYTHONPATH cleared (see conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from installed_helpers import ROOT, TIMINGS, Installed

pytestmark = pytest.mark.installed


def test_wheel_holds_the_tool_and_its_data_only(built_wheel):
    names = zipfile.ZipFile(built_wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"dagc", built_wheel.name.split("-py")[0] + ".dist-info"}, tops  # no top-level `steps`
    assert "dagc/frontend/pipeline.schema.json" in names
    for asset in ("report.css", "report.html", "report.js"):
        assert f"dagc/report/assets/{asset}" in names
    assert "dagc/report/vendor/dagre.min.js" in names
    meta = zipfile.ZipFile(built_wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = [ln for ln in meta.splitlines() if ln.startswith("Requires-Dist:") and "extra ==" not in ln]
    assert not any("xgboost" in r or "scikit-learn" in r for r in requires), requires  # the example project's
    entry = zipfile.ZipFile(built_wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "dagc = dagc.cli.main:main" in entry and "dagc = dagc.pytest_plugin" in entry


def test_nothing_from_the_repository_is_importable(installed: Installed, tmp_path):
    code = ("import dagc, importlib.util, sys; print(dagc.__file__); "
            "print(importlib.util.find_spec('steps') is None)")
    res = installed.run(str(installed.bin / "python"), "-c", code, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    where, no_steps = res.stdout.split()
    assert Path(where).is_relative_to(installed.venv) and no_steps == "True"


def test_init_validate_run_and_the_projects_own_tests(installed: Installed, project: Path):
    assert sorted(p.name for p in (project / "steps").iterdir() if p.suffix == ".py") == ["__init__.py", "hello.py"]
    res = installed.dagc("validate", "pipelines/", cwd=project)
    assert res.returncode == 0 and "1 pipeline file(s) valid" in res.stdout, res.stdout + res.stderr
    res = installed.dagc("run", "pipelines/shop.yaml", cwd=project)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCEEDED" in res.stdout + res.stderr
    res = installed.dagc("status", "--json", cwd=project)
    assert res.returncode == 0, res.stderr
    assert '"letters": 5' in res.stdout or "letters" in res.stdout  # count_letters' return value
    res = installed.dagc("logs", "latest", "count", cwd=project)
    assert res.returncode == 0 and "count succeeded" in res.stdout, res.stdout + res.stderr
    # the project's own scaffolded tests, with the venv's pytest (they use dagc.testing: real DuckDB tables)
    res = installed.run(str(installed.bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert res.returncode == 0 and "3 passed" in res.stdout, res.stdout + res.stderr


def test_new_step_and_the_fixture(installed: Installed, tmp_path):
    res = installed.dagc("init", "p2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    proj = tmp_path / "p2"
    res = installed.dagc("new", "step", "load_orders", cwd=proj)
    assert res.returncode == 0, res.stderr
    (proj / "tests" / "test_fixture.py").write_text(
        "from dagc.testing import call_step, notifications\n"
        "from steps.load_orders import load_orders\n\n"
        "def test_with_the_fixture(step_context):\n"
        "    ctx = step_context(task='load', params={'rows': 4})\n"
        "    assert call_step(load_orders, ctx)['rows'] == 4\n"
        "    assert ctx.tables.list() == ['LOAD_ORDERS']\n"
        "    ctx.notify('done', '4 rows')\n"
        "    assert [n['subject'] for n in notifications(ctx.backend.state_dir)] == ['done']\n")
    res = installed.run(str(installed.bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=proj)
    assert res.returncode == 0 and "5 passed" in res.stdout, res.stdout + res.stderr


def test_init_failure_leaves_nothing_behind(installed: Installed, tmp_path):
    clash = tmp_path / "clash"
    (clash / "steps").mkdir(parents=True)
    (clash / "steps" / "hello.py").write_text("# mine\n")  # refused before anything is written
    res = installed.dagc("init", str(clash), cwd=tmp_path)
    assert res.returncode == 2 and "not overwriting" in res.stderr and "Traceback" not in res.stderr
    assert sorted(str(p.relative_to(clash)) for p in clash.rglob("*")) == ["steps", "steps/hello.py"]
    # a write that fails halfway (tests/ is a file, so tests/test_half.py cannot be created, even as root)
    half = tmp_path / "half"
    half.mkdir()
    (half / "tests").write_text("not a folder\n")
    res = installed.dagc("init", str(half), cwd=tmp_path)
    assert res.returncode == 2 and "nothing was written" in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert [p.name for p in half.iterdir()] == ["tests"]


def test_schema_is_package_data_and_check_jsonschema_accepts_the_project(installed: Installed, project: Path,
                                                                          tmp_path):
    res = installed.dagc("schema", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    shipped = json.loads(res.stdout)
    assert shipped == json.loads((ROOT / "compiler" / "dagc" / "frontend" / "pipeline.schema.json").read_text())
    res = installed.dagc("schema", "--with-steps", cwd=project)
    assert res.returncode == 0 and '"greet"' in res.stdout and '"count_letters"' in res.stdout
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if checker is None:
        pytest.skip("check-jsonschema (dev extra) is needed")
    res = installed.run(checker, "--schemafile", "schemas/pipeline.schema.json", "pipelines/shop.yaml", cwd=project)
    assert res.returncode == 0, res.stdout + res.stderr
    (tmp_path / "s.json").write_text(json.dumps(shipped))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nretries: lots\ntasks: {a: {sql: select 1}}\n")
    res = installed.run(checker, "--schemafile", str(tmp_path / "s.json"), str(bad), cwd=tmp_path)
    assert res.returncode == 1 and "retries" in res.stdout


def test_installed_validate_stays_light(installed: Installed, project: Path):
    """The installed `dagc validate` imports none of the heavy libraries (and so starts fast)."""
    code = ("import sys; from dagc.cli.main import main\n"
            "try:\n    main(['validate', 'pipelines/'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "heavy = [m for m in ('snowflake.core', 'snowflake.snowpark', 'pandas', 'xgboost', 'duckdb') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    res = installed.run(str(installed.bin / "python"), "-c", code, cwd=project)
    assert res.returncode == 0 and "HEAVY []" in res.stdout, res.stdout + res.stderr
    import time

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        assert installed.dagc("validate", "pipelines/", cwd=project).returncode == 0
        times.append(time.perf_counter() - t0)
    TIMINGS["installed dagc validate, fresh process, min of 3 (s)"] = min(times)  # figures: bench/bench_installed.py


def test_the_scaffolded_project_is_ready_to_deploy(installed: Installed, project: Path):
    res = installed.dagc("validate", "--strict", "pipelines/", cwd=project)  # no DAGC520: it has a stage
    assert res.returncode == 0, res.stdout + res.stderr
    res = installed.dagc("deploy", "pipelines/shop.yaml", "--env", "prod", "--dry-run", cwd=project,
                         env={"HOME": str(project.parent)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "dry run: nothing was changed" in res.stdout + res.stderr
    assert "upload @PROD_DB.PUBLIC.DAGC_STAGE/" in res.stdout
