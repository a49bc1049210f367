"""Every `dagc ...` command written in README.md and docs/*.md parses with the real CLI.

A documented command that no longer parses (an option renamed, a value type changed) fails here.
The parse is strict (`make_context` without resilient parsing): resilient parsing turns a bad value
such as `--timeout 2h` on a float option into None instead of an error, which is the bug this test
exists to catch. Upper-case placeholders (`PIPELINE`, `--format FORMAT`, `<connection>`) are accepted
where a real value would be.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from tests.snowflake.sfixtures import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLACEHOLDER = re.compile(r"^(<[^>]+>|[A-Z][A-Z0-9_]*(\.\.\.)?|\[[^\]]+\]|\.\.\.|\{[^}]+\})$")
FENCE = re.compile(r"^\s*(```|~~~)")


def documented_commands() -> list[tuple[str, int, str]]:
    """(file, line, command) for each `dagc ...` in a code block or in inline code."""
    out: list[tuple[str, int, str]] = []
    for doc in DOCS:
        in_code = False
        pending = ""
        for no, line in enumerate(doc.read_text().splitlines(), 1):
            if FENCE.match(line):
                in_code = not in_code
                continue
            if in_code:
                text = pending + line.strip()
                if text.endswith("\\"):
                    pending = text[:-1] + " "
                    continue
                pending = ""
                text = re.sub(r"^\$\s+", "", text)
                if text.startswith("dagc "):
                    out.append((doc.name, no, text))
            else:  # inline mentions may leave out arguments (`dagc plan --against`), never misspell
                for m in re.finditer(r"`(dagc [^`]+)`", line):
                    out.append((doc.name, no, "inline: " + m.group(1)))
    return out


def _command_words(text: str) -> list[str] | None:
    text = re.sub(r"\[(-[^\]]*|[A-Z_]+)\]", r"\1", text)  # a synopsis' optional parts: [--attempt N], [RUN_ID]
    text = re.split(r"\s+#\s|\s*(?:\||&&|;|>|2>|\|\|)\s*", text)[0].strip()
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    return words[1:]


def _parse(words: list[str]) -> None:
    from dagc.cli.main import cli

    ctx = click.Context(cli, info_name="dagc")
    if not words or words[0].startswith("-"):
        try:
            cli.make_context("dagc", list(words))
        except click.exceptions.Exit:
            pass
        return
    name, args = words[0], words[1:]
    if PLACEHOLDER.match(name):  # `dagc ...`
        return
    cmd = cli.get_command(ctx, name)
    if cmd is None:
        raise click.UsageError(f"no such command: {name}")
    if isinstance(cmd, click.Group):
        sub = args[0] if args else None
        if sub is None or PLACEHOLDER.match(sub):
            return
        cmd, name, args = cmd.get_command(ctx, sub), sub, args[1:]
        if cmd is None:
            raise click.UsageError(f"no such command: {sub}")
    try:
        cmd.make_context(name, list(args), parent=ctx)
    except click.exceptions.Exit:
        pass  # --help / --version
    except click.BadParameter as exc:
        if not any(PLACEHOLDER.match(a) for a in args):
            raise
        bad = str(exc.message)
        if not any(a in bad for a in args if PLACEHOLDER.match(a)):
            raise


COMMANDS = documented_commands()


def test_the_docs_document_commands() -> None:
    assert len(COMMANDS) > 30  # README + docs: a sanity floor, so an extraction bug cannot pass silently
    assert any("status" in c and "--format json" in c for _, _, c in COMMANDS)


@pytest.mark.parametrize("doc,line,command", COMMANDS, ids=[f"{d}:{n}" for d, n, _ in COMMANDS])
def test_documented_command_parses(doc: str, line: int, command: str) -> None:
    inline = command.startswith("inline: ")
    words = _command_words(command.removeprefix("inline: "))
    if words is None:
        pytest.skip("not a shell command line")
    try:
        _parse(words)
    except (click.MissingParameter, click.BadOptionUsage) as exc:
        if not (inline and ("Missing argument" in exc.format_message() or "requires an argument" in exc.format_message())):
            pytest.fail(f"{doc}:{line}: `{command}` does not parse: {exc.format_message()}")
    except click.ClickException as exc:
        pytest.fail(f"{doc}:{line}: `{command}` does not parse: {exc.format_message()}")


def test_a_bad_value_fails_the_parse() -> None:
    with pytest.raises(click.ClickException):
        _parse(["retry", "p.yaml", "--timeout", "soon"])
    with pytest.raises(click.ClickException):
        _parse(["status", "p.yaml", "--format", "yaml"])
