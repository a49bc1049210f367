"""dagc init / new step / completion / --help / --version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dagc.cli.main import COMMANDS, _module_exists, cli, main
from dagc.diagnostics import UsageError
from dagc.frontend import check_file
from dagc.scaffold import init_project, new_step

ROOT = Path(__file__).resolve().parents[2]


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_init_writes_a_project_that_validates_and_whose_tests_pass(tmp_path, capsys):
    code, out, err = run(["init", str(tmp_path / "proj")], capsys)
    assert code == 0 and "created" in out and "dagc validate" in err
    proj = tmp_path / "proj"
    pipeline, diags = check_file(proj / "pipelines" / "proj.yaml")
    assert diags == [] and [t.step for t in pipeline.tasks] == ["greet", "count_letters"]
    for env in ("dev", "prod"):
        assert check_file(proj / "pipelines" / "proj.yaml", env)[1] == []
    schema = json.loads((proj / "schemas" / "pipeline.schema.json").read_text())
    assert schema["$defs"]["task"]["properties"]["step"]["enum"] == ["count_letters", "greet"]
    # the generated tests, run as a user would (plain pytest in the project folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"], cwd=proj, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "3 passed" in res.stdout, res.stdout + res.stderr


def test_init_never_overwrites(tmp_path, capsys):
    init_project(tmp_path, "demo")
    code, _, err = run(["init", str(tmp_path), "--name", "demo"], capsys)
    assert code == 2 and "not overwriting" in err and "demo.yaml" in err
    with pytest.raises(UsageError, match="not a valid pipeline name"):
        init_project(tmp_path / "x", "bad-name")
    (tmp_path / "afile").write_text("")
    with pytest.raises(UsageError, match="not a folder"):
        init_project(tmp_path / "afile", "ok")


def test_init_derives_a_name_from_the_folder(tmp_path):
    written = init_project(tmp_path / "My Project-2")
    assert any(p.name == "my_project_2.yaml" for p in written)


def test_new_step_adds_a_step_and_a_test(tmp_path, capsys):
    init_project(tmp_path, "demo")
    code, out, _ = run(["new", "step", "load_orders", "--project", str(tmp_path)], capsys)
    assert code == 0 and "steps/load_orders.py" in out and "test_step_load_orders.py" in out
    pipeline = tmp_path / "pipelines" / "demo.yaml"
    pipeline.write_text(pipeline.read_text().replace(
        "environments:", "  load: {step: load_orders, params: {rows: 5}}\n\nenvironments:").replace(
        "\nvars:", "\npackages: [pandas]  # the new step writes a DataFrame\n\nvars:", 1))
    assert check_file(pipeline)[1] == []
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "tests/test_step_load_orders.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("name,message", [
    ("greet", "already exists"), ("load-orders", "not a valid step name"), ("class", "Python keyword"),
    ("_private", "not a valid step name"),
])
def test_new_step_refuses(tmp_path, name, message):
    init_project(tmp_path, "demo")
    with pytest.raises(UsageError, match=message):
        new_step(tmp_path, name)


def test_new_step_outside_a_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="no steps/ folder"):
        new_step(tmp_path, "x")


@pytest.mark.parametrize("shell,needle", [("bash", "complete -o nosort -F"), ("zsh", "#compdef dagc"),
                                          ("fish", "complete --no-files --command dagc")])
def test_completion_scripts(shell, needle, capsys):
    code, out, _ = run(["completion", shell], capsys)
    assert code == 0 and needle in out and "_DAGC_COMPLETE" in out


def test_completion_callback_completes_commands_and_options():
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'compiler'}{os.pathsep}{ROOT}", "_DAGC_COMPLETE": "bash_complete"}

    def complete(words: str, cword: int) -> list[str]:
        res = subprocess.run([sys.executable, "-m", "dagc"], env={**env, "COMP_WORDS": words, "COMP_CWORD": str(cword)},
                             capture_output=True, text=True, timeout=60)
        return res.stdout.split()

    assert "plain,validate" in complete("dagc val", 1)
    assert "plain,--format" in complete("dagc validate --fo", 2)
    assert {"plain,github", "plain,sarif"} <= set(complete("dagc validate --format ", 3))


def test_version(capsys):
    from dagc import __version__

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"dagc, version {__version__}"


OWNED = ["validate", "compile", "graph", "schema", "init", "new", "completion"]
PRESENT = [c for c in COMMANDS if _module_exists(COMMANDS[c].split(":")[0])]  # commands whose module is here


@pytest.mark.parametrize("command", PRESENT)
def test_help_has_examples(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0 and "Examples:" in out and f"dagc {command}" in out


def test_new_step_help_has_examples(capsys):
    code, out, _ = run(["new", "step", "--help"], capsys)
    assert code == 0 and "Examples:" in out


def test_top_level_help_lists_commands(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "Validate in CI" in out
    for command in OWNED:
        assert command in out
    assert set(OWNED) <= set(COMMANDS) and cli.name is not None


@pytest.mark.skipif("run" not in PRESENT, reason="the local engine is not on this branch")
def test_init_project_runs_locally_out_of_the_box(tmp_path):
    init_project(tmp_path / "proj", "demo")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'compiler'}"}
    res = subprocess.run([sys.executable, "-m", "dagc", "run", "pipelines/demo.yaml"], cwd=tmp_path / "proj", env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCEEDED" in res.stdout + res.stderr
    res = subprocess.run([sys.executable, "-m", "dagc", "runs", "--json"], cwd=tmp_path / "proj", env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "demo" in res.stdout


def test_init_into_an_existing_repository_keeps_its_files(tmp_path):
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    written = init_project(tmp_path, "demo")
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n"
    assert (tmp_path / ".pre-commit-config.yaml").read_text() == "repos: []\n"
    assert {p.name for p in written} >= {"demo.yaml", "hello.py", "conftest.py", "pipeline.schema.json"}
    assert not any(p.name in (".gitignore", ".pre-commit-config.yaml") for p in written)


def test_init_that_fails_halfway_writes_nothing(tmp_path, capsys):
    (tmp_path / "tests").write_text("a file where the tests folder goes\n")
    code, _, err = run(["init", str(tmp_path), "--name", "demo"], capsys)
    assert code == 2 and "nothing was written" in err and "tests" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tests"]


def test_scaffolded_tests_use_the_real_local_backend(tmp_path):
    init_project(tmp_path, "demo")
    new_step(tmp_path, "load_orders")
    for test in (tmp_path / "tests").glob("test_*.py"):
        text = test.read_text()
        assert "backend=None" not in text and "from dagc.testing import" in text and "ctx.tables." in text


def test_init_interrupted_halfway_takes_back_what_it_wrote(tmp_path, monkeypatch):
    import builtins

    real_open, calls = builtins.open, []

    def interrupted(path, mode="r", *args, **kwargs):
        if "x" in mode:
            calls.append(path)
            if len(calls) == 3:  # Ctrl-C while writing the third file
                raise KeyboardInterrupt
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", interrupted)
    with pytest.raises(KeyboardInterrupt):
        init_project(tmp_path / "proj", "demo")
    monkeypatch.undo()
    assert len(calls) == 3 and not (tmp_path / "proj").exists()
