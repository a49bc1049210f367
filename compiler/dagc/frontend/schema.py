"""JSON Schema validation with errors that point at the key and say how to fix it.

The schema (`pipeline.schema.json`, package data beside this module; `dagc schema` prints it) is the
contract editors use for completion; here we
run it and translate jsonschema's errors (which name validators, not user intent) into
diagnostics: an unknown key becomes "unknown key 'stpe' ... did you mean 'step'?" at the key's
line, a bad enum value lists the valid ones, a `oneOf` failure quotes the key's description.
"""

from __future__ import annotations

import difflib
from contextvars import ContextVar
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from dagc.diagnostics import Diagnostic
from dagc.frontend.load import Document

SCHEMA_PATH = Path(__file__).resolve().parent / "pipeline.schema.json"  # shipped in the wheel as package data
TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
              "number": "a number", "boolean": "true or false", "null": "null"}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _fast_check() -> Any:
    from dagc.frontend.fastschema import Unsupported, compile_schema

    try:
        return compile_schema(schema())
    except Unsupported:  # a schema keyword it does not model: always ask jsonschema
        return lambda doc: False


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # 0.1 s to import: only when a file gets this far

    return Draft202012Validator(schema())


def _env_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"environments": schema()["properties"]["environments"]}}


@lru_cache(maxsize=1)
def _env_fast_check() -> Any:
    from dagc.frontend.fastschema import Unsupported, compile_schema

    try:
        return compile_schema(_env_schema())
    except Unsupported:
        return lambda doc: False


@lru_cache(maxsize=1)
def _env_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_env_schema())


