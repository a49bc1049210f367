"""Jinja2 templating of string values, in a sandbox.

Pipelines are reviewed as data; a template must not reach Python internals (`''.__class__`),
read the environment implicitly, or turn an undefined variable into an empty string that a
deploy then ships. So: `SandboxedEnvironment`, `StrictUndefined`, and environment variables
only through `env_var("NAME", "default")`. A value that is exactly one `{{ expression }}` keeps
its native type, so `rows: "{{ vars.rows }}"` stays an integer.
"""

from __future__ import annotations

import math
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dagc.diagnostics import Diagnostic, Severity
from dagc.frontend.load import Document, Path

_SOLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.S)
_MISSING = object()
MAX_RENDERED = 1_000_000  # characters one template value (or any intermediate value) may hold
MAX_STEPS = 50_000  # loop iterations, calls, operators and output chunks, all templates of a file together
MAX_SECONDS = 0.5  # evaluation time, all templates of a file together
MAX_INT_BITS = 4096  # far beyond NUMBER(38,0); squaring in a loop stops here
MAX_CALL_DEPTH = 40  # macros calling macros, loop() recursion


class _EnvVarMissing(Exception):
    pass


class _SecretMissing(Exception):
    pass


class BudgetExceeded(Exception):
    """A template went over its file's budget (steps, time, size of a value, depth of calls)."""


