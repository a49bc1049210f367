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
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dagc.diagnostics import Diagnostic, Severity
from dagc.frontend.load import Document, Path

_SOLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.S)
_MISSING = object()
MAX_RENDERED = 1_000_000  # characters one template may produce


class _EnvVarMissing(Exception):
    pass


class _SecretMissing(Exception):
    pass


@dataclass
class _State:
    """What one render collects: secret values met, and unset secrets (None: unset is an error)."""

    secrets: set[str]
    missing: list[str] | None
    refs: dict[str, Any] | None = None  # secret value -> ir.SecretRef


_STATE: ContextVar[_State] = ContextVar("dagc_template_state")


@lru_cache(maxsize=1)
def _env() -> Any:
    """One sandboxed environment per process (so compiled templates can be cached); the per-render
    state that env_var()/secret() record into lives in a context variable."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from dagc.redact import is_secret_env_name

    class _Bounded(ImmutableSandboxedEnvironment):  # type: ignore[misc]
        """The sandbox, plus bounds on `*` and `**` so `{{ 9**9**9 }}` or `{{ 'x' * 10**10 }}` cannot hang."""

        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and isinstance(left, (int, float)) and (
                    abs(right) > 64 or (isinstance(left, int) and abs(left).bit_length() * abs(right) > 4096)):
                raise ValueError("exponent too large for a pipeline template")
            if operator == "*" and any(isinstance(x, (str, list, tuple)) for x in (left, right)):
                n = right if isinstance(right, int) else left
                item = left if isinstance(right, int) else right
                if isinstance(n, int) and hasattr(item, "__len__") and len(item) * max(n, 0) > MAX_RENDERED:
                    raise ValueError(f"template result longer than {MAX_RENDERED:,} characters")
            return super().call_binop(context, operator, left, right)

    env = _Bounded(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

    def env_var(name: str, default: Any = _MISSING) -> Any:
        value = os.environ.get(name)
        if value is None:
            if default is _MISSING:
                raise _EnvVarMissing(name)
            return default
        if is_secret_env_name(str(name)):
            _STATE.get().secrets.add(value)
        return value

    def secret(name: str, integration: str | None = None, object: str | None = None) -> str:  # noqa: A002
        """A secret from the environment variable `name`: usable anywhere, masked in every output.
        On Snowflake it is the SECRET object `object` (default: `name`) granted to the task
        procedures through the external access integration `integration` (docs/snowflake.md)."""
        state = _STATE.get()
        value = os.environ.get(name)
        if value is None:
            if state.missing is None:
                raise _SecretMissing(name)
            state.missing.append(name)
            value = f"<secret {name} not set>"
        else:
            state.secrets.add(value)
        if state.refs is not None:
            from dagc.ir import SecretRef

            state.refs[value] = SecretRef(str(name), str(object or name), str(integration) if integration else None)
        return value

    env.globals = {"env_var": env_var, "secret": secret}
    return env


@lru_cache(maxsize=2048)
def _expression(expr: str) -> Any:
    return _env().compile_expression(expr, undefined_to_none=False)


@lru_cache(maxsize=2048)
def _template(text: str) -> Any:
    return _env().from_string(text)


def has_templates(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    return False


def render(doc: Document, data: dict[str, Any], environment: str | None, *, secrets: set[str] | None = None,
           missing_secrets: str = "error", refs: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Render every templated string in `data`; `vars` are rendered first and then shared.

    Secret values met on the way are added to `secrets`. An unset `secret('NAME')` is an error,
    or with missing_secrets="warn" (validation, where CI has no secrets) a warning and a placeholder.
    """
    if not has_templates(data):
        return data, []
    state = _State(secrets if secrets is not None else set(), [] if missing_secrets == "warn" else None, refs)
    token = _STATE.set(state)
    try:
        return _render(doc, data, environment)
    finally:
        _STATE.reset(token)


