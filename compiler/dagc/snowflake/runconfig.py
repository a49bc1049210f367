"""Per-run config: `--set key=value` -> `EXECUTE TASK <root> USING CONFIG = '<json>'`.

Snowflake merges the USING CONFIG object over the graph's CONFIG for that one run (fields given
override the graph's, the rest come from the graph; the definition is unchanged). dagc's graph
config is flat (dagc.configcodec: nested keys joined with dots), so an override is flat too: the
dotted key, a scalar value. Everything is checked against the pipeline *before* anything is sent
(the key must exist, hold a scalar, and keep its type), so a typo never starts a run with the
graph's value silently in place. The same check serves `dagc trigger`, `dagc backfill` and the
local engine, so `--set` means the same on both targets.

Nothing here imports snowflake.core: the SQL is built and checked offline; `ConfiguredSource`
only calls `session.sql(...)` on the session it is given.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Iterable, Mapping

from dagc.diagnostics import UsageError


def _flat(pipeline: Any) -> dict[str, Any]:
    from dagc.configcodec import encode_config
    from dagc.ir import thaw

    return encode_config(thaw(pipeline.config))


def _lookup(config: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _leaves(config: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in config.items():
        if isinstance(v, Mapping) and v:
            out.extend(_leaves(v, f"{prefix}{k}."))
        else:
            out.append(f"{prefix}{k}")
    return out


def _typed(key: str, raw: str, current: Any) -> Any:
    """The YAML scalar `raw`, checked against the type of the value it replaces."""
    from dagc.frontend.overlay import parse_assignment

    _, value = parse_assignment(f"{key}={raw}")
    if isinstance(current, str):
        return raw  # a string setting keeps the text as typed ("0.10" stays "0.10")
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise UsageError(f"--set {key}={raw}: {key} is a boolean in the pipeline's config",
                         "use true or false")
    if isinstance(current, (int, float)):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise UsageError(f"--set {key}={raw}: not a finite number")
            return value
        raise UsageError(f"--set {key}={raw}: {key} is a number in the pipeline's config "
                         f"(now {current!r}), and {raw!r} is not one", f"for example: --set {key}={current!r}")
    raise UsageError(f"--set {key}: only scalar config values can be set for one run; "
                     f"{key} is {'null' if current is None else type(current).__name__} in the pipeline",
                     "change it in the pipeline file (or its environment overlay) instead")


def check_overrides(pipeline: Any, assignments: Iterable[str] | Mapping[str, Any]) -> dict[str, Any]:
    """`KEY=VALUE` texts (or a mapping of dotted key -> raw text) -> validated {dotted key: value}.

    Raises UsageError naming the key, with the known keys as a hint, before anything is sent.
    """
    from dagc.frontend.schema import did_you_mean

    items: list[tuple[str, str]] = []
    if isinstance(assignments, Mapping):
        items = [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in assignments.items()]
    else:
        for text in assignments:
            key, sep, raw = str(text).partition("=")
            if not sep or not key.strip():
                raise UsageError(f"--set {text!r}: expected KEY=VALUE", "for example: --set gate.threshold=0.8")
            items.append((key.strip(), raw))
    config = pipeline.config
    known = _leaves(config)
    out: dict[str, Any] = {}
    for key, raw in items:
        found, current = _lookup(config, key)
        if not found:
            hint = did_you_mean(key, known) or f"config keys of {pipeline.name}: {', '.join(known) or 'none'}"
            raise UsageError(f"--set {key}: the config of {pipeline.name} has no such key", hint)
        if isinstance(current, Mapping) and current:
            raise UsageError(f"--set {key}: {key} is a section of the config, not a value",
                             f"set one of its keys, e.g. --set {_leaves(current, key + '.')[0]}=...")
        out[key] = _typed(key, raw, current)
    return out


def override_object(overrides: Mapping[str, Any], logical_date: datetime | None = None) -> dict[str, Any]:
    """The flat object sent as USING CONFIG (dotted keys as in the deployed graph config)."""
    from dagc.configcodec import LOGICAL_DATE

    obj = dict(overrides)
    if logical_date is not None:
        obj[LOGICAL_DATE] = logical_date.isoformat()
    return dict(sorted(obj.items()))


def effective_config(pipeline: Any, overrides: Mapping[str, Any], logical_date: datetime | None = None) -> dict[str, Any]:
    """What the run sees: the graph config with the override merged over it, as Snowflake merges."""
    return dict(sorted({**_flat(pipeline), **override_object(overrides, logical_date)}.items()))


def sql_string(text: str) -> str:
    """A Snowflake string literal: dollar-quoted when possible (no escapes inside), else escaped."""
    if "$$" not in text and not text.endswith("$"):
        return f"$${text}$$"
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(name: str) -> str:
    import re

    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


def execute_sql(root: str, override: Mapping[str, Any] | None) -> str:
    """`EXECUTE TASK <root> [USING CONFIG = '<json>']` for a fully qualified root name."""
    if not override:
        return f"EXECUTE TASK {root}"
    body = json.dumps(dict(override), sort_keys=True, separators=(",", ":"))
    return f"EXECUTE TASK {root} USING CONFIG = {sql_string(body)}"


def root_name(schema: Any, dag: str) -> str:
    """<database>.<schema>.<root> for a snowflake.core SchemaResource (or a stand-in with the same names)."""
    db = getattr(getattr(schema, "database", None), "name", None) or getattr(schema, "database_name")
    return ".".join(quote_ident(str(x)) for x in (db, schema.name, dag))


class ConfiguredSource:
    """A RunSource whose `execute()` sends EXECUTE TASK ... USING CONFIG through the session.

    snowflake.core's `TaskResource.execute` has no config argument, so the one statement that needs
    it is SQL; reading runs back stays with the wrapped source.
    """

    def __init__(self, source: Any, session: Any, root: str, override: Mapping[str, Any]) -> None:
        self.source = source
        self.session = session
        self.root = root
        self.override = dict(override)
        self.sent: list[str] = []

    def graph_runs(self) -> Any:
        return self.source.graph_runs()

    def task_runs(self, run_id: str) -> Any:
        return self.source.task_runs(run_id)

    def execute(self, *, retry_last: bool = False) -> None:
        if retry_last or not self.override:  # a retry keeps the run's own config (Snowflake's rule)
            self.source.execute(retry_last=retry_last)
            return
        stmt = execute_sql(self.root, self.override)
        self.sent.append(stmt)
        self.session.sql(stmt).collect()

    def __getattr__(self, name: str) -> Any:  # anything else the wrapped source offers
        return getattr(self.source, name)


def describe(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items())
