"""Expansion before the build (DAGC701-706, DAGC309): `include:`, `templates:`/`extends:`, `matrix:`.

The result is ordinary task data, so every later rule sees plain tasks. Positions travel with the
values: a key a task takes from a template points at the template's line (in the included file,
when it came from one), and every expansion of a matrix task points at the task's own lines, its
matrix values standing for the params they become. Limits are counted on the expanded graph.
An included file's `{{ }}` render with the including pipeline's vars (template.render_included).
"""

from __future__ import annotations

import copy
import itertools
import os
from typing import Any

from dagc.diagnostics import Severity
from dagc.frontend.checks.context import Checker
from dagc.frontend.checks.limits import MAX_TASKS
from dagc.frontend.load import Document, Path, Pos
from dagc.frontend.schema import did_you_mean
from dagc.values import is_identifier

CODES = {
    "DAGC309": "a matrix expands past Snowflake's task limit",
    "DAGC701": "matrix value that cannot be part of a task name",
    "DAGC702": "expanded task name collides with another task",
    "DAGC703": "extends names no template",
    "DAGC704": "templates extend each other in a cycle",
    "DAGC705": "include: file cannot be used",
    "DAGC706": "a matrix axis is also set in params",
}
MATRIX_OF = "__matrix_of__"  # marks an expanded spec with the task it came from (ir.Task.source)
_MERGED = ("params", "session_parameters")
_BROKEN = "__broken__"  # a template whose file had errors (already reported)  # merged one level deep (the task's keys win); others replace


class _Positions:
    """Copy the positions of every path under one prefix to another prefix (one index, built once)."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.by_head: dict[Path, list[Path]] = {}
        for table in (doc.values, doc.keys):
            for p in table:
                self.by_head.setdefault(p[:2], []).append(p)

    def alias(self, src: Path, dst: Path, file: str = "") -> None:
        for p in self.by_head.get(src[:2], ()):
            if p[:len(src)] != src:
                continue
            new = dst + p[len(src):]
            for table in (self.doc.values, self.doc.keys):
                if p in table and new not in table:
                    pos = table[p]
                    table[new] = Pos(pos.line, pos.col, pos.end_col, file or pos.file)

    def point(self, dst: Path, src: Path) -> None:
        """Make `dst` (and its key) report at `src`'s value."""
        pos = self.doc.values.get(src)
        if pos is not None:
            self.doc.values[dst] = pos
            self.doc.keys[dst] = pos


def expand(ctx: Checker) -> dict[str, Any]:
    data = dict(ctx.data)
    if not any(k in data for k in ("templates", "include")) and not _has_matrix(data):
        return data
    templates = _templates(ctx, data)
    pos = _Positions(ctx.doc)
    for section in ("tasks", "finally"):
        raw = data.get(section)
        if isinstance(raw, dict):
            data[section] = {name: _extend(ctx, pos, templates, section, str(name), spec)
                             for name, spec in raw.items()}
    if isinstance(data.get("tasks"), dict):
        data["tasks"] = _matrix(ctx, pos, data["tasks"])
    data.pop("templates", None)
    data.pop("include", None)
    return data


def _has_matrix(data: dict[str, Any]) -> bool:
    return any(isinstance(s, dict) and "matrix" in s for s in (data.get("tasks") or {}).values())


# -- templates and include ------------------------------------------------------------------------
def _templates(ctx: Checker, data: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (settings, file it came from: "" for this document)."""
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for i, rel in enumerate(data.get("include") or []):
        for name, spec in _include(ctx, str(rel), ("include", i)).items():
            out.setdefault(name, (spec, os.path.normpath(os.path.join(os.path.dirname(ctx.doc.path), str(rel)))))
    for name, spec in (data.get("templates") or {}).items():
        out[str(name)] = (spec or {}, "")  # the file's own templates win
    return out


def _include(ctx: Checker, rel: str, where: Path) -> dict[str, Any]:
    from dagc.frontend import load as yamlload
    from dagc.frontend import schema, template

    path = os.path.normpath(os.path.join(os.path.dirname(ctx.doc.path), rel))
    text, diags = yamlload.read_text(path)
    if text is None:
        ctx.err("DAGC705", f"include {rel!r}: {diags[0].message}", where,
                "paths are relative to the pipeline file")
        return {}
    inc, diags = yamlload.load(path, text)
    ctx.diags.extend(diags)
    if diags:
        return {}
    body = inc.data
    if not isinstance(body, dict) or set(body) - {"templates"} or not isinstance(body.get("templates"), dict):
        ctx.err("DAGC705", f"include {rel!r} must hold only `templates:` (a mapping of named task settings)", where,
                "move tasks and graph settings into the pipeline; share only task settings")
        return {}
    # {{ }} in the file render as the pipeline's own do (its vars, environment, sandbox and secrets),
    # reported at the file's lines; then the templates are checked with the pipeline's schema there
    body, tdiags = template.render_included(inc, body, ctx.data.get("vars"), ctx.environment, **ctx.templating)
    ctx.diags.extend(tdiags)
    if any(d.severity is Severity.ERROR for d in tdiags):
        return {str(k): {_BROKEN: True} for k in body["templates"]}
    ctx.doc.included[path] = text  # carets inside its strings (load.locate)
    probe = {"name": "include", "tasks": {"t": {"sql": "-"}}, "templates": body["templates"]}
    found = [d for d in schema.validate(inc, probe)]
    ctx.diags.extend(found)
    if found:  # reported in that file; tasks extending these templates are not reported again
        return {str(k): {_BROKEN: True} for k in body["templates"]}
    for table, mine in ((inc.values, ctx.doc.values), (inc.keys, ctx.doc.keys)):
        for p, q in table.items():
            if p[:1] == ("templates",) and p not in mine:
                mine[p] = Pos(q.line, q.col, q.end_col, path)
    return {str(k): v or {} for k, v in body["templates"].items()}


def _unresolved(ctx: Checker, section: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A task whose template is missing: reported once; its missing step/sql is not reported again."""
    ctx.pruned = ctx.pruned | {(section, name, k) for k in ("step", "sql", "branch")}
    return {k: v for k, v in spec.items() if k != "extends"}


def _extend(ctx: Checker, pos: _Positions, templates: dict[str, tuple[dict[str, Any], str]], section: str,
            name: str, spec: Any) -> Any:
    if not isinstance(spec, dict) or "extends" not in spec:
        return spec
    chain: list[str] = []
    here: Path = (section, name, "extends")
    cur = str(spec["extends"])
    while True:
        if cur in chain:
            loop = chain[chain.index(cur):]
            if frozenset(loop) not in ctx.reported_cycles:  # once per cycle, however many tasks use it
                ctx.reported_cycles.add(frozenset(loop))
                ctx.err("DAGC704", "templates extend each other in a cycle: " + " -> ".join(loop + [cur]), here,
                        "remove one `extends:`")
            return _unresolved(ctx, section, name, spec)
        if cur not in templates:
            ctx.err("DAGC703", f"no template {cur!r}", here,
                    did_you_mean(cur, templates) or (f"templates: {', '.join(sorted(templates))}" if templates else
                                                     "define it under `templates:` (or `include:` a file of them)"))
            return _unresolved(ctx, section, name, spec)
        chain.append(cur)
        body = templates[cur][0]
        if _BROKEN in body:
            return _unresolved(ctx, section, name, spec)
        if "extends" not in body:
            break
        here = ("templates", cur, "extends")
        cur = str(body["extends"])
    merged: dict[str, Any] = {}
    for tname in reversed(chain):  # the farthest template first, so nearer ones override it
        body = templates[tname][0]
        for key, value in body.items():
            if key == "extends":
                continue
            if key in _MERGED and isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **copy.deepcopy(value)}
                for k in value:
                    pos.alias(("templates", tname, key, k), (section, name, key, k))
            else:
                merged[key] = copy.deepcopy(value)
                pos.alias(("templates", tname, key), (section, name, key))
    for key, value in spec.items():
        if key == "extends":
            continue
        if key in _MERGED and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


