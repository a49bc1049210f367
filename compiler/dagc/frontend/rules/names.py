"""Task names as Snowflake sees them: unquoted identifiers are case-insensitive and at most 255 characters.

dagc creates each task as `<pipeline>$<task>` unquoted, so Snowflake folds it to upper case:
`load` and `LOAD` would be one task (the second CREATE OR REPLACE silently replaces the first),
and a name over 255 characters is refused at deploy time, long after `dagc validate` passed.
"""

from __future__ import annotations

from typing import Any

from dagc.diagnostics import Diagnostic
from dagc.frontend.load import Document

MAX_IDENTIFIER = 255  # Snowflake: identifiers are at most 255 characters


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
