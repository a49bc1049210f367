"""The examples in docs/examples work as written: the workflow's shell steps run on a real git repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dagc.cli.main import COMMANDS, _module_exists

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
BIN = Path(sys.executable).parent
HAS_PLAN = _module_exists(COMMANDS["plan"].split(":")[0])


def workflow() -> dict:
    return yaml.safe_load((EXAMPLES / "github-workflow.yml").read_text())


def steps_by_id() -> dict[str, dict]:
    job, = workflow()["jobs"].values()
    return {s["id"]: s for s in job["steps"] if "id" in s}


def test_workflow_shape():
    wf = workflow()
    on = wf[True] if True in wf else wf["on"]  # PyYAML reads the key `on` as true
    assert "pull_request" in on and wf["permissions"]["security-events"] == "write"
    steps = steps_by_id()
    assert {"validate", "sarif", "compile", "plan"} <= set(steps)
    assert "--format github" in steps["validate"]["run"] and "--format sarif" in steps["sarif"]["run"]
    assert "plan" in steps["plan"]["run"] and "--against" in steps["plan"]["run"]
    job, = wf["jobs"].values()
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif") for u in uses)


def test_pre_commit_and_editor_examples_refer_to_real_things():
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    cfg = yaml.safe_load((EXAMPLES / "pre-commit-config.yaml").read_text())
    assert {h["id"] for r in cfg["repos"] for h in r["hooks"]} <= hooks
    settings = json.loads((EXAMPLES / "vscode-settings.json").read_text())
    (schema_path, globs), = settings["yaml.schemas"].items()
    assert schema_path == "./schemas/pipeline.schema.json" and "pipelines/*.yaml" in globs


def _env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    wf_env = {k: str(v) for k, v in workflow()["env"].items()}
    return {**os.environ, **wf_env, **extra, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": f"{ROOT / 'compiler'}{os.pathsep}{ROOT}", "HOME": str(tmp),
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}


def _sh(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _step(step_id: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    step = steps_by_id()[step_id]
    return _sh(["bash", "-e", "-c", step["run"]], cwd, {**env, **{k: str(v) for k, v in step.get("env", {}).items()
                                                                 if "${{" not in str(v)}})


@pytest.fixture()
def clone(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is needed")
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    shutil.copytree(ROOT / "pipelines", upstream / "pipelines")
    shutil.copytree(ROOT / "steps", upstream / "steps", ignore=shutil.ignore_patterns("__pycache__"))
    env = _env(tmp_path, {})
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "base"]):
        assert _sh(cmd, upstream, env).returncode == 0
    work = tmp_path / "work"
    assert _sh(["git", "clone", "-q", str(upstream), str(work)], tmp_path, env).returncode == 0
    assert _sh(["git", "checkout", "-qb", "pr"], work, env).returncode == 0
    return work, tmp_path


def test_validate_and_compile_steps(clone):
    work, tmp = clone
    env = _env(tmp, {"GITHUB_STEP_SUMMARY": str(tmp / "summary.md")})
    res = _step("validate", work, env)
    assert res.returncode == 0, res.stdout + res.stderr
    res = _step("sarif", work, env)
    assert res.returncode == 0 and json.loads((work / "dagc.sarif").read_text())["runs"][0]["results"] == []
    res = _step("compile", work, env)
    assert res.returncode == 0, res.stderr
    manifest = json.loads((work / "manifests" / "training.json").read_text())
    assert manifest["environment"] == "prod" and manifest["graph"]["warehouse"] == "PROD_WH"

    bad = work / "pipelines" / "training.yaml"
    bad.write_text(bad.read_text().replace("after: [train]", "after: [trian]"))
    res = _step("validate", work, env)
    assert res.returncode == 1
    line = next(ln for ln in res.stdout.splitlines() if "DAGC301" in ln)
    assert line.startswith("::error file=pipelines/training.yaml,line=") and "did you mean 'train'?" in line
    res = _step("sarif", work, env)  # the SARIF step itself succeeds so the upload still happens
    assert res.returncode == 0 and json.loads((work / "dagc.sarif").read_text())["runs"][0]["results"]


@pytest.mark.skipif(not HAS_PLAN, reason="`dagc plan` (the Snowflake back end) is not on this branch yet")
def test_plan_step_reports_what_a_merge_changes(clone):
    work, tmp = clone
    summary = tmp / "summary.md"
    env = _env(tmp, {"GITHUB_STEP_SUMMARY": str(summary), "BASE_REF": "main"})
    assert _step("compile", work, env).returncode == 0
    res = _step("plan", work, env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "`pipelines/training.yaml`: no change" in summary.read_text()
    p = work / "pipelines" / "training.yaml"
    p.write_text(p.read_text().replace("max_depth: 6", "max_depth: 8"))
    summary.write_text("")
    res = _step("plan", work, env)
    text = summary.read_text()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "`pipelines/training.yaml`: changes" in text and "max_depth" in text
    assert "`pipelines/inference.yaml`: no change" in text
