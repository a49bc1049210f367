"""Graph config (DAGC505, DAGC508): it must encode to Snowflake graph-config JSON, within dagc's bound."""

from __future__ import annotations

import json
from typing import Any

from dagc.configcodec import ConfigEncodingError, encode_config
from dagc.frontend.checks.context import Checker, rule
from dagc.frontend.checks.limits import MAX_CONFIG_BYTES

CODES = {
    "DAGC505": "config key or value cannot be encoded as graph config",
    "DAGC508": "encoded config over dagc's size bound",
}


@rule("pipeline", "DAGC505", "DAGC508")
def config_encodes(ctx: Checker) -> None:
    config = ctx.data.get("config") or {}
    try:
        encoded = encode_config(config)
    except ConfigEncodingError as exc:
        ctx.err("DAGC505", str(exc), ("config",) + tuple(exc.path),
                "config keys become Snowflake graph config keys; values must be JSON", key=True)
        return
    size = json_size(encoded)
    if size > MAX_CONFIG_BYTES:
        big = max(encoded, key=lambda k: json_size(encoded[k]))
        ctx.err("DAGC508", f"config is {size / 1048576:.1f} MiB encoded; dagc allows at most "
                f"{MAX_CONFIG_BYTES // 1024} KiB (largest value: {big!r})", ("config",),
                "graph config is stored on the root task; keep data in tables or stages and put its name here",
                key=True)


def json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
