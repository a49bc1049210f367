"""Project scaffolding: `dagc init` and `dagc new step`, as plain functions the CLI and tests call.

The files written are the smallest project that is complete: a pipeline that validates and runs
locally, a step with a test, the JSON Schema for editors, and a pre-commit config. Nothing is
overwritten: an existing file is an error naming it, so `init` in the wrong folder is harmless.
"""

from __future__ import annotations

import json
from pathlib import Path

from dagc.diagnostics import UsageError
from dagc.values import is_identifier

STEPS_INIT = '''"""This project's steps: `@step def name(ctx, **params)`; `dagc new step NAME` adds one."""

from dagc import StepContext, step

__all__ = ["StepContext", "step"]
'''

HELLO_STEPS = '''"""Example steps: `greet` returns JSON, `count_letters` reads it from its predecessor."""

from __future__ import annotations

from dagc import StepContext, step


@step
def greet(ctx: StepContext, name: str = "world") -> dict:
    """Return a greeting; the return value (JSON, at most 10 kB) is what successors see."""
    greeting = f"{ctx.config.get('greeting', 'hello')}, {name}"
    ctx.log.info("greeting %s", name)
    return {"greeting": greeting}


@step
def count_letters(ctx: StepContext) -> dict:
    """Read the predecessor's return value by its task name."""
    text = ctx.inputs["greet"]["greeting"]
    return {"letters": sum(ch.isalpha() for ch in text)}
'''

HELLO_PIPELINE = '''# yaml-language-server: $schema=../schemas/pipeline.schema.json
# A minimal pipeline: `dagc validate pipelines/`, `dagc run pipelines/{name}.yaml`, `dagc graph pipelines/{name}.yaml`.
name: {name}
description: Greet someone, then count the letters of the greeting.
schedule: 1d
warehouse: "{{{{ vars.warehouse }}}}"

vars:
  warehouse: DEV_WH

config:
  greeting: hello

tasks:
  greet:
    step: greet
    params: {{name: dagc}}
  count:
    step: count_letters
    after: [greet]

environments:
  dev:
    vars: {{warehouse: DEV_WH}}
  prod:
    vars: {{warehouse: PROD_WH}}
'''

HELLO_TEST = '''"""Tests for the example pipeline: it validates, and its steps do what they say."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from dagc.frontend import check_file
from dagc import StepContext

from steps.hello import count_letters, greet

ROOT = Path(__file__).resolve().parents[1]


def context(task: str, inputs: dict | None = None) -> StepContext:
    """A StepContext for calling a step directly (these steps use no tables, models or session)."""
    return StepContext(pipeline="{name}", task=task, run_id="test", scheduled_at=datetime.now(timezone.utc),
                       config={{"greeting": "hi"}}, params={{}}, inputs=inputs or {{}}, backend=None,  # type: ignore[arg-type]
                       log=logging.getLogger("test"))


def test_pipeline_is_valid():
    pipeline, diagnostics = check_file(ROOT / "pipelines" / "{name}.yaml")
    assert [d.message for d in diagnostics] == []
    assert [t.name for t in pipeline.tasks] == ["greet", "count"]


def test_steps():
    out = greet(context("greet"), name="ada")
    assert out == {{"greeting": "hi, ada"}}
    assert count_letters(context("count", {{"greet": out}})) == {{"letters": 5}}
'''

STEP_TEMPLATE = '''"""The `{name}` step."""

from __future__ import annotations

from dagc import StepContext, step


@step
def {name}(ctx: StepContext, rows: int = 10) -> dict:
    """Describe what {name} does. Params come from the task's `params:`; return JSON (at most 10 kB)."""
    ctx.log.info("%s: %d rows", ctx.task, rows)
    return {{"rows": rows}}
'''

STEP_TEST = '''"""Tests for the `{name}` step: call it directly with a StepContext."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from dagc import StepContext

from steps.{module} import {name}


def test_{name}():
    ctx = StepContext(pipeline="test", task="{name}", run_id="test", scheduled_at=datetime.now(timezone.utc),
                      config={{}}, params={{}}, inputs={{}}, backend=None,  # type: ignore[arg-type]
                      log=logging.getLogger("test"))
    assert {name}(ctx, rows=3) == {{"rows": 3}}
'''

