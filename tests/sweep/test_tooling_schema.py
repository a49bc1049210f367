"""The schema editors and check-jsonschema read accepts what dagc accepts (templates included),
completes branch cases, and offers no example values that look like a project's names."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from dagc.frontend.registry import load_registry
from dagc.frontend.schema import schema, shipped_schema, strip_templates
from dagc.frontend.stepschema import with_steps
from dagc.scaffold import init_project

ROOT = Path(__file__).resolve().parents[2]
CHECKER = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
needs_checker = pytest.mark.skipif(CHECKER is None, reason="check-jsonschema (dev extra) is needed")


def _check(schema_file: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHECKER, "--schemafile", str(schema_file), *map(str, files)], capture_output=True,
                          text=True, timeout=120)


@needs_checker
def test_check_jsonschema_passes_on_the_shipped_pipelines():
    pipelines = sorted((ROOT / "pipelines").glob("*.yaml"))
    assert pipelines
    for schema_file in (ROOT / "schemas" / "pipeline.schema.json",
                        ROOT / "compiler" / "dagc" / "frontend" / "pipeline.schema.json"):
        res = _check(schema_file, *pipelines)
        assert res.returncode == 0, res.stdout + res.stderr


@needs_checker
def test_check_jsonschema_passes_on_a_scaffolded_project_and_still_catches_errors(tmp_path):
    init_project(tmp_path, "demo")
    res = _check(tmp_path / "schemas" / "pipeline.schema.json", tmp_path / "pipelines" / "demo.yaml")
    assert res.returncode == 0, res.stdout + res.stderr
    bad = tmp_path / "pipelines" / "bad.yaml"
    bad.write_text("name: demo\nretries: many\ntasks:\n  greet: {step: gret}\n")
    res = _check(tmp_path / "schemas" / "pipeline.schema.json", bad)
    assert res.returncode == 1 and "retries" in res.stdout and "gret" in res.stdout, res.stdout


def test_the_example_projects_schema_is_current():
    expected = with_steps(shipped_schema(), load_registry(ROOT))
    assert json.loads((ROOT / "schemas" / "pipeline.schema.json").read_text()) == expected, (
        "regenerate: dagc schema --with-steps -o schemas/pipeline.schema.json")


TEMPLATED = {
    "retries": "{{ vars.retries }}", "suspend_after_failures": "{{ vars.n }}", "timeout": "{{ vars.t }}",
    "overlap": "{{ vars.overlap }}", "schedule": "{{ vars.schedule }}",
}
TASK_TEMPLATED = {"timeout": "{{ vars.t }}", "when": "{{ vars.when }}", "serverless": "{{ vars.sl }}",
                  "compute": {"pool": "P", "instances": "{{ vars.instances }}"}}


def test_every_scalar_key_accepts_a_template_in_the_shipped_schema_only():
    doc = {"name": "x", **TEMPLATED, "defaults": {"timeout": "{{ vars.t }}", "serverless": "{{ vars.s }}"},
           "tasks": {"a": {"step": "s", **TASK_TEMPLATED}}}
    assert [e.message for e in Draft202012Validator(shipped_schema()).iter_errors(doc)] == []
    # dagc itself checks the rendered document: a leftover string is an error there
    strict = [e.json_path for e in Draft202012Validator(schema()).iter_errors(doc)]
    assert "$.retries" in strict and "$.tasks.a.compute.instances" in strict
    assert "template" not in schema()["$defs"] and "template" in shipped_schema()["$defs"]
    assert strip_templates(shipped_schema()) == schema()
    # a template where a plain value would be wrong is still wrong in the editor too
    assert list(Draft202012Validator(shipped_schema()).iter_errors({"name": "x", "retries": "lots", "tasks": {}}))


def test_every_non_string_leaf_accepts_a_template():
    """Walk the shipped schema: a property that is not a plain string must offer the template."""
    missing = []

    def walk(node, where):
        for name, sub in (node.get("properties") or {}).items():
            path = f"{where}.{name}"
            core = sub
            if {"$ref": "#/$defs/template"} in sub.get("anyOf", []):
                continue
            t = core.get("type")
            containers = all(a.get("type") in ("object", "array") for a in core.get("oneOf", [{}]))
            constrained = ("enum" in core or "pattern" in core or ("oneOf" in core and not containers)
                           or (t is not None and t not in ("string", "object", "array")))
            if constrained:
                missing.append(path)
            walk(sub, path)
            for key in ("additionalProperties", "items"):
                if isinstance(sub.get(key), dict) and "$ref" not in sub[key]:
                    walk(sub[key], path + "[]")

    s = shipped_schema()
    walk(s, "")
    for name, d in s["$defs"].items():
        if name != "template":
            walk(d, f"$defs.{name}")
    assert missing == []


def _cases_rules(schema_doc: dict) -> dict[str, dict]:
    out = {}
    for rule in schema_doc["$defs"]["task"].get("allOf", []):
        step = rule["if"]["properties"].get("branch", {}).get("properties", {}).get("step", {}).get("const")
        cases = rule["then"]["properties"].get("branch", {}).get("properties", {}).get("cases")
        if step and cases:
            out[step] = cases
    return out


def test_branch_cases_complete_from_a_steps_literal_returns(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "gate.py").write_text(
        "from dagc import step\n\n@step\ndef gate(ctx):\n    return 'pass' if ctx.config['ok'] else 'fail'\n\n"
        "@step\ndef free(ctx):\n    return ctx.config['case']\n")
    s = with_steps(shipped_schema(), load_registry(tmp_path))
    rules = _cases_rules(s)
    assert set(rules) == {"gate"}  # `free` returns a computed value: no completion to offer
    assert sorted(rules["gate"]["properties"]) == ["fail", "pass"]  # what yaml-language-server lists as keys
    assert rules["gate"]["propertyNames"] == {"enum": ["fail", "pass"]}
    good = {"name": "x", "tasks": {"g": {"branch": {"step": "gate", "cases": {"pass": "a", "fail": "b"}}},
                                   "a": {"sql": "s", "after": ["g"]}, "b": {"sql": "s", "after": ["g"]}}}
    v = Draft202012Validator(s)
    assert list(v.iter_errors(good)) == []
    good["tasks"]["g"]["branch"]["cases"] = {"pas": "a"}
    assert any("pas" in e.message for e in v.iter_errors(good))
    # the example project: metric_gate returns "pass" / "fail"
    assert sorted(_cases_rules(json.loads((ROOT / "schemas" / "pipeline.schema.json").read_text()))
                  ["metric_gate"]["properties"]) == ["fail", "pass"]


def test_no_example_value_names_a_step_task_or_object():
    """An editor offers `examples` (and `default`) as completions: none may look like a project's names."""
    offered: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("examples", "default"):
                if key in node:
                    offered.append(json.dumps(node[key]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(shipped_schema())
    text = " ".join(offered)
    for name in ("train_xgboost", "metric_gate", "load_source", "cleanup_run", "TRAINING_POOL", "DEV_WH",
                 "ML_TASK_ERRORS", "approval_model", "@ML.", "promote"):
        assert name not in text, name
