"""Mapping keys that reach JSON must be text.

Params become a step's keyword arguments and a JSON object in the manifest and on the Snowflake
task; config becomes graph config keys; session parameters are names. YAML reads `1:` or
`true:` as a number or a boolean: Python cannot pass it as a keyword, and a mapping mixing
`1:` and `a:` cannot even be written as sorted JSON. So such keys are refused where they stand.
"""

from __future__ import annotations

from typing import Any, Iterator

from dagc.diagnostics import Diagnostic
from dagc.frontend.checks.context import Checker, rule
from dagc.frontend.load import Document, Path

CODES = {
    "DAGC515": "a mapping key that is not text where JSON keys are needed",
}


def _sections(data: dict[str, Any]) -> Iterator[tuple[Path, Any]]:
    for key in ("session_parameters",):  # config keys: the config encoder reports them (DAGC505)
        if key in data:
            yield (key,), data[key]
    defaults = data.get("defaults")
    if isinstance(defaults, dict) and "params" in defaults:
        yield ("defaults", "params"), defaults["params"]
    for section in ("tasks", "finally"):
        tasks = data.get(section)
        if isinstance(tasks, dict):
            for name, spec in tasks.items():
                if isinstance(spec, dict):
                    for key in ("params", "session_parameters"):
                        if key in spec:
                            yield (section, name, key), spec[key]
                    branch = spec.get("branch")
                    if isinstance(branch, dict) and "cases" in branch:
                        yield (section, name, "branch", "cases"), branch["cases"]
                        if "params" in branch:
                            yield (section, name, "branch", "params"), branch["params"]


def text_keys(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    """DAGC515: a key under params, session_parameters or branch cases that is not text."""
    out = []
    for start, value in _sections(data):
        stack = [(start, value)]
        while stack:
            path, v = stack.pop()
            if isinstance(v, dict):
                for k, x in v.items():
                    if not isinstance(k, str):
                        p = doc.pos(path + (k,), key=True)
                        where = ".".join(map(str, path))
                        out.append(Diagnostic("DAGC515", f"key {k!r} under {where} is a {type(k).__name__}, not text",
                                              doc.path, p.line, p.col,
                                              hint=f"quote it: \"{k}\": (params become keyword arguments and JSON keys)"))
                    stack.append((path + (k,), x))
            elif isinstance(v, list):
                stack.extend((path + (i,), x) for i, x in enumerate(v))
    return sorted(out, key=Diagnostic.sort_key)


@rule("document", "DAGC515")
def keys_rule(ctx: Checker) -> None:
    ctx.diags += text_keys(ctx.doc, ctx.data)