@dataclass
class Budget:
    """What the templates of one file may spend, all of them together.

    Checked inside the sandbox (every loop iteration, call, operator, filter and output chunk
    ticks it), so no shape of template can run long or build a large value: the work is bounded
    by the budget, not by recognising dangerous operators.
    """

    steps: int = MAX_STEPS
    seconds: float = MAX_SECONDS
    spent: float = 0.0  # seconds used by finished evaluations
    started: float = 0.0  # start of the evaluation under way
    depth: int = 0

    def tick(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise BudgetExceeded(f"it takes more than {MAX_STEPS:,} steps (loops, calls, operators)")
        if self.steps % 64 == 0 and self.spent + time.monotonic() - self.started > self.seconds:
            raise BudgetExceeded(f"it runs longer than {self.seconds:g} s")


@dataclass
class _State:
    """What one render collects: secret values met, and unset secrets (None: unset is an error)."""

    secrets: set[str]
    missing: list[str] | None
    refs: dict[str, Any] | None = None  # secret value -> ir.SecretRef
    budget: Budget = field(default_factory=Budget)


_STATE: ContextVar[_State] = ContextVar("dagc_template_state")


def _budget() -> Budget:
    try:
        return _STATE.get().budget
    except LookupError:  # the environment used outside render() (not in dagc): a fresh budget per call;
        return Budget(started=time.monotonic())  # render() is what bounds a file


def _size(value: Any) -> int:
    """A cheap bound on how much memory a value stands for, in characters (shallow for containers)."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 3
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        n = len(value)
        items = value.values() if isinstance(value, dict) else value
        if n > MAX_RENDERED:
            return n
        return n + sum(len(v) for v in items if isinstance(v, (str, bytes)))
    return 0


def _check_result(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded(f"it builds an integer of more than {MAX_INT_BITS:,} bits")
    if _size(value) > MAX_RENDERED:
        raise BudgetExceeded(f"it builds a value of more than {MAX_RENDERED:,} characters")
    return value


def _too_big(n: Any, what: str) -> None:
    if isinstance(n, int) and not isinstance(n, bool) and n > MAX_RENDERED:
        raise BudgetExceeded(f"{what} {n:,} is more than the {MAX_RENDERED:,} characters a value may hold")


_WIDTH = re.compile(r"[%{][^%{}a-zA-Z]*?(\d+)")


def _precheck(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, before the work is done, calls whose result would be far larger than their input:
    the size they would allocate is computed from the arguments."""
    size = _size(value)
    if name in ("center", "ljust", "rjust", "zfill", "expandtabs", "truncate", "batch", "slice", "indent",
                "wordwrap", "filesizeformat"):
        for a in (*args, *kwargs.values()):
            _too_big(a, f"{name} width")
    if name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        w = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        lines = value.count("\n") + 1 if isinstance(value, str) else 1
        if lines * w + size > MAX_RENDERED:
            raise BudgetExceeded(f"indent would build more than {MAX_RENDERED:,} characters")
    elif name == "replace" and isinstance(value, str) and args:
        old = str(args[0])
        new = str(args[1]) if len(args) > 1 else str(kwargs.get("new", ""))
        hits = value.count(old) if old else len(value) + 1
        count = args[2] if len(args) > 2 else kwargs.get("count")
        if isinstance(count, int) and 0 <= count < hits:
            hits = count
        if size + hits * len(new) > MAX_RENDERED:
            raise BudgetExceeded(f"replace would build more than {MAX_RENDERED:,} characters")
    elif name == "join":
        sep = args[0] if args else kwargs.get("d", "")
        n = len(value) if hasattr(value, "__len__") else 0
        if isinstance(sep, str) and n * len(sep) > MAX_RENDERED:
            raise BudgetExceeded(f"join would build more than {MAX_RENDERED:,} characters")
    elif name == "wordwrap" and isinstance(value, str):
        width = args[0] if args else kwargs.get("width", 79)
        wrap = args[2] if len(args) > 2 else kwargs.get("wrapstring") or "\n"
        if isinstance(width, int) and width > 0 and isinstance(wrap, str) and (size // width + 1) * len(wrap) > MAX_RENDERED:
            raise BudgetExceeded(f"wordwrap would build more than {MAX_RENDERED:,} characters")
    elif name in ("format", "format_map"):
        if isinstance(value, str):
            for m in _WIDTH.finditer(value):
                if len(m.group(1)) > 6:
                    raise BudgetExceeded(f"a format width of {m.group(1)} is more than a value may hold")
            if "*" in value:
                for a in args:
                    _too_big(a, "format width")


def _precheck_binop(op: str, left: Any, right: Any) -> None:
    ints = all(isinstance(x, int) and not isinstance(x, bool) for x in (left, right))
    if op == "**" and isinstance(right, int) and isinstance(left, (int, float)) and not isinstance(right, bool):
        if abs(right) > 64 and abs(left) not in (0, 1) or (isinstance(left, int) and abs(left).bit_length() * abs(right) > MAX_INT_BITS):
            raise BudgetExceeded("the power is too large for a pipeline template")
    elif op == "*" and ints:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise BudgetExceeded(f"the product has more than {MAX_INT_BITS:,} bits")
    elif op == "*":
        n, item = (right, left) if isinstance(right, int) else (left, right)
        if isinstance(n, int) and hasattr(item, "__len__") and len(item) * max(n, 0) > MAX_RENDERED:
            raise BudgetExceeded(f"it builds a value of more than {MAX_RENDERED:,} characters")
    elif op == "+" and _size(left) + _size(right) > MAX_RENDERED:
        raise BudgetExceeded(f"it builds a value of more than {MAX_RENDERED:,} characters")
    elif op == "%" and isinstance(left, str):
        _precheck("format", left, right if isinstance(right, tuple) else (right,), {})


def _wrap_filter(name: str, fn: Any) -> Any:
    import functools

    passes_arg = hasattr(fn, "jinja_pass_arg")

    @functools.wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        rest = args[1:] if passes_arg else args
        if rest:
            _precheck(name, rest[0], tuple(rest[1:]), kwargs)
        return _check_result(fn(*args, **kwargs))

    return bounded


def _ticking(value: Any) -> Any:
    """What every `{% for %}` iterates over: the same items, one budget step each."""
    budget = _budget()
    for item in value:
        budget.tick()
        yield item


@lru_cache(maxsize=1)
def _env() -> Any:
    """One sandboxed environment per process (so compiled templates can be cached); the per-render
    state that env_var()/secret() record into, and the budget, live in a context variable."""
    from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from dagc.redact import is_secret_env_name

    class _Generator(CodeGenerator):  # type: ignore[misc]
        """`a ~ b` is joined by the environment's bounded join instead of a bare str.join."""

        def visit_Concat(self, node: Any, frame: Any) -> None:
            self.write("environment.bounded_join((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class _Bounded(ImmutableSandboxedEnvironment):  # type: ignore[misc]
        """The sandbox, with every evaluation charged to the file's budget (see Budget)."""

        intercepted_binops = frozenset(["+", "-", "*", "/", "//", "%", "**"])
        code_generator_class = _Generator

        def _generate(self, source: Any, name: Any, filename: Any, defer_init: bool = False) -> Any:
            """Every template and expression passes here as a tree before it becomes Python."""
            for const in source.find_all(nodes.Const):  # `1e400` is inf, which compiled code cannot spell
                if isinstance(const.value, float) and not math.isfinite(const.value):
                    raise TemplateSyntaxError("number out of range (it is not a finite float)", const.lineno,
                                              name, filename)
            for loop in source.find_all(nodes.For):
                loop.iter = nodes.Filter(loop.iter, "dagc_ticking", [], [], None, None, lineno=loop.lineno)
            return super()._generate(source, name, filename, defer_init)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _budget().tick()
            _precheck_binop(operator, left, right)
            return _check_result(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            budget = _budget()
            budget.tick()
            bound = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format / format_map
            owner = getattr(bound, "__self__", None)
            if isinstance(owner, (str, list, tuple, dict)):
                _precheck(getattr(bound, "__name__", ""), owner, args, kwargs)
            if budget.depth >= MAX_CALL_DEPTH:
                raise BudgetExceeded(f"calls nest deeper than {MAX_CALL_DEPTH} (a macro or loop() calling itself?)")
            budget.depth += 1
            try:
                value = super().call(__context, __obj, *args, **kwargs)
                # env_var()/secret() hand over a value that exists already (its size is the config
                # limit's business, DAGC508); everything else is computed here and must fit the budget
                return value if getattr(__obj, "dagc_source", False) else _check_result(value)
            finally:
                budget.depth -= 1

        def bounded_join(self, parts: Any) -> str:
            budget = _budget()
            budget.tick()
            out = [str(p) for p in parts]
            if sum(map(len, out)) > MAX_RENDERED:
                raise BudgetExceeded(f"it builds a value of more than {MAX_RENDERED:,} characters")
            return "".join(out)

        def concat(self, chunks: Any) -> str:  # type: ignore[override]
            """Template output, chunk by chunk, within the budget (a loop's output included)."""
            budget = _budget()
            out: list[str] = []
            total = 0
            for chunk in chunks:
                budget.tick()
                total += len(chunk)
                if total > MAX_RENDERED:
                    raise BudgetExceeded(f"its output is longer than {MAX_RENDERED:,} characters")
                out.append(chunk)
            return "".join(out)

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

    env_var.dagc_source = secret.dagc_source = True  # type: ignore[attr-defined]
    env.globals = {"env_var": env_var, "secret": secret}
    env.filters = {name: _wrap_filter(name, fn) for name, fn in env.filters.items()}
    env.filters["dagc_ticking"] = _ticking
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


def render_included(doc: Document, data: Any, variables: Any, environment: str | None, *,
                    secrets: set[str] | None = None, missing_secrets: str = "error",
                    refs: dict[str, Any] | None = None) -> tuple[Any, list[Diagnostic]]:
    """Render an `include:`d file (`doc` is that file) with the including pipeline's rendered `vars`
    and environment, in the same sandbox and with the same secret handling as `render`.

    An included file has no `vars:` of its own: a template shared between pipelines reads the
    variables of whichever pipeline includes it. Errors are reported at the included file's lines.
    """
    if not has_templates(data):
        return data, []
    state = _State(secrets if secrets is not None else set(), [] if missing_secrets == "warn" else None, refs)
    token = _STATE.set(state)
    try:
        diags: list[Diagnostic] = []
        ctx = {"environment": environment, "vars": variables if isinstance(variables, dict) else {}}
        return _walk(doc, data, (), ctx, diags), diags
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
    code = "DAGC210"
    budget = _STATE.get().budget
    budget.started = time.monotonic()
    try:
        return _evaluate(text, ctx)
    except BudgetExceeded as exc:
        code = "DAGC212"
        msg = f"template refused: {exc}"
        hint = ("a pipeline template computes a value, not a workload; each file's templates share a budget of "
                f"{MAX_STEPS:,} steps, {MAX_SECONDS:g} s and {MAX_RENDERED:,} characters per value")
    except RecursionError:
        code = "DAGC212"
        msg = "template refused: it nests too deeply"
        hint = "split the expression, or compute the value outside the pipeline"
    except UndefinedError as exc:
        msg, hint = f"template error: {exc.message}", "define it under `vars:` and use it as {{ vars.NAME }}"
        names = sorted(map(str, ctx["vars"])) if isinstance(ctx.get("vars"), dict) else []  # keys may be true/1
        if names:
            from dagc.frontend.schema import listing

            hint += f" (defined: {listing(names)})"
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
    except NotData as exc:
        msg, hint = f"template error: {exc}", "a template gives text, a number, a boolean, a list or a mapping"
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError, MemoryError) as exc:
        msg, hint = f"template error: {type(exc).__name__}: {str(exc)[:200]}", None
    finally:
        budget.spent += time.monotonic() - budget.started
        for name in (missing or [])[seen:]:
            diags.append(Diagnostic("DAGC211", f"secret {name} is not set; validated with a placeholder", doc.path,
                                    line, col, hint=f"export {name}=... where the pipeline runs or deploys",
                                    severity=Severity.WARNING))
    diags.append(Diagnostic(code, msg, doc.path, line, col, hint=hint))
    return text


class NotData(TypeError):
    """A sole expression produced something that is not YAML-like data (a function, a generator...)."""


def _plain(value: Any, depth: int = 0) -> Any:
    """The value of a sole `{{ expression }}` as plain data (str, int, float, bool, None, list, dict).

    Everything after the front end copies, hashes and serialises values; a function, generator or
    Markup object would fail there, far from the template that made it. Tuples become lists.
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, str):  # Markup and other str subclasses
        return str(value)
    if depth > 64:
        raise NotData("the value nests too deeply")
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in value.items()}
    hint = " (a filter such as map or select gives a generator: add |list)" if hasattr(value, "__next__") else ""
    raise NotData(f"the expression gives a {type(value).__name__}, not a value{hint}")


def _evaluate(text: str, ctx: dict[str, Any]) -> Any:
    from jinja2 import Undefined

    budget = _budget()
    sole = _SOLE_EXPR.match(text)
    if sole and "{{" not in sole.group("expr") and "{%" not in text:
        fn = _expression(sole.group("expr"))
        budget.started = time.monotonic()  # compiling is linear in the text; only evaluation is charged
        value = fn(**ctx)
        if isinstance(value, Undefined):  # a bare `{{ vars.nope }}` returns Undefined instead of raising
            value._fail_with_undefined_error()
        return _plain(value)
    template = _template(text)
    budget.started = time.monotonic()
    return template.render(**ctx)
