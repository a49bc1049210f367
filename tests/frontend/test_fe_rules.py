"""Front-end rules (dagc.frontend.checks.packages, .names): DAGC407 (a step imports a package its task will not have
on Snowflake) and DAGC511 (task names that differ only in case)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from dagc.frontend import check_file

ROOT = Path(__file__).resolve().parents[2]


def project(tmp_path: Path, files: dict[str, str], pipeline: str) -> Path:
    for rel, text in {"steps/__init__.py": "from dagc import StepContext, step\n", **files}.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(text))
    p = tmp_path / "pipelines" / "p.yaml"
    p.parent.mkdir(exist_ok=True)
    p.write_text(textwrap.dedent(pipeline))
    return p


PIPELINE = """\
    name: p
    stage: "@DB.SC.STAGE"
    warehouse: WH
    packages: {packages}
    tasks:
      fit: {{step: fit}}
    """


STEP = """\
    import json
    import numpy as np
    from steps import step
    from steps.helpers import io

    @step
    def fit(ctx):
        import xgboost as xgb
        from sklearn.metrics import roc_auc_score
        return load()

    def helper():
        import torch  # a lazy import in a function the step does not call: not counted

    def load():
        import lightgbm  # a lazy import in a function the step calls: counted
        return {}
    """
HELPER = """\
    from snowflake.ml.registry import Registry
    try:
        import ujson  # optional by design: not counted
    except ImportError:
        ujson = None
    """


def codes(diags, code):
    return [(d.file, d.line, d.col, d.message) for d in diags if d.code == code]


def test_dagc407_reports_each_missing_import_at_its_line_including_what_steps_import(tmp_path: Path) -> None:
    f = project(tmp_path, {"steps/work.py": STEP, "steps/helpers/__init__.py": "", "steps/helpers/io.py": HELPER},
                PIPELINE.format(packages="[pandas]"))
    pipeline, diags = check_file(f)
    found = codes(diags, "DAGC407")
    assert pipeline is None
    assert [(file, line, col) for file, line, col, _ in found] == [
        ("steps/helpers/io.py", 1, 1), ("steps/work.py", 8, 5), ("steps/work.py", 9, 5), ("steps/work.py", 16, 5)]
    messages = " | ".join(m for *_, m in found)
    assert "snowflake.ml (distribution snowflake-ml-python)" in messages
    assert "lightgbm (distribution lightgbm)" in messages and "xgboost (distribution xgboost)" in messages and "sklearn (distribution scikit-learn)" in messages
    assert "torch" not in messages and "ujson" not in messages  # other functions, guarded imports
    assert "numpy" not in messages  # pandas (declared) depends on numpy
    hint = next(d.hint for d in diags if d.code == "DAGC407")
    assert "add snowflake-ml-python to `packages:`" in hint and "snowflake-snowpark-python" in hint


def test_dagc407_is_quiet_when_the_packages_provide_them(tmp_path: Path) -> None:
    f = project(tmp_path, {"steps/work.py": STEP, "steps/helpers/__init__.py": "", "steps/helpers/io.py": HELPER},
                PIPELINE.format(packages="[pandas, 'xgboost==2.1.*', scikit-learn, Snowflake_ML_Python, lightgbm]"))
    pipeline, diags = check_file(f)
    assert codes(diags, "DAGC407") == [] and pipeline is not None


def test_dagc407_only_for_pipelines_that_can_deploy(tmp_path: Path) -> None:
    """Without a stage the Python tasks cannot go to Snowflake, so the local-only pipeline is fine."""
    f = project(tmp_path, {"steps/work.py": STEP, "steps/helpers/__init__.py": "", "steps/helpers/io.py": HELPER},
                "name: p\ntasks:\n  fit: {step: fit}\n")
    _, diags = check_file(f)
    assert codes(diags, "DAGC407") == []


def test_the_shipped_pipelines_declare_what_their_steps_import() -> None:
    for f in sorted((ROOT / "pipelines").glob("*.yaml")):
        for env in (None, "prod"):
            _, diags = check_file(f, env, missing_secrets="warn")
            assert codes(diags, "DAGC407") == [], f


def test_removing_a_package_from_the_shipped_training_pipeline_is_reported(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(ROOT / "steps", tmp_path / "steps")
    text = (ROOT / "pipelines" / "training.yaml").read_text().replace(", xgboost,", ",")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "training.yaml").write_text(text)
    _, diags = check_file(tmp_path / "pipelines" / "training.yaml", missing_secrets="warn")
    found = codes(diags, "DAGC407")
    assert found and all("xgboost" in m for *_, m in found)
    assert {file for file, *_ in found} == {"steps/ml/train.py"}


def test_dagc511_task_names_that_differ_only_in_case(tmp_path: Path) -> None:
    f = project(tmp_path, {"steps/work.py": "from steps import step\n@step\ndef fit(ctx):\n    return {}\n"},
                "name: p\ntasks:\n  Fit: {step: fit}\n  fit: {step: fit, after: [Fit]}\nfinally:\n  FIT: {step: fit}\n")
    pipeline, diags = check_file(f)
    found = codes(diags, "DAGC511")
    assert pipeline is None
    assert [(line, col) for _, line, col, _ in found] == [(4, 3), (6, 3)]
    assert "task names 'Fit' and 'fit' differ only in case; Snowflake folds both to FIT" in found[0][3]


def test_rules_keep_validate_free_of_heavy_imports(tmp_path: Path) -> None:
    f = project(tmp_path, {"steps/work.py": STEP, "steps/helpers/__init__.py": "", "steps/helpers/io.py": HELPER},
                PIPELINE.format(packages="[pandas]"))
    code = ("import sys\nfrom dagc.frontend import check_file\ncheck_file(sys.argv[1])\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('pandas', 'xgboost', 'sklearn') "
            "or m.startswith(('snowflake.core', 'snowflake.snowpark', 'snowflake.ml'))]\nprint(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_dagc407_is_a_warning_when_a_declared_package_is_not_installed_here(tmp_path: Path) -> None:
    """Its dependencies are unknown here (e.g. an isolated pre-commit environment), so the import
    may still come with it on Snowflake."""
    f = project(tmp_path, {"steps/work.py": "import numpy\nfrom steps import step\n@step\ndef fit(ctx):\n    return {}\n"},
                PIPELINE.format(packages="[some-package-not-installed-here]"))
    pipeline, diags = check_file(f)
    found = [d for d in diags if d.code == "DAGC407"]
    assert len(found) == 1 and found[0].severity.value == "warning" and pipeline is not None
    assert "unless some-package-not-installed-here, not installed here, depends on it" in found[0].message


def test_dagc407_knows_common_dependencies_without_their_metadata(tmp_path: Path) -> None:
    from dagc.frontend.distributions import _requires, closure

    closure.cache_clear()
    _requires.cache_clear()
    assert "numpy" in closure(("lightgbm",))  # lightgbm is not installed here: the table says what it brings


JOB_STEP = """\
    from steps import step

    @step
    def fit(ctx):
        import xgboost  # in the ML runtime image
        import duckdb  # not in the image
        import polars  # named in compute.pip_requirements
        return {}
    """


def test_dagc407_checks_an_ml_job_against_the_runtime_image_and_its_pip_requirements(tmp_path: Path) -> None:
    """A compute task's container does not get `packages:` (the procedures' Anaconda packages): it
    has the runtime image and compute.pip_requirements. Unknowable offline in full, so a warning."""
    f = project(tmp_path, {"steps/work.py": JOB_STEP}, PIPELINE.format(packages="[duckdb]").replace(
        "fit: {step: fit}", "fit: {step: fit, compute: {pool: P, pip_requirements: ['polars>=1']}}"))
    pipeline, diags = check_file(f)
    found = [d for d in diags if d.code == "DAGC407"]
    assert [(d.file, d.line, d.col, d.severity.value) for d in found] == [("steps/work.py", 6, 5, "warning")]
    assert "duckdb (distribution duckdb), which the ML Job of task(s) 'fit' may not have" in found[0].message
    assert "`packages:` lists it, but those are for warehouse procedures" in found[0].message
    assert "compute.pip_requirements" in found[0].hint and pipeline is not None
