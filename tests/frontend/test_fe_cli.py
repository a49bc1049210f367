"""The front-end commands end to end: exit codes, output formats, determinism, graph labels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dagc.cli.main import main
from fe_helpers import write

ROOT = Path(__file__).resolve().parents[2]
GOOD = "name: x\nstage: \"@DB.S.DAGC_STAGE\"\ntasks:\n  a: {step: extract}\n  b: {sql: s, after: [a]}\n"
BAD = "name: x\ntasks:\n  a: {step: extract}\n  b: {sql: s, after: [aa]}\n"


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_exit_codes(tmp_path, capsys):
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(tmp_path, BAD, "bad.yaml")
    assert run(["validate", str(good)], capsys)[0] == 0
    code, out, err = run(["validate", str(bad)], capsys)
    assert code == 1 and "bad.yaml:4:23: error[DAGC301]" in out and "did you mean 'a'?" in out
    assert "1 error(s)" in err
    assert run(["validate", str(tmp_path / "missing.yaml")], capsys)[:1] == (2,)
    assert run(["validate", "--format", "xml", str(good)], capsys)[0] == 2
    assert run(["validate"], capsys)[0] == 2
    assert run(["nosuchcommand"], capsys)[0] == 2


def test_directory_with_no_pipelines(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run(["validate", str(tmp_path / "empty")], capsys)
    assert code == 2 and "no pipeline files" in err and "Traceback" not in err


def test_directory_validates_every_file_and_environment(tmp_path, capsys):
    write(tmp_path, GOOD + "environments:\n  prod: {warehouse: 'A B'}\n", "one.yaml")
    write(tmp_path, GOOD, "two.yml")
    code, out, err = run(["validate", str(tmp_path / "pipelines")], capsys)
    assert code == 1 and "[env: prod]" in out and "in 2 file(s)" in err
    assert run(["validate", str(tmp_path / "pipelines"), "--env", "prod"], capsys)[0] == 1


def test_warnings_and_strict(tmp_path, capsys):
    text = ("name: x\ntasks:\n  g: {branch: {step: gate, cases: {pass: a, fail: b, maybe: b}}}\n"
            "  a: {sql: s, after: [g]}\n  b: {sql: s, after: [g]}\n")
    path = write(tmp_path, text)
    code, out, _ = run(["validate", str(path)], capsys)
    assert code == 0 and "warning[DAGC312]" in out
    assert run(["validate", "--strict", str(path)], capsys)[0] == 1


def test_json_format(tmp_path, capsys):
    code, out, _ = run(["validate", "--format", "json", str(write(tmp_path, BAD))], capsys)
    rows = json.loads(out)["diagnostics"]
    assert code == 1 and [(r["code"], r["line"], r["col"]) for r in rows] == [("DAGC301", 4, 23)]
    assert rows[0]["hint"] == "did you mean 'a'?" and rows[0]["severity"] == "error"


def test_github_format(tmp_path, capsys):
    code, out, _ = run(["validate", "--format", "github", str(write(tmp_path, BAD))], capsys)
    assert code == 1
    line, = out.strip().splitlines()
    assert line.startswith("::error file=") and ",line=4,col=23,title=dagc DAGC301::" in line
    assert "%0Ahint: did you mean 'a'?" in line  # one annotation: newlines escaped


def test_github_format_escapes_properties(tmp_path, capsys):
    from dagc.diagnostics import Diagnostic
    from dagc.render import github

    out = github([Diagnostic("DAGC999", "a: b, 100%\nnext", file="we,ird:name.yaml", line=1, col=1)])
    assert out == "::error file=we%2Cird%3Aname.yaml,line=1,col=1,title=dagc DAGC999::a: b, 100%25%0Anext"


def test_sarif_format(tmp_path, capsys):
    code, out, _ = run(["validate", "--format", "sarif", str(write(tmp_path, BAD))], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["version"] == "2.1.0"
    run_ = doc["runs"][0]
    assert run_["tool"]["driver"]["name"] == "dagc" and [r["id"] for r in run_["tool"]["driver"]["rules"]] == ["DAGC301"]
    result, = run_["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert result["ruleId"] == "DAGC301" and result["level"] == "error" and region == {"startLine": 4, "startColumn": 23}


def test_clean_formats_on_a_valid_file(tmp_path, capsys):
    good = str(write(tmp_path, GOOD))
    assert json.loads(run(["validate", "--format", "json", good], capsys)[1]) == {"diagnostics": []}
    assert run(["validate", "--format", "github", good], capsys)[1].strip() == ""
    assert json.loads(run(["validate", "--format", "sarif", good], capsys)[1])["runs"][0]["results"] == []


def test_compile_errors_are_clean(tmp_path, capsys):
    code, out, err = run(["compile", str(write(tmp_path, BAD))], capsys)
    assert code == 1 and "error[DAGC301]" in err and "Traceback" not in err and out == ""
    code, _, err = run(["compile", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err


def test_set_and_var_from_the_command_line(tmp_path, capsys):
    path = write(tmp_path, "name: x\nvars: {wh: A}\nwarehouse: '{{ vars.wh }}'\ntasks:\n  a: {sql: s}\n")
    code, out, _ = run(["compile", str(path), "--var", "wh=B"], capsys)
    assert code == 0 and json.loads(out)["graph"]["warehouse"] == "B"
    code, _, err = run(["compile", str(path), "--var", "whh=B"], capsys)
    assert code == 1 and "DAGC203" in err
    code, _, err = run(["compile", str(path), "--var", "novalue"], capsys)
    assert code == 2 and "KEY=VALUE" in err


def test_compile_writes_a_file(tmp_path, capsys):
    out_file = tmp_path / "m.json"
    code, _, err = run(["compile", str(ROOT / "pipelines" / "training.yaml"), "-o", str(out_file)], capsys)
    assert code == 0 and json.loads(out_file.read_text())["pipeline"] == "training"
    code, _, err = run(["compile", str(ROOT / "pipelines" / "training.yaml"), "-o", str(tmp_path / "no" / "m.json")], capsys)
    assert code == 2 and "cannot write" in err


def _compile_subprocess(env_extra: dict[str, str]) -> bytes:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'compiler'}{os.pathsep}{ROOT}", **env_extra}
    return subprocess.run([sys.executable, "-m", "dagc", "compile", "pipelines/training.yaml", "--env", "prod"],
                          cwd=ROOT, env=env, capture_output=True, check=True, timeout=60).stdout


def test_manifest_is_byte_identical_across_processes():
    a = _compile_subprocess({"PYTHONHASHSEED": "1"})
    b = _compile_subprocess({"PYTHONHASHSEED": "2", "TZ": "Asia/Tokyo"})
    assert a == b and a.startswith(b"{")
    m = json.loads(a)
    assert m["hash"].startswith("sha256:") and m["source"] == "pipelines/training.yaml"


def test_validate_end_to_end_exit_codes():
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'compiler'}{os.pathsep}{ROOT}"}
    ok = subprocess.run([sys.executable, "-m", "dagc", "validate", "pipelines/"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "2 pipeline file(s) valid" in ok.stdout
    missing = subprocess.run([sys.executable, "-m", "dagc", "validate", "nope.yaml"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such file: nope.yaml" in missing.stderr and "Traceback" not in missing.stderr


def test_graph_outputs_label_branch_cases_and_the_finalizer(capsys):
    pipeline = str(ROOT / "pipelines" / "training.yaml")
    code, out, _ = run(["graph", pipeline], capsys)
    assert code == 0 and out.startswith("flowchart LR")
    assert "quality_gate -->|pass| promote" in out and "quality_gate -->|fail| alert_gate_failed" in out
    assert "cleanup:::finalizer" in out and "__root__ -. finally .-> cleanup" in out
    assert "-->|none_failed_min_one_succeeded| summarize" in out
    code, out, _ = run(["graph", pipeline, "--format", "dot"], capsys)
    assert code == 0 and out.startswith('digraph "training"')
    assert '"quality_gate" -> "promote" [label="pass"];' in out
    assert 'shape=diamond' in out and 'xlabel="finally"' in out and '"__root__" -> "cleanup" [style=dotted, label="finally"];' in out


def test_schema_command(capsys, tmp_path):
    code, out, _ = run(["schema"], capsys)
    assert code == 0 and json.loads(out)["title"] == "dagc pipeline"
    code, out, _ = run(["schema", "--with-steps", "--project", str(ROOT)], capsys)
    s = json.loads(out)
    assert code == 0 and "train_xgboost" in s["$defs"]["task"]["properties"]["step"]["enum"]
    assert run(["schema", "--with-steps", "--project", str(tmp_path / "nope")], capsys)[0] == 2
