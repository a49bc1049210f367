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
stage: "{{{{ vars.stage }}}}"  # where `dagc deploy` uploads the step code (not needed by `dagc run`)

vars:
  warehouse: DEV_WH
  stage: "@DEV_DB.PUBLIC.DAGC_STAGE"

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
    vars: {{warehouse: PROD_WH, stage: "@PROD_DB.PUBLIC.DAGC_STAGE"}}
'''

HELLO_TEST = '''"""Tests for the example pipeline: it validates, and its steps do what they say.

dagc.testing.local_context gives a step the real local backend (DuckDB tables, the model
registry, notifications) under pytest's tmp_path: see dagc's docs/steps.md.
"""

from __future__ import annotations

from pathlib import Path

from dagc.frontend import check_file
from dagc.testing import call_step, local_context

from steps.hello import count_letters, greet

ROOT = Path(__file__).resolve().parents[1]


def test_pipeline_is_valid():
    pipeline, diagnostics = check_file(ROOT / "pipelines" / "{name}.yaml")
    assert [d.message for d in diagnostics] == []
    assert [t.name for t in pipeline.tasks] == ["greet", "count"]


def test_greet_then_count_letters(tmp_path):
    with local_context(tmp_path, task="greet", config={{"greeting": "hi"}}, params={{"name": "ada"}}) as ctx:
        out = call_step(greet, ctx)
    assert out == {{"greeting": "hi, ada"}}
    with local_context(tmp_path, task="count", inputs={{"greet": out}}) as ctx:
        assert call_step(count_letters, ctx) == {{"letters": 5}}


def test_steps_see_the_same_tables_as_in_dagc_run(tmp_path):
    """ctx.tables is the local warehouse (DuckDB): what one step writes, the next one reads."""
    import pandas as pd

    with local_context(tmp_path, task="load") as ctx:
        ctx.tables.write("greetings", pd.DataFrame({{"NAME": ["ada", "bob"]}}))
    with local_context(tmp_path, task="report") as ctx:
        assert ctx.tables.list() == ["GREETINGS"]
        assert list(ctx.tables.read("greetings")["NAME"]) == ["ada", "bob"]
'''

STEP_TEMPLATE = '''"""The `{name}` step."""

from __future__ import annotations

from dagc import StepContext, step


@step
def {name}(ctx: StepContext, rows: int = 10) -> dict:
    """Describe what {name} does. Params come from the task's `params:`; return JSON (at most 10 kB)."""
    import pandas as pd

    ctx.log.info("%s: %d rows", ctx.task, rows)
    ctx.tables.write("{name}", pd.DataFrame({{"N": list(range(rows))}}))
    return {{"table": "{name}", "rows": rows}}
'''

STEP_TEST = '''"""Tests for the `{name}` step: call it with a context over the real local backend."""

from __future__ import annotations

from dagc.testing import call_step, local_context

from steps.{module} import {name}


def test_{name}(tmp_path):
    with local_context(tmp_path, task="{name}", params={{"rows": 3}}) as ctx:
        assert call_step({name}, ctx) == {{"table": "{name}", "rows": 3}}
        assert list(ctx.tables.read("{name}")["N"]) == [0, 1, 2]
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
    from dagc.frontend.schema import shipped_schema as base_schema

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
    schema_file = folder / "schemas" / "pipeline.schema.json"
    for kept in (".gitignore", ".pre-commit-config.yaml", "conftest.py"):  # a repository's own: kept as they are
        if (folder / kept).exists():
            del files[folder / kept]
    clashes = [str(p) for p in files if p.exists()]
    if clashes:
        raise UsageError(f"not overwriting existing file(s): {', '.join(clashes)}",
                         hint="run `dagc init` in a new or empty folder, or `dagc new step NAME` to add a step")
    if not schema_file.exists():  # an existing one is the user's (maybe regenerated by a hook): keep it
        files[schema_file] = _schema_for(base_schema(), {p.relative_to(folder): t for p, t in files.items()})
    _write(files)
    return list(files)


def _schema_for(base: dict, files: dict[Path, str]) -> str:
    """The --with-steps schema of the project about to be written, computed before anything is
    written (from a scratch copy of its steps), so a failure here leaves no half-written project."""
    import tempfile

    from dagc.frontend.registry import load_registry
    from dagc.frontend.stepschema import with_steps

    with tempfile.TemporaryDirectory(prefix="dagc-init-") as tmp:
        for rel, text in files.items():
            if rel.parts[0] == "steps":
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_text(text, encoding="utf-8")
        schema = with_steps(base, load_registry(Path(tmp)))
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


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
    """Write every file or none: on an error, remove what this call created (files and folders).

    Files are created exclusively ("x"), so a file that appeared since the clash check is not
    overwritten either.
    """
    created: list[Path] = []
    try:
        for path, text in files.items():
            missing = [d for d in [path.parent, *path.parent.parents] if not d.exists()]
            for d in reversed(missing):
                d.mkdir()
                created.append(d)
            with open(path, "x", encoding="utf-8") as fh:
                created.append(path)
                fh.write(text)
    except BaseException as exc:  # an OSError, or Ctrl-C halfway: take back what was written
        for p in reversed(created):
            try:
                p.rmdir() if p.is_dir() else p.unlink()
            except OSError:
                pass
        if not isinstance(exc, OSError):
            raise
        where = exc.filename or "the project folder"
        raise UsageError(f"cannot write {where}: {exc.strerror}; nothing was written",
                         hint="check the folder's permissions and free space") from None


def _identifier(text: str) -> str:
    import re

    ident = re.sub(r"\W+", "_", text).strip("_").lower() or "pipeline"
    return ident if not ident[0].isdigit() else f"p_{ident}"
