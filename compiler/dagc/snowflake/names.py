"""Identifiers the way Snowflake resolves them, and the WHEN clauses dagc and dagv1 write.

Unquoted identifiers are stored upper case; quoted ones keep their case (and may hold dots). Every
name dagc compares, filters on or looks up goes through `canon` / `ident`, so `@ml.prod.dagc_stage`
and `@ML.PROD.DAGC_STAGE` name the same schema.
"""

from __future__ import annotations

import re
from typing import Any

_UNQUOTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def canon(name: str | None) -> str | None:
    """An identifier as Snowflake resolves it: last part of a qualified name, unquoted -> upper."""
    if name is None:
        return None
    parts = re.findall(r'"(?:[^"]|"")*"|[^.]+', str(name))
    last = parts[-1] if parts else str(name)
    if last.startswith('"') and last.endswith('"') and len(last) >= 2:
        return last[1:-1].replace('""', '"')
    return last.upper() if _UNQUOTED.match(last) else last


def _sql_str(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "''")


def predecessor_condition(when: Any) -> str | None:
    """`when:` -> SYSTEM$PREDECESSORS_STATE(...), None for the default (all predecessors succeeded)."""
    if when is None:
        return None
    value = getattr(when, "value", when)
    if str(value).lower() == "all_succeeded":
        return None
    return f"SYSTEM$PREDECESSORS_STATE('{str(value).upper()}')"


def branch_condition(branch_full_name: str, child_short: str) -> str:
    """Exactly what dagv1 (`_add_condition`) puts on a child of a DAGTaskBranch."""
    return f"SYSTEM$GET_PREDECESSOR_RETURN_VALUE('{_sql_str(canon(branch_full_name) or '')}') = '{_sql_str(child_short)}'"



def split_qualified(name: str) -> list[str]:
    """`db.schema."My.Task"` -> ['db', 'schema', '"My.Task"']: dots inside quotes do not split."""
    return re.findall(r'"(?:[^"]|"")*"|[^.]+', str(name))


def sql_ident(part: str) -> str:
    """One identifier as SQL text that resolves to the same object: unquoted stays unquoted
    (Snowflake upper-cases it), anything else is quoted with its case kept."""
    text = str(part)
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return text
    return text if _UNQUOTED.match(text) else '"' + text.replace('"', '""') + '"'
