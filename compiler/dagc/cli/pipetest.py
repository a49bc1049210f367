"""`dagc test`: run the scenario files beside the pipelines (logic in dagc.pipetest)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def find_scenario_files(paths: tuple[str, ...]) -> list[Path]:
    from dagc.diagnostics import UsageError
    from dagc.pipetest.spec import SUFFIXES, is_scenario_file

    if not paths:
        from dagc.frontend.project import find_project_root

        default = Path(find_project_root(Path.cwd())) / "pipelines"
        paths = (str(default),)
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and is_scenario_file(f)
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                raise UsageError(f"no scenario files ({', '.join('*' + s for s in SUFFIXES)}) in {raw}",
                                 "write one beside the pipeline, e.g. pipelines/tests/training.test.yaml "
                                 "(docs/operating.md, 'Pipeline tests')")
            files += found
        elif p.is_file():
            if not is_scenario_file(p):
                raise UsageError(f"{raw} is not a scenario file (its name must end in .test.yaml)",
                                 "a pipeline is checked by `dagc validate`; its scenarios live in NAME.test.yaml")
            files.append(p)
        else:
            raise UsageError(f"no such file or folder: {raw}")
    return files


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "github", "json", "junit"]), default="text",
              show_default=True, help="text for people, github for annotations, json, junit XML for CI.")
@click.option("--scenario", "-k", "only", metavar="NAME", help="Run only the scenario with this name.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the json/junit report here too.")
def test(paths: tuple[str, ...], fmt: str, only: str | None, output: str | None) -> int:
    """Run pipeline scenarios (*.test.yaml) on the local engine, each in a throw-away state.

    A scenario sets config, stubs return values (`returns:`), injects failures (`fail:`), loads
    small tables, and says which state every task must end in (`expect:`).

    \b
    Exit codes: 0 every scenario passed, 1 a scenario failed or a scenario file is invalid, 2 usage error.
    Examples:
      dagc test                                   # every *.test.yaml under pipelines/
      dagc test pipelines/tests/training.test.yaml -k gate_fails
      dagc test pipelines/ --format junit -o dagc-tests.xml
    """
    from dagc import render
    from dagc.pipetest import output as out
    from dagc.pipetest.run import run_file

    files = find_scenario_files(paths)
    live = fmt == "text"

    def show(r: object) -> None:
        if live:
            s = r  # type: ignore[assignment]
            mark = "PASS" if s.passed else "FAIL"  # type: ignore[attr-defined]
            click.echo(f"{mark} {s.file}::{s.name} ({s.duration_s:.1f}s)")  # type: ignore[attr-defined]
            if not s.passed:  # type: ignore[attr-defined]
                click.echo(render.text(s.failures, color=render.use_color(sys.stdout)))  # type: ignore[attr-defined]

    results = []
    for f in files:
        res = run_file(f, only=only, on_result=show)
        if live and res.errors:
            click.echo(render.text(res.errors, color=render.use_color(sys.stdout)))
        results.append(res)
    if fmt == "text":
        click.echo(out.summary(results))
    elif fmt == "github":
        diags = [d for r in results for d in r.errors] + [d for r in results for s in r.scenarios for d in s.failures]
        if diags:
            click.echo(render.github(diags))
        click.echo(out.summary(results))
    elif fmt == "json":
        click.echo(out.as_json(results))
    else:
        click.echo(out.junit(results), nl=False)
    if output:
        Path(output).write_text(out.junit(results) if fmt == "junit" else out.as_json(results), encoding="utf-8")
    if only and not any(r.scenarios for r in results) and not any(r.errors for r in results):
        from dagc.diagnostics import UsageError

        raise UsageError(f"no scenario named {only!r} in {', '.join(map(str, files))}")
    return 0 if all(r.passed for r in results) else 1
