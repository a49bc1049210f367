"""The registry reads steps without importing them, including what a branch step can return."""

from pathlib import Path

from dagc.frontend.registry import load_registry


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "steps" / "gate.py").write_text("import does_not_exist  # never imported by the registry\n" + body)
    return tmp_path


def test_signature_and_literal_returns_are_read_without_importing(tmp_path):
    reg = load_registry(_project(tmp_path, (
        "from dagc.runtime import step\n"
        "@step(name='gate')\n"
        "def decide(ctx, metric: str, threshold: float = 0.5, *, strict: bool = False):\n"
        "    if ctx.inputs:\n"
        "        return 'pass'\n"
        "    return 'pass' if threshold else 'fail'\n")))
    info = reg["gate"]
    assert (info.module, info.function) == ("steps.gate", "decide")
    assert [(p.name, p.required, p.annotation) for p in info.params] == [
        ("metric", True, "str"), ("threshold", False, "float"), ("strict", False, "bool")]
    assert info.returns == {"pass", "fail"}


def test_literal_annotation_states_the_cases_even_when_computed(tmp_path):
    reg = load_registry(_project(tmp_path, (
        "from typing import Literal\nfrom dagc.runtime import step\n"
        "@step\ndef gate(ctx) -> 'Literal[\"pass\", \"fail\"]':\n    return compute(ctx)\n")))
    assert reg["gate"].returns == {"pass", "fail"}


def test_computed_results_are_unknown(tmp_path):
    reg = load_registry(_project(tmp_path, "from dagc.runtime import step\n@step\ndef gate(ctx):\n    return ctx.params['x']\n"))
    assert reg["gate"].returns is None


def test_a_syntax_error_in_a_step_module_is_a_positioned_diagnostic(tmp_path):
    reg = load_registry(_project(tmp_path, "def broken(:\n"))
    (d,) = reg.diagnostics
    assert d.code == "DAGC401" and d.file.endswith("gate.py") and d.line == 2
