"""docs/steps.md covers the whole step API, and its examples run as written with dagc.testing."""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

from dagc.runtime import context

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "steps.md").read_text(encoding="utf-8")


def _members(proto: type) -> set[str]:
    return {n for n, v in vars(proto).items() if not n.startswith("_") and callable(v)}


def test_every_step_context_member_is_documented():
    fields = {f.name for f in dataclasses.fields(context.StepContext)} - {"backend"}
    props = {n for n, v in vars(context.StepContext).items() if isinstance(v, property)} | {"notify"}
    for name in fields | props:
        assert f"`ctx.{name}" in DOC, f"ctx.{name} is not in docs/steps.md"
    for proto in (context.Tables, context.ModelRegistry):
        for name in _members(proto):
            assert re.search(rf"`{name}\(", DOC), f"{proto.__name__}.{name} is not in docs/steps.md"
            params = [p for p in inspect.signature(getattr(proto, name)).parameters if p != "self"]
            row = next(ln for ln in DOC.splitlines() if f"`{name}(" in ln)
            assert all(p in row for p in params), (name, params, row)


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC, re.S)


def test_the_guides_step_and_test_run_as_written(tmp_path):
    step_src = next(b for b in _blocks() if b.startswith("# steps/orders.py"))
    test_src = next(b for b in _blocks() if b.startswith("# tests/test_orders.py"))
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "steps" / "orders.py").write_text(step_src)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_orders.py").write_text(test_src)
    (tmp_path / "conftest.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout + res.stderr


def test_the_step_context_fixture(step_context):
    """The pytest plugin's fixture (entry point pytest11) over the real local backend."""
    import pandas as pd

    from dagc.testing import notifications

    first = step_context(task="a")
    first.tables.write("t", pd.DataFrame({"X": [1, 2]}))
    second = step_context(task="b", inputs={"a": {"rows": 2}})
    assert second.backend.state_dir == first.backend.state_dir and second.inputs["a"]["rows"] == 2
    assert list(second.tables.read("t")["X"]) == [1, 2]
    version = second.models.log_model("m", {"weights": [1]}, metrics={"auc": 0.9}, lineage={})
    assert version == "V1" and second.models.get_default("m") == "V1" and second.models.load("m") == {"weights": [1]}
    second.notify("subject", "body")
    assert [(n["subject"], n["task"]) for n in notifications(second.backend.state_dir)] == [("subject", "b")]


def test_call_step_refuses_what_cannot_travel(tmp_path):
    import pytest

    from dagc.runtime.returns import ReturnValueError
    from dagc.testing import call_step, local_context

    def big(ctx):
        return {"x": "y" * 20_000}

    def numpyish(ctx):
        return {"x": object()}

    with local_context(tmp_path) as ctx:
        with pytest.raises(ReturnValueError, match="10,240 bytes"):
            call_step(big, ctx)
        with pytest.raises(ReturnValueError, match="not JSON"):
            call_step(numpyish, ctx)
        assert call_step(lambda c, n=1: {"n": n}, ctx, n=3) == {"n": 3}
