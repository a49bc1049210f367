"""Jinja2 templating of string values, in a sandbox.

Pipelines are reviewed as data; a template must not reach Python internals (`''.__class__`),
read the environment implicitly, or turn an undefined variable into an empty string that a
deploy then ships. So: `SandboxedEnvironment`, `StrictUndefined`, and environment variables
only through `env_var("NAME", "default")`. A value that is exactly one `{{ expression }}` keeps
its native type, so `rows: "{{ vars.rows }}"` stays an integer.
"""

from __future__ import annotations

import os
import re
from typing import Any

from dagc.diagnostics import Diagnostic
from dagc.yamlload import Document, Path

_SOLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.S)
_MISSING = object()


class _EnvVarMissing(Exception):
    pass


def _env() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

    def env_var(name: str, default: Any = _MISSING) -> Any:
        value = os.environ.get(name)
        if value is None:
            if default is _MISSING:
                raise _EnvVarMissing(name)
            return default
        return value

    env.globals = {"env_var": env_var}
    return env


def has_templates(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    return False


def render(doc: Document, data: dict[str, Any], environment: str | None) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Render every templated string in `data`; `vars` are rendered first and then shared."""
    if not has_templates(data):
        return data, []
    env = _env()
    diags: list[Diagnostic] = []
    raw_vars = data.get("vars") if isinstance(data.get("vars"), dict) else {}
    base_ctx = {"environment": environment, "vars": {}}
    rendered_vars = _walk(env, doc, raw_vars, ("vars",), base_ctx, diags)
    ctx = {"environment": environment, "vars": rendered_vars}
    out = {k: (rendered_vars if k == "vars" else _walk(env, doc, v, (k,), ctx, diags)) for k, v in data.items()}
    return out, diags


def _walk(env: Any, doc: Document, value: Any, path: Path, ctx: dict[str, Any], diags: list[Diagnostic]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(env, doc, v, path + (k,), ctx, diags) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(env, doc, v, path + (i,), ctx, diags) for i, v in enumerate(value)]
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return _render_one(env, doc, value, path, ctx, diags)
    return value


def _render_one(env: Any, doc: Document, text: str, path: Path, ctx: dict[str, Any], diags: list[Diagnostic]) -> Any:
    from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    pos = doc.pos(path)
    line, col = pos.line, pos.col
    try:
        sole = _SOLE_EXPR.match(text)
        if sole and "{{" not in sole.group("expr") and "{%" not in text:
            return env.compile_expression(sole.group("expr"), undefined_to_none=False)(**ctx)
        return env.from_string(text).render(**ctx)
    except UndefinedError as exc:
        msg, hint = f"template error: {exc.message}", "define it under `vars:` and use it as {{ vars.NAME }}"
        names = sorted(ctx["vars"]) if isinstance(ctx.get("vars"), dict) else []
        if names:
            hint += f" (defined: {', '.join(names)})"
    except SecurityError as exc:
        msg, hint = f"template refused by the sandbox: {exc}", "templates may use vars, environment and env_var() only"
    except _EnvVarMissing as exc:
        msg = f"template error: environment variable {exc.args[0]} is not set"
        hint = f"set it, or give a default: env_var({exc.args[0]!r}, 'value')"
    except TemplateSyntaxError as exc:
        msg, hint = f"template syntax error: {exc.message}", "check the {{ }} and {% %} pairs"
        if exc.lineno and exc.lineno > 1:
            line += exc.lineno - 1
    except TemplateError as exc:
        msg, hint = f"template error: {exc}", None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
        msg, hint = f"template error: {type(exc).__name__}: {exc}", None
    diags.append(Diagnostic("DAGC210", msg, doc.path, line, col, hint=hint))
    return text