def validate_environments(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    """The `environments:` section's own shape, checked before an overlay is applied (after which
    it is gone): an overlay may not rename the pipeline or declare environments of its own."""
    if "environments" not in data:
        return []
    key = (doc.path, doc.text)
    if key in _ENV_CHECKED and _ENV_CHECKED[key][0] is data["environments"]:  # once per file, not per environment
        return list(_ENV_CHECKED[key][1])
    found = _validate_environments(doc, data)
    if len(_ENV_CHECKED) > 4:
        _ENV_CHECKED.clear()
    _ENV_CHECKED[key] = (data["environments"], found)
    return list(found)


_ENV_CHECKED: dict[tuple[str, str], tuple[Any, list[Diagnostic]]] = {}


def _validate_environments(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    if _env_fast_check()({"environments": data["environments"]}):
        return []
    out: dict[tuple[Any, ...], Diagnostic] = {}
    for err in _env_validator().iter_errors({"environments": data["environments"]}):
        for path, diag in _translate(doc, err):
            out.setdefault((path, diag.code, diag.message), diag)
    return sorted(out.values(), key=Diagnostic.sort_key)


SUGGESTION_BUDGET = 10_000  # string comparisons per file for did-you-mean hints (each costs 10-25 us)
_suggestions: ContextVar[list[int]] = ContextVar("dagc_suggestion_budget")


def reset_suggestions() -> None:
    """A fresh did-you-mean budget for the next file (frontend._check calls this)."""
    _suggestions.set([SUGGESTION_BUDGET])


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A close match among `choices`, within the file's budget of comparisons.

    difflib compares the word with every choice; 999 misspelt `after:` names among 1000 tasks
    made a million comparisons (25 s). Repeated questions are answered from a cache, and once a
    file has spent its budget further hints are left out (the diagnostics themselves are not)."""
    pool = tuple(choices)
    if not pool:
        return None
    try:
        budget = _suggestions.get()
    except LookupError:
        budget = [SUGGESTION_BUDGET]
        _suggestions.set(budget)
    key = (word, pool)
    if key in _ASKED:
        return _ASKED[key]
    if budget[0] < len(pool):
        return None
    budget[0] -= len(pool)
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    answer = f"did you mean {match[0]!r}?" if match else None
    if len(_ASKED) > 4096:
        _ASKED.clear()
    _ASKED[key] = answer
    return answer


_ASKED: dict[tuple[str, tuple[str, ...]], str | None] = {}


def listing(names: Iterable[str], limit: int = 20) -> str:
    """`a, b, c` for a hint, at most `limit` names (a hint on each of 999 tasks must not list 999 names)."""
    items = list(names)
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def _describe(value: Any) -> str:
    for t, name in (((dict,), "a mapping"), ((list,), "a list"), ((bool,), "a boolean"), ((int, float), "a number"),
                    ((str,), "a string"), ((type(None),), "null")):
        if isinstance(value, t):
            return name
    return type(value).__name__


def _where(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def validate(doc: Document, data: Any) -> list[Diagnostic]:
    """All schema problems of `data` (the overlaid, rendered document) as diagnostics."""
    if not isinstance(data, dict):
        p = doc.pos(())
        return [Diagnostic("DAGC101", f"a pipeline must be a mapping of keys, not {_describe(data)}", doc.path,
                           p.line, p.col, hint="start with `name: my_pipeline` and `tasks:`")]
    return validate_with_paths(doc, data)[0]


def validate_with_paths(doc: Document, data: Any) -> tuple[list[Diagnostic], list[tuple[Any, ...]]]:
    """Diagnostics plus the paths of the rejected values (the front end prunes them and goes on)."""
    if not isinstance(data, dict):
        return validate(doc, data), [()]
    if _fast_check()(data):  # certainly valid: skip importing and running jsonschema
        return [], []
    out: dict[tuple[Any, ...], Diagnostic] = {}
    paths: list[tuple[Any, ...]] = []
    for err in _validator().iter_errors(data):
        for path, diag in _translate(doc, err):
            out.setdefault((path, diag.code, diag.message), diag)
            paths.append(path)
    return sorted(out.values(), key=Diagnostic.sort_key), paths


def _translate(doc: Document, err: Any) -> list[tuple[tuple[Any, ...], Diagnostic]]:
    path = tuple(err.absolute_path)
    v = err.validator
    sch = err.schema if isinstance(err.schema, dict) else {}

    def at(p: tuple[Any, ...], code: str, msg: str, hint: str | None = None, key: bool = False) -> tuple[tuple[Any, ...], Diagnostic]:
        pos = doc.pos(p, key=key)
        return p, Diagnostic(code, msg, doc.path, pos.line, pos.col, hint=hint, end_col=pos.end_col)

    if "propertyNames" in err.relative_schema_path:  # a key that may not appear here
        if path in (("tasks",), ("finally",)):
            return []  # task names: reported by the checks (DAGC501) with a fuller explanation
        key = err.instance
        allowed = sch.get("enum")
        hint = did_you_mean(str(key), allowed) if allowed else None
        if allowed and not hint:
            hint = "allowed keys here: " + ", ".join(allowed)
        elif not allowed:
            hint = "use letters, digits and underscores, starting with a letter or underscore"
        return [at(path + (key,), "DAGC102", f"key {key!r} is not allowed in {_where(path)}", hint, key=True)]
    if v == "additionalProperties" and isinstance(err.instance, dict):
        allowed = list(sch.get("properties", {}))
        extras = [k for k in err.instance if k not in allowed]
        out = []
        for k in extras:
            hint = did_you_mean(str(k), allowed)
            if k == "retries" and path and path[0] in ("tasks", "finally"):
                hint = "retries are graph-level in Snowflake (task_auto_retry_attempts): move `retries:` to the top level"
            elif k in ("after", "when") and path and path[0] == "finally":
                hint = "the finalizer has no predecessors: it always runs last, after every other task"
            elif not hint:
                hint = "allowed keys here: " + ", ".join(allowed)
            out.append(at(path + (k,), "DAGC102", f"unknown key {k!r} in {_where(path)}", hint, key=True))
        return out
    if v == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        return [at(path, "DAGC103", f"missing required key {k!r} in {_where(path)}",
                   "a pipeline needs `name:` and `tasks:`" if not path else None, key=True) for k in missing]
    if v == "type":
        want = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        names = " or ".join(TYPE_NAMES.get(t, t) for t in want)
        return [at(path, "DAGC104", f"{_where(path)} must be {names}, not {_describe(err.instance)}")]
    if v == "enum":
        choices = [str(c) for c in err.validator_value]
        hint = did_you_mean(str(err.instance), choices) or "one of: " + ", ".join(choices)
        return [at(path, "DAGC105", f"{err.instance!r} is not a valid value for {_where(path)}", hint)]
    if v in ("oneOf", "anyOf", "pattern"):
        desc = sch.get("description") or _parent_description(path)
        return [at(path, "DAGC106", f"invalid value {err.instance!r} for {_where(path)}", desc)]
    if v in ("minimum", "maximum", "minProperties", "maxProperties", "minLength", "uniqueItems"):
        hint = None
        if v == "maxProperties" and path == ("finally",):
            return [at(path, "DAGC305", "more than one finalizer: a graph has at most one", "keep one task under `finally:`; "
                       "run the others as its predecessors' successors or merge them into one step", key=True)]
        return [at(path, "DAGC107", f"{_where(path)}: {err.message}", hint)]
    return [at(path, "DAGC100", f"{_where(path)}: {err.message}")]


def _parent_description(path: tuple[Any, ...]) -> str | None:
    node: Any = schema()
    for part in path:
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        if part in props:
            node = props[part]
        elif isinstance(node, dict) and isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
        if "$ref" in node:
            node = schema()["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node.get("description") if isinstance(node, dict) else None
