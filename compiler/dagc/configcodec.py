"""Graph config travels through Snowflake as a flat object of primitives; pipelines write it nested.

Snowflake (and dagv1, which raises TypeError otherwise) only takes str, int, float and bool
values in a graph config. We flatten nested mappings to dotted keys, which stay readable from SQL
(`SYSTEM$GET_TASK_GRAPH_CONFIG('gate.threshold')`), and carry anything that is not a primitive
(lists, null, empty mappings) as JSON text, naming those keys in one sidecar entry so decoding is
unambiguous without guessing from the string's content.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping

SIDECAR = "__dagc_json__"
# The date a run stands for (a backfill's logical date), ISO 8601 with offset; set per run through
# EXECUTE TASK ... USING CONFIG (or the local engine), read by the runtime into ctx.logical_date.
LOGICAL_DATE = "__dagc_logical_date__"
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PRIMITIVES = (str, bool, int, float)


class ConfigEncodingError(ValueError):
    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def encode_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Nested config -> flat dict of primitives (deterministic key order)."""
    flat: dict[str, Any] = {}
    as_json: list[str] = []

    def walk(prefix: tuple[str, ...], value: Any) -> None:
        key = ".".join(prefix)
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                if not isinstance(k, str) or not KEY_RE.match(k):
                    raise ConfigEncodingError(
                        prefix + (str(k),),
                        f"config key {k!r} cannot be encoded: use letters, digits and underscores "
                        "(dots separate nesting levels in the encoded config)",
                    )
                walk(prefix + (k,), v)
            return
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigEncodingError(prefix, f"config value {value!r} at {key} is not a finite number")
        if isinstance(value, PRIMITIVES):
            flat[key] = value
            return
        try:
            flat[key] = json.dumps(_check_json(prefix, value), sort_keys=True, separators=(",", ":"))
        except TypeError as exc:
            raise ConfigEncodingError(prefix, f"config value at {key} cannot be encoded: {exc}") from None
        as_json.append(key)

    if not isinstance(config, Mapping):
        raise ConfigEncodingError((), "config must be a mapping")
    for k, v in config.items():
        if not isinstance(k, str) or not KEY_RE.match(k):
            raise ConfigEncodingError((str(k),), f"config key {k!r} cannot be encoded: use letters, digits and underscores")
        walk((k,), v)
    if as_json:
        flat[SIDECAR] = ",".join(sorted(as_json))
    return dict(sorted(flat.items()))


def _check_json(path: tuple[str | int, ...], value: Any) -> Any:
    if value is None or isinstance(value, PRIMITIVES):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigEncodingError(path, f"config value {value!r} is not a finite number")
        return value
    if isinstance(value, (list, tuple)):
        return [_check_json(path + (i,), v) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _check_json(path + (str(k),), v) for k, v in value.items()}
    raise ConfigEncodingError(path, f"config value of type {type(value).__name__} cannot be encoded as JSON")


def decode_config(flat: Mapping[str, Any] | None) -> dict[str, Any]:
    """Flat config from Snowflake (or the local engine) -> the nested config the YAML declared."""
    if not flat:
        return {}
    json_keys = set(filter(None, str(flat.get(SIDECAR, "")).split(",")))
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        if key in (SIDECAR, LOGICAL_DATE):
            continue
        if key in json_keys:
            value = json.loads(value)
        node = nested
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return nested


def logical_date_of(flat: Mapping[str, Any] | None) -> Any:
    """The run's logical date from its flat config (a timezone-aware datetime), or None."""
    from datetime import datetime, timezone

    raw = (flat or {}).get(LOGICAL_DATE)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
