"""`dagc init`, `dagc new step`, `dagc completion`: thin commands over dagc.scaffold."""

from __future__ import annotations

from pathlib import Path

import click

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False))
@click.option("--name", help="Pipeline name (default: the folder's name as an identifier).")
def init(folder: str, name: str | None) -> int:
    """Create a minimal working project: a pipeline, two steps, a test, the editor schema.

    \b
    Examples:
      dagc init my_project && cd my_project
      dagc validate pipelines/ && dagc run pipelines/my_project.yaml && pytest
      dagc init . --name nightly_scoring
    """
    from dagc.scaffold import init_project

    written = init_project(Path(folder), name)
    for p in written:
        click.echo(f"created {p}")
    pipeline = next(p for p in written if p.parent.name == "pipelines")
    click.echo(f"\nnext: cd {folder} && dagc validate pipelines/ && dagc run pipelines/{pipeline.name}", err=True)
    return 0


@click.group()
def new() -> None:
    """Add something to an existing project.

    \b
    Examples:
      dagc new step load_orders
    """


@new.command("step")
@click.argument("name")
@click.option("--project", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Project folder (the one holding steps/), or any folder inside it.")
def new_step_cmd(name: str, project: str) -> int:
    """Add steps/NAME.py with a @step function and tests/test_step_NAME.py.

    \b
    Examples:
      dagc new step load_orders
      # then use it in a pipeline:  tasks: {load: {step: load_orders, params: {rows: 100}}}
    """
    from dagc.scaffold import new_step

    for p in new_step(Path(project), name):
        click.echo(f"created {p}")
    return 0


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> int:
    """Print the shell completion script for bash, zsh or fish.

    \b
    Examples:
      eval "$(dagc completion bash)"                  # in ~/.bashrc
      dagc completion zsh > "${fpath[1]}/_dagc"
      dagc completion fish > ~/.config/fish/completions/dagc.fish
    """
    click.echo(completion_script(shell), nl=False)
    return 0


def completion_script(shell: str) -> str:
    """Click's completion script for `dagc`: the shell calls back `dagc` with _DAGC_COMPLETE set."""
    from click.shell_completion import get_completion_class

    from dagc.cli.main import cli

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click ships all three
        from dagc.diagnostics import UsageError

        raise UsageError(f"no completion for {shell}")
    text = cls(cli, {}, "dagc", "_DAGC_COMPLETE").source()
    return text if text.endswith("\n") else text + "\n"
