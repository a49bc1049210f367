"""Task return values: JSON text, at most Snowflake's 10 kB, on both targets."""

from __future__ import annotations

import json
from typing import Any

MAX_RETURN_BYTES = 10 * 1024


class ReturnValueError(ValueError):
    """A step returned something that cannot travel to its successors."""


def encode_return(task: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ReturnValueError(
            f"task {task!r} returned a value that is not JSON ({exc}); return dicts, lists, "
            "strings, numbers, booleans or None, and convert numpy/pandas values with .item() or .tolist()"
        ) from None
    size = len(text.encode("utf-8"))
    if size > MAX_RETURN_BYTES:
        raise ReturnValueError(
            f"task {task!r} returned {size:,} bytes of JSON; Snowflake allows at most {MAX_RETURN_BYTES:,} "
            "bytes per task return value. Write large results to a table or stage and return its name instead"
        )
    return text


def decode_return(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # a plain string set by a SQL task with SYSTEM$SET_RETURN_VALUE
