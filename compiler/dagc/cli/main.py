"""The `dagc` entry point: a thin click group whose commands load lazily.

Each command lives in its own module and is imported only when invoked, so `dagc validate` never
pays for snowflake.core, pandas or xgboost. Commands call importable functions; tests call those
functions directly and use click's CliRunner only for the wiring.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from dagc import __version__

# command name -> "module:attribute". A module that is absent simply hides its commands.
COMMANDS: dict[str, str] = {
    # front end (validate, compile, graph, schema)
    "validate": "dagc.cli.front:validate",
    "compile": "dagc.cli.front:compile_cmd",
    "graph": "dagc.cli.front:graph",
    "schema": "dagc.cli.front:schema",
    # local engine; status/retry also reach Snowflake with --connection
    "run": "dagc.cli.local:run",
    "runs": "dagc.cli.history:runs",  # local, or Snowflake with --connection
    "logs": "dagc.cli.local:logs",
    "status": "dagc.cli.operate:status",
    "retry": "dagc.cli.operate:retry",
    # Snowflake
    "deploy": "dagc.cli.remote:deploy",
    "plan": "dagc.cli.remote:plan",
    "trigger": "dagc.cli.remote:trigger",
    "suspend": "dagc.cli.remote:suspend",
    "resume": "dagc.cli.remote:resume",
    "drop": "dagc.cli.remote:drop",
    # operating: backfills, pipeline tests, the local scheduler (dagc.ops, dagc.pipetest)
    "backfill": "dagc.cli.backfill:backfill",
    "test": "dagc.cli.pipetest:test",
    "schedule": "dagc.cli.schedule:schedule",
    # models, report, scaffolding
    "models": "dagc.cli.models:models",
    "report": "dagc.cli.report:report",
    "init": "dagc.cli.scaffold:init",
    "new": "dagc.cli.scaffold:new",
    "completion": "dagc.cli.scaffold:completion",
}


# Usage errors exit 2, except where 2 already means something: `plan` exits 2 for "changes pending".
USAGE_EXIT = {"plan": 64}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _module_exists(COMMANDS[name].split(":")[0])]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or not _module_exists(target.split(":")[0]):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def _module_exists(module: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dagc")
def cli() -> None:
    """dagc: Snowflake Task Graphs declared in YAML.

    \b
    Validate in CI:      dagc validate pipelines/
    Run on this machine: dagc run pipelines/training.yaml
    Deploy:              dagc deploy pipelines/training.yaml --env prod
    """


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI, turning every user-facing error into a message and an exit code."""
    from dagc.diagnostics import DagcError

    try:
        rv = cli.main(args=argv, prog_name="dagc", standalone_mode=False)
        sys.exit(rv if isinstance(rv, int) else 0)  # command callbacks return their exit code
    except click.exceptions.Abort:
        click.echo("dagc: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        if isinstance(exc, click.UsageError):
            command = exc.ctx.command.name if exc.ctx is not None and exc.ctx.command is not None else None
            sys.exit(USAGE_EXIT.get(command or "", 2))
        sys.exit(exc.exit_code)
    except DagcError as exc:
        from dagc.render import print_error

        print_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("dagc: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # a bug in dagc, not bad input: say so, keep the traceback behind a flag
        if os.environ.get("DAGC_DEBUG"):
            raise
        click.echo(f"dagc: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("  this is a bug in dagc; rerun with DAGC_DEBUG=1 for the traceback and report it", err=True)
        sys.exit(70)
