"""`dagc report` wiring and its bad inputs: a clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dagc.cli.main import main
from report_fixtures import ROOT, TRAINING


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_pipeline_mode_writes_the_compiled_graph(tmp_path, capsys):
    out = tmp_path / "sub" / "graph.html"
    code, _, err = run_cli(["report", "--pipeline", str(TRAINING), "--env", "prod", "-o", str(out)], capsys)
    assert code == 0, err
    assert "graph of training, 10 tasks" in err
    page = out.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="dagc-data">(.*?)</script>', page, re.S).group(1))
    assert data["run"] is None
    assert data["manifest"]["environment"] == "prod"
    assert data["manifest"]["graph"]["warehouse"] == "PROD_WH"
    assert {t["name"] for t in data["manifest"]["tasks"]} >= {"quality_gate", "cleanup"}


def test_stdout_output(capsys):
    code, out, _ = run_cli(["report", "--pipeline", str(TRAINING), "-o", "-"], capsys)
    assert code == 0 and out.startswith("<!DOCTYPE html>")


def test_missing_pipeline_file(tmp_path, capsys):
    code, _, err = run_cli(["report", "--pipeline", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2
    assert "no such pipeline file" in err and "Traceback" not in err


def test_invalid_pipeline_reports_its_diagnostics(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntasks:\n  a:\n    sql: select 1\n    after: [missing]\n", encoding="utf-8")
    code, out, err = run_cli(["report", "--pipeline", str(bad), "-o", str(tmp_path / "r.html")], capsys)
    assert code == 1
    assert "missing" in (out + err) and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_connection_needs_a_pipeline(capsys):
    code, _, err = run_cli(["report", "--connection", "prod"], capsys)
    assert code == 2 and "--connection needs --pipeline" in err


def test_unwritable_output(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("x")
    code, _, err = run_cli(["report", "--pipeline", str(TRAINING), "-o", str(target / "r.html")], capsys)
    assert code == 2 and "cannot write" in err and "Traceback" not in err


def test_bad_var_is_a_usage_error(capsys):
    code, _, err = run_cli(["report", "--pipeline", str(TRAINING), "--var", "novalue", "-o", "-"], capsys)
    assert code != 0 and "Traceback" not in err
