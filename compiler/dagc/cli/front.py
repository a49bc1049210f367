"""`dagc validate | compile | graph | schema`: the commands that never talk to Snowflake."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dagc.diagnostics import Diagnostic, Severity, UsageError

PIPELINE_SUFFIXES = (".yaml", ".yml")


def expand_paths(paths: tuple[str, ...] | list[str]) -> list[Path]:
    """Files as given; directories expand to the YAML files below them (hidden folders skipped)."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in PIPELINE_SUFFIXES and f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                raise UsageError(f"no pipeline files (*.yaml, *.yml) in directory {raw}",
                                 hint="give a pipeline file or a directory that holds some")
            files += found
        elif p.exists():
            files.append(p)
        else:
            raise UsageError(f"no such file: {raw}", hint="check the path; `dagc validate pipelines/` checks a whole folder")
    return files


def validate_files(files: list[Path], env: str | None = None) -> list[Diagnostic]:
    """Diagnostics for every file; without --env, the base and every declared environment."""
    from dagc.frontend import check_file, environments_of

    from dagc.pipetest.spec import diagnostics_of, is_scenario_file

    out: list[Diagnostic] = []
    for f in files:
        if is_scenario_file(f):  # `dagc test` scenarios beside the pipelines: checked as such
            out += diagnostics_of(f)
            continue
        envs: list[str | None] = [env] if env else [None, *environments_of(f)]
        seen: set[tuple[Any, ...]] = set()
        for e in envs:
            _, diags = check_file(f, e, missing_secrets="warn")
            for d in diags:
                key = (d.code, d.file, d.line, d.col, d.message)
                if key not in seen:
                    seen.add(key)
                    out.append(d if e is None else _tag_env(d, e))
    return out


def _tag_env(d: Diagnostic, env: str) -> Diagnostic:
    from dataclasses import replace

    return replace(d, message=f"{d.message} [env: {env}]")


def write_or_echo(text: str, output: str | None) -> None:
    """Write to OUTPUT (saying so on stderr, so stdout stays clean) or print to stdout."""
    if not output:
        click.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}", err=True)


fmt_option = click.option("--format", "fmt", type=click.Choice(["text", "json", "github", "sarif"]), default="text",
                          show_default=True, help="Output format: text for people, github for annotations, sarif for code scanning.")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--env", help="Validate only this environment (default: the base and every environment).")
@fmt_option
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(paths: tuple[str, ...], env: str | None, fmt: str, strict: bool) -> int:
    """Check pipeline files: YAML, schema, graph, steps, names, limits. All problems at once.

    \b
    Exit codes: 0 valid, 1 invalid pipeline, 2 usage error (missing file, bad flag).
    Examples:
      dagc validate pipelines/training.yaml
      dagc validate pipelines/ --format github
      dagc validate pipelines/training.yaml --env prod
    """
    from dagc import render

    files = expand_paths(paths)
    diags = validate_files(files, env)
    failed = any(d.severity is Severity.ERROR or strict for d in diags)
    if fmt == "text":
        if diags:
            click.echo(render.text(diags, color=render.use_color(sys.stdout)))
        from dagc.pipetest.spec import is_scenario_file

        scenarios = sum(1 for f in files if is_scenario_file(f))
        line = render.summary(diags, len(files) - scenarios if not diags else len(files))
        if scenarios and not diags:
            line += f", {scenarios} scenario file(s) valid"
        click.echo(line, err=bool(diags))
    else:
        click.echo(render.render(diags, fmt))
    return 1 if failed else 0


def load_or_raise(path: str, env: str | None, sets: tuple[str, ...] = (), var_sets: tuple[str, ...] = ()) -> Any:
    from dagc.frontend import load_pipeline
    from dagc.frontend.overlay import parse_assignment

    return load_pipeline(path, env, sets=dict(map(parse_assignment, sets)), var_sets=dict(map(parse_assignment, var_sets)))


@click.command("compile")
@click.argument("pipeline", type=click.Path())
@click.option("--env", help="Environment overlay to apply.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a graph config value (YAML scalar).")
@click.option("--var", "var_sets", multiple=True, metavar="KEY=VALUE", help="Override a template variable.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the manifest here instead of stdout.")
def compile_cmd(pipeline: str, env: str | None, sets: tuple[str, ...], var_sets: tuple[str, ...],
                output: str | None) -> int:
    """Compile a pipeline to its deterministic JSON manifest (the graph as Snowflake will see it).

    \b
    Examples:
      dagc compile pipelines/training.yaml --env prod -o manifest.json
    """
    from dagc.emit.manifest import build_manifest, dumps

    text = dumps(build_manifest(load_or_raise(pipeline, env, sets=sets, var_sets=var_sets)))
    write_or_echo(text, output)
    return 0


@click.command()
@click.argument("pipeline", type=click.Path())
@click.option("--env", help="Environment overlay to apply.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
def graph(pipeline: str, env: str | None, fmt: str) -> int:
    """Print the task graph as Mermaid or Graphviz DOT (branch cases and finalizer labelled).

    \b
    Examples:
      dagc graph pipelines/training.yaml
      dagc graph pipelines/training.yaml --format dot | dot -Tsvg > graph.svg
    """
    from dagc.emit import graph as g

    p = load_or_raise(pipeline, env)
    click.echo(g.dot(p) if fmt == "dot" else g.mermaid(p), nl=False)
    return 0


@click.command()
@click.option("--with-steps", is_flag=True,
              help="Specialise the schema to this project's steps: step-name enum, each step's params, branch cases.")
@click.option("--project", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Project folder whose steps/ to read (with --with-steps).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the schema here instead of stdout.")
def schema(with_steps: bool, project: str, output: str | None) -> int:
    """Print the pipeline JSON Schema (Draft 2020-12), for editors and other tools.

    \b
    Examples:
      dagc schema > pipeline.schema.json
      dagc schema --with-steps -o schemas/pipeline.schema.json   # completion for your steps
    Then point your editor at it, e.g. the first line of a pipeline:
      # yaml-language-server: $schema=../schemas/pipeline.schema.json
    """
    from dagc.frontend.schema import SCHEMA_PATH

    if with_steps:
        import json

        from dagc.frontend.project import find_project_root
        from dagc.frontend.registry import load_registry
        from dagc.frontend.schema import schema as base_schema
        from dagc.frontend.stepschema import with_steps as specialise

        if not Path(project).is_dir():
            raise UsageError(f"no such folder: {project}")
        registry = load_registry(find_project_root(project))
        text = json.dumps(specialise(base_schema(), registry), indent=2, ensure_ascii=False) + "\n"
    else:
        text = SCHEMA_PATH.read_text(encoding="utf-8")
    write_or_echo(text, output)
    return 0
