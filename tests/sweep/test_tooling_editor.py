"""What an editor offers from dagc's schemas, asked of the real yaml-language-server."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagc.scaffold import init_project
from tooling_lsp import Client, server

ROOT = Path(__file__).resolve().parents[2]
EXE = server()
pytestmark = pytest.mark.skipif(EXE is None, reason="yaml-language-server is needed (make editor-deps installs it)")

BRANCH = """# yaml-language-server: $schema=../schemas/pipeline.schema.json
name: p
tasks:
  evaluate: {step: evaluate_model}
  gate:
    after: [evaluate]
    branch:
      step: metric_gate
      cases:
        
  other:
    step: 
"""


@pytest.fixture(scope="module")
def client():
    c = Client(str(EXE), ROOT)
    yield c
    c.close()


def test_branch_cases_and_step_names_complete_in_the_example_project(client):
    path = ROOT / "pipelines" / "_editor_probe.yaml"  # never written: the text is sent over LSP
    assert client.completions(path, BRANCH, 9, 8) == ["fail", "pass"]
    steps = client.completions(path, BRANCH, 11, 10)
    assert "metric_gate" in steps and "train_xgboost" in steps


def test_a_new_project_is_offered_its_own_steps_only(client, tmp_path):
    init_project(tmp_path, "demo")
    text = BRANCH.replace("evaluate_model", "greet").replace("metric_gate", "greet")
    offered = client.completions(tmp_path / "pipelines" / "probe.yaml", text, 11, 10)
    assert offered == ["count_letters", "greet"]
    # with the shipped schema alone (no steps known) nothing masquerades as a step name
    shipped = text.replace("../schemas/pipeline.schema.json",
                           str(ROOT / "compiler" / "dagc" / "frontend" / "pipeline.schema.json"))
    shipped += "overlap: \n"
    assert client.completions(tmp_path / "pipelines" / "probe2.yaml", shipped, 11, 10) == []
    assert client.completions(tmp_path / "pipelines" / "probe2.yaml", shipped, 12, 9) == ["all", "children", "none"]
