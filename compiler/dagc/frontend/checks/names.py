"""Snowflake names (DAGC501, DAGC502, DAGC511, DAGC512): everything that reaches SQL as an identifier.

A name that does not match is refused before it can reach a statement, so none of them can inject
SQL. Quoted identifiers are allowed where Snowflake allows them (object names), not for dagc's own
pipeline and task names, which are joined as `<pipeline>$<task>`.
"""

from __future__ import annotations

from typing import Any

from dagc.frontend.checks.context import Checker, TaskSource, rule
from dagc.diagnostics import Diagnostic
from dagc.frontend.load import Document, Path
from dagc.values import PACKAGE, QUALIFIED, STAGE, is_identifier

CODES = {
    "DAGC501": "pipeline or task name is not a Snowflake identifier",
    "DAGC502": "object, package, stage or parameter name is not a plain Snowflake name",
    "DAGC511": "task names that differ only in case (one Snowflake task)",
    "DAGC512": "<pipeline>$<task> longer than a Snowflake identifier",
}
_TASK_HINT = "use letters, digits and underscores, starting with a letter or underscore"


@rule("pipeline", "DAGC501")
def pipeline_and_task_names(ctx: Checker) -> None:
    name = ctx.data.get("name")
    if not is_identifier(name):
        ctx.err("DAGC501", f"pipeline name {name!r} is not a valid Snowflake identifier", ("name",),
                "use letters, digits and underscores, starting with a letter or underscore (no `$`: dagc uses "
                "it to join <pipeline>$<task>)")
    for section in ("tasks", "finally"):
        for t in ctx.data.get(section) or {}:
            if not is_identifier(t):  # `2:` or `true:` as a task name is reported here too, then named as text
                ctx.err("DAGC501", f"task name {t!r} is not a valid Snowflake identifier", (section, t), _TASK_HINT,
                        key=True)


@rule("pipeline", "DAGC502")
def pipeline_object_names(ctx: Checker) -> None:
    d = ctx.data
    for key in ("warehouse", "error_integration"):
        object_name(ctx, d.get(key), (key,))
    for key in ("success_integration", "execute_as_user"):
        object_name(ctx, (d.get("defaults") or {}).get(key), ("defaults", key))
    if isinstance(d.get("trigger"), dict):
        object_name(ctx, d["trigger"].get("stream"), ("trigger", "stream"))
    for stream, table in (d.get("streams") or {}).items():
        object_name(ctx, stream, ("streams", stream))
        object_name(ctx, table, ("streams", stream))
    if d.get("stage") is not None and not STAGE.match(str(d["stage"])):
        ctx.err("DAGC502", f"stage {d['stage']!r} is not a stage name", ("stage",),
                "write @DATABASE.SCHEMA.STAGE (optionally /path); quotes, spaces and semicolons are refused")
    for i, pkg in enumerate(d.get("packages") or []):
        if not PACKAGE.match(str(pkg)):
            ctx.err("DAGC502", f"package {pkg!r} is not a package specifier", ("packages", i), "e.g. xgboost or xgboost==2.1.1")
    for i, imp in enumerate(d.get("imports") or []):
        if not STAGE.match(str(imp)):
            ctx.err("DAGC502", f"import {imp!r} is not a stage path", ("imports", i), "e.g. @ML.DEV.DAGC_STAGE/libs/util.zip")
    session_parameter_names(ctx, d.get("session_parameters"), ("session_parameters",))


@rule("task", "DAGC502")
def task_object_names(ctx: Checker, src: TaskSource) -> None:
    object_name(ctx, _warehouse_as_written(src), src.path + ("warehouse",))
    compute = src.spec.get("compute")
    if compute:
        object_name(ctx, compute.get("pool"), src.path + ("compute", "pool"))
        for i, name in enumerate(compute.get("external_access_integrations") or ()):
            object_name(ctx, name, src.path + ("compute", "external_access_integrations", i))
    for key in ("success_integration", "execute_as_user"):
        object_name(ctx, src.spec.get(key), src.path + (key,))
    sess = src.spec.get("session_parameters", src.defaults.get("session_parameters")) or {}
    session_parameter_names(ctx, sess, src.path + ("session_parameters",))


