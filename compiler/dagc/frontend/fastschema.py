"""A small, fast yes/no check of a document against the pipeline schema.

`jsonschema` costs ~0.1 s to import and resolves a `$ref` per task, which made schema checking
half of `dagc validate`'s time on large graphs. Almost every file a user validates is valid, so
the front end first asks this checker, compiled once from the same schema file, and only when it
says "not sure" runs jsonschema for the detailed, positioned errors.

It answers True only when the document is certainly valid; anything it does not model (an
unknown keyword, non-string mapping keys, a float where an integer belongs) answers False, which
is always safe: jsonschema then decides. tests/sweep checks that True never disagrees with jsonschema.
"""

from __future__ import annotations

import re
from typing import Any, Callable

Check = Callable[[Any], bool]

_ANNOTATIONS = {"description", "default", "examples", "title", "$schema", "$id", "$comment", "$defs", "deprecated"}


class Unsupported(Exception):
    """The schema uses a keyword this checker does not model; callers fall back to jsonschema."""


def _is_type(value: Any, t: str) -> bool:
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)  # 1.0 is left to jsonschema
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise Unsupported(f"type {t}")


def _plain(value: Any) -> bool:
    """Values whose equality jsonschema and Python agree on (no bool/int mixing, no floats)."""
    return isinstance(value, str) or value is None


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function doc -> bool (True: certainly valid). Raises Unsupported for unknown keywords."""
    defs = schema.get("$defs", {})
    cache: dict[str, Check] = {}

    def ref(name: str) -> Check:
        def check(value: Any) -> bool:
            return cache[name](value)

        return check

    def build(node: Any) -> Check:
        if node is True or node == {}:
            return lambda v: True
        if node is False:
            return lambda v: False
        checks: list[Check] = []
        for key, arg in node.items():
            if key in _ANNOTATIONS:
                continue
            checks.append(keyword(key, arg, node))
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(c(v) for c in checks)

    def keyword(key: str, arg: Any, node: dict[str, Any]) -> Check:
        if key == "$ref":
            if not arg.startswith("#/$defs/"):
                raise Unsupported(arg)
            return ref(arg.rsplit("/", 1)[1])
        if key == "type":
            types = arg if isinstance(arg, list) else [arg]
            for t in types:
                _is_type(None, t)  # raises for an unknown type name
            return lambda v: any(_is_type(v, t) for t in types)
        if key == "enum":
            if not all(_plain(e) for e in arg):
                raise Unsupported("enum of non-strings")
            allowed = frozenset(arg)
            return lambda v: _plain(v) and v in allowed
        if key == "const":
            if not _plain(arg):
                raise Unsupported("const")
            return lambda v: _plain(v) and v == arg
        if key == "pattern":
            rx = re.compile(arg)
            return lambda v: not isinstance(v, str) or rx.search(v) is not None
        if key in ("minimum", "maximum"):
            lo = key == "minimum"
            return lambda v: not _is_type(v, "number") or (v >= arg if lo else v <= arg)
        if key == "minLength":
            return lambda v: not isinstance(v, str) or len(v) >= arg
        if key in ("minItems", "maxItems"):
            lo = key == "minItems"
            return lambda v: not isinstance(v, list) or (len(v) >= arg if lo else len(v) <= arg)
        if key in ("minProperties", "maxProperties"):
            lo = key == "minProperties"
            return lambda v: not isinstance(v, dict) or (len(v) >= arg if lo else len(v) <= arg)
        if key == "required":
            names = list(arg)
            return lambda v: not isinstance(v, dict) or all(n in v for n in names)
        if key == "properties":
            props = {k: build(s) for k, s in arg.items()}
            return lambda v: not isinstance(v, dict) or all(props[k](x) for k, x in v.items() if k in props)
        if key == "additionalProperties":
            known = set(node.get("properties", {}))
            if node.get("patternProperties"):
                raise Unsupported("patternProperties")
            sub = build(arg)
            return lambda v: not isinstance(v, dict) or all(sub(x) for k, x in v.items() if k not in known)
        if key == "propertyNames":
            sub = build(arg)
            return lambda v: not isinstance(v, dict) or all(isinstance(k, str) and sub(k) for k in v)
        if key == "items":
            sub = build(arg)
            return lambda v: not isinstance(v, list) or all(sub(x) for x in v)
        if key == "uniqueItems":
            if not arg:
                return lambda v: True
            return lambda v: not isinstance(v, list) or (all(_plain(x) for x in v) and len(set(v)) == len(v))
        if key in ("oneOf", "anyOf", "allOf"):
            subs = [build(s) for s in arg]
            if key == "allOf":
                return lambda v: all(s(v) for s in subs)
            if key == "anyOf":
                return lambda v: any(s(v) for s in subs)
            return lambda v: sum(1 for s in subs if s(v)) == 1
        raise Unsupported(key)

    for name, sub in defs.items():
        cache[name] = build(sub)
    root = build(schema)

    def check(doc: Any) -> bool:
        try:
            return root(doc)
        except (TypeError, RecursionError):  # e.g. comparing odd values: let jsonschema decide
            return False

    return check
