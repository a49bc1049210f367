"""`dagc models` and the metric chart, over the real local model registry."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from dagc.diagnostics import DagcError


@pytest.fixture
def registry_dir(tmp_path):
    pytest.importorskip("dagc.engine.registry")
    from dagc.engine.registry import LocalModelRegistry

    reg = LocalModelRegistry(tmp_path)
    for i, auc in enumerate((0.81, 0.84, 0.83)):
        v = reg.log_model("approval_model", {"weights": i}, metrics={"test_roc_auc": auc, "test_log_loss": 0.5 - auc / 10},
                          lineage={"dataset_version": f"D{i}", "run_id": f"run-{i}"})
        if i < 2:
            reg.set_default("approval_model", v)
    reg.close()
    return tmp_path


def _rows(registry_dir):
    from dagc import modelview
    from dagc.engine.registry import LocalModelRegistry

    reg = LocalModelRegistry(registry_dir)
    try:
        return modelview.version_rows(reg, "APPROVAL_MODEL")
    finally:
        reg.close()


def test_version_rows_mark_the_default(registry_dir):
    rows = _rows(registry_dir)
    assert [r["version"] for r in rows] == ["V1", "V2", "V3"]
    assert [r["default"] for r in rows] == [False, True, False]
    assert rows[2]["metrics"]["test_roc_auc"] == 0.83 and rows[2]["dataset_version"] == "D2"


def test_chart_is_valid_svg_with_one_point_per_version(registry_dir):
    from dagc import modelview

    rows = _rows(registry_dir)
    svg = modelview.metric_chart_svg(rows, "test_roc_auc")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    titles = [c.find(f"{ns}title").text for c in root.iter(f"{ns}circle") if c.find(f"{ns}title") is not None]
    assert len(titles) == 3 and titles[1].startswith("V2: test_roc_auc = 0.8400") and titles[1].endswith("default")
    # the highest value is drawn highest (smallest y)
    ys = {t.split(":")[0]: float(c.get("cy")) for c, t in zip(
        [c for c in root.iter(f"{ns}circle") if c.find(f"{ns}title") is not None], titles)}
    assert ys["V2"] < ys["V3"] < ys["V1"]
    page = modelview.metric_page(rows, "APPROVAL_MODEL", "test_roc_auc")
    assert page.startswith("<!doctype html>") and "http" not in page.replace("http://www.w3.org/2000/svg", "")


def test_unknown_metric_and_model_are_clear_errors(registry_dir):
    from dagc import modelview
    from dagc.engine.registry import LocalModelRegistry

    with pytest.raises(DagcError, match="no version has a metric 'test_rocauc'"):
        modelview.metric_chart_svg(_rows(registry_dir), "test_rocauc")
    reg = LocalModelRegistry(registry_dir)
    with pytest.raises(DagcError, match="no model named 'nope'"):
        modelview.resolve_model(reg, "nope")
    reg.close()


def test_models_command(registry_dir, tmp_path):
    from click.testing import CliRunner

    from dagc.cli.models import models

    runner = CliRunner()
    out = runner.invoke(models, ["--state-dir", str(registry_dir), "--json"], standalone_mode=False)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary[0]["model"] == "APPROVAL_MODEL" and summary[0]["default"] == "V2" and summary[0]["versions"] == 3
    out = runner.invoke(models, ["approval_model", "--state-dir", str(registry_dir)])
    assert out.exit_code == 0 and "V3" in out.output and "0.8400" in out.output
    target = tmp_path / "auc.html"
    out = runner.invoke(models, ["approval_model", "--state-dir", str(registry_dir), "--plot", "test_roc_auc",
                                 "-o", str(target)])
    assert out.exit_code == 0 and target.read_text().count("<circle") >= 3


def test_models_command_with_no_registry_creates_nothing(tmp_path):
    pytest.importorskip("dagc.engine.registry")
    from click.testing import CliRunner

    from dagc.cli.models import models

    empty = tmp_path / "state"
    out = CliRunner().invoke(models, ["--state-dir", str(empty)])
    assert out.exit_code == 0 and "no models registered" in out.output
    assert not empty.exists()
    out = CliRunner().invoke(models, ["approval_model", "--state-dir", str(empty)], standalone_mode=False)
    assert isinstance(out.exception, DagcError) and "no models are registered" in str(out.exception)