def _warehouse_as_written(src: TaskSource) -> Any:
    """The task's warehouse, or the default's when the task sets neither warehouse nor serverless."""
    if src.spec.get("warehouse") is None and src.spec.get("serverless") is None:
        return src.defaults.get("warehouse")
    return src.spec.get("warehouse")


def object_name(ctx: Checker, value: Any, path: Path) -> None:
    if value is not None and not QUALIFIED.match(str(value)):
        ctx.err("DAGC502", f"{path[-1]} {value!r} is not a Snowflake object name", path,
                "use NAME or DATABASE.SCHEMA.NAME; spaces, quotes inside names and semicolons are refused "
                "(they could inject SQL)")


def session_parameter_names(ctx: Checker, value: Any, path: Path) -> None:
    for k in value or {}:
        if not is_identifier(k):
            ctx.err("DAGC502", f"session parameter {k!r} is not a parameter name", path + (k,), key=True)


# Task names as Snowflake sees them: dagc creates each task as `<pipeline>$<task>` unquoted, so
# Snowflake folds it to upper case: `load` and `LOAD` would be one task (the second CREATE OR
# REPLACE silently replaces the first), and a name over 255 characters is refused at deploy time.
# Checked on the document as written (before matrix expansion), where every name has a position.
MAX_IDENTIFIER = 255  # Snowflake: identifiers are at most 255 characters
  # Snowflake: identifiers are at most 255 characters


def _task_names(data: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for section in ("tasks", "finally"):
        names = data.get(section)
        if isinstance(names, dict):
            out += [(section, k) for k in names if isinstance(k, str)]
    return out


def name_case_collisions(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    """DAGC511: two task names that differ only in case (one Snowflake task)."""
    first: dict[str, tuple[str, str]] = {}
    out = []
    for section, name in _task_names(data):
        folded = name.upper()
        if folded in first and first[folded][1] != name:
            other_section, other = first[folded]
            p = doc.pos((section, name), key=True)
            q = doc.pos((other_section, other), key=True)
            out.append(Diagnostic("DAGC511", f"task names {other!r} and {name!r} differ only in case; Snowflake "
                                  f"folds both to {folded} (first at line {q.line})", doc.path, p.line, p.col,
                                  hint="rename one of them: unquoted Snowflake names are case-insensitive"))
        else:
            first.setdefault(folded, (section, name))
    return out


def qualified_name_length(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    """DAGC512: `<pipeline>$<task>` longer than a Snowflake identifier may be."""
    pipeline = data.get("name")
    if not isinstance(pipeline, str):
        return []
    out = []
    if len(pipeline) > MAX_IDENTIFIER:
        p = doc.pos(("name",))
        out.append(Diagnostic("DAGC512", f"pipeline name is {len(pipeline)} characters; Snowflake names hold at "
                              f"most {MAX_IDENTIFIER}", doc.path, p.line, p.col, hint="shorten the name"))
        return out
    for section, name in _task_names(data):
        n = len(pipeline) + 1 + len(name)
        if n > MAX_IDENTIFIER:
            p = doc.pos((section, name), key=True)
            out.append(Diagnostic("DAGC512", f"task {name[:40]!r}{'…' if len(name) > 40 else ''} becomes a "
                                  f"Snowflake task named <pipeline>$<task> of {n} characters; at most "
                                  f"{MAX_IDENTIFIER} are allowed", doc.path, p.line, p.col,
                                  hint="shorten the task or the pipeline name"))
    return out


@rule("document", "DAGC511", "DAGC512")
def snowflake_task_names(ctx: Checker) -> None:
    ctx.diags += name_case_collisions(ctx.doc, ctx.data) + qualified_name_length(ctx.doc, ctx.data)
