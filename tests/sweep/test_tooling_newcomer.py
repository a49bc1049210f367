"""A newcomer's rough edges: the README's pipeline works as written, deploy readiness is warned
about by validate (DAGC520), the tour's outputs stay out of git, `make` says what it is doing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dagc.cli.front import validate_files
from dagc.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def readme_pipeline() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert m, "README.md has no yaml example"
    return m.group(1)


def _offline_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "DAGC_"))}
    return {**env, "HOME": str(tmp), "PYTHONPATH": str(ROOT / "compiler")}


@pytest.fixture()
def readme_project(tmp_path):
    """The README's pipeline in a copy of this repository's example project (its steps)."""
    proj = tmp_path / "proj"
    (proj / "pipelines").mkdir(parents=True)
    shutil.copytree(ROOT / "steps", proj / "steps", ignore=shutil.ignore_patterns("__pycache__"))
    (proj / "pipelines" / "readme.yaml").write_text(readme_pipeline())
    return proj


def test_readme_pipeline_validates_and_deploys_offline_as_written(readme_project, tmp_path):
    f = readme_project / "pipelines" / "readme.yaml"
    assert [f"{d.code}: {d.message}" for d in validate_files([f])] == []  # no error, and no DAGC520 either
    res = subprocess.run([sys.executable, "-m", "dagc", "deploy", "pipelines/readme.yaml", "--env", "prod", "--dry-run"],
                         cwd=readme_project, env=_offline_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "dry run: nothing was changed" in res.stdout + res.stderr
    assert "upload @ML.PROD.DAGC_STAGE/" in res.stdout


def test_readme_pipeline_runs_locally_as_written(readme_project, tmp_path):
    res = subprocess.run([sys.executable, "-m", "dagc", "run", "pipelines/readme.yaml"], cwd=readme_project,
                         env=_offline_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "of training: SUCCEEDED" in res.stdout


def test_readme_step_example_imports_from_dagc():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "from dagc import StepContext, step" in text and "from steps import" not in text


NO_STAGE = "name: x\ntasks:\n  a: {sql: select 1}\n  b: {step: extract, after: [a]}\n"


def test_validate_warns_when_deploy_would_refuse(tmp_path, capsys):
    proj = tmp_path
    (proj / "steps").mkdir()
    (proj / "steps" / "s.py").write_text("from dagc import step\n\n@step\ndef extract(ctx):\n    return None\n")
    (proj / "pipelines").mkdir()
    f = proj / "pipelines" / "p.yaml"
    f.write_text(NO_STAGE)
    (d,) = validate_files([f])
    assert (d.code, d.severity.value, d.line, d.col) == ("DAGC520", "warning", 4, 3)
    assert "'b'" in d.message and "dagc deploy" in d.message and "stage" in d.hint
    for argv, code in ((["validate", str(f)], 0), (["validate", "--strict", str(f)], 1)):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == code
    assert "warning[DAGC520]" in capsys.readouterr().out
    f.write_text(NO_STAGE.replace("tasks:", 'stage: "@DB.S.DAGC_STAGE"\ntasks:'))
    assert validate_files([f]) == []
    f.write_text("name: x\ntasks:\n  a: {sql: select 1}\n")  # SQL only: no code to upload
    assert validate_files([f]) == []
    from dagc.frontend import check_file

    f.write_text(NO_STAGE)
    assert check_file(f)[1] == []  # `dagc run` (check_file) needs no stage: the warning is validate's


@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed")
def test_tour_outputs_are_ignored_by_git():
    for name in ("manifest.json", "report.html", "auc.html"):
        res = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, capture_output=True, timeout=30)
        assert res.returncode == 0, f"{name} (written by the README's tour) is not git-ignored"
    tour = (ROOT / "README.md").read_text(encoding="utf-8").split("## A short tour", 1)[1].split("\n## ", 1)[0]
    written = set(re.findall(r"-o (\S+)", tour)) - {"-"}
    assert written <= {"manifest.json", "report.html", "auc.html"}, written


@pytest.mark.skipif(shutil.which("make") is None, reason="make is needed")
def test_make_says_what_it_does_before_the_long_install(tmp_path):
    res = subprocess.run(["make", "-n", "run", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    pip = next(i for i, ln in enumerate(lines) if "pip install" in ln)
    said = [ln for ln in lines[:pip] if ln.startswith("echo")]
    assert said and "minute" in said[0] and "installing" in said[0], lines[:pip]
    assert any("dagc run" in ln for ln in lines[pip:])


def test_logs_latest_works_like_report_latest(tmp_path):
    from dagc.scaffold import init_project

    proj = tmp_path / "proj"
    init_project(proj, "demo")
    env = _offline_env(tmp_path)

    def dagc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dagc", *args], cwd=proj, env=env, capture_output=True,
                              text=True, timeout=300)

    none = dagc("logs", "latest", "greet")
    assert none.returncode != 0 and "no runs recorded" in none.stderr and "Traceback" not in none.stderr
    assert dagc("run", "pipelines/demo.yaml").returncode == 0
    res = dagc("logs", "latest", "count")
    assert res.returncode == 0 and "count succeeded" in res.stdout and "attempt 1 of run" in res.stdout
    run_id = res.stdout.split("of run ", 1)[1].split()[0]
    assert dagc("logs", run_id[:12], "count").stdout == res.stdout  # a prefix of the id, as before
    bad = dagc("logs", "latest", "nope")
    assert bad.returncode != 0 and "has no task 'nope'" in bad.stderr and "count, greet" in bad.stderr
