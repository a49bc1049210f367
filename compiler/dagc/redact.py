"""Secrets: how a pipeline marks them, and the one function every output uses to hide them.

A value is secret when
  * a template produced it with `{{ secret('NAME') }}` (read from the environment variable NAME), or
  * a template read it with `{{ env_var('NAME') }}` and NAME looks like a secret
    (contains PASSWORD, PASSWD, TOKEN, SECRET, KEY, CREDENTIAL or PRIVATE), or
  * it sits in `config:` under a key that looks like a secret (password, token, api_key, ...),
    however it got there (literal, template or `--set`).

The front end collects the secret strings into `Pipeline.secrets` (never printed: the field is
excluded from repr). Every output that can show pipeline values (manifest, compile, plan, logs,
run history, diagnostics) passes its text or data through `redact_text` / `redact_data` with
`secrets_of(pipeline)`; that is the whole contract for back ends.

Substring replacement hides a secret wherever it was interpolated (a SQL body, a connection
string), in every form it takes on the way out: as written, JSON-escaped (`"` and `\\` and
non-ASCII become escapes in a return value or a JSON log line), repr-escaped (a traceback or an
f-string with `!r`), URL-encoded (`|urlencode`, a connection URL), HTML-escaped, and in any
letter case (`|upper`). Values shorter than MIN_SUBSTRING characters are replaced only where
they stand alone (a whole config value), since replacing every "7" in a manifest would destroy it.
"""

from __future__ import annotations

import html
import json
import os
import re
from functools import lru_cache
from typing import Any, Iterable, Mapping

MASK = "***REDACTED***"
MIN_SUBSTRING = 4

SECRET_ENV_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|KEY|CREDENTIAL|PRIVATE", re.I)
SECRET_CONFIG_KEY = re.compile(r"(^|_)(password|passwd|secret|token|api_?key|private_?key|credentials?)($|_)", re.I)


def is_secret_env_name(name: str) -> bool:
    return bool(SECRET_ENV_NAME.search(name))


def is_secret_key(key: str) -> bool:
    """A config key whose value is treated as secret whatever its source."""
    return bool(SECRET_CONFIG_KEY.search(str(key)))


def config_secrets(config: Any) -> set[str]:
    """String forms of every value under a secret-looking key of a (nested) config."""
    out: set[str] = set()

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, secret or is_secret_key(k))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, secret)
        elif secret and value is not None and not isinstance(value, bool):
            out.add(str(value))

    walk(config, False)
    return out


def secrets_of(pipeline: Any) -> frozenset[str]:
    """Every secret string of a pipeline (an `ir.Pipeline`, or anything with .secrets/.config)."""
    found = set(getattr(pipeline, "secrets", ()) or ())
    found |= config_secrets(getattr(pipeline, "config", None) or {})
    return frozenset(s for s in found if s)


def forms(secret: str) -> set[str]:
    """The spellings a secret takes in outputs (see the module docstring); matched case-insensitively."""
    from urllib.parse import quote, quote_plus

    out = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1],
           ascii(secret)[1:-1], quote(secret, safe=""), quote(secret), quote_plus(secret), html.escape(secret),
           html.escape(secret, quote=False)}
    for f in list(out):  # JSON of a repr, repr of JSON: escapes escaped once more (a traceback in a JSON log)
        out |= {json.dumps(f)[1:-1], repr(f)[1:-1]}
    return {f for f in out if len(f) >= MIN_SUBSTRING}


@lru_cache(maxsize=64)
def _pattern(long: tuple[str, ...]) -> "re.Pattern[str] | None":
    variants = {f for s in long for f in forms(s)}
    if not variants:
        return None
    return re.compile("|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True)), re.IGNORECASE)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret of at least MIN_SUBSTRING characters, in any of its forms, replaced by MASK."""
    if not isinstance(text, str) or not text:
        return text
    return _sub(text, _long_first(secrets))


def redact_file(path: str, secrets: Iterable[str]) -> None:
    """Mask secrets in a log file in place (atomically: a reader sees the old or the new text).

    A task attempt's log is written at the file-descriptor level (the step's prints and native
    output included), so it is masked when the attempt ends: by the worker when the step returns
    or raises, and by the engine when it stops a worker (timeout, Ctrl-C, a crash), which the
    worker itself cannot do."""
    secrets = tuple(secrets)
    if not secrets:
        return
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
        masked = redact_text(text, secrets)
        if masked != text:
            tmp = f"{path}.redacting"
            with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(masked)
            os.replace(tmp, path)
    except OSError:
        pass


def redact_data(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of JSON-like data with secrets masked: whole values under secret keys, substrings elsewhere.

    Mapping keys are redacted too (a secret could end up as a key), and values under
    secret-looking keys are masked whatever their type, so `password: 1234` does not leak as an int.
    """
    exact = frozenset(secrets)
    return _redact(value, exact, _long_first(exact), False)


def _redact(value: Any, exact: frozenset[str], long: tuple[str, ...], secret_key: bool) -> Any:
    if isinstance(value, Mapping):
        return {(_sub(k, long) if isinstance(k, str) else k): _redact(v, exact, long, secret_key or _key_is_secret(k))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v, exact, long, secret_key) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if secret_key:
        return MASK
    if isinstance(value, str):
        return MASK if value in exact or value.lower() in _lowered(exact) else _sub(value, long)
    return MASK if exact and str(value) in exact else value


def _sub(text: str, long: tuple[str, ...]) -> str:
    pattern = _pattern(long) if long else None
    return pattern.sub(MASK, text) if pattern is not None else text


@lru_cache(maxsize=64)
def _lowered(exact: frozenset[str]) -> frozenset[str]:
    return frozenset(s.lower() for s in exact)


def _long_first(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({s for s in secrets if len(s) >= MIN_SUBSTRING}, key=len, reverse=True))


@lru_cache(maxsize=4096)
def _key_is_secret(key: Any) -> bool:
    # flattened config keys ("db.password") and nested ones ("password") alike
    return isinstance(key, str) and any(is_secret_key(part) for part in key.split("."))
