"""Secret values at run time: read by name, never carried in task text or graph config.

A value a pipeline marks with `{{ secret('NAME') }}` is, on Snowflake, a SECRET object granted to
the task procedure (`SECRETS = ('NAME' = <object>)` with `EXTERNAL_ACCESS_INTEGRATIONS`). What the
graph config and a task's params carry in its place is a reference, `@@dagc.secret:NAME@@`
(`reference`), which the runtime swaps for the value just before the step runs (`resolve_refs`).
A step may also ask for one directly: `ctx.secret("NAME")`.

Locally the value comes from the environment variable NAME, as the template read it.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

_REF = re.compile(r"@@dagc\.secret:([A-Za-z_][A-Za-z0-9_]*)@@")


class SecretUnavailable(RuntimeError):
    """A step asked for a secret that this target cannot give it; the message says how to grant it."""


def reference(name: str) -> str:
    return f"@@dagc.secret:{name}@@"


def referenced(value: Any) -> set[str]:
    """Names of the secrets referenced anywhere in JSON-like data."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(_REF.findall(value))
    elif isinstance(value, dict):
        for k, v in value.items():
            found |= referenced(k) | referenced(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= referenced(v)
    return found


def resolve_refs(value: Any, read: Callable[[str], str]) -> Any:
    """A copy of `value` with every secret reference replaced by the secret `read` returns."""
    if isinstance(value, str):
        if "@@dagc.secret:" not in value:
            return value
        return _REF.sub(lambda m: read(m.group(1)), value)
    if isinstance(value, dict):
        return {k: resolve_refs(v, read) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, read) for v in value]
    return value


def env_secret(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise SecretUnavailable(f"secret {name} is not set: export the environment variable {name}")
    return value


def snowflake_secret(name: str) -> str:
    """The secret the task procedure was granted as `name` (a GENERIC_STRING secret, or a password)."""
    try:
        import _snowflake  # provided by Snowflake's Python runtime inside procedures
    except ImportError:
        raise SecretUnavailable(f"secret {name}: not running inside a Snowflake procedure") from None
    try:
        return str(_snowflake.get_generic_secret_string(name))
    except Exception as exc:  # noqa: BLE001 - Snowflake raises its own error types
        try:
            cred = _snowflake.get_username_password(name)
            return str(cred.password)
        except Exception:  # noqa: BLE001
            raise SecretUnavailable(
                f"secret {name} is not available to this task ({exc}); write it in the pipeline as "
                f"{{{{ secret('{name}', integration='...') }}}} so dagc grants it to the task procedure"
            ) from None
