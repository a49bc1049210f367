"""`dagc validate` imports only what checking needs: no Snowflake libraries, pandas or xgboost ever,
and jsonschema, Jinja2 and the `if:` language only when the file needs them.

A schema keyword the fast checker does not model sends every file to jsonschema (~0.1 s cold), so
the fast checker is held to the shipped schema here too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dagc.frontend import fastschema, schema

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "xgboost", "sklearn", "numpy", "snowflake.core", "snowflake.snowpark", "snowflake.ml",
         "snowflake.connector")
LAZY = ("jsonschema", "jinja2", "dagc.expr", "zipfile")


def _modules_after_validate(*files: str) -> set[str]:
    code = ("import json, sys\nfrom dagc.cli.main import main\nsys.argv = ['dagc', 'validate', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "print(json.dumps([code, sorted(sys.modules)]))\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'compiler'}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-c", code, *files], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    code_, modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert code_ in (0, None), out.stdout + out.stderr
    return set(modules)


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_validate_imports_nothing_heavy_nor_what_a_valid_file_does_not_need():
    modules = _modules_after_validate("pipelines/training.yaml", "pipelines/inference.yaml")
    assert _loaded(modules, HEAVY) == []
    assert _loaded(modules, LAZY) == []  # both are valid, template only {{ vars.X }}, and have no `if:`


def test_a_pipeline_with_conditions_loads_the_language_and_still_no_jsonschema(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    path = tmp_path / "p.yaml"
    path.write_text("name: g\ntasks:\n  a: {sql: select 1}\n  b: {sql: select 2, after: [a], if: \"state(a) == 'SUCCEEDED'\"}\n")
    modules = _modules_after_validate(str(path))
    assert "dagc.expr.check" in modules and _loaded(modules, ("jsonschema",) + HEAVY) == []


def test_the_fast_checker_models_every_keyword_of_the_schema():
    fastschema.compile_schema(schema.schema())  # raises Unsupported(keyword) otherwise
    assert not schema._fast_check()({"name": "g", "tasks": {"t": {"sql": "s", "matrix": {"r": []}}}})  # minItems
    assert schema._fast_check()({"name": "g", "tasks": {"t": {"sql": "s", "matrix": {"r": ["US"]}}}})
    assert json.dumps(schema.schema()).count('"minItems"') >= 1