# -- matrix ---------------------------------------------------------------------------------------
def _label(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _matrix(ctx: Checker, pos: _Positions, tasks: dict[Any, Any]) -> dict[Any, Any]:
    expansions: dict[str, list[str]] = {}
    out: dict[Any, Any] = {}
    declared = {str(n) for n in tasks}
    total = len(tasks)
    for name, spec in tasks.items():
        if not isinstance(spec, dict) or "matrix" not in spec:
            out[name] = spec
            continue
        name = str(name)
        axes = {str(k): list(v) for k, v in spec["matrix"].items()}
        combos = list(itertools.islice(itertools.product(*axes.values()), MAX_TASKS + 1))
        total += len(combos) - 1
        if total + 1 > MAX_TASKS:
            n = 1
            for v in axes.values():
                n *= len(v)
            ctx.err("DAGC309", f"matrix of task {name!r} expands to {n:,} tasks; with the rest the graph would pass "
                    f"Snowflake's {MAX_TASKS} tasks", ("tasks", name, "matrix"), "split the pipeline", key=True)
            return tasks
        bad = False
        for axis, values in axes.items():
            if axis in (spec.get("params") or {}):
                ctx.err("DAGC706", f"params.{axis} is also a matrix axis of task {name!r}; each expansion gets "
                        f"{axis}=<its value>", ("tasks", name, "params", axis), "remove it from params", key=True)
                bad = True
            for i, v in enumerate(values):
                if not is_identifier(f"x{_label(v)}"):
                    ctx.err("DAGC701", f"matrix value {v!r} cannot be part of a task name ({name}_{_label(v)})",
                            ("tasks", name, "matrix", axis, i),
                            "use letters, digits and underscores; map other values in params from a name")
                    bad = True
        names = []
        for combo in combos:
            new = "_".join([name] + [_label(v) for v in combo])
            if new in declared or new in out:
                ctx.err("DAGC702", f"matrix of task {name!r} makes {new!r}, which is already a task",
                        ("tasks", name, "matrix"), "rename one of them", key=True)
                bad = True
                continue
            body = {k: v for k, v in spec.items() if k != "matrix"}
            body["params"] = {**(spec.get("params") or {}), **dict(zip(axes, combo))}
            body[MATRIX_OF] = name
            ctx.pruned = ctx.pruned | {("tasks", new) + p[2:] for p in ctx.pruned if p[:2] == ("tasks", name)}
            pos.alias(("tasks", name), ("tasks", new))
            for axis, value in zip(axes, combo):
                pos.point(("tasks", new, "params", axis), ("tasks", name, "matrix", axis, axes[axis].index(value)))
            out[new] = body
            names.append(new)
        if bad:
            return tasks
        expansions[name] = names
    if not expansions:
        return out
    for name, spec in out.items():  # `after: [retrain]` means after every expansion of retrain
        if not isinstance(spec, dict) or not any(a in expansions for a in spec.get("after") or ()):
            continue
        src = ("tasks", spec.get(MATRIX_OF, name), "after")
        after: list[Any] = []
        for i, a in enumerate(spec["after"]):
            for b in expansions.get(a, [a]):
                pos.point(("tasks", str(name), "after", len(after)), src + (i,))
                after.append(b)
        spec = out[name] = {**spec, "after": after}
    return out
