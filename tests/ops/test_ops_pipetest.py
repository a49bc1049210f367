"""`dagc test`: the shipped scenarios pass; wrong expectations and bad scenario files fail with positions."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ops_helpers import dagc

REPO = Path(__file__).resolve().parents[2]


def test_shipped_scenarios_pass():
    r = dagc("test", "pipelines/", cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout
    assert r.stdout.count("PASS ") >= 7 and "training.test.yaml::gate_fails" in r.stdout
    assert "inference.test.yaml::drifted" in r.stdout


def test_validate_checks_scenario_files_and_does_not_choke_on_them():
    r = dagc("validate", "pipelines/", cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr


def _write(tmp: Path, name: str, text: str) -> Path:
    f = tmp / "pipelines" / name
    f.write_text(textwrap.dedent(text).lstrip())
    return f


def _line_col(path: Path, needle: str, occurrence: int = 1) -> tuple[int, int]:
    n = 0
    for i, line in enumerate(path.read_text().splitlines(), 1):
        col = line.find(needle)
        if col >= 0:
            n += 1
            if n == occurrence:
                return i, col + 1
    raise AssertionError(needle)


def test_a_wrong_expectation_fails_with_its_position_and_why(project):
    f = _write(project, "tiny.test.yaml", """
        pipeline: tiny.yaml
        scenarios:
          small_config:
            expect: {small: SUCCEEDED, big: SKIPPED, run: SUCCEEDED}
          big_config:
            set: {size: 9}
            expect: {small: SUCCEEDED, run: SUCCEEDED}
        """)
    r = dagc("test", str(f), cwd=project)
    assert r.returncode == 1
    assert "PASS " in r.stdout and "small_config" in r.stdout
    line, col = _line_col(f, "SUCCEEDED, run")
    assert f"{f}:{line}:{col}: error[DAGC810]: scenario 'big_config': expected task small SUCCEEDED, got SKIPPED" in r.stdout
    assert "branch gate chose 'big'" in r.stdout  # the hint says why
    assert "1 scenario(s) passed, 1 failed" in r.stdout


def test_returns_stub_and_fail_injection_and_fixture_tables(project):
    (project / "steps" / "tables.py").write_text(textwrap.dedent('''
        from dagc import StepContext, step

        @step
        def count_rows(ctx: StepContext) -> dict:
            return {"rows": len(ctx.tables.read("PEOPLE"))}

        @step
        def enough(ctx: StepContext) -> str:
            return "yes" if ctx.inputs["count"]["rows"] >= 2 else "no"
        '''))
    _write(project, "people.yaml", """
        name: people
        tasks:
          count: {step: count_rows}
          check: {after: [count], branch: {step: enough, cases: {"yes": ok, "no": alert}}}
          ok: {step: stamp, after: [check]}
          alert: {step: stamp, after: [check]}
        """)
    (project / "pipelines" / "people.csv").write_text("name,age\nann,3\nbob,4\n")
    f = _write(project, "people.test.yaml", """
        pipeline: people.yaml
        tables: {PEOPLE: people.csv}
        scenarios:
          from_csv:
            expect: {ok: SUCCEEDED, alert: SKIPPED}
          inline_rows:
            tables: {PEOPLE: [{name: ann, age: 3}]}
            expect: {ok: SKIPPED, alert: SUCCEEDED}
          stubbed_count:
            returns: {count: {rows: 0}}
            expect: {alert: SUCCEEDED}
          stubbed_branch:
            returns: {check: "no"}
            expect: {alert: SUCCEEDED, ok: SKIPPED}
          injected:
            fail: [count]
            expect: {count: FAILED, check: SKIPPED, run: FAILED}
        """)
    r = dagc("test", str(f), "--format", "json", cwd=project)
    doc = json.loads(r.stdout)
    assert r.returncode == 0, json.dumps(doc, indent=1)
    assert doc["passed"] == 5 and doc["failed"] == 0
    stub = next(s for s in doc["files"][0]["scenarios"] if s["name"] == "stubbed_count")
    assert stub["states"]["count"] == "SUCCEEDED"


BAD = {
    "DAGC801": ("""
        pipeline: tiny.yaml
        scenaros: {}
        """, "scenaros"),
    "DAGC802": ("""
        pipeline: nowhere.yaml
        scenarios: {a: {expect: {run: SUCCEEDED}}}
        """, "nowhere.yaml"),
    "DAGC803": ("""
        pipeline: tiny.yaml
        scenarios:
          a:
            expect: {frist: SUCCEEDED}
        """, "frist"),
    "DAGC804": ("""
        pipeline: tiny.yaml
        scenarios:
          a:
            expect: {first: SUCCESS}
        """, "SUCCESS"),
    "DAGC805": ("""
        pipeline: tiny.yaml
        scenarios:
          a:
            set: {sise: 3}
            expect: {run: SUCCEEDED}
        """, "sise"),
    "DAGC806": ("""
        pipeline: tiny.yaml
        scenarios:
          a:
            tables: {PEOPLE: 42}
            expect: {run: SUCCEEDED}
        """, "42"),
}


@pytest.mark.parametrize("code", sorted(BAD))
def test_each_kind_of_bad_scenario_file_is_reported_at_its_position(project, code):
    text, needle = BAD[code]
    f = _write(project, "bad.test.yaml", text)
    line, col = _line_col(f, needle)
    for cmd in (("test", str(f)), ("validate", str(f))):  # the same diagnostics from both commands
        r = dagc(*cmd, cwd=project)
        assert r.returncode == 1, r.stdout + r.stderr
        assert f"{f}:{line}:{col}: error[{code}]" in r.stdout, r.stdout
        assert "Traceback" not in r.stdout + r.stderr


def test_a_scenario_that_cannot_run_is_reported(project):
    f = _write(project, "tiny.test.yaml", """
        pipeline: tiny.yaml
        vars: {}
        scenarios:
          a:
            set: {nested.flag: false}
            returns: {gate: medium}
            expect: {run: SUCCEEDED}
          b:
            vars: {nope: 1}
            expect: {run: SUCCEEDED}
        """)
    r = dagc("test", str(f), cwd=project)
    assert r.returncode == 1
    line, col = _line_col(f, "run: SUCCEEDED")
    assert f"{f}:{line}:{col + 5}: error[DAGC810]" in r.stdout  # the run failed: the stub names no case
    assert "medium" in r.stdout
    line, col = _line_col(f, "b:")
    assert f"{f}:{line}:{col}: error[DAGC811]: scenario 'b' could not run" in r.stdout
    (project / "pipelines" / "tiny.yaml").write_text("name: [broken")
    r = dagc("test", str(f), cwd=project)
    assert r.returncode == 1 and "DAGC802" in r.stdout


def test_github_json_and_junit_formats(project, tmp_path):
    from dagc.pipetest import output
    from dagc.pipetest.run import run_file

    f = _write(project, "tiny.test.yaml", """
        pipeline: tiny.yaml
        scenarios:
          ok: {expect: {run: SUCCEEDED}}
          wrong: {expect: {big: SUCCEEDED}}
        """)
    line, col = _line_col(f, "SUCCEEDED}}", 2)
    r = dagc("test", str(f), "--format", "github", "-o", str(tmp_path / "r.json"), cwd=project)  # the CLI wiring
    assert r.returncode == 1
    assert f"::error file={f},line={line},col={col}" in r.stdout and "DAGC810" in r.stdout
    assert json.loads((tmp_path / "r.json").read_text())["failed"] == 1
    results = [run_file(f)]  # the other formats from the same results, in this process
    root = ET.fromstring(output.junit(results))
    assert root.get("tests") == "2" and root.get("failures") == "1"
    failure = root.find(".//testcase[@name='wrong']/failure")
    assert failure is not None and f":{line}:{col}:" in failure.text
    doc = json.loads(output.as_json(results))
    assert doc["passed"] == 1 and doc["files"][0]["scenarios"][1]["failures"][0]["line"] == line
    r = dagc("test", str(f), "--format", "junit", "-k", "ok", cwd=project)
    assert r.returncode == 0 and ET.fromstring(r.stdout).get("failures") == "0"


def test_usage_errors(project):
    r = dagc("test", str(project / "pipelines"), cwd=project)
    assert r.returncode == 2 and "no scenario files" in r.stderr
    r = dagc("test", str(project / "pipelines" / "tiny.yaml"), cwd=project)
    assert r.returncode == 2 and "not a scenario file" in r.stderr


def test_init_scaffolds_a_passing_scenario_file(tmp_path):
    r = dagc("init", str(tmp_path / "new"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "new" / "pipelines" / "tests" / "new.test.yaml").is_file()
    r = dagc("test", cwd=tmp_path / "new")
    assert r.returncode == 0 and "3 scenario(s) passed" in r.stdout, r.stdout + r.stderr


def test_an_unknown_scenario_name_is_a_usage_error(project):
    f = _write(project, "tiny.test.yaml", """
        pipeline: tiny.yaml
        scenarios:
          ok: {expect: {run: SUCCEEDED}}
        """)
    r = dagc("test", str(f), "-k", "nope", cwd=project)
    assert r.returncode == 2 and "no scenario named 'nope'" in r.stderr