PRE_COMMIT = '''# Validate changed pipelines before each commit (see dagc's docs/ci.md).
repos:
  - repo: local
    hooks:
      - id: dagc-validate
        name: dagc validate
        entry: dagc validate
        language: system
        files: ^pipelines/.*\\.ya?ml$
'''

CONFTEST = '''"""pytest: having this file here puts the project folder on sys.path, so tests import `steps`."""
'''

GITIGNORE = ".dagc/\n__pycache__/\n.pytest_cache/\n"


def init_project(folder: Path, name: str | None = None) -> list[Path]:
    """Write a minimal working project into `folder` (created if needed); the files written."""
    from dagc.frontend.schema import schema as base_schema

    folder = Path(folder)
    name = name or _identifier(folder.resolve().name)
    if not is_identifier(name):
        raise UsageError(f"{name!r} is not a valid pipeline name",
                         hint="use letters, digits and underscores, starting with a letter (e.g. --name my_pipeline)")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder")
    files = {
        folder / "pipelines" / f"{name}.yaml": HELLO_PIPELINE.format(name=name),
        folder / "pipelines" / "tests" / f"{name}.test.yaml": _scenarios(name),  # `dagc test` (dagc.pipetest)
        folder / "steps" / "__init__.py": STEPS_INIT,
        folder / "steps" / "hello.py": HELLO_STEPS,
        folder / "tests" / f"test_{name}.py": HELLO_TEST.format(name=name),
        folder / ".pre-commit-config.yaml": PRE_COMMIT,
        folder / ".gitignore": GITIGNORE,
        folder / "conftest.py": CONFTEST,
    }
    clashes = [str(p) for p in files if p.exists()]
    if clashes:
        raise UsageError(f"not overwriting existing file(s): {', '.join(clashes)}",
                         hint="run `dagc init` in a new or empty folder, or `dagc new step NAME` to add a step")
    _write(files)
    schema_file = folder / "schemas" / "pipeline.schema.json"
    written = list(files)
    if not schema_file.exists():
        from dagc.frontend.registry import load_registry
        from dagc.frontend.stepschema import with_steps

        schema = with_steps(base_schema(), load_registry(folder))
        _write({schema_file: json.dumps(schema, indent=2, ensure_ascii=False) + "\n"})
        written.append(schema_file)
    return written


def _scenarios(name: str) -> str:
    from dagc.pipetest.scaffold import scenario_file

    return scenario_file(name)


def new_step(folder: Path, name: str) -> list[Path]:
    """Add `steps/<name>.py` with one step and `tests/test_step_<name>.py` to the project at `folder`."""
    from dagc.frontend.project import find_project_root
    from dagc.frontend.registry import load_registry

    if not is_identifier(name) or name.startswith("_"):
        raise UsageError(f"{name!r} is not a valid step name",
                         hint="a step name is a Python identifier: letters, digits, underscores (e.g. load_orders)")
    import keyword

    if keyword.iskeyword(name):
        raise UsageError(f"{name!r} is a Python keyword and cannot be a step name")
    root = find_project_root(folder)
    if not (root / "steps").is_dir():
        raise UsageError(f"no steps/ folder in {Path(folder).resolve()} or above",
                         hint="run `dagc init` first, or run this inside a dagc project")
    registry = load_registry(root)
    if name in registry:
        info = registry[name]
        raise UsageError(f"step {name!r} already exists ({info.file}:{info.line})", hint="choose another name")
    files = {
        root / "steps" / f"{name}.py": STEP_TEMPLATE.format(name=name),
        root / "tests" / f"test_step_{name}.py": STEP_TEST.format(name=name, module=name),
    }
    clashes = [str(p) for p in files if p.exists()]
    if clashes:
        raise UsageError(f"not overwriting existing file(s): {', '.join(clashes)}")
    _write(files)
    return list(files)


def _write(files: dict[Path, str]) -> None:
    for path, text in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _identifier(text: str) -> str:
    import re

    ident = re.sub(r"\W+", "_", text).strip("_").lower() or "pipeline"
    return ident if not ident[0].isdigit() else f"p_{ident}"
