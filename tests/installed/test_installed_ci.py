"""dagc in a user's CI: the default pre-commit hook (pre-commit builds its own environment from
this repository) and the GitHub workflow example's steps, both against an installed dagc."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from installed_helpers import ROOT, Installed

pytestmark = [pytest.mark.installed,
              pytest.mark.skipif(shutil.which("git") is None, reason="git is needed")]
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")


def _git(cwd: Path, env: dict[str, str], *args: str) -> None:
    res = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def _repo(folder: Path, env: dict[str, str]) -> Path:
    _git(folder, env, "init", "-q", "-b", "main")
    _git(folder, env, "add", "-A")
    _git(folder, env, "commit", "-qm", "init")
    return folder


def _snapshot(dest: Path, env: dict[str, str]) -> Path:
    """This repository's working tree (tracked and new files, as git sees them) committed into a
    fresh repository: try-repo on it twice reuses one hook environment (one rev), where try-repo on
    a dirty checkout would make a new shadow commit, and so a new environment, every call."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return _repo(dest, env)


@pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit (dev extra) is needed")
def test_default_hook_via_try_repo(installed: Installed, tmp_path):
    """`language: python`: pre-commit installs this repository into an environment of its own; the
    user's PATH has no dagc at all. pip in that environment installs offline from the wheelhouse."""
    res = installed.dagc("init", "hooked", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    proj = tmp_path / "hooked"
    (proj / "pipelines" / "broken.yaml").write_text("name: broken\ntasks:\n  a: {step: greet, after: [nope]}\n")
    env = {**installed.env,
           "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                   if p and not Path(p, "dagc").exists()),
           "PRE_COMMIT_HOME": str(tmp_path / "pc-home"),
           # pre-commit runs `pip install .` in its hook environment: same pins, no index
           "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(installed.wheelhouse),
           "PIP_CONSTRAINT": str(ROOT / "constraints.txt")}
    assert shutil.which("dagc", path=env["PATH"]) is None
    _repo(proj, env)
    clone = _snapshot(tmp_path / "dagc-clone", env)

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PRE_COMMIT, "try-repo", str(clone), "dagc-validate", "--files", *files], cwd=proj,
                              env=env, capture_output=True, text=True, timeout=900)

    good = try_repo("pipelines/hooked.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "dagc validate" in good.stdout and "Passed" in good.stdout
    bad = try_repo("pipelines/broken.yaml", "pipelines/hooked.yaml")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    line = next(ln for ln in bad.stdout.splitlines() if "DAGC301" in ln)
    assert line.startswith("pipelines/broken.yaml:3:") and "'nope'" in line
    assert "hooked.yaml" not in bad.stdout.split("DAGC301", 1)[1].split("\n", 1)[0]


def _workflow_steps() -> dict[str, dict]:
    wf = yaml.safe_load((ROOT / "docs" / "examples" / "github-workflow.yml").read_text())
    (job,) = wf["jobs"].values()
    return {s["id"]: s for s in job["steps"] if "id" in s}, {k: str(v) for k, v in wf["env"].items()}


def test_github_workflow_steps_against_the_installed_tool(installed: Installed, tmp_path):
    """The workflow's shell steps as written (validate, SARIF, compile, plan) in a clone of a repository
    holding the example project, with the installed dagc on PATH and nothing else of this checkout."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    shutil.copytree(ROOT / "pipelines", upstream / "pipelines")
    shutil.copytree(ROOT / "steps", upstream / "steps", ignore=shutil.ignore_patterns("__pycache__"))
    steps, wf_env = _workflow_steps()
    env = {**wf_env, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "BASE_REF": "main"}
    _repo(upstream, {**installed.env, **env})
    work = tmp_path / "work"
    _git(tmp_path, installed.env, "clone", "-q", str(upstream), str(work))
    _git(work, installed.env, "checkout", "-qb", "pr")
    p = work / "pipelines" / "training.yaml"
    p.write_text(p.read_text().replace("max_depth: 6", "max_depth: 8"))

    def step(step_id: str) -> subprocess.CompletedProcess[str]:
        extra = {k: str(v) for k, v in steps[step_id].get("env", {}).items() if "${{" not in str(v)}
        return installed.run("bash", "-e", "-c", steps[step_id]["run"], cwd=work, env={**env, **extra})

    for step_id in ("validate", "sarif", "compile"):
        res = step(step_id)
        assert res.returncode == 0, (step_id, res.stdout + res.stderr)
    assert json.loads((work / "dagc.sarif").read_text())["runs"][0]["results"] == []
    manifest = json.loads((work / "manifests" / "training.json").read_text())
    assert manifest["environment"] == "prod" and manifest["graph"]["warehouse"] == "PROD_WH"
    res = step("plan")
    assert res.returncode == 0, res.stdout + res.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert "`pipelines/training.yaml`: changes" in summary and "max_depth" in summary
    assert "`pipelines/inference.yaml`: no change" in summary