def _render(doc: Document, data: dict[str, Any], environment: str | None) -> tuple[dict[str, Any], list[Diagnostic]]:
    diags: list[Diagnostic] = []
    raw_vars = data.get("vars") if isinstance(data.get("vars"), dict) else {}
    base_ctx = {"environment": environment, "vars": {}}
    rendered_vars = _walk(doc, raw_vars, ("vars",), base_ctx, diags)
    ctx = {"environment": environment, "vars": rendered_vars}
    out = {k: (rendered_vars if k == "vars" else _walk(doc, v, (k,), ctx, diags)) for k, v in data.items()}
    return out, diags


def _walk(doc: Document, value: Any, path: Path, ctx: dict[str, Any], diags: list[Diagnostic]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(doc, v, path + (k,), ctx, diags) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(doc, v, path + (i,), ctx, diags) for i, v in enumerate(value)]
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return _render_one(doc, value, path, ctx, diags)
    return value


_SIMPLE = re.compile(r"\{\{\s*(?:vars\.([A-Za-z_][A-Za-z0-9_]*)|(environment))\s*\}\}")
_DICT_ATTRS = frozenset(dir(dict))
_NOT_SIMPLE = object()


def _simple(text: str, ctx: dict[str, Any]) -> Any:
    """`{{ vars.NAME }}` / `{{ environment }}` substitution without Jinja2 (most templates are just
    that; Jinja2 costs ~40 ms to import and compiles each template). Anything else, including an
    undefined name (for Jinja2's message), returns _NOT_SIMPLE and goes to the sandbox."""
    rest = _SIMPLE.sub("", text)
    if any(mark in rest for mark in ("{", "}", "\r")):  # other braces: let Jinja2's lexer decide; it normalises \r
        return _NOT_SIMPLE
    variables = ctx.get("vars")
    values = []
    for m in _SIMPLE.finditer(text):
        name = m.group(1)
        if name is None:
            values.append(ctx.get("environment"))
        elif isinstance(variables, dict) and name in variables and name not in _DICT_ATTRS:
            values.append(variables[name])
        else:
            return _NOT_SIMPLE
    sole = _SOLE_EXPR.match(text)
    if sole and len(values) == 1 and _SIMPLE.fullmatch(text.strip()):
        return values[0]  # a sole expression keeps its native type, as in _evaluate
    it = iter(values)
    return _SIMPLE.sub(lambda _: str(next(it)), text)


def _render_one(doc: Document, text: str, path: Path, ctx: dict[str, Any], diags: list[Diagnostic]) -> Any:
    value = _simple(text, ctx)
    if value is not _NOT_SIMPLE:
        return value
    from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    pos = doc.pos(path)
    line, col = pos.line, pos.col
    missing = _STATE.get().missing
    seen = len(missing) if missing is not None else 0
    try:
        return _evaluate(text, ctx)
    except UndefinedError as exc:
        msg, hint = f"template error: {exc.message}", "define it under `vars:` and use it as {{ vars.NAME }}"
        names = sorted(map(str, ctx["vars"])) if isinstance(ctx.get("vars"), dict) else []  # keys may be true/1
        if names:
            hint += f" (defined: {', '.join(names)})"
    except SecurityError as exc:
        msg, hint = f"template refused by the sandbox: {exc}", "templates may use vars, environment and env_var() only"
    except _SecretMissing as exc:
        msg = f"template error: secret {exc.args[0]} is not set (environment variable {exc.args[0]})"
        hint = f"export {exc.args[0]}=... before running or deploying; `dagc validate` accepts it unset"
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
    finally:
        for name in (missing or [])[seen:]:
            diags.append(Diagnostic("DAGC211", f"secret {name} is not set; validated with a placeholder", doc.path,
                                    line, col, hint=f"export {name}=... where the pipeline runs or deploys",
                                    severity=Severity.WARNING))
    diags.append(Diagnostic("DAGC210", msg, doc.path, line, col, hint=hint))
    return text


def _evaluate(text: str, ctx: dict[str, Any]) -> Any:
    from jinja2 import Undefined

    sole = _SOLE_EXPR.match(text)
    if sole and "{{" not in sole.group("expr") and "{%" not in text:
        value = _expression(sole.group("expr"))(**ctx)
        if isinstance(value, Undefined):  # a bare `{{ vars.nope }}` returns Undefined instead of raising
            value._fail_with_undefined_error()
        return value
    return _template(text).render(**ctx)
