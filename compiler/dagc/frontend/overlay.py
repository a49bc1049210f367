"""Environment overlays (`environments:` + `--env`) and command-line overrides.

An overlay is a partial pipeline deep-merged over the base. It may only set keys the base
already has: a misspelt key in a prod overlay would otherwise pass silently and the prod graph
would quietly run with dev values. Positions of overlaid values are carried over, so errors in
them still point at the overlay's own lines.
"""

from __future__ import annotations

import copy
from typing import Any

from dagc.diagnostics import Diagnostic
from dagc.frontend.schema import did_you_mean, listing
from dagc.frontend.load import Document, Path


def apply_environment(doc: Document, data: dict[str, Any], env: str | None) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The base with `environments[env]` merged in, and `environments` removed."""
    base = {k: v for k, v in data.items() if k != "environments"}
    envs = data.get("environments")
    if env is None:
        return base, []
    if not isinstance(envs, dict) or env not in envs:
        names = sorted(map(str, envs)) if isinstance(envs, dict) else []
        hint = did_you_mean(str(env), names) or (f"declared environments: {listing(names)}" if names else
                                             "this pipeline declares no `environments:`")
        p = doc.pos(("environments",), key=True) if names else doc.pos(())
        return base, [Diagnostic("DAGC201", f"unknown environment {env!r}", doc.path, p.line, p.col, hint=hint)]
    overlay = envs[env]
    if overlay is None:
        return base, []
    merged = copy.deepcopy(base)
    diags: list[Diagnostic] = []
    _merge(doc, merged, overlay, (), ("environments", env), diags)
    return merged, diags


# Top-level keys an overlay may add although the base leaves them out, because leaving them out
# means exactly what null means: `schedule` (absent = manual runs), so "manual in dev, daily in
# prod" is one file with a `schedule:` in the prod overlay only.
MAY_ADD = {(): {"schedule"}}


def _merge(doc: Document, base: dict[str, Any], over: Any, path: Path, opath: Path, diags: list[Diagnostic]) -> None:
    if not isinstance(over, dict):
        return
    for key, value in over.items():
        if key not in base and key in MAY_ADD.get(path, set()):
            base[key] = None
        if key not in base:
            p = doc.pos(opath + (key,), key=True)
            hint = did_you_mean(str(key), [str(k) for k in base])
            where = ".".join(map(str, path)) or "the pipeline"
            diags.append(Diagnostic("DAGC202", f"environment overlay sets {key!r}, which {where} does not have",
                                    doc.path, p.line, p.col,
                                    hint=hint or f"add `{key}:` to the base pipeline first (it may be null), "
                                    "so that a typo in an overlay cannot pass silently"))
            continue
        _move_positions(doc, opath + (key,), path + (key,))
        if isinstance(value, dict) and isinstance(base[key], dict):
            _merge(doc, base[key], value, path + (key,), opath + (key,), diags)
        else:
            base[key] = copy.deepcopy(value)


def _move_positions(doc: Document, src: Path, dst: Path) -> None:
    """Positions of an overlay's values, also under the base paths they now stand at.

    Only the positions under this environment are scanned (an index per environment, built once
    per document): scanning every position of the file for each overlay key was quadratic."""
    n = len(src)
    for table in (doc.values, doc.keys):
        for p in [p for p in _under(table, src[:2]) if p[:n] == src]:
            table[dst + p[n:]] = table[p]


_INDEX: dict[int, tuple[Any, dict[Path, list[Path]]]] = {}


def _under(table: Any, prefix: Path) -> list[Path]:
    """Paths of `table` that start with `prefix` (("environments", NAME)), from a cached index."""
    base = table.maps[-1] if hasattr(table, "maps") else table  # a cached document's shared positions
    cached = _INDEX.get(id(base))
    if cached is None or cached[0] is not base:
        index: dict[Path, list[Path]] = {}
        for p in base:
            if len(p) >= 2 and p[0] == "environments":
                index.setdefault(p[:2], []).append(p)
        if len(_INDEX) > 16:
            _INDEX.clear()
        _INDEX[id(base)] = cached = (base, index)
    found = list(cached[1].get(prefix, ()))
    if base is not table:  # positions added to this document's own layer
        found += [p for p in table.maps[0] if p[:2] == prefix]
    return found


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key.path=value` from the command line; the value is read as a YAML scalar (5 -> int)."""
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        from dagc.diagnostics import UsageError

        raise UsageError(f"expected KEY=VALUE, got {text!r}", hint="for example: --set gate.threshold=0.8")
    if len(raw) > 256:  # a scalar literal is short; a long value is text (PyYAML would take seconds on 10 MB)
        return key.strip(), raw
    try:
        value = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, (dict, list)):
        value = raw
    return key.strip(), value


def apply_sets(doc: Document, data: dict[str, Any], section: str, sets: dict[str, Any]) -> list[Diagnostic]:
    """Override existing keys of `data[section]` (config or vars) by dotted path."""
    diags = []
    for dotted, value in sets.items():
        node = data.get(section)
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or parts[-1] not in node:
            sec = data.get(section)
            known = _dotted_keys(sec) if isinstance(sec, dict) else []
            hint = did_you_mean(dotted, known) or f"known keys: {listing(known) or 'none'}"
            p = doc.pos((section,), key=True)
            flag = "--set" if section == "config" else "--var"
            diags.append(Diagnostic("DAGC203", f"{flag} {dotted}: the pipeline's {section} has no such key",
                                    doc.path, p.line, p.col, hint=hint))
            continue
        node[parts[-1]] = value
    return diags


def _dotted_keys(d: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        out.append(prefix + str(k))
        if isinstance(v, dict):
            out.extend(_dotted_keys(v, prefix + str(k) + "."))
    return out
