"""Options shared by every command, so the same words mean the same thing everywhere.

- `--set KEY=VALUE` (graph config) and `--var KEY=VALUE` (template variables): one parser,
  `dagc.frontend.overlay.parse_assignment`, which reads the value as a YAML scalar (`0.8` is a
  number on every command, locally and on Snowflake);
- `--timeout`: a duration (`90`, `90s`, `30m`, `2h`, `1h30m`, `1d`) wherever a command waits;
- output: `--format text|json` on every command that can print JSON, with `--json` as its shorthand.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import click

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str | float | int) -> float:
    """Seconds in `text`: a number of seconds, or number+unit pairs such as 30m, 2h, 1h30m."""
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    s = str(text).strip()
    pos, total, parts = 0, 0.0, 0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if not m:
            raise ValueError(f"{text!r} is not a duration: use seconds, or a number with s, m, h or d "
                             "(e.g. 90, 30m, 2h, 1h30m)")
        total += float(m.group(1)) * _UNITS[(m.group(2) or "").lower() or None]
        pos = m.end()
        parts += 1
        while pos < len(s) and s[pos] == " ":
            pos += 1
    if parts == 0:
        raise ValueError("empty duration")
    return total


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


def timeout_option(default: str = "1h", help: str = "With --wait: give up after this long (90, 30m, 2h).") -> Callable[[Any], Any]:
    return click.option("--timeout", type=DURATION, default=default, show_default=True, help=help)


def override_options(f: Any) -> Any:
    """--set (graph config) and --var (template variables), both parsed as YAML scalars."""
    f = click.option("--var", "var_sets", multiple=True, metavar="KEY=VALUE",
                     help="Override a template variable (repeatable; the value is read as YAML: 5, 0.8, true).")(f)
    f = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override a graph config value (repeatable; the value is read as YAML: 5, 0.8, true).")(f)
    return f


def assignments(values: tuple[str, ...]) -> dict[str, Any]:
    from dagc.frontend.overlay import parse_assignment

    return dict(map(parse_assignment, values))


def _json_flag(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta["dagc.json"] = True
    return value


def format_options(f: Any) -> Any:
    """`--format text|json` and its shorthand `--json`; the command receives `fmt` ("text" or "json")."""
    f = click.option("--json", "as_json", is_flag=True, expose_value=False, callback=_json_flag, is_eager=True,
                     help="Same as --format json.")(f)
    f = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                     callback=lambda ctx, p, v: "json" if ctx.meta.get("dagc.json") else v,
                     help="Output for people (text) or machines (json).")(f)
    return f
