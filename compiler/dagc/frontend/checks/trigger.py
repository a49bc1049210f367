"""Triggered graphs (DAGC609-611): `trigger:` instead of `schedule:`, its stream and its interval."""

from __future__ import annotations

from typing import Any

from dagc import ir
from dagc.frontend.checks.context import Checker
from dagc.frontend.schema import did_you_mean
from dagc.limits import LIMITS
from dagc.values import duration_ms

CODES = {
    "DAGC609": "stream not declared under streams:",
    "DAGC610": "trigger together with schedule",
    "DAGC611": "trigger interval outside Snowflake's range",
}


def trigger(ctx: Checker, value: Any) -> ir.Trigger | None:
    """The IR trigger, or None (after reporting) when there is none or it is wrong."""
    if value is None:
        return None
    ok = True
    if ctx.data.get("schedule") is not None:
        ctx.err("DAGC610", "a pipeline has either a schedule or a trigger, not both", ("trigger",),
                "a triggered graph runs when its stream has data; remove `schedule:` (or the trigger)", key=True)
        ok = False
    stream = str(value.get("stream"))
    streams = {str(s) for s in ctx.data.get("streams") or {}}
    if stream not in streams:
        ctx.err("DAGC609", f"trigger stream {stream!r} is not declared under `streams:`", ("trigger", "stream"),
                did_you_mean(stream, streams) or f"add `streams: {{{stream}: <the table it watches>}}` "
                "(the local engine reads that table's changes)")
        ok = False
    seconds = None
    if value.get("min_interval") is not None:
        lim = LIMITS["trigger_interval"]
        raw = value["min_interval"]
        try:
            ms = duration_ms(raw)
        except ValueError as exc:
            ctx.err("DAGC611", str(exc), ("trigger", "min_interval"))
            return None
        if ms % 1000 or not lim.holds(ms // 1000):
            ctx.err("DAGC611", f"trigger interval {raw!r} is outside what Snowflake accepts "
                    f"({lim.low} s to {lim.high:,} s, whole seconds)", ("trigger", "min_interval"),
                    "USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS is 10..604800; the default is 30 s")
            return None
        seconds = ms // 1000
    return ir.Trigger(stream=stream, min_interval_s=seconds) if ok else None
