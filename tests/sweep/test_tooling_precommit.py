"""pre-commit: the published hooks and the scaffolded config, run by the real pre-commit on a git repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dagc.scaffold import init_project

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PRE_COMMIT = shutil.which("pre-commit", path=str(BIN)) or shutil.which("pre-commit")

pytestmark = pytest.mark.skipif(PRE_COMMIT is None or shutil.which("git") is None,
                                reason="pre-commit (dev extra) and git are needed")


def test_hooks_file_shape():
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"dagc-validate", "dagc-validate-system", "dagc-schema"}
    import re

    rx = re.compile(hooks["dagc-validate"]["files"])
    assert rx.search("pipelines/training.yaml") and rx.search("ml/pipelines/a.yml")
    assert not rx.search("steps/a.py") and not rx.search("config/pipelines.json") and not rx.search("other/x.yaml")
    assert hooks["dagc-validate"]["entry"] == "dagc validate"


def _env(tmp: Path) -> dict[str, str]:
    # `dagc` on PATH runs this checkout's code (PYTHONPATH), as an installed dagc would
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": f"{ROOT / 'compiler'}{os.pathsep}{ROOT}", "PRE_COMMIT_HOME": str(tmp / "pc-home"),
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
            "HOME": str(tmp)}


def _git(cwd: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


@pytest.fixture()
def repo(tmp_path):
    proj = tmp_path / "proj"
    init_project(proj, "demo")
    env = _env(tmp_path)
    _git(proj, "init", "-q", env=env)
    _git(proj, "add", "-A", env=env)
    _git(proj, "commit", "-qm", "init", env=env)
    return proj, env


def _run(proj: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PRE_COMMIT, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=300)


def test_scaffolded_config_passes_then_catches_a_bad_pipeline(repo):
    proj, env = repo
    ok = _run(proj, env, "run", "--all-files")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "dagc validate" in ok.stdout and "Passed" in ok.stdout
    bad = proj / "pipelines" / "demo.yaml"
    bad.write_text(bad.read_text().replace("after: [greet]", "after: [greeet]"))
    _git(proj, "add", "-A", env=env)
    failed = _run(proj, env, "run")  # staged files only, as in `git commit`
    assert failed.returncode == 1
    assert "DAGC301" in failed.stdout and "did you mean 'greet'?" in failed.stdout


def test_published_hook_via_try_repo_checks_changed_files_only(repo):
    proj, env = repo
    (proj / "pipelines" / "broken.yaml").write_text("name: broken\ntasks:\n  a: {step: nope}\n")
    good = _run(proj, env, "try-repo", str(ROOT), "dagc-validate-system", "--files", "pipelines/demo.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _run(proj, env, "try-repo", str(ROOT), "dagc-validate-system", "--files", "pipelines/broken.yaml")
    assert bad.returncode == 1 and "DAGC403" in bad.stdout
